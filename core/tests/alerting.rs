//! The alert router's timing rules on a manual clock: grouping, group_interval, repeat, inhibition,
//! silences with expiry, escalation and ack, the per-sink cap with its digest, an alert storm; the
//! dead man's switch and the probe schedule.

use ferrule_core::watch::alert::{Alert, Status};
use ferrule_core::watch::alert_router::{AlertRouter, Escalation, Route, RouterConfig};
use ferrule_core::watch::alert_sink::{AlertSink, CallbackSink};
use ferrule_core::watch::dead_mans_switch::DeadMansSwitch;
use ferrule_core::watch::event::{Event, EventState, Severity};
use ferrule_core::watch::notification::{Kind, Notification};
use ferrule_core::watch::notify_cap::CapConfig;
use ferrule_core::watch::synthetic_probe::{ProbeConfig, ProbeResult, SyntheticProbe};
use ferrule_core::{Clock, ManualClock};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const S: u64 = 1_000_000_000;

type Got = Arc<Mutex<Vec<Notification>>>;

fn sink(name: &str) -> (Arc<dyn AlertSink>, Got) {
    let got: Got = Arc::default();
    let g = got.clone();
    let s = CallbackSink::new(name, move |n: &Notification| {
        g.lock().unwrap().push(n.clone())
    });
    (Arc::new(s), got)
}

fn alert(name: &str, sev: Severity, labels: &[(&str, &str)]) -> Alert {
    Alert::new(
        name,
        sev,
        labels.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        format!("{name} is bad"),
    )
}

struct Fixture {
    clock: ManualClock,
    router: Arc<AlertRouter>,
    got: Vec<Got>,
}

impl Fixture {
    fn new(cfg: RouterConfig, sinks: &[&str]) -> Self {
        let clock = ManualClock::new();
        let mut all = Vec::new();
        let mut got = Vec::new();
        for s in sinks {
            let (a, g) = sink(s);
            all.push(a);
            got.push(g);
        }
        let router = AlertRouter::new(cfg, all, clock.clone()).unwrap();
        Self { clock, router, got }
    }
    fn at(&self, secs: u64) -> u64 {
        // Absolute test time: the manual clock starts at 1 s.
        S + secs * S
    }
    fn set(&self, secs: u64) -> Vec<Notification> {
        self.clock.set_nanos(self.at(secs));
        self.router.tick_at(self.at(secs))
    }
    fn push(&self, secs: u64, a: Alert) {
        self.clock.set_nanos(self.at(secs));
        self.router.push_at(a, self.at(secs));
    }
    fn taken(&self, i: usize) -> Vec<Notification> {
        std::mem::take(&mut *self.got[i].lock().unwrap())
    }
}

#[test]
fn defaults_are_alertmanagers() {
    let c = RouterConfig::default();
    assert_eq!(c.group_wait_nanos, 30 * S);
    assert_eq!(c.group_interval_nanos, 300 * S);
    assert_eq!(c.repeat_interval_nanos, 4 * 3600 * S);
    assert_eq!(
        c.cap,
        CapConfig {
            max: 5,
            window_nanos: 900 * S
        }
    );
}

#[test]
fn group_wait_batches_alerts_of_one_group() {
    let f = Fixture::new(RouterConfig::default(), &["ops"]);
    f.push(
        0,
        alert("HighLatency", Severity::Warning, &[("model", "a")]),
    );
    f.push(
        10,
        alert("HighLatency", Severity::Warning, &[("model", "b")]),
    );
    f.push(
        11,
        alert("HighLatency", Severity::Warning, &[("model", "b")]),
    ); // a repeat: count only
    assert!(f.set(29).is_empty(), "nothing before group_wait");
    let n = f.set(30);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].alerts.len(), 2);
    assert_eq!(n[0].name, "HighLatency");
    assert_eq!(n[0].count, 3);
    assert_eq!(n[0].status, Status::Firing);
    assert_eq!(n[0].kind, Kind::Group);
    assert_eq!(f.taken(0).len(), 1, "delivered to the sink");
    // Another alert name is another group, with its own group_wait.
    f.push(40, alert("CostJump", Severity::Warning, &[]));
    assert!(f.set(69).is_empty());
    assert_eq!(f.set(70).len(), 1);
}

