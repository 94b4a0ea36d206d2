//! The SLO on a manual clock: burn rules fire and resolve at the right minute, the fast-burn test,
//! synthetic probes excluded, the budget event fires and recovers, latency SLIs, exact counts
//! under threads, bad configuration refused.

use ferrule_core::watch::event::Event;
use ferrule_core::watch::slo::FastBurnConfig;
use ferrule_core::*;
use std::sync::Arc;

const S: u64 = 1_000_000_000;

fn slo(cfg: SloConfig) -> (Slo, ManualClock) {
    let c = ManualClock::new();
    (Slo::new(cfg, c.clone()).unwrap(), c)
}

/// `n` calls per second for `secs` seconds, each bad with `bad(i)`.
fn feed(
    s: &Slo,
    c: &ManualClock,
    secs: u64,
    per_sec: u64,
    bad: impl Fn(u64) -> bool,
) -> Vec<Event> {
    let mut out = Vec::new();
    for i in 0..secs * per_sec {
        c.advance(std::time::Duration::from_nanos(S / per_sec));
        out.extend(s.record(!bad(i), 0.5, false));
    }
    out
}

fn firing<'a>(ev: &'a [Event], name: &str) -> Vec<&'a Event> {
    ev.iter()
        .filter(|e| e.name == name && e.state == EventState::Firing)
        .collect()
}

#[test]
fn page_rule_fires_at_the_first_minute_of_an_outage_and_resolves_after_the_short_window() {
    let (s, c) = slo(SloConfig {
        fast_burn: None,
        ..SloConfig::availability("api", 0.999)
    });
    assert!(feed(&s, &c, 600, 10, |_| false).is_empty(), "healthy");
    let t0 = c.now_nanos();
    let ev = feed(&s, &c, 120, 10, |_| true);
    let pages = firing(&ev, "slo.burn_rate");
    let first = pages.first().expect("page");
    assert_eq!(first.severity, Severity::Critical);
    assert_eq!(first.labels[1], ("window".into(), "1h/5m".into()));
    assert_eq!(first.dedup_key, "slo.burn_rate:api:api:1h/5m");
    assert!(
        first.at_nanos - t0 <= 61 * S,
        "within a minute of the outage"
    );
    // Recovery: the 5 min window drains below 14.4x about 5 minutes later.
    let ev = feed(&s, &c, 600, 10, |_| false);
    let resolved: Vec<_> = ev
        .iter()
        .filter(|e| e.name == "slo.burn_rate" && e.state == EventState::Resolved)
        .collect();
    let r = resolved
        .iter()
        .find(|e| e.labels[1].1 == "1h/5m")
        .expect("resolves");
    let after = (r.at_nanos - (t0 + 120 * S)) / S;
    // Minute buckets: the "5 min" window is the current partial minute and the four before it.
    assert!(
        (180..=360).contains(&after),
        "resolved {after}s after recovery"
    );
}

#[test]
fn rules_wait_for_their_short_window_and_for_significance() {
    let (s, c) = slo(SloConfig {
        fast_burn: None,
        ..SloConfig::availability("young", 0.999)
    });
    // A young SLO whose first calls fail: no rule is armed before 5 minutes of watching.
    let ev = feed(&s, &c, 240, 1, |i| i < 3);
    assert!(firing(&ev, "slo.burn_rate").is_empty(), "{ev:?}");
    // Later, one failure in 200 calls (5x) is below every page rule and not significant.
    let ev = feed(&s, &c, 600, 1, |i| i % 200 == 0);
    assert!(firing(&ev, "slo.burn_rate").is_empty(), "{ev:?}");
}

#[test]
fn fast_burn_pages_a_14x_burn_within_five_minutes_at_200_calls_a_minute() {
    let (s, c) = slo(SloConfig {
        fast_burn: Some(FastBurnConfig::default()),
        ..SloConfig::availability("api", 0.999)
    });
    feed(&s, &c, 3600, 3, |_| false);
    let t0 = c.now_nanos();
    // 1.44% of calls fail, spread evenly (one in ~69).
    let ev = feed(&s, &c, 600, 3, |i| i % 69 == 0);
    let f = firing(&ev, "slo.fast_burn");
    assert_eq!(f.len(), 1, "{ev:?}");
    assert!(
        f[0].at_nanos - t0 <= 300 * S,
        "{}s",
        (f[0].at_nanos - t0) / S
    );
    assert!(
        firing(&ev, "slo.burn_rate").is_empty(),
        "the 1 h window is far from 14.4x yet"
    );
}

