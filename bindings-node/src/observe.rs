//! `observe(options)` for the JS host: builds the core's `ObserveConfig` (options in Node units:
//! ms, camelCase) and installs the observer every call record feeds. Conversion only.

use crate::clock::NativeManualClock;
use crate::dead_letter::NativeDeadLetterQueue;
use crate::error::{config_error, ConfigError, NodeParam};
use crate::watch::{clock_of, event};
use ferrule_core::call::observe::{
    self as core_observe, DeadLetterAlert, DriftObserve, ObserveConfig, Observer, OutageConfig,
};
use ferrule_core::watch::event::Severity;
use napi_derive::napi;
use std::sync::Arc;

/// `observe()`'s options; a missing one keeps the default, `null` turns a watcher off (the host
/// passes `sloObjective: null` etc. as `sloOff: true`).
#[napi(object)]
pub struct ObserveOptions {
    pub enabled: Option<bool>,
    pub slo_objective: Option<f64>,
    pub slo_off: Option<bool>,
    pub anomaly: Option<bool>,
    pub anomaly_threshold: Option<f64>,
    pub anomaly_warm_up: Option<f64>,
    pub anomaly_min_duration_ms: Option<f64>,
    pub drift: Option<bool>,
    pub drift_sample_every: Option<f64>,
    pub drift_max_templates: Option<f64>,
    pub predictor: Option<bool>,
    pub outage_error_rate: Option<f64>,
    pub outage_off: Option<bool>,
    pub outage_min_calls: Option<f64>,
    pub outage_window_ms: Option<f64>,
    pub outage_for_ms: Option<f64>,
    pub outage_severity: Option<String>,
    pub dead_letter_max_depth: Option<f64>,
    pub dead_letter_off: Option<bool>,
    pub dead_letter_max_age_ms: Option<f64>,
    pub max_series: Option<f64>,
}

fn params(o: &ObserveOptions) -> Vec<NodeParam> {
    let p = |core, node, millis, given| NodeParam {
        core,
        node,
        millis,
        given,
    };
    vec![
        p("objective", "sloObjective", false, o.slo_objective),
        p("threshold", "anomalyThreshold", false, o.anomaly_threshold),
        p(
            "outage_error_rate",
            "outageErrorRate",
            false,
            o.outage_error_rate,
        ),
        p(
            "outage_min_calls",
            "outageMinCalls",
            false,
            o.outage_min_calls,
        ),
        p(
            "outage_window_seconds",
            "outageWindowMs",
            true,
            o.outage_window_ms,
        ),
        p("outage_for_seconds", "outageForMs", true, o.outage_for_ms),
        p(
            "dead_letter_max_depth",
            "deadLetterMaxDepth",
            false,
            o.dead_letter_max_depth,
        ),
        p(
            "dead_letter_max_age_seconds",
            "deadLetterMaxAgeMs",
            true,
            o.dead_letter_max_age_ms,
        ),
        p("max_series", "maxSeries", false, o.max_series),
        p(
            "drift_sample_every",
            "driftSampleEvery",
            false,
            o.drift_sample_every,
        ),
        p(
            "drift_max_templates",
            "driftMaxTemplates",
            false,
            o.drift_max_templates,
        ),
    ]
}

/// Installs (or with `enabled: false` removes) the call-record watchers; returns the refusal of
/// an out-of-range option instead of installing.
#[napi(catch_unwind)]
pub fn observe(options: ObserveOptions, clock: Option<&NativeManualClock>) -> Option<ConfigError> {
    if options.enabled == Some(false) {
        core_observe::install(None);
        return None;
    }
    let d = ObserveConfig::default();
    let mut cfg = ObserveConfig {
        slo_objective: if options.slo_off == Some(true) {
            None
        } else {
            Some(options.slo_objective.unwrap_or(0.99))
        },
        max_series: options.max_series.map_or(d.max_series, crate::watch::int),
        ..d
    };
    if options.anomaly == Some(false) {
        cfg.anomaly = None;
    } else if let Some(a) = cfg.anomaly.as_mut() {
        if let Some(t) = options.anomaly_threshold {
            a.threshold = t;
        }
        if let Some(ms) = options
            .anomaly_min_duration_ms
            .filter(|m| m.is_finite() && *m >= 0.0)
        {
            a.hysteresis.min_duration_nanos = (ms * 1e6) as u64;
        }
        if let (Some(w), ferrule_core::watch::anomaly::Method::Ewma(e)) =
            (options.anomaly_warm_up, &mut a.method)
        {
            e.warm_up = crate::watch::int(w);
        }
    }
    let dd = DriftObserve::default();
    cfg.drift = (options.drift != Some(false)).then(|| DriftObserve {
        sample_every: options
            .drift_sample_every
            .map_or(dd.sample_every, crate::watch::int),
        max_templates: options
            .drift_max_templates
            .map_or(dd.max_templates, crate::watch::int),
        ..dd
    });
    if options.predictor == Some(false) {
        cfg.predictor = None;
    }
    let severity = match Severity::parse_alert(
        "observe",
        "outage_severity",
        options.outage_severity.as_deref().unwrap_or("page"),
    ) {
        Ok(s) => s,
        Err(e) => return Some(config_error(&e, &params(&options))),
    };
    let od = OutageConfig::default();
    cfg.outage = (options.outage_off != Some(true)).then(|| OutageConfig {
        error_rate: options.outage_error_rate.unwrap_or(od.error_rate),
        min_calls: options
            .outage_min_calls
            .map_or(od.min_calls, crate::watch::int),
        window_seconds: options
            .outage_window_ms
            .map_or(od.window_seconds, |m| m / 1000.0),
        for_seconds: options.outage_for_ms.map_or(od.for_seconds, |m| m / 1000.0),
        severity,
    });
    let dd = DeadLetterAlert::default();
    cfg.dead_letter = (options.dead_letter_off != Some(true)).then(|| DeadLetterAlert {
        max_depth: options
            .dead_letter_max_depth
            .map_or(dd.max_depth, |v| crate::watch::int(v) as u64),
        max_age_seconds: options
            .dead_letter_max_age_ms
            .map_or(dd.max_age_seconds, |m| m / 1000.0),
        ..dd
    });
    match Observer::new(cfg, clock_of(clock)) {
        Ok(o) => {
            core_observe::install(Some(Arc::new(o)));
            None
        }
        Err(e) => Some(config_error(&e, &params(&options))),
    }
}

#[napi(catch_unwind)]
pub fn observing() -> bool {
    core_observe::installed().is_some()
}

/// Watches a dead-letter queue's depth and age (a no-op until `observe()` is on).
#[napi(catch_unwind)]
pub fn observe_dead_letters(name: String, queue: &NativeDeadLetterQueue) {
    if let Some(o) = core_observe::installed() {
        o.watch_dead_letters(&name, queue.inner());
    }
}

/// Runs the observer's periodic checks now (the background runtime does every 100 ms).
#[napi(catch_unwind)]
pub fn observe_check() -> Option<Vec<event::WatchEventObject>> {
    let o = core_observe::installed()?;
    let events = o.check();
    if events.is_empty() {
        return None;
    }
    if ferrule_core::watch::alert_router::installed().is_none() {
        core_observe::deliver(&events);
    }
    event::list(events)
}
