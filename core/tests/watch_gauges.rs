//! Watcher gauges reach the metrics registry through the scrape-time `Collect` trait, and the
//! installed alert router receives what watchers, switches and probes publish.

use ferrule_core::watch::alert_router::{self, AlertRouter, RouterConfig};
use ferrule_core::watch::alert_sink::{AlertSink, CallbackSink};
use ferrule_core::watch::dead_mans_switch::DeadMansSwitch;
use ferrule_core::watch::gauges;
use ferrule_core::watch::notification::Notification;
use ferrule_core::{
    metrics_text, AnomalyConfig, AnomalyDetector, Clock, ManualClock, Method, MetricsFormat,
    SeriesKey, Severity, Slo, SloConfig,
};
use std::sync::{Arc, Mutex};

const S: u64 = 1_000_000_000;

#[test]
fn watcher_gauges_are_scraped_and_events_reach_the_installed_router() {
    let clock = ManualClock::new();
    let slo =
        Arc::new(Slo::new(SloConfig::availability("gauge-slo", 0.99), clock.clone()).unwrap());
    gauges::export(&slo);
    for i in 0..100 {
        slo.record(i % 10 != 0, 0.1, false);
    }
    let det = Arc::new(
        AnomalyDetector::new(
            AnomalyConfig::new("lat", "latency_seconds", Method::Ewma(Default::default())),
            clock.clone(),
        )
        .unwrap(),
    );
    gauges::export(&det);
    let key = SeriesKey::new("gpt", "t1");
    for i in 0..200 {
        det.observe_at(&key, 1.0 + (i % 3) as f64 * 0.01, clock.now_nanos());
    }
    let d = DeadMansSwitch::new("gauge-switch", 60 * S, Severity::Critical, clock.clone()).unwrap();
    gauges::export(&d);
    let text = metrics_text(MetricsFormat::Prometheus);
    let line = text
        .lines()
        .find(|l| l.starts_with("ferrule_slo_budget_remaining_ratio{slo=\"gauge-slo\"}"))
        .unwrap_or_else(|| panic!("no budget gauge in\n{text}"));
    let v: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    // The budget is the SLO window's (30 days), so ten bad calls spend only part of it.
    assert!(
        v < 1.0 && v > 0.0,
        "ten bad calls spend part of a 30-day budget: {v}"
    );
    assert!(
        text.contains("ferrule_slo_burn_rate{slo=\"gauge-slo\",window="),
        "{text}"
    );
    assert!(text.contains("ferrule_anomaly_score{detector=\"lat\",metric=\"latency_seconds\",model=\"gpt\",template=\"t1\"}"), "{text}");
    assert!(
        text.contains("ferrule_deadman_firing{switch=\"gauge-switch\"} 0"),
        "{text}"
    );

    // The installed router receives the switch's event without any wiring by the caller.
    let got: Arc<Mutex<Vec<Notification>>> = Arc::default();
    let g = got.clone();
    let cb: Arc<dyn AlertSink> = Arc::new(CallbackSink::new("cb", move |n: &Notification| {
        g.lock().unwrap().push(n.clone())
    }));
    let router = AlertRouter::new(RouterConfig::default(), vec![cb], clock.clone()).unwrap();
    gauges::export(&router);
    alert_router::install(Some(router.clone()));
    clock.advance_secs(61.0);
    assert!(d.tick_at(clock.now_nanos()).is_some());
    clock.advance_secs(30.0);
    router.tick_at(clock.now_nanos());
    {
        let got = got.lock().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].name, "deadman.missed");
        assert_eq!(got[0].severity, Severity::Critical);
    }
    let text = metrics_text(MetricsFormat::Prometheus);
    assert!(
        text.contains("ferrule_alerts_active{router=\"default\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("ferrule_deadman_firing{switch=\"gauge-switch\"} 1"),
        "{text}"
    );
    alert_router::install(None);
}
