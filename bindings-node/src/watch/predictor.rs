//! `NativePredictor`: the core error predictor for the host's `ErrorPredictor` class.

use super::{at_nanos, clock_of, event, int, secs};
use crate::clock::NativeManualClock;
use crate::error::{config_error, ConfigError, NodeParam};
use ferrule_core::watch::predictor::{headroom, PastCall, FEATURE_NAMES};
use ferrule_core::{CallOutcome, ClockRef, Error, ErrorPredictor, PredictorConfig, Severity};
use napi::bindgen_prelude::Either;
use napi_derive::napi;
use std::collections::HashMap;

const C: &str = "ErrorPredictor";

#[napi(object)]
pub struct PredictorOptions {
    pub interval_ms: Option<f64>,
    pub horizon_ms: Option<f64>,
    pub error_rate_threshold: Option<f64>,
    pub warn_probability: Option<f64>,
    pub resolve_probability: Option<f64>,
    pub min_calls: Option<f64>,
    pub learning_rate: Option<f64>,
    pub l2: Option<f64>,
    pub positive_weight: Option<f64>,
    pub prior: Option<f64>,
    pub severity: Option<String>,
    pub model: Option<Vec<f64>>,
}

impl PredictorOptions {
    fn params(&self) -> Vec<NodeParam> {
        let p = |core, node, millis, given| NodeParam {
            core,
            node,
            millis,
            given,
        };
        vec![
            p("interval_seconds", "intervalMs", true, self.interval_ms),
            p("horizon_intervals", "horizonMs", false, self.horizon_ms),
            p(
                "error_rate_threshold",
                "errorRateThreshold",
                false,
                self.error_rate_threshold,
            ),
            p(
                "warn_probability",
                "warnProbability",
                false,
                self.warn_probability,
            ),
            p(
                "resolve_probability",
                "resolveProbability",
                false,
                self.resolve_probability,
            ),
            p("min_calls", "minCalls", false, self.min_calls),
            p("learning_rate", "learningRate", false, self.learning_rate),
            p("l2", "l2", false, self.l2),
            p(
                "positive_weight",
                "positiveWeight",
                false,
                self.positive_weight,
            ),
            p("prior", "prior", false, self.prior),
        ]
    }

    fn to_config(&self, name: String) -> ferrule_core::Result<PredictorConfig> {
        let d = PredictorConfig::new(name);
        let interval = self.interval_ms.map_or(d.interval_seconds, secs);
        let horizon = match self.horizon_ms {
            None => d.horizon_intervals,
            Some(ms) => int((secs(ms) / interval).round()),
        };
        Ok(PredictorConfig {
            interval_seconds: interval,
            horizon_intervals: horizon,
            error_rate_threshold: self.error_rate_threshold.unwrap_or(d.error_rate_threshold),
            warn_probability: self.warn_probability.unwrap_or(d.warn_probability),
            resolve_probability: self.resolve_probability.unwrap_or(d.resolve_probability),
            min_calls: self.min_calls.map_or(d.min_calls, int),
            learning_rate: self.learning_rate.unwrap_or(d.learning_rate),
            l2: self.l2.unwrap_or(d.l2),
            positive_weight: self.positive_weight.unwrap_or(d.positive_weight),
            prior: self.prior.unwrap_or(d.prior),
            severity: match &self.severity {
                Some(s) => Severity::parse(C, "severity", s)?,
                None => d.severity,
            },
            ..d
        })
    }
}

#[napi]
pub struct NativePredictor {
    inner: std::sync::Arc<ErrorPredictor>,
    clock: ClockRef,
}

#[napi(object)]
pub struct PredictorStats {
    pub name: String,
    pub probability: Option<f64>,
    pub warning: bool,
    pub intervals: f64,
    pub examples: f64,
    pub positives: f64,
    pub warnings: f64,
    pub features: HashMap<String, f64>,
}

/// One past call for `fit`, already read from a record by `watch.js`.
#[napi(object)]
pub struct PastCallObject {
    pub at_ms: f64,
    pub outcome: String,
    pub error_type: Option<String>,
    pub latency_ms: f64,
    pub headroom: Option<f64>,
}

#[napi(object)]
pub struct FitReportObject {
    pub calls: f64,
    pub skipped: f64,
    pub intervals: f64,
    pub examples: f64,
    pub positives: f64,
    pub epochs: f64,
}