#[test]
fn synthetic_probes_are_excluded_and_counted() {
    let (s, _c) = slo(SloConfig::availability("api", 0.99));
    for _ in 0..50 {
        assert!(s.record(false, 1.0, true).is_empty());
    }
    s.record(true, 1.0, false);
    let snap = s.snapshot();
    assert_eq!((snap.total, snap.bad, snap.synthetic_excluded), (1, 0, 50));
    assert_eq!(snap.budget_remaining, 1.0);
}

#[test]
fn budget_event_fires_when_exhausted_and_resolves_when_the_bad_hour_leaves_the_window() {
    let (s, c) = slo(SloConfig {
        window_days: 1,
        fast_burn: None,
        rules: vec![],
        ..SloConfig::availability("b", 0.99)
    });
    feed(&s, &c, 1000, 1, |_| false);
    let ev = feed(&s, &c, 120, 1, |_| true);
    let f = firing(&ev, "slo.budget_exhausted");
    assert_eq!(f.len(), 1);
    assert!(f[0].value <= 0.0);
    assert!(s.budget_remaining() < 0.0);
    // Quiet for a day: the bad calls age out of the 1-day window.
    c.advance_secs(86_400.0 + 3600.0);
    let ev = s.evaluate();
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0].state, EventState::Resolved);
    assert_eq!(s.budget_remaining(), 1.0);
}

#[test]
fn burn_rate_over_any_window_and_latency_sli() {
    let (s, c) = slo(SloConfig {
        kind: SliKind::Latency {
            threshold_seconds: 2.0,
        },
        fast_burn: None,
        ..SloConfig::availability("lat", 0.99)
    });
    // 100 calls a minute for 2 hours: 1 slow and 1 failed-but-fast per minute -> 2% bad = 2x.
    for _ in 0..120 {
        for i in 0..100 {
            c.advance_secs(0.6);
            s.record(i != 50, if i == 10 { 3.0 } else { 0.1 }, false);
        }
    }
    for w in [300.0, 3600.0, 7200.0] {
        let b = s.burn_rate(w).unwrap();
        assert!((b - 2.0).abs() < 0.05, "window {w}: {b}");
    }
    assert!(s.burn_rate(10.0).is_err());
    assert!(s.is_bad(true, 2.5) && s.is_bad(false, 0.1) && !s.is_bad(true, f64::NAN));
    let snap = s.snapshot();
    assert_eq!(snap.rules.len(), 3);
    assert_eq!(snap.bad, 240);
}

#[test]
fn exact_counts_from_eight_threads() {
    let (s, _c) = slo(SloConfig::availability("mt", 0.999));
    let s = Arc::new(s);
    let hs: Vec<_> = (0..8)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in 0..10_000 {
                    s.record(i % 10 != t, 0.1, i % 100 == 0);
                }
            })
        })
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    let snap = s.snapshot();
    assert_eq!(snap.synthetic_excluded, 8 * 100);
    assert_eq!(snap.total, 8 * 9_900);
    // Thread t marks i % 10 == t bad, minus the synthetic ones (i % 100 == 0 hits only t == 0).
    assert_eq!(snap.bad, 8 * 1000 - 100);
}

#[test]
fn bad_configuration_names_parameter_value_and_range() {
    let c = ManualClock::new();
    let e = Slo::new(SloConfig::availability("x", 1.0), c.clone())
        .err()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "SLO: objective=1 is out of range; allowed: (0, 1)"
    );
    let mut cfg = SloConfig::availability("x", 0.99);
    cfg.rules[0].short_seconds = 7200.0;
    let e = Slo::new(cfg, c.clone()).err().unwrap().to_string();
    assert!(e.contains("short_seconds=7200"), "{e}");
    let mut cfg = SloConfig::availability("x", 0.99);
    cfg.window_days = 2;
    let e = Slo::new(cfg, c.clone()).err().unwrap().to_string();
    assert!(
        e.contains("long_seconds=259200") && e.contains("172800"),
        "a 3 d rule cannot fit a 2 d SLO: {e}"
    );
}