#[test]
fn group_interval_holds_changes_and_repeat_interval_resends() {
    let f = Fixture::new(RouterConfig::default(), &["ops"]);
    f.push(0, alert("E", Severity::Warning, &[("model", "a")]));
    assert_eq!(f.set(30).len(), 1);
    f.push(60, alert("E", Severity::Warning, &[("model", "b")]));
    assert!(f.set(329).is_empty(), "a change waits for group_interval");
    let n = f.set(330);
    assert_eq!((n.len(), n[0].alerts.len(), n[0].kind), (1, 2, Kind::Group));
    // Nothing changes: silent until repeat_interval (4 h) after the last notification.
    assert!(f.set(330 + 4 * 3600 - 1).is_empty());
    let n = f.set(330 + 4 * 3600);
    assert_eq!((n.len(), n[0].kind), (1, Kind::Repeat));
}

#[test]
fn resolution_is_notified_once_then_forgotten() {
    let f = Fixture::new(RouterConfig::default(), &["ops"]);
    let a = alert("E", Severity::Warning, &[]);
    let fp = a.fingerprint.clone();
    f.push(0, a);
    f.set(30);
    assert!(f.router.resolve_at(&fp, f.at(100)));
    assert!(f.set(329).is_empty());
    let n = f.set(330);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].status, Status::Resolved);
    assert_eq!(n[0].alerts[0].ends_at, f.at(100));
    assert!(f.router.alerts().is_empty());
    assert!(
        f.set(330 + 5 * 3600).is_empty(),
        "no repeat of a resolved alert"
    );
    // Fired and resolved inside group_wait: nobody is told anything.
    let b = alert("Blip", Severity::Warning, &[]);
    let fp = b.fingerprint.clone();
    f.push(20_000, b);
    f.router.resolve_at(&fp, f.at(20_005));
    assert!(f.set(20_100).is_empty());
    assert!(f.router.alerts().is_empty());
}

#[test]
fn firing_critical_inhibits_warnings_of_its_group() {
    let mut cfg = RouterConfig::default();
    let mut r = Route::new("by-model");
    r.group_by = vec!["model".into()];
    cfg.routes = vec![r];
    let f = Fixture::new(cfg, &["ops"]);
    let crit = alert("Down", Severity::Critical, &[("model", "a")]);
    let crit_fp = crit.fingerprint.clone();
    f.push(0, crit);
    f.push(0, alert("Slow", Severity::Warning, &[("model", "a")]));
    f.push(0, alert("Slow", Severity::Warning, &[("model", "b")])); // other group: not inhibited
    let n = f.set(30);
    let names: Vec<(String, String)> = n
        .iter()
        .flat_map(|n| {
            n.alerts
                .iter()
                .map(|a| (a.name.clone(), a.label("model").unwrap().to_string()))
        })
        .collect();
    assert!(names.contains(&("Down".into(), "a".into())));
    assert!(names.contains(&("Slow".into(), "b".into())));
    assert!(!names.contains(&("Slow".into(), "a".into())), "{names:?}");
    assert!(f.router.stats().inhibited >= 1);
    // The critical resolves: the warning comes out at the next group_interval.
    f.router.resolve_at(&crit_fp, f.at(60));
    let n = f.set(330);
    let a: Vec<_> = n.iter().flat_map(|n| n.alerts.clone()).collect();
    assert!(a
        .iter()
        .any(|x| x.name == "Slow" && x.status == Status::Firing));
    assert!(a
        .iter()
        .any(|x| x.name == "Down" && x.status == Status::Resolved));
}

