//! The watchers' gauges in the metrics registry, read at scrape time through the `Collect` trait:
//! SLO budget remaining and burn rates, anomaly scores, drift distance and p-value, predicted error
//! probability, dead man's switches, probes and the alert router. Nothing is written per call.

use super::alert_router::AlertRouter;
use super::anomaly::AnomalyDetector;
use super::drift::DriftDetector;
use super::predictor::ErrorPredictor;
use super::slo::Slo;
use crate::telemetry::collector::{Collect, Sink};
use crate::telemetry::registry::Registry;
use std::sync::{Arc, Once};

/// `ferrule_synthetic_calls_total`: calls synthetic probes made (see `synthetic_traffic`).
pub const SYNTHETIC_CALLS: &str = "ferrule_synthetic_calls_total";
pub const SYNTHETIC_CALLS_HELP: &str =
    "Calls made inside a synthetic probe, kept out of the user's series, by outcome.";
pub const SYNTHETIC_CALLS_LABELS: [&str; 3] = ["component", "name", "outcome"];
/// `ferrule_synthetic_cost_usd_total`: what the probes' LLM calls cost.
pub const SYNTHETIC_COST: &str = "ferrule_synthetic_cost_usd_total";
pub const SYNTHETIC_COST_HELP: &str = "Cost of the LLM calls synthetic probes made, in US dollars.";
pub const SYNTHETIC_COST_LABELS: [&str; 2] = ["gen_ai_provider_name", "gen_ai_request_model"];

/// Whether a family is a counter (exported with `_total`) or a gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

/// Every watcher family: (name as exported, kind, help, label names). `declare` registers them and
/// `rows` names the labels of what a watcher's `collect` produced, so a watcher's `gauges()` in
/// Python and Node is exactly what a scrape shows.
pub const FAMILIES: &[(&str, Kind, &str, &[&str])] = &[
    (
        "ferrule_slo_budget_remaining_ratio",
        Kind::Gauge,
        "Fraction of the SLO's error budget left over its window.",
        &["slo"],
    ),
    (
        "ferrule_slo_burn_rate",
        Kind::Gauge,
        "Error budget burn rate over a rule's long window (1 = sustainable).",
        &["slo", "window"],
    ),
    (
        "ferrule_slo_calls_total",
        Kind::Counter,
        "Calls an SLO counted (synthetic calls excluded).",
        &["slo"],
    ),
    (
        "ferrule_slo_bad_calls_total",
        Kind::Counter,
        "Calls an SLO counted as bad.",
        &["slo"],
    ),
    (
        "ferrule_anomaly_score",
        Kind::Gauge,
        "Last anomaly score (z-score or robust z) per watched series.",
        &["detector", "metric", "model", "template"],
    ),
    (
        "ferrule_anomaly_firing",
        Kind::Gauge,
        "1 while an anomaly detector fires for the series.",
        &["detector", "metric", "model", "template"],
    ),
    (
        "ferrule_drift_firing",
        Kind::Gauge,
        "1 while a drift detector fires.",
        &["detector"],
    ),
    (
        "ferrule_drift_distance",
        Kind::Gauge,
        "Centroid cosine distance between the drift baseline and the current window.",
        &["detector"],
    ),
    (
        "ferrule_drift_p_value",
        Kind::Gauge,
        "Permutation p-value of the MMD drift test (small = drifted).",
        &["detector"],
    ),
    (
        "ferrule_drift_psi",
        Kind::Gauge,
        "Population stability index of output length and tokens.",
        &["detector", "measure"],
    ),
    (
        "ferrule_predicted_error_probability",
        Kind::Gauge,
        "Predicted probability that the error rate crosses its threshold soon.",
        &["predictor"],
    ),
    (
        "ferrule_deadman_silent_seconds",
        Kind::Gauge,
        "Seconds since a dead man's switch last got a beat.",
        &["switch"],
    ),
    (
        "ferrule_deadman_firing",
        Kind::Gauge,
        "1 while a dead man's switch fires.",
        &["switch"],
    ),
    (
        "ferrule_probe_runs_total",
        Kind::Counter,
        "Synthetic probe runs by result (synthetic traffic, not in user metrics).",
        &["probe", "result"],
    ),
    (
        "ferrule_probe_latency_seconds",
        Kind::Gauge,
        "Duration of a synthetic probe's last run.",
        &["probe"],
    ),
    (
        "ferrule_probe_up",
        Kind::Gauge,
        "1 while a synthetic probe passes (0 while its alert fires).",
        &["probe"],
    ),
    (
        "ferrule_alerts_active",
        Kind::Gauge,
        "Alerts the router holds (firing, or resolved and not yet notified).",
        &["router"],
    ),
    (
        "ferrule_alert_notifications_total",
        Kind::Counter,
        "Notifications the router sent.",
        &["router"],
    ),
    (
        "ferrule_alert_held_total",
        Kind::Counter,
        "Notifications held back by a sink's cap (counted in a digest).",
        &["router"],
    ),
    (
        "ferrule_alert_dropped_total",
        Kind::Counter,
        "Alerts dropped because the router held max_alerts.",
        &["router"],
    ),
    (
        SYNTHETIC_CALLS,
        Kind::Counter,
        SYNTHETIC_CALLS_HELP,
        &SYNTHETIC_CALLS_LABELS,
    ),
    (
        SYNTHETIC_COST,
        Kind::Counter,
        SYNTHETIC_COST_HELP,
        &SYNTHETIC_COST_LABELS,
    ),
];

