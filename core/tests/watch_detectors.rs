//! Anomaly, drift and prediction watchers on a manual clock: warm-up, one outlier never alerts, a
//! shift alerts after the minimum duration and resolves, the series cap and the memory bound per
//! series, exact counts under threads, the drift baseline policies, the predictor's labels and
//! model round trip.

use ferrule_core::random::Random;
use ferrule_core::watch::anomaly::SeriesSnapshot;
use ferrule_core::watch::event::Event;
use ferrule_core::watch::ewma::EwmaConfig;
use ferrule_core::watch::mad::MadConfig;
use ferrule_core::watch::predictor::FEATURES;
use ferrule_core::*;
use proptest::prelude::*;
use std::sync::Arc;

const S: u64 = 1_000_000_000;

fn detector(method: Method) -> AnomalyDetector {
    AnomalyDetector::new(
        AnomalyConfig::new("lat", "latency_seconds", method),
        ManualClock::new(),
    )
    .unwrap()
}

fn noisy(r: &Random) -> f64 {
    1.0 + 0.2 * (r.next_f64() - 0.5)
}

fn methods() -> [Method; 2] {
    [
        Method::Ewma(EwmaConfig::default()),
        Method::Mad(MadConfig::default()),
    ]
}

#[test]
fn outliers_never_alert_and_a_sustained_shift_alerts_after_the_minimum_duration_then_resolves() {
    for m in methods() {
        let d = detector(m);
        let key = SeriesKey::new("gpt", "faq");
        let r = Random::seeded(1);
        let mut t = 0;
        // An hour at one value a second, with a wild outlier every 5 minutes.
        for i in 0..3600u64 {
            t += S;
            let v = if i % 300 == 299 { 50.0 } else { noisy(&r) };
            assert!(d.observe_at(&key, v, t).is_empty(), "{m:?} at {i}");
        }
        let onset = t;
        let mut fired = None;
        let mut resolved = None;
        for _ in 0..7200u64 {
            t += S;
            for e in d.observe_at(&key, 1.5 + noisy(&r) - 1.0, t) {
                match e.state {
                    EventState::Firing => fired = fired.or(Some((e.at_nanos - onset) / S)),
                    EventState::Resolved => resolved = resolved.or(Some((e.at_nanos - onset) / S)),
                }
                assert_eq!(e.labels[0], ("metric".into(), "latency_seconds".into()));
            }
        }
        let fired = fired.unwrap_or_else(|| panic!("{m:?} never fired"));
        assert!((60..=180).contains(&fired), "{m:?} fired after {fired}s");
        // The baseline adapts to the new level (by time), so the alert resolves, later.
        let resolved = resolved.unwrap_or_else(|| panic!("{m:?} never resolved"));
        assert!(resolved > fired + 60, "{m:?} resolved at {resolved}s");
    }
}

#[test]
fn warm_up_judges_nothing() {
    for m in methods() {
        let d = detector(m);
        let key = SeriesKey::default();
        for i in 0..20u64 {
            assert!(d.observe_at(&key, (i * 1000) as f64, i * S).is_empty());
        }
        assert_eq!(d.snapshot()[0].last_score, None);
    }
}

#[test]
fn series_are_capped_overflow_is_counted_once_as_an_event_and_memory_is_bounded() {
    for m in methods() {
        let mut cfg = AnomalyConfig::new("cost", "cost_usd", m);
        cfg.max_series = 100;
        let d = AnomalyDetector::new(cfg, ManualClock::new()).unwrap();
        let mut overflow_events = 0;
        for i in 0..10_000u64 {
            let key = SeriesKey::new(format!("model-{}", i % 5000), "t");
            for e in d.observe_at(&key, 1.0, i * S) {
                assert_eq!(e.name, "watch.series_overflow");
                overflow_events += 1;
            }
        }
        assert_eq!(d.series_count(), 100, "99 series and `other`");
        assert_eq!(overflow_events, 1);
        assert_eq!(d.overflowed(), 10_000 - 2 * 99);
        let snap: Vec<SeriesSnapshot> = d.snapshot();
        let other = snap.iter().find(|s| s.key == SeriesKey::other()).unwrap();
        assert_eq!(other.observations, d.overflowed());
        let per = d.bytes_per_series();
        let bound = match m {
            Method::Ewma(_) => 400,
            Method::Mad(_) => 1200,
            // Three 256-value rings (short view, long view, time-of-day residuals) and a 48-slot
            // daily profile.
            Method::Seasonal(_) => 8000,
        };
        assert!(per <= bound, "{m:?}: {per} bytes per series");
        eprintln!("{m:?}: {per} bytes per series, {} for 100", per * 100);
    }
}