#[test]
fn silences_mute_until_they_expire() {
    let f = Fixture::new(RouterConfig::default(), &["ops"]);
    let id = f
        .router
        .silence_at(
            vec![("model".into(), "a".into())],
            600 * S,
            "maintenance",
            f.at(0),
        )
        .unwrap();
    assert!(id > 0);
    assert!(
        f.router.silence_at(vec![], S, "", f.at(0)).is_err(),
        "an empty silence is refused"
    );
    f.push(0, alert("E", Severity::Warning, &[("model", "a")]));
    assert!(f.set(30).is_empty());
    assert!(f.set(599).is_empty());
    assert_eq!(f.router.silences().len(), 1);
    let n = f.set(600); // expired at 600: the still-dirty group flushes
    assert_eq!(n.len(), 1);
    assert!(f.router.silences().is_empty());
    // expire_silence ends one early.
    let id = f
        .router
        .silence_at(
            vec![("alertname".into(), "F".into())],
            3600 * S,
            "",
            f.at(700),
        )
        .unwrap();
    f.push(700, alert("F", Severity::Warning, &[]));
    assert!(f.set(730).is_empty());
    assert!(f.router.expire_silence(id));
    assert_eq!(f.set(731).len(), 1);
}

#[test]
fn escalation_chain_until_acknowledged() {
    let mut cfg = RouterConfig::default();
    let mut r = Route::new("llm");
    r.sinks = vec!["chat".into()];
    r.escalation = vec![
        Escalation {
            after_nanos: 600 * S,
            sinks: vec!["oncall".into()],
        },
        Escalation {
            after_nanos: 1800 * S,
            sinks: vec!["manager".into()],
        },
    ];
    cfg.routes = vec![r];
    let f = Fixture::new(cfg, &["chat", "oncall", "manager"]);
    let a = alert("Down", Severity::Critical, &[]);
    let fp = a.fingerprint.clone();
    f.push(0, a);
    f.set(30);
    assert_eq!(f.taken(0).len(), 1);
    assert!(f.set(599).is_empty());
    let n = f.set(600);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].kind, Kind::Escalation { level: 1 });
    assert_eq!(n[0].sink, "oncall");
    assert_eq!(f.taken(1).len(), 1);
    assert!(f.set(601).is_empty(), "once per level");
    assert!(f.router.ack(&fp));
    assert!(f.set(1800).is_empty(), "acknowledged: no level 2");
    assert!(f.taken(2).is_empty());
    // Acked alerts do not repeat either.
    assert!(f.set(30 + 4 * 3600).is_empty());
    // Another alert nobody acks climbs both levels.
    let b = alert("Down2", Severity::Critical, &[]);
    f.push(20_000, b);
    f.set(20_030);
    f.set(20_600);
    let n = f.set(21_800);
    assert_eq!(n[0].kind, Kind::Escalation { level: 2 });
    assert_eq!(f.taken(2).len(), 1);
    assert!(!f.router.ack("no-such-alert"));
}

#[test]
fn routes_by_severity_and_labels() {
    let mut cfg = RouterConfig::default();
    let mut pages = Route::new("pages");
    pages.min_severity = Severity::Critical;
    pages.sinks = vec!["pager".into()];
    let mut team = Route::new("team-x");
    team.matchers = vec![("team".into(), "x".into())];
    team.sinks = vec!["x".into()];
    let mut rest = Route::new("rest");
    rest.sinks = vec!["log".into()];
    cfg.routes = vec![pages, team, rest];
    let f = Fixture::new(cfg, &["pager", "x", "log"]);
    f.push(0, alert("A", Severity::Page, &[("team", "x")]));
    f.push(0, alert("B", Severity::Warning, &[("team", "x")]));
    f.push(0, alert("C", Severity::Info, &[]));
    f.set(30);
    let names = |i: usize| -> Vec<String> { f.taken(i).iter().map(|n| n.name.clone()).collect() };
    assert_eq!(names(0), vec!["A"]);
    assert_eq!(names(1), vec!["B"]);
    assert_eq!(names(2), vec!["C"]);
    let mut bad = RouterConfig::default();
    let mut r = Route::new("r");
    r.sinks = vec!["nope".into()];
    bad.routes = vec![r];
    let err = AlertRouter::new(bad, vec![sink("ops").0], ManualClock::new())
        .err()
        .unwrap();
    assert!(err.to_string().contains("routes"), "{err}");
}