/// Declares every watcher family once in `r` (idempotent).
pub fn declare(r: &Registry) {
    for (name, kind, help, labels) in FAMILIES {
        let res = match kind {
            Kind::Gauge => r.gauge(name, help, labels).map(|_| ()),
            Kind::Counter => r.counter(name, help, labels).map(|_| ()),
        };
        if let Err(e) = res {
            log::warn!(target: "ferrule.watch", "cannot declare {name}: {e}");
        }
    }
}

/// One exported sample: (family name as exported, labels by name, value).
pub type Row = (String, Vec<(String, String)>, f64);

/// What a scrape shows for `w`, as rows with named labels, in the order `FAMILIES` lists them.
/// Hosts return these from `gauges()`.
pub fn rows(w: &dyn Collect) -> Vec<Row> {
    let mut sink = Sink::default();
    w.collect(&mut sink);
    let mut out = Vec::new();
    for (name, kind, _, labels) in FAMILIES {
        // A counter's samples are keyed by the family name without `_total`.
        let key = match kind {
            Kind::Counter => name.strip_suffix("_total").unwrap_or(name),
            Kind::Gauge => name,
        };
        if let Some(list) = sink.samples.get(key) {
            for (values, v) in list {
                let named = labels
                    .iter()
                    .zip(values)
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect();
                out.push((name.to_string(), named, *v));
            }
        }
    }
    out
}

/// Declares the families in the default registry and registers `w` to be read at scrape time.
pub fn export<T: Collect + 'static>(w: &Arc<T>) {
    static DECLARED: Once = Once::new();
    DECLARED.call_once(|| declare(crate::telemetry::registry::global()));
    crate::telemetry::collector::export(w);
}

impl Collect for Slo {
    fn collect(&self, sink: &mut Sink) {
        let s = self.snapshot();
        sink.sample(
            "ferrule_slo_budget_remaining_ratio",
            &[&s.name],
            s.budget_remaining,
        );
        sink.sample("ferrule_slo_calls", &[&s.name], s.total as f64);
        sink.sample("ferrule_slo_bad_calls", &[&s.name], s.bad as f64);
        for (window, long, _, _) in &s.rules {
            if long.is_finite() {
                sink.sample("ferrule_slo_burn_rate", &[&s.name, window], *long);
            }
        }
    }
}

impl Collect for AnomalyDetector {
    fn collect(&self, sink: &mut Sink) {
        let name = self.config().name.as_str();
        let metric = self.config().metric.as_str();
        for s in self.snapshot() {
            let l = [name, metric, s.key.model.as_str(), s.key.template.as_str()];
            if let Some(z) = s.last_score.filter(|z| z.is_finite()) {
                sink.sample("ferrule_anomaly_score", &l, z);
            }
            sink.sample(
                "ferrule_anomaly_firing",
                &l,
                if s.firing { 1.0 } else { 0.0 },
            );
        }
    }
}

impl Collect for DriftDetector {
    fn collect(&self, sink: &mut Sink) {
        let s = self.snapshot();
        let n = s.name.as_str();
        sink.sample(
            "ferrule_drift_firing",
            &[n],
            if s.firing { 1.0 } else { 0.0 },
        );
        if let Some(c) = s.last {
            sink.sample("ferrule_drift_distance", &[n], c.distance);
            sink.sample("ferrule_drift_p_value", &[n], c.p_value);
            sink.sample("ferrule_drift_psi", &[n, "length"], c.psi_length);
            sink.sample("ferrule_drift_psi", &[n, "tokens"], c.psi_tokens);
        }
    }
}

impl Collect for ErrorPredictor {
    fn collect(&self, sink: &mut Sink) {
        let s = self.snapshot();
        if let Some(p) = s.probability {
            sink.sample("ferrule_predicted_error_probability", &[&s.name], p);
        }
    }
}

/// Router gauges are labelled by the name of its first route (routers are few; "default" usually).
impl Collect for AlertRouter {
    fn collect(&self, sink: &mut Sink) {
        let s = self.stats();
        let n = self.label();
        sink.sample("ferrule_alerts_active", &[n], s.active as f64);
        sink.sample("ferrule_alert_notifications", &[n], s.notifications as f64);
        sink.sample("ferrule_alert_held", &[n], s.held_by_cap as f64);
        sink.sample("ferrule_alert_dropped", &[n], s.dropped_over_max as f64);
    }
}
