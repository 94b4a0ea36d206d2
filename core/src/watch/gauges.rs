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

/// Declares every watcher family once in `r` (idempotent).
pub fn declare(r: &Registry) {
    let g = |n: &str, h: &str, l: &[&str]| {
        if let Err(e) = r.gauge(n, h, l) {
            log::warn!(target: "ferrule.watch", "cannot declare gauge {n}: {e}");
        }
    };
    let c = |n: &str, h: &str, l: &[&str]| {
        if let Err(e) = r.counter(n, h, l) {
            log::warn!(target: "ferrule.watch", "cannot declare counter {n}: {e}");
        }
    };
    g(
        "ferrule_slo_budget_remaining_ratio",
        "Fraction of the SLO's error budget left over its window.",
        &["slo"],
    );
    g(
        "ferrule_slo_burn_rate",
        "Error budget burn rate over a rule's long window (1 = sustainable).",
        &["slo", "window"],
    );
    g(
        "ferrule_anomaly_score",
        "Last anomaly score (z-score or robust z) per watched series.",
        &["detector", "metric", "model", "template"],
    );
    g(
        "ferrule_anomaly_firing",
        "1 while an anomaly detector fires for the series.",
        &["detector", "metric", "model", "template"],
    );
    g(
        "ferrule_drift_distance",
        "Centroid cosine distance between the drift baseline and the current window.",
        &["detector"],
    );
    g(
        "ferrule_drift_p_value",
        "Permutation p-value of the MMD drift test (small = drifted).",
        &["detector"],
    );
    g(
        "ferrule_drift_psi",
        "Population stability index of output length and tokens.",
        &["detector", "measure"],
    );
    g(
        "ferrule_predicted_error_probability",
        "Predicted probability that the error rate crosses its threshold soon.",
        &["predictor"],
    );
    g(
        "ferrule_deadman_silent_seconds",
        "Seconds since a dead man's switch last got a beat.",
        &["switch"],
    );
    g(
        "ferrule_deadman_firing",
        "1 while a dead man's switch fires.",
        &["switch"],
    );
    c(
        "ferrule_probe_runs_total",
        "Synthetic probe runs by result (synthetic traffic, not in user metrics).",
        &["probe", "result"],
    );
    g(
        "ferrule_probe_latency_seconds",
        "Duration of a synthetic probe's last run.",
        &["probe"],
    );
    g(
        "ferrule_probe_up",
        "1 while a synthetic probe passes (0 while its alert fires).",
        &["probe"],
    );
    g(
        "ferrule_alerts_active",
        "Alerts the router holds (firing, or resolved and not yet notified).",
        &["router"],
    );
    c(
        "ferrule_alert_notifications_total",
        "Notifications the router sent.",
        &["router"],
    );
    c(
        "ferrule_alert_held_total",
        "Notifications held back by a sink's cap (counted in a digest).",
        &["router"],
    );
    c(
        "ferrule_alert_dropped_total",
        "Alerts dropped because the router held max_alerts.",
        &["router"],
    );
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
        if let Some(c) = s.last {
            let n = s.name.as_str();
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
