//! `observe(...)` for Python: builds the core's `ObserveConfig` from keywords and installs the
//! observer every call record feeds. Conversion only; the watchers and their defaults are the core's.

use crate::clock::ManualClock;
use crate::dead_letter::DeadLetterQueueCore;
use crate::error::{guard, to_py};
use crate::watch::{clock_of, event};
use ferrule_core::call::observe::{
    self as core_observe, DeadLetterAlert, DriftObserve, ObserveConfig, Observer, OutageConfig,
};
use ferrule_core::watch::event::Severity;
use pyo3::prelude::*;
use pyo3::types::PyList;
use std::sync::Arc;

/// Installs the call-record watchers (`None` for a watcher turns it off); `enabled=False` removes
/// them. Raises `ConfigError` naming the parameter for a value out of range.
#[pyfunction]
#[pyo3(signature = (*, enabled=true, slo_objective=Some(0.99), anomaly=true,
    anomaly_threshold=None, anomaly_warm_up=None, anomaly_min_duration_seconds=None,
    drift=true, drift_sample_every=10, drift_max_templates=50,
    predictor=true, outage_error_rate=Some(0.5), outage_min_calls=20,
    outage_window_seconds=60.0, outage_for_seconds=30.0, outage_severity="page",
    dead_letter_max_depth=Some(100), dead_letter_max_age_seconds=3600.0,
    max_series=200, clock=None))]
#[allow(clippy::too_many_arguments)]
pub fn observe(
    py: Python<'_>,
    enabled: bool,
    slo_objective: Option<f64>,
    anomaly: bool,
    anomaly_threshold: Option<f64>,
    #[pyo3(from_py_with = crate::arg::optional::<u32>)] anomaly_warm_up: Option<u32>,
    anomaly_min_duration_seconds: Option<f64>,
    drift: bool,
    #[pyo3(from_py_with = crate::arg::value::<u32>)] drift_sample_every: u32,
    #[pyo3(from_py_with = crate::arg::value::<u32>)] drift_max_templates: u32,
    predictor: bool,
    outage_error_rate: Option<f64>,
    #[pyo3(from_py_with = crate::arg::value::<u32>)] outage_min_calls: u32,
    outage_window_seconds: f64,
    outage_for_seconds: f64,
    outage_severity: &str,
    #[pyo3(from_py_with = crate::arg::optional::<u64>)] dead_letter_max_depth: Option<u64>,
    dead_letter_max_age_seconds: f64,
    #[pyo3(from_py_with = crate::arg::value::<u32>)] max_series: u32,
    clock: Option<PyRef<'_, ManualClock>>,
) -> PyResult<()> {
    if !enabled {
        core_observe::install(None);
        return Ok(());
    }
    let mut cfg = ObserveConfig {
        slo_objective,
        max_series,
        ..ObserveConfig::default()
    };
    if !anomaly {
        cfg.anomaly = None;
    } else if let Some(a) = cfg.anomaly.as_mut() {
        if let Some(t) = anomaly_threshold {
            a.threshold = t;
        }
        if let Some(s) = anomaly_min_duration_seconds {
            ferrule_core::error::check::finite_non_negative(
                "observe",
                "anomaly_min_duration_seconds",
                s,
            )
            .map_err(|e| to_py(py, e))?;
            a.hysteresis.min_duration_nanos = (s * 1e9) as u64;
        }
        if let (Some(w), ferrule_core::watch::anomaly::Method::Ewma(e)) =
            (anomaly_warm_up, &mut a.method)
        {
            e.warm_up = w;
        }
    }
    cfg.drift = drift.then(|| DriftObserve {
        sample_every: drift_sample_every,
        max_templates: drift_max_templates,
        ..DriftObserve::default()
    });
    if !predictor {
        cfg.predictor = None;
    }
    cfg.outage = match outage_error_rate {
        None => None,
        Some(rate) => Some(OutageConfig {
            error_rate: rate,
            min_calls: outage_min_calls,
            window_seconds: outage_window_seconds,
            for_seconds: outage_for_seconds,
            severity: Severity::parse_alert("observe", "outage_severity", outage_severity)
                .map_err(|e| to_py(py, e))?,
        }),
    };
    cfg.dead_letter = dead_letter_max_depth.map(|d| DeadLetterAlert {
        max_depth: d,
        max_age_seconds: dead_letter_max_age_seconds,
        ..DeadLetterAlert::default()
    });
    let o = Observer::new(cfg, clock_of(clock)).map_err(|e| to_py(py, e))?;
    guard(py, || core_observe::install(Some(Arc::new(o))))
}

/// Whether `observe()` is on.
#[pyfunction]
pub fn observing() -> bool {
    core_observe::installed().is_some()
}

/// Watches a dead-letter queue's depth and age (`observe(dead_letter_max_depth=...)`).
#[pyfunction]
pub fn observe_dead_letters(name: &str, queue: PyRef<'_, DeadLetterQueueCore>) {
    if let Some(o) = core_observe::installed() {
        o.watch_dead_letters(name, queue.inner());
    }
}

/// Runs the observer's periodic checks now (the background runtime does every 100 ms); returns
/// the events, which also went to the alert router.
#[pyfunction]
pub fn observe_check<'py>(py: Python<'py>) -> PyResult<Option<Bound<'py, PyList>>> {
    let Some(o) = core_observe::installed() else {
        return Ok(None);
    };
    let events = guard(py, || o.check())?;
    if events.is_empty() {
        return Ok(None);
    }
    if ferrule_core::watch::alert_router::installed().is_none() {
        core_observe::deliver(&events);
    }
    event::list(py, events)
}
