//! The SLO on a manual clock: the Workbook's table (each page case within 1.25x of its detection
//! time, once per episode; slow burns ticket and never page), the fast-burn test, synthetic probes
//! excluded, the budget over the SLO window (extrapolated while young), latency SLIs, exact counts
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

fn state_of<'a>(ev: &'a [Event], name: &str, alert: &str, state: EventState) -> Vec<&'a Event> {
    ev.iter()
        .filter(|e| e.name == name && e.state == state && e.labels.iter().any(|(_, v)| v == alert))
        .collect()
}

#[test]
fn page_fires_within_a_minute_of_an_outage_and_resolves_after_the_short_window() {
    let (s, c) = slo(SloConfig {
        fast_burn: None,
        ..SloConfig::availability("api", 0.999)
    });
    assert!(feed(&s, &c, 600, 10, |_| false).is_empty(), "healthy");
    let t0 = c.now_nanos();
    let ev = feed(&s, &c, 120, 10, |_| true);
    let pages = state_of(&ev, "slo.burn_rate", "page", EventState::Firing);
    assert_eq!(pages.len(), 1, "{ev:?}");
    let first = pages[0];
    assert_eq!(first.severity, Severity::Critical);
    assert_eq!(first.labels[1], ("alert".into(), "page".into()));
    assert_eq!(first.dedup_key, "slo.burn_rate:api:api:page");
    assert!(first.message.contains("rule 1h/5m"), "{}", first.message);
    // The Workbook's time to detect at 100% errors: 1 h * 14.4 * 0.1% = 52 s.
    assert!(
        first.at_nanos - t0 <= 65 * S,
        "{}",
        (first.at_nanos - t0) / S
    );
    // Recovery: the 5 min window drains below 14.4x * 0.5 a few minutes later.
    let ev = feed(&s, &c, 900, 10, |_| false);
    let resolved = state_of(&ev, "slo.burn_rate", "page", EventState::Resolved);
    assert_eq!(resolved.len(), 1, "{ev:?}");
    let after = (resolved[0].at_nanos - (t0 + 120 * S)) / S;
    assert!(
        (60..=420).contains(&after),
        "resolved {after}s after recovery"
    );
}

#[test]
fn rules_wait_for_their_short_window_and_min_calls() {
    let (s, c) = slo(SloConfig {
        fast_burn: None,
        ..SloConfig::availability("young", 0.999)
    });
    // A young SLO whose first calls fail: no rule is armed before 5 minutes of watching.
    let ev = feed(&s, &c, 240, 1, |i| i < 3);
    assert!(firing(&ev, "slo.burn_rate").is_empty(), "{ev:?}");
    // Later, one failure in 200 calls (5x) is below every page rule.
    let ev = feed(&s, &c, 600, 1, |i| i % 200 == 0);
    assert!(
        state_of(&ev, "slo.burn_rate", "page", EventState::Firing).is_empty(),
        "{ev:?}"
    );
}

#[test]
fn fast_burn_pages_a_14x_burn_within_five_minutes_at_10_calls_a_second() {
    let (s, c) = slo(SloConfig {
        fast_burn: Some(FastBurnConfig::default()),
        ..SloConfig::availability("api", 0.999)
    });
    feed(&s, &c, 3600, 10, |_| false);
    let t0 = c.now_nanos();
    // 1.44% of calls fail, spread evenly (one in ~69).
    let ev = feed(&s, &c, 600, 10, |i| i % 69 == 0);
    let f = firing(&ev, "slo.burn_rate");
    assert_eq!(f.len(), 1, "{ev:?}");
    assert!(f[0].message.contains("sequential test"), "{}", f[0].message);
    assert!(
        f[0].at_nanos - t0 <= 300 * S,
        "{}s",
        (f[0].at_nanos - t0) / S
    );
    assert!(s.snapshot().fast_burn_firing && s.snapshot().page_firing);
    assert!(
        s.burn_rate(3600.0).unwrap() < 14.4,
        "the 1 h window is far from 14.4x yet"
    );
}

/// A random error stream: call `i` fails with probability `rate` (xorshift, seeded).
struct Errors(u64);

impl Errors {
    fn next(&mut self, rate: f64) -> bool {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) < rate
    }
}