#[napi(catch_unwind)]
pub fn create_predictor(
    name: String,
    options: PredictorOptions,
    clock: Option<&NativeManualClock>,
) -> Either<NativePredictor, ConfigError> {
    let clock = clock_of(clock);
    let built = options.to_config(name).and_then(|c| {
        let p = ErrorPredictor::new(c, clock.clone())?;
        if let Some(m) = &options.model {
            p.load(m)?;
        }
        Ok(p)
    });
    match built {
        Ok(inner) => {
            let inner = std::sync::Arc::new(inner);
            ferrule_core::watch::gauges::export(&inner);
            Either::A(NativePredictor { inner, clock })
        }
        Err(e) => Either::B(config_error(&e, &options.params())),
    }
}

#[napi]
impl NativePredictor {
    /// What a scrape shows for this watcher: `[name, labels, value]` rows.
    #[napi(catch_unwind)]
    pub fn gauges(&self) -> Vec<crate::watch::gauge_rows::GaugeRow> {
        crate::watch::gauge_rows::gauge_rows(&*self.inner)
    }

    #[napi(catch_unwind)]
    pub fn observe(
        &self,
        outcome: String,
        latency_ms: f64,
        ratelimit_remaining: Option<f64>,
        ratelimit_limit: Option<f64>,
        at_ms: Option<f64>,
    ) -> Either<Option<Vec<event::WatchEventObject>>, ConfigError> {
        let o = match CallOutcome::parse(&outcome) {
            Ok(o) => o,
            Err(e) => return Either::B(config_error(&e, &[])),
        };
        let h = headroom(ratelimit_remaining, ratelimit_limit);
        let at = at_nanos(&self.clock, at_ms);
        Either::A(event::list(self.inner.observe_at(
            o,
            secs(latency_ms),
            h,
            at,
        )))
    }

    #[napi(catch_unwind)]
    pub fn tick(&self, at_ms: Option<f64>) -> Option<Vec<event::WatchEventObject>> {
        event::list(self.inner.tick_at(at_nanos(&self.clock, at_ms)))
    }

    #[napi(catch_unwind)]
    pub fn probability(&self) -> Option<f64> {
        self.inner.probability()
    }

    #[napi(catch_unwind)]
    pub fn export(&self) -> Vec<f64> {
        self.inner.export()
    }

    /// Learns from past calls (see `ErrorPredictor::fit`); `rejected` calls are skipped.
    #[napi(catch_unwind)]
    pub fn fit(
        &self,
        calls: Vec<PastCallObject>,
        epochs: f64,
    ) -> Either<FitReportObject, ConfigError> {
        let run = || -> ferrule_core::Result<FitReportObject> {
            let mut past = Vec::with_capacity(calls.len());
            let mut skipped = 0u64;
            for c in &calls {
                match CallOutcome::from_record(&c.outcome, c.error_type.as_deref())? {
                    Some(o) => past.push(PastCall {
                        at_nanos: (c.at_ms.max(0.0) * 1e6) as u64,
                        outcome: o,
                        latency_seconds: secs(c.latency_ms),
                        headroom: c.headroom.filter(|h| h.is_finite()),
                    }),
                    None => skipped += 1,
                }
            }
            let r = self.inner.fit(&past, int(epochs))?;
            Ok(FitReportObject {
                calls: r.calls as f64,
                skipped: skipped as f64,
                intervals: r.intervals as f64,
                examples: r.examples as f64,
                positives: r.positives as f64,
                epochs: r.epochs as f64,
            })
        };
        match run() {
            Ok(r) => Either::A(r),
            Err(e) => Either::B(config_error(&e, &[])),
        }
    }

    #[napi(catch_unwind)]
    pub fn load(&self, model: Vec<f64>) -> Option<ConfigError> {
        self.inner
            .load(&model)
            .err()
            .map(|e: Error| config_error(&e, &[]))
    }

    #[napi(catch_unwind)]
    pub fn stats(&self) -> PredictorStats {
        let s = self.inner.snapshot();
        PredictorStats {
            name: s.name,
            probability: s.probability,
            warning: s.warning,
            intervals: s.intervals as f64,
            examples: s.examples as f64,
            positives: s.positives as f64,
            warnings: s.warnings as f64,
            features: s
                .features
                .map(|f| {
                    FEATURE_NAMES
                        .iter()
                        .zip(f)
                        .map(|(n, v)| (n.to_string(), v))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}