#[test]
fn cap_holds_back_and_digest_counts() {
    let mut cfg = RouterConfig::default();
    let mut r = Route::new("per-series");
    r.group_by = vec!["alertname".into(), "series".into()];
    cfg.routes = vec![r];
    cfg.cap = CapConfig {
        max: 3,
        window_nanos: 600 * S,
    };
    let f = Fixture::new(cfg, &["a", "b"]);
    for i in 0..10 {
        f.push(
            0,
            alert("E", Severity::Warning, &[("series", &i.to_string())]),
        );
    }
    let n = f.set(30);
    assert_eq!(n.len(), 6, "3 per sink");
    assert!(
        f.set(629).is_empty(),
        "the window started with the first notification, at 30 s"
    );
    let n = f.set(630);
    let digests: Vec<_> = n
        .iter()
        .filter(|n| matches!(n.kind, Kind::Digest { .. }))
        .collect();
    assert_eq!(digests.len(), 2);
    for d in digests {
        assert_eq!(d.kind, Kind::Digest { held: 7 });
        assert_eq!(d.count, 7);
        assert!(
            d.summary.contains("7 notifications held back"),
            "{}",
            d.summary
        );
    }
    assert_eq!(f.router.stats().held_by_cap, 14);
    assert_eq!(f.router.stats().digests, 2);
}

/// 10,000 raw anomaly events in a minute over 300 series: each sink gets at most a handful of
/// notifications, and the digest counts every one held back.
#[test]
fn alert_storm_is_a_handful_per_sink_plus_a_digest() {
    let mut cfg = RouterConfig::default();
    let mut r = Route::new("anomalies");
    r.group_by = vec!["alertname".into(), "series".into()];
    cfg.routes = vec![r];
    let f = Fixture::new(cfg, &["chat", "webhook"]);
    let mut raw = 0;
    for i in 0..10_000u64 {
        let series = (i * 7919 % 300).to_string();
        let labels = vec![("series".to_string(), series.clone())];
        let state = if i % 7 == 6 {
            EventState::Resolved
        } else {
            EventState::Firing
        };
        let e = Event {
            name: "anomaly.ewma",
            source: "latency".into(),
            severity: Severity::Warning,
            state,
            dedup_key: Event::key("anomaly.ewma", "latency", &labels),
            labels,
            value: 5.0,
            threshold: 4.0,
            message: format!("latency z=5 on series {series}"),
            at_nanos: 0,
        };
        f.clock.set_nanos(f.at(i * 60 / 10_000));
        f.router.ingest(std::slice::from_ref(&e));
        raw += 1;
        if i % 100 == 0 {
            f.router.tick_at(f.at(i * 60 / 10_000));
        }
    }
    assert_eq!(raw, 10_000);
    for t in (60..=3600).step_by(10) {
        f.set(t);
    }
    for i in 0..2 {
        let got = f.taken(i);
        let normal = got
            .iter()
            .filter(|n| !matches!(n.kind, Kind::Digest { .. }))
            .count();
        let held: u64 = got
            .iter()
            .filter_map(|n| match n.kind {
                Kind::Digest { held } => Some(held),
                _ => None,
            })
            .sum();
        // 5 per 15-minute window over the hour, plus the digests.
        assert!(normal <= 5 * 4, "sink {i}: {normal} notifications");
        assert!(got.len() <= 5 * 4 + 4, "sink {i}: {} in all", got.len());
        assert!(held > 250, "sink {i}: the digest counts the rest ({held})");
        let digest_count = got
            .iter()
            .filter(|n| matches!(n.kind, Kind::Digest { .. }))
            .count();
        assert!(digest_count >= 1);
    }
    let st = f.router.stats();
    assert!(st.alerts_fired >= 300, "every series fired: {st:?}");
    assert!(st.alerts_resolved >= 1);
    assert!(st.active <= 300);
}