#[test]
fn exact_observation_counts_from_eight_threads() {
    let d = Arc::new(detector(Method::Mad(MadConfig::default())));
    let hs: Vec<_> = (0..8u64)
        .map(|t| {
            let d = d.clone();
            std::thread::spawn(move || {
                let key = SeriesKey::new("m", format!("t{}", t % 2));
                for i in 0..10_000u64 {
                    d.observe_at(&key, 1.0 + (i % 7) as f64, i * S);
                }
            })
        })
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    let snap = d.snapshot();
    assert_eq!(snap.len(), 2);
    assert!(snap.iter().all(|s| s.observations == 40_000));
}

#[test]
fn anomaly_config_is_checked() {
    let mut cfg = AnomalyConfig::new("x", "m", Method::Ewma(EwmaConfig::default()));
    cfg.threshold = -1.0;
    let e = AnomalyDetector::new(cfg, ManualClock::new()).err().unwrap();
    assert_eq!(
        e.to_string(),
        "AnomalyDetector: threshold=-1 is out of range; allowed: a finite number > 0"
    );
    let cfg = AnomalyConfig::new(
        "x",
        "m",
        Method::Mad(MadConfig {
            window: 4,
            ..MadConfig::default()
        }),
    );
    assert!(AnomalyDetector::new(cfg, ManualClock::new())
        .err()
        .unwrap()
        .to_string()
        .contains("window=4"));
}

// ---- drift ------------------------------------------------------------------------------------

const USUAL: [&str; 4] = [
    "Your order has shipped and should arrive by Friday.",
    "The invoice for March is 120 dollars, due on Monday.",
    "To reset your password open Settings and choose Security.",
    "The refund was approved and reaches your card in five days.",
];
const DRIFTED: [&str; 3] = [
    "{\"status\": \"shipped\", \"eta\": \"friday\"}",
    "As an AI language model I cannot access your account.",
    "{\"invoice\": \"march\", \"amount\": 120}",
];

fn drift(policy: BaselinePolicy) -> DriftDetector {
    DriftDetector::new(
        DriftConfig {
            policy,
            dim: 128,
            ..DriftConfig::new("answers")
        },
        ManualClock::new(),
    )
    .unwrap()
}

fn text(r: &Random, set: &[&str]) -> String {
    format!(
        "{} (ref {})",
        set[(r.next_u64() % set.len() as u64) as usize],
        r.next_u64() % 1000
    )
}

/// Feeds `n` outputs, returns the output index (from the start of this call) of each event.
fn feed(d: &DriftDetector, r: &Random, set: &[&str], n: usize) -> Vec<(usize, EventState)> {
    let mut out = Vec::new();
    for i in 0..n {
        for e in d.observe_text_at(&text(r, set), 20.0, 0).unwrap() {
            out.push((i, e.state));
        }
    }
    out
}

#[test]
fn fixed_baseline_detects_drift_within_200_outputs_and_stays_quiet_before() {
    let d = drift(BaselinePolicy::Fixed);
    let r = Random::seeded(2);
    assert!(
        feed(&d, &r, &USUAL, 800).is_empty(),
        "no drift in usual outputs"
    );
    let ev = feed(&d, &r, &DRIFTED, 300);
    assert_eq!(ev.first().map(|e| e.1), Some(EventState::Firing));
    assert!(ev[0].0 < 200, "after {} outputs", ev[0].0);
    assert_eq!(ev.len(), 1, "fixed: stays firing");
    let snap = d.snapshot();
    assert!(snap.firing && snap.last.unwrap().p_value < 0.01);
    assert!(d.heap_bytes() <= d.max_heap_bytes());
}