/// `per_sec` calls a second for `secs` seconds at error rate `rate`; every event, in order.
fn run(s: &Slo, c: &ManualClock, secs: u64, per_sec: u64, rate: f64, e: &mut Errors) -> Vec<Event> {
    let mut out = Vec::new();
    for _ in 0..secs * per_sec {
        c.advance(std::time::Duration::from_nanos(S / per_sec));
        let bad = e.next(rate);
        out.extend(s.record(!bad, 0.5, false));
    }
    out
}

/// The Workbook's detection time for a burn starting from no errors: the first page rule whose long
/// window reaches its factor, `W * B * (1 - SLO) / error rate`.
fn workbook_detection_seconds(rate: f64) -> f64 {
    BurnRule::workbook()
        .iter()
        .filter(|r| r.severity == Severity::Critical)
        .map(|r| r.long_seconds * r.factor * 0.001 / rate)
        .fold(f64::INFINITY, f64::min)
}

#[test]
fn workbook_table_pages_within_its_detection_time_once_per_episode() {
    for fast in [true, false] {
        for (k, rate) in [1.0, 0.1, 0.02, 0.0144].into_iter().enumerate() {
            let (s, c) = slo(SloConfig {
                fast_burn: fast.then(FastBurnConfig::default),
                ..SloConfig::availability("wb", 0.999)
            });
            let mut e = Errors(0x9E37_79B9_7F4A_7C15 ^ (k as u64 + 1));
            assert!(run(&s, &c, 3600, 10, 0.0, &mut e).is_empty());
            let t0 = c.now_nanos();
            let limit = 1.25 * workbook_detection_seconds(rate);
            // The episode lasts twice the detection time (at least 20 minutes), then an hour of
            // health and a last check.
            let secs = (2.0 * limit).max(1200.0) as u64;
            let mut ev = run(&s, &c, secs, 10, rate, &mut e);
            ev.extend(run(&s, &c, 3600, 10, 0.0, &mut e));
            ev.extend(s.evaluate());
            let pages = state_of(&ev, "slo.burn_rate", "page", EventState::Firing);
            let resolves = state_of(&ev, "slo.burn_rate", "page", EventState::Resolved);
            let label = format!("rate {rate}, fast test {fast}");
            assert_eq!(pages.len(), 1, "{label}: one page: {ev:#?}");
            assert_eq!(resolves.len(), 1, "{label}: one resolve");
            let took = (pages[0].at_nanos - t0) as f64 / 1e9;
            assert!(
                took <= limit,
                "{label}: paged after {took:.0}s, Workbook limit {limit:.0}s"
            );
            assert!(
                resolves[0].at_nanos > t0 + secs * S,
                "{label}: resolved after the end"
            );
        }
    }
}

#[test]
fn three_days_below_6x_ticket_once_and_never_page() {
    for (k, rate, ticket) in [(0u64, 0.005, true), (1, 0.0012, true), (2, 0.0005, false)] {
        let (s, c) = slo(SloConfig::availability("slow", 0.999));
        let mut e = Errors(0xD1B5_4A32_D192_ED03 ^ (k + 1));
        let ev = run(&s, &c, 3 * 86_400, 10, rate, &mut e);
        let label = format!("rate {rate}");
        assert!(
            state_of(&ev, "slo.burn_rate", "page", EventState::Firing).is_empty(),
            "{label}: no page below 6x: {:?}",
            state_of(&ev, "slo.burn_rate", "page", EventState::Firing)
        );
        let tickets = state_of(&ev, "slo.burn_rate", "ticket", EventState::Firing);
        assert_eq!(tickets.len(), ticket as usize, "{label}: {tickets:?}");
        if ticket {
            assert_eq!(tickets[0].severity, Severity::Warning);
            assert!(s.snapshot().ticket_firing, "{label}: still open");
        }
        // A 30-day budget is not spent by three days at 5x (it takes six), nor at all by less.
        assert!(firing(&ev, "slo.budget_exhausted").is_empty(), "{label}");
        let snap = s.snapshot();
        assert_eq!(snap.budget_basis, BudgetBasis::Extrapolated);
        assert!(
            (snap.budget_coverage - 0.1).abs() < 1e-3,
            "{}",
            snap.budget_coverage
        );
        let spent = rate / 0.001 * 3.0 / 30.0;
        assert!(
            (1.0 - snap.budget_remaining - spent).abs() < 0.05 * spent.max(0.1),
            "{label}: remaining {} vs spent {spent}",
            snap.budget_remaining
        );
    }
}

