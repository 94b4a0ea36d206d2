//! `ErrorPredictor::fit` on a manual clock: the examples it builds from a log of past calls are
//! counted exactly, it leaves the live state alone, a fitted predictor warns ahead of a degradation
//! that an online-only one (never having seen one) misses, and inference-log outcomes map onto the
//! predictor's.

use ferrule_core::watch::predictor::PastCall;
use ferrule_core::*;

const MIN: u64 = 60_000_000_000;

fn call(at: u64, outcome: CallOutcome, latency: f64, headroom: f64) -> PastCall {
    PastCall {
        at_nanos: at,
        outcome,
        latency_seconds: latency,
        headroom: Some(headroom),
    }
}

/// One episode starting at minute `start`: 30 quiet minutes, 10 minutes of shrinking rate-limit
/// headroom, slower calls and a growing share of 429s (still under the 25% error-rate bar), then
/// 10 minutes at 60% errors, then 20 quiet minutes. 20 calls a minute.
fn episode(start: u64) -> (Vec<PastCall>, u64) {
    let mut v = Vec::new();
    for m in 0..70u64 {
        for k in 0..20u64 {
            let at = (start + m) * MIN + k * 3_000_000_000;
            let c = match m {
                30..=39 => {
                    let d = (m - 29) as f64 / 10.0;
                    let outcome = if (k as f64) < 20.0 * 0.2 * d {
                        CallOutcome::RateLimited
                    } else {
                        CallOutcome::Ok
                    };
                    call(at, outcome, 1.0 + d, 0.8 - 0.75 * d)
                }
                40..=49 => {
                    let outcome = if k % 5 < 3 {
                        CallOutcome::Error
                    } else {
                        CallOutcome::Ok
                    };
                    call(at, outcome, 2.0, 0.05)
                }
                _ => call(at, CallOutcome::Ok, 1.0, 0.8),
            };
            v.push(c);
        }
    }
    (v, (start + 40) * MIN)
}

fn predictor(clock: &ManualClock) -> ErrorPredictor {
    ErrorPredictor::new(PredictorConfig::new("p"), clock.clone()).unwrap()
}

#[test]
fn fit_counts_one_example_per_judged_interval_with_a_full_horizon_after_it() {
    let clock = ManualClock::new();
    let p = predictor(&clock);
    // 20 one-minute intervals of 10 calls; intervals 10..=12 fail entirely.
    let mut log = Vec::new();
    for i in 0..20u64 {
        for k in 0..10u64 {
            let bad = (10..=12).contains(&i);
            let o = if bad {
                CallOutcome::Error
            } else {
                CallOutcome::Ok
            };
            log.push(call(i * MIN + k * 5_000_000_000, o, 1.0, 0.9));
        }
    }
    // Any order: the log is sorted by time.
    log.reverse();
    let r = p.fit(&log, 3).unwrap();
    assert_eq!(r.calls, 200);
    assert_eq!(r.intervals, 20);
    // The last 5 intervals (the horizon) have no label yet.
    assert_eq!(r.examples, 15);
    // Intervals 5..=11 have a failing interval within the 5 after them.
    assert_eq!(r.positives, 7);
    assert_eq!(r.epochs, 3);
    let snap = p.snapshot();
    assert_eq!(snap.examples, 45, "three passes over 15 examples");
    assert_eq!(snap.intervals, 0, "the live intervals are untouched");
    assert_eq!(snap.probability, None);
    assert_eq!(snap.warnings, 0);
}

#[test]
fn a_fitted_predictor_warns_before_a_degradation_an_online_only_one_misses() {
    let mut past = Vec::new();
    for e in 0..6 {
        past.extend(episode(e * 120).0);
    }
    let (replay, errors_start) = episode(10_000);
    let mut first_warning = Vec::new();
    for fitted in [false, true] {
        let clock = ManualClock::new();
        let p = predictor(&clock);
        if fitted {
            let r = p.fit(&past, 5).unwrap();
            assert!(r.positives > 0 && r.examples > r.positives, "{r:?}");
        }
        let mut warned = None;
        for c in &replay {
            clock.set_nanos(c.at_nanos);
            for e in p.observe(c.outcome, c.latency_seconds, c.headroom) {
                if e.state == EventState::Firing && warned.is_none() {
                    warned = Some(e.at_nanos);
                }
            }
        }
        first_warning.push(warned);
    }
    assert!(
        first_warning[0].is_none_or(|w| w >= errors_start),
        "online only has nothing to go on before its first incident: {:?}",
        first_warning[0]
    );
    let w = first_warning[1].expect("the fitted predictor warns");
    assert!(
        w < errors_start,
        "warned {} min before the errors began",
        (errors_start - w) / MIN
    );
}

#[test]
fn fit_rejects_zero_epochs_by_name() {
    let p = predictor(&ManualClock::new());
    let err = p.fit(&[], 0).unwrap_err();
    assert!(err.to_string().contains("epochs"), "{err}");
    // An empty log is fine and learns nothing.
    let r = p.fit(&[], 1).unwrap();
    assert_eq!((r.calls, r.examples), (0, 0));
}

#[test]
fn inference_log_outcomes_map_onto_the_predictors() {
    use CallOutcome::*;
    let m = |o: &str, t: Option<&str>| CallOutcome::from_record(o, t).unwrap();
    assert_eq!(m("success", None), Some(Ok));
    assert_eq!(m("invalid", None), Some(Ok));
    assert_eq!(m("timeout", None), Some(Timeout));
    assert_eq!(m("error", Some("APIError")), Some(Error));
    assert_eq!(m("error", Some("RateLimitError")), Some(RateLimited));
    assert_eq!(m("fallback", Some("HTTP 429")), Some(RateLimited));
    assert_eq!(m("fallback", None), Some(Error));
    assert_eq!(m("rejected", None), None);
    assert_eq!(m("ok", None), Some(Ok));
    assert_eq!(m("429", None), Some(RateLimited));
    let err = CallOutcome::from_record("exploded", None).unwrap_err();
    assert!(err.to_string().contains("outcome"), "{err}");
}