#[test]
fn rolling_baseline_absorbs_the_new_normal_and_resolves() {
    let d = drift(BaselinePolicy::Rolling);
    let r = Random::seeded(3);
    feed(&d, &r, &USUAL, 400);
    let ev = feed(&d, &r, &DRIFTED, 1000);
    let states: Vec<_> = ev.iter().map(|e| e.1).collect();
    assert_eq!(states, vec![EventState::Firing, EventState::Resolved]);
}

#[test]
fn manual_baseline_changes_only_on_accept() {
    let d = drift(BaselinePolicy::Manual);
    let r = Random::seeded(4);
    feed(&d, &r, &USUAL, 300);
    let ev = feed(&d, &r, &DRIFTED, 600);
    assert_eq!(ev.len(), 1, "fires once and keeps firing: {ev:?}");
    let ev = d.accept();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].state, EventState::Resolved);
    assert!(feed(&d, &r, &DRIFTED, 600).is_empty(), "accepted");
    // And the old normal is now a drift.
    assert!(!feed(&d, &r, &USUAL, 300).is_empty());
}

#[test]
fn user_vectors_keep_their_first_dimension() {
    let d = drift(BaselinePolicy::Fixed);
    d.observe_vector_at(vec![1.0, 0.0, 0.5], 10.0, f64::NAN, 0)
        .unwrap();
    let e = d
        .observe_vector_at(vec![1.0, 0.0], 10.0, f64::NAN, 0)
        .unwrap_err();
    assert!(e.to_string().contains("3 dimensions"), "{e}");
    assert!(d
        .observe_vector_at(vec![f32::NAN, 0.0, 0.0], 1.0, 1.0, 0)
        .is_err());
    assert_eq!(d.snapshot().dim, 3);
}

// ---- prediction ---------------------------------------------------------------------------------

fn episode(p: &ErrorPredictor, start: u64, degrade: bool, r: &Random) -> (u64, Vec<Event>) {
    // 40 minutes: 20 healthy; if degrading, 10 of rising 429s and 10 of 60% failures.
    let mut ev = Vec::new();
    let mut t = start;
    for minute in 0..40u64 {
        for _ in 0..60 {
            t += S;
            let (p429, pfail, head) = match (degrade, minute) {
                (true, 20..30) => (0.03 * (minute - 19) as f64, 0.0, 0.05),
                (true, 30..) => (0.3, 0.4, 0.01),
                _ => (0.0, 0.0, 0.8),
            };
            let x = r.next_f64();
            let o = if x < p429 {
                CallOutcome::RateLimited
            } else if x < p429 + pfail {
                CallOutcome::Error
            } else {
                CallOutcome::Ok
            };
            ev.extend(p.observe_at(o, 1.0, Some(head), t));
        }
    }
    (t, ev)
}

#[test]
fn predictor_labels_mature_after_the_horizon() {
    let p = ErrorPredictor::new(PredictorConfig::new("p"), ManualClock::new()).unwrap();
    let r = Random::seeded(5);
    let (t, ev) = episode(&p, 0, false, &r);
    assert!(
        ev.is_empty(),
        "the prior (1%) does not warn on healthy traffic: {ev:?}"
    );
    // Calls at 1..=2400 s: the one at 2400 s opened interval 40 and closed 0..=39.
    let snap = p.snapshot();
    // 40 closed intervals, the last 5 still waiting for their label; none positive.
    assert_eq!((snap.intervals, snap.examples, snap.positives), (40, 35, 0));
    episode(&p, t, true, &r);
    let snap = p.snapshot();
    assert_eq!((snap.intervals, snap.examples), (80, 75));
    // Positive: the 5 intervals before the 429s pass 25% and the failing ones whose horizon fails.
    assert!((10..=20).contains(&snap.positives), "{}", snap.positives);
}