#[test]
fn a_burn_hovering_at_6x_is_one_episode() {
    let (s, c) = slo(SloConfig::availability("hover", 0.999));
    let mut e = Errors(42);
    run(&s, &c, 3600, 10, 0.0, &mut e);
    let mut ev = run(&s, &c, 12 * 3600, 10, 0.0065, &mut e);
    ev.extend(run(&s, &c, 2 * 3600, 10, 0.0, &mut e));
    ev.extend(s.evaluate());
    let pages = state_of(&ev, "slo.burn_rate", "page", EventState::Firing);
    let resolves = state_of(&ev, "slo.burn_rate", "page", EventState::Resolved);
    assert_eq!((pages.len(), resolves.len()), (1, 1), "{ev:#?}");
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
fn budget_is_measured_over_the_slo_window_and_extrapolated_while_young() {
    // Two hours of a 5x burn on a 30-day SLO: 1.4% of the budget, no exhaustion.
    let (s, c) = slo(SloConfig {
        fast_burn: None,
        ..SloConfig::availability("b30", 0.999)
    });
    let ev = feed(&s, &c, 7200, 10, |i| i % 200 == 0);
    assert!(firing(&ev, "slo.budget_exhausted").is_empty());
    let snap = s.snapshot();
    assert_eq!(snap.budget_basis, BudgetBasis::Extrapolated);
    assert!(
        (snap.budget_remaining - (1.0 - 5.0 * 2.0 / 720.0)).abs() < 1e-3,
        "{}",
        snap.budget_remaining
    );

    // A 1-day SLO at 5x: a fifth of the day spends it (4.8 h), not two hours of history.
    let (s, c) = slo(SloConfig {
        window_days: 1,
        fast_burn: None,
        rules: vec![],
        ..SloConfig::availability("b", 0.999)
    });
    let ev = feed(&s, &c, 4 * 3600, 10, |i| i % 200 == 0);
    assert!(
        firing(&ev, "slo.budget_exhausted").is_empty(),
        "not after 4 h"
    );
    let t0 = c.now_nanos();
    let ev = feed(&s, &c, 3600, 10, |i| i % 200 == 0);
    let f = firing(&ev, "slo.budget_exhausted");
    assert_eq!(f.len(), 1);
    let at = 4.0 + (f[0].at_nanos - t0) as f64 / 3.6e12;
    assert!((4.7..=4.9).contains(&at), "exhausted after {at:.2} h");
    // A whole window later the basis is the window, and the bad hours have aged out once the
    // service is healthy for a day.
    feed(&s, &c, 20 * 3600, 1, |_| false);
    let snap = s.snapshot();
    assert_eq!(snap.budget_basis, BudgetBasis::Window);
    assert_eq!(snap.budget_coverage, 1.0);
    let ev = feed(&s, &c, 6 * 3600, 1, |_| false);
    assert_eq!(
        ev.iter()
            .filter(|e| e.name == "slo.budget_exhausted" && e.state == EventState::Resolved)
            .count(),
        1,
        "{ev:?}"
    );
    assert!(s.budget_remaining() > 0.9);
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
    let cfg = SloConfig {
        fast_burn: Some(FastBurnConfig {
            baseline_factor: 20.0,
            ..FastBurnConfig::default()
        }),
        ..SloConfig::availability("x", 0.99)
    };
    let e = Slo::new(cfg, c.clone()).err().unwrap().to_string();
    assert!(
        e.contains("fast_burn_baseline_factor=20") && e.contains("14.4"),
        "{e}"
    );
    let cfg = SloConfig {
        resolve_ratio: 0.0,
        ..SloConfig::availability("x", 0.99)
    };
    let e = Slo::new(cfg, c).err().unwrap().to_string();
    assert!(e.contains("resolve_ratio=0") && e.contains("(0, 1]"), "{e}");
}