#[test]
fn storm_on_one_condition_is_one_alert_with_a_count() {
    let f = Fixture::new(RouterConfig::default(), &["ops"]);
    for i in 0..10_000u64 {
        f.push(
            i * 60 / 10_000,
            alert("anomaly.mad", Severity::Warning, &[("metric", "latency")]),
        );
    }
    let n = f.set(60);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].count, 10_000);
}

#[test]
fn max_alerts_drops_are_counted() {
    let mut cfg = RouterConfig::default();
    cfg.max_alerts = 10;
    let f = Fixture::new(cfg, &["ops"]);
    for i in 0..15 {
        f.push(0, alert("E", Severity::Warning, &[("i", &i.to_string())]));
    }
    assert_eq!(f.router.stats().dropped_over_max, 5);
    assert_eq!(f.router.stats().active, 10);
}

#[test]
fn a_panicking_sink_is_counted_not_propagated() {
    let clock = ManualClock::new();
    let bad: Arc<dyn AlertSink> =
        Arc::new(CallbackSink::new("bad", |_: &Notification| panic!("boom")));
    let (good, got) = sink("good");
    let r = AlertRouter::new(RouterConfig::default(), vec![bad, good], clock.clone()).unwrap();
    r.push_at(alert("E", Severity::Warning, &[]), S);
    r.tick_at(31 * S);
    assert_eq!(r.stats().sink_errors, 1);
    assert_eq!(got.lock().unwrap().len(), 1);
}

#[test]
fn dead_mans_switch_fires_on_silence_and_resolves_on_beat() {
    let clock = ManualClock::new();
    let d =
        DeadMansSwitch::new("nightly-batch", 60 * S, Severity::Critical, clock.clone()).unwrap();
    clock.advance(Duration::from_secs(59));
    assert!(d.tick_at(clock.now_nanos()).is_none());
    d.beat_at(clock.now_nanos());
    clock.advance(Duration::from_secs(59));
    assert!(
        d.tick_at(clock.now_nanos()).is_none(),
        "the beat reset the timer"
    );
    clock.advance(Duration::from_secs(1));
    let e = d
        .tick_at(clock.now_nanos())
        .expect("fires at 60 s of silence");
    assert_eq!(
        (e.name, e.state, e.severity),
        ("deadman.missed", EventState::Firing, Severity::Critical)
    );
    assert!(d.is_firing());
    clock.advance(Duration::from_secs(600));
    assert!(d.tick_at(clock.now_nanos()).is_none(), "fires once");
    let r = d
        .beat_at(clock.now_nanos())
        .expect("the next beat resolves");
    assert_eq!(r.state, EventState::Resolved);
    assert_eq!(r.dedup_key, e.dedup_key);
    assert!(d.beat_at(clock.now_nanos()).is_none());
    assert_eq!(d.times_fired(), 1);
    // Into a router: the firing and the resolution are one alert.
    let (s, got) = sink("ops");
    let router = AlertRouter::new(RouterConfig::default(), vec![s], clock.clone()).unwrap();
    router.ingest(&[e]);
    router.tick_at(clock.now_nanos() + 30 * S);
    router.ingest(&[r]);
    router.tick_at(clock.now_nanos() + 400 * S);
    let got = got.lock().unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].status, Status::Firing);
    assert_eq!(got[1].status, Status::Resolved);
    assert!(DeadMansSwitch::new("x", 0, Severity::Page, clock).is_err());
}

#[test]
fn dead_mans_switch_beats_from_many_threads() {
    let clock = ManualClock::new();
    let d = DeadMansSwitch::new("t", 60 * S, Severity::Critical, clock.clone()).unwrap();
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..10_000 {
                    d.beat();
                }
            });
        }
    });
    assert_eq!(d.beats(), 80_000);
}