#[test]
fn a_trained_predictor_warns_before_failures_and_not_on_healthy_traffic() {
    let p = ErrorPredictor::new(PredictorConfig::new("p"), ManualClock::new()).unwrap();
    let r = Random::seeded(6);
    let mut t = 0;
    for i in 0..30 {
        t = episode(&p, t, i % 2 == 0, &r).0;
    }
    let start = t;
    let (_, ev) = episode(&p, t, true, &r);
    let warn = ev
        .iter()
        .find(|e| e.state == EventState::Firing)
        .expect("warns");
    let minute = (warn.at_nanos - start) / (60 * S);
    assert!((20..31).contains(&minute), "warned at minute {minute}");
    assert_eq!(warn.name, "predict.error_rate");
    let (t2, _) = episode(&p, start + 2400 * S + 3600 * S, false, &r);
    let (_, ev) = episode(&p, t2, false, &r);
    assert!(ev.iter().all(|e| e.state != EventState::Firing), "{ev:?}");
    // The trained model moves to a fresh predictor.
    let q = ErrorPredictor::new(PredictorConfig::new("q"), ManualClock::new()).unwrap();
    q.load(&p.export()).unwrap();
    assert_eq!(q.export(), p.export());
    let e = q.load(&[0.0; 3]).unwrap_err().to_string();
    assert!(
        e.contains(&format!("{} finite numbers", 3 * FEATURES + 2)),
        "{e}"
    );
}

// ---- properties ---------------------------------------------------------------------------------

proptest! {
    #[test]
    fn slo_totals_match_a_plain_count(calls in proptest::collection::vec((0u64..600, any::<bool>()), 1..300)) {
        let c = ManualClock::new();
        let s = Slo::new(SloConfig::availability("p", 0.99), c.clone()).unwrap();
        let mut sorted = calls.clone();
        sorted.sort_by_key(|x| x.0);
        let base = c.now_nanos();
        for (sec, ok) in &sorted {
            s.record_at(*ok, 0.1, false, base + sec * S);
        }
        let now = base + 600 * S;
        let bad = sorted.iter().filter(|x| !x.1).count() as f64;
        let expect = bad / sorted.len() as f64 / 0.01;
        let got = s.burn_rate_at(3600.0, now).unwrap();
        prop_assert!((got - expect).abs() < 1e-9, "{} vs {}", got, expect);
        // The last 5 minutes (partial current minute and four before) count only their calls.
        let recent: Vec<_> = sorted.iter().filter(|x| (base + x.0 * S) / (60 * S) + 4 >= now / (60 * S)).collect();
        let b5 = s.burn_rate_at(300.0, now).unwrap();
        let e5 = if recent.is_empty() { 0.0 } else {
            recent.iter().filter(|x| !x.1).count() as f64 / recent.len() as f64 / 0.01
        };
        prop_assert!((b5 - e5).abs() < 1e-9);
    }

    #[test]
    fn hysteresis_alternates_and_fires_only_with_enough_anomalies(seq in proptest::collection::vec(any::<bool>(), 1..400)) {
        use ferrule_core::watch::hysteresis::{Hysteresis, HysteresisConfig};
        let cfg = HysteresisConfig { window: 8, fire_count: 5, resolve_count: 1, min_duration_nanos: 3 * S, resolve_min_nanos: 0 };
        let mut h = Hysteresis::default();
        let mut firing = false;
        for (i, a) in seq.iter().enumerate() {
            if let Some(st) = h.update(&cfg, *a, i as u64 * S) {
                match st {
                    EventState::Firing => { prop_assert!(!firing); prop_assert!(h.count() >= 5); firing = true; }
                    EventState::Resolved => { prop_assert!(firing); prop_assert!(h.count() <= 1); firing = false; }
                }
            }
            prop_assert_eq!(h.firing(), firing);
        }
    }
}