#[test]
fn probe_schedule_never_overlaps() {
    let clock = ManualClock::new();
    let mut cfg = ProbeConfig::new("chat", 10 * S, 5 * S);
    cfg.jitter = 0.0;
    let p = SyntheticProbe::new(cfg, None, clock.clone()).unwrap();
    let t0 = clock.now_nanos();
    assert_eq!(p.due_in_at(t0), 0, "first run right away");
    assert!(p.try_start_at(t0));
    // Still running when the next turn comes: the turn is skipped, not doubled.
    assert!(!p.try_start_at(t0 + 10 * S));
    assert_eq!(p.stats().skipped_overlap, 1);
    assert!(p.is_running());
    p.finish_at(t0 + 12 * S, ProbeResult::Ok, "");
    assert_eq!(
        p.stats().timed_out,
        1,
        "12 s > timeout 5 s: a timeout whatever the host said"
    );
    // The schedule moved on from the skipped turn: next at 20 s, not a catch-up burst.
    assert!(!p.try_start_at(t0 + 19 * S));
    assert_eq!(p.due_in_at(t0 + 19 * S), S);
    assert!(p.try_start_at(t0 + 20 * S));
    p.finish_at(t0 + 21 * S, ProbeResult::Ok, "");
    let s = p.stats();
    assert_eq!((s.runs, s.ok, s.timed_out, s.skipped_overlap), (2, 1, 1, 1));
    // Many threads racing for one due turn: exactly one wins.
    let wins = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|sc| {
        for _ in 0..8 {
            sc.spawn(|| {
                if p.try_start_at(t0 + 30 * S) {
                    wins.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    assert_eq!(wins.into_inner(), 1);
}

#[test]
fn probe_jitter_stays_in_bounds() {
    let clock = ManualClock::new();
    let mut cfg = ProbeConfig::new("j", 100 * S, 10 * S);
    cfg.jitter = 0.2;
    cfg.seed = Some(7);
    let p = SyntheticProbe::new(cfg, None, clock.clone()).unwrap();
    let mut now = clock.now_nanos();
    let mut gaps = Vec::new();
    for _ in 0..200 {
        now += p.due_in_at(now);
        assert!(p.try_start_at(now));
        let start = now;
        p.finish_at(now + S, ProbeResult::Ok, "");
        let due = p.due_in_at(now + S) + now + S;
        gaps.push((due - start) as f64 / 1e9);
        now += S;
    }
    assert!(gaps.iter().all(|g| (80.0..=120.0).contains(g)), "{gaps:?}");
    assert!(
        gaps.iter().any(|g| *g < 95.0) && gaps.iter().any(|g| *g > 105.0),
        "jitter spreads"
    );
}

#[test]
fn probe_failures_alert_and_feed_the_dead_mans_switch() {
    let clock = ManualClock::new();
    let d = DeadMansSwitch::new("chat-probe", 60 * S, Severity::Page, clock.clone()).unwrap();
    let mut cfg = ProbeConfig::new("chat", 10 * S, 5 * S);
    cfg.jitter = 0.0;
    cfg.failures_to_alert = 2;
    let p = SyntheticProbe::new(cfg, Some(d.clone()), clock.clone()).unwrap();
    let mut t = clock.now_nanos();
    let mut run = |res: ProbeResult| {
        assert!(p.try_start_at(t));
        let e = p.finish_at(t + S, res, "HTTP 500");
        t += 10 * S;
        clock.set_nanos(t);
        e
    };
    assert!(run(ProbeResult::Ok).is_empty());
    assert_eq!(d.beats(), 1, "a success beats the switch");
    assert!(
        run(ProbeResult::Failed).is_empty(),
        "one failure is not an alert"
    );
    let e = run(ProbeResult::Failed);
    assert_eq!(e.len(), 1);
    assert_eq!(
        (e[0].name, e[0].state),
        ("probe.failed", EventState::Firing)
    );
    assert!(e[0].labels.contains(&("synthetic".into(), "true".into())));
    assert!(e[0].message.contains("HTTP 500"));
    assert!(run(ProbeResult::Failed).is_empty(), "fires once");
    let e = run(ProbeResult::Ok);
    assert_eq!(e[0].state, EventState::Resolved);
    assert_eq!(d.beats(), 2);
    let bad = ProbeConfig::new("x", 10 * S, 20 * S);
    let err = SyntheticProbe::new(bad, None, clock)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("timeout_seconds"), "{err}");
}

#[test]
fn synthetic_results_stay_out_of_slos() {
    use ferrule_core::{Slo, SloConfig};
    let clock = ManualClock::new();
    let slo = Slo::new(SloConfig::availability("chat", 0.99), clock.clone()).unwrap();
    for _ in 0..100 {
        slo.record(false, 0.1, true); // probe failures, tagged synthetic
    }
    slo.record(true, 0.1, false);
    let s = slo.snapshot();
    assert_eq!((s.total, s.bad, s.synthetic_excluded), (1, 0, 100));
    assert_eq!(slo.budget_remaining(), 1.0);
}

#[test]
fn notification_json_has_the_documented_fields() {
    let f = Fixture::new(RouterConfig::default(), &["ops"]);
    f.push(0, alert("E", Severity::Critical, &[("model", "m")]));
    let n = f.set(30);
    let j = n[0].to_json(1_700_000_000.0);
    for k in [
        "name",
        "severity",
        "labels",
        "status",
        "summary",
        "starts_at",
        "count",
    ] {
        assert!(j.get(k).is_some(), "{k} missing in {j}");
    }
    assert_eq!(j["severity"], "critical");
    assert_eq!(j["labels"]["model"], "m");
    assert_eq!(j["status"], "firing");
    assert_eq!(j["starts_at"].as_f64().unwrap(), 1_700_000_001.0);
}

#[test]
fn rfc3339_is_right() {
    use ferrule_core::watch::alertmanager::rfc3339;
    assert_eq!(rfc3339(0.0), "1970-01-01T00:00:00.000Z");
    assert_eq!(rfc3339(1_700_000_000.5), "2023-11-14T22:13:20.500Z");
    assert_eq!(rfc3339(951_782_400.0), "2000-02-29T00:00:00.000Z");
}

#[test]
fn a_policy_beats_its_switch_on_every_success() {
    use ferrule_core::{Pipeline, PipelineConfig};
    let clock = ManualClock::new();
    let d = DeadMansSwitch::new("policy-beat", 60 * S, Severity::Critical, clock.clone()).unwrap();
    let p = Pipeline::new(PipelineConfig::default(), None, clock.clone()).unwrap();
    assert!(p.beat_on_success(d.clone()));
    assert!(!p.beat_on_success(d.clone()), "one switch per policy");
    clock.advance_secs(61.0);
    assert!(d.tick_at(clock.now_nanos()).is_some());
    p.success(None);
    assert!(!d.is_firing(), "the success resolved it");
    assert_eq!(d.beats(), 1);
}

#[test]
fn sinks_see_label_values_masked_in_labels_group_key_and_fingerprint() {
    let f = Fixture::new(RouterConfig::default(), &["ops"]);
    let email = "alice@example.com";
    let key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789";
    f.push(
        0,
        alert(
            "Leak",
            Severity::Warning,
            &[("user", email), ("token", key)],
        ),
    );
    // A caller-given fingerprint is user text too.
    f.push(
        0,
        alert("Leak", Severity::Warning, &[("user", "bob")])
            .with_fingerprint(format!("leak for {email}")),
    );
    let n = f.set(30);
    assert_eq!(n.len(), 1);
    let shown = format!("{:?}", n[0]);
    assert!(
        !shown.contains(email),
        "raw email reached the sink: {shown}"
    );
    assert!(!shown.contains(key), "raw key reached the sink: {shown}");
    assert_eq!(n[0].alerts.len(), 2);
    for a in &n[0].alerts {
        assert!(!a.fingerprint.contains(email), "{}", a.fingerprint);
        assert!(!a.fingerprint.is_empty());
    }
    // The router still tells the two alerts apart (it keys on the raw fingerprint).
    assert_ne!(n[0].alerts[0].fingerprint, n[0].alerts[1].fingerprint);
}
