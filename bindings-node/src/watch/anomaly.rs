//! `NativeAnomaly`: the core anomaly detector for the host's `AnomalyDetector` class.

use super::{at_nanos, clock_of, event, int, secs};
use crate::clock::NativeManualClock;
use crate::error::{config_error, ConfigError, NodeParam};
use ferrule_core::watch::ewma::EwmaConfig;
use ferrule_core::watch::hysteresis::HysteresisConfig;
use ferrule_core::watch::mad::MadConfig;
use ferrule_core::watch::seasonal::SeasonalConfig;
use ferrule_core::{
    AnomalyConfig, AnomalyDetector, ClockRef, Direction, Error, Method, SeriesKey, Severity,
};
use napi::bindgen_prelude::Either;
use napi_derive::napi;

const C: &str = "AnomalyDetector";

#[napi(object)]
pub struct AnomalyOptions {
    pub method: Option<String>,
    pub direction: Option<String>,
    pub threshold: Option<f64>,
    pub warm_up: Option<f64>,
    pub baseline_ms: Option<f64>,
    pub smoothing: Option<f64>,
    pub clip_sigmas: Option<f64>,
    pub window: Option<f64>,
    pub sample_ms: Option<f64>,
    pub recent: Option<f64>,
    pub hysteresis_window: Option<f64>,
    pub fire_count: Option<f64>,
    pub resolve_count: Option<f64>,
    pub min_duration_ms: Option<f64>,
    pub severity: Option<String>,
    pub max_series: Option<f64>,
}

impl AnomalyOptions {
    fn params(&self) -> Vec<NodeParam> {
        let p = |core, node, millis, given| NodeParam {
            core,
            node,
            millis,
            given,
        };
        vec![
            p("threshold", "threshold", false, self.threshold),
            p("warm_up", "warmUp", false, self.warm_up),
            p("baseline_seconds", "baselineMs", true, self.baseline_ms),
            p("lambda", "smoothing", false, self.smoothing),
            p("clip_sigmas", "clipSigmas", false, self.clip_sigmas),
            p("window", "window", false, self.window),
            p("sample_seconds", "sampleMs", true, self.sample_ms),
            p("recent", "recent", false, self.recent),
            p(
                "hysteresis_window",
                "hysteresisWindow",
                false,
                self.hysteresis_window,
            ),
            p("fire_count", "fireCount", false, self.fire_count),
            p("resolve_count", "resolveCount", false, self.resolve_count),
            p(
                "min_duration_seconds",
                "minDurationMs",
                true,
                self.min_duration_ms,
            ),
            p("max_series", "maxSeries", false, self.max_series),
        ]
    }

    fn to_config(&self, name: String, metric: String) -> ferrule_core::Result<AnomalyConfig> {
        let e = EwmaConfig::default();
        let m = MadConfig::default();
        let warm_up = self.warm_up.map_or(e.warm_up, int);
        let sc = SeasonalConfig::default();
        let method = match self.method.as_deref().unwrap_or("ewma") {
            "seasonal" => Method::Seasonal(SeasonalConfig {
                window: self.window.map_or(sc.window, int),
                warm_up: self.warm_up.map_or(sc.warm_up, int),
                sample_seconds: self.sample_ms.map_or(sc.sample_seconds, secs),
                ..sc
            }),
            "ewma" => Method::Ewma(EwmaConfig {
                baseline_seconds: self.baseline_ms.map_or(e.baseline_seconds, secs),
                lambda: self.smoothing.unwrap_or(e.lambda),
                warm_up,
                clip_sigmas: self.clip_sigmas.unwrap_or(e.clip_sigmas),
                ..EwmaConfig::default()
            }),
            "mad" => Method::Mad(MadConfig {
                window: self.window.map_or(m.window, int),
                warm_up,
                sample_seconds: self.sample_ms.map_or(m.sample_seconds, secs),
                recent: self.recent.map_or(m.recent, int),
            }),
            x => {
                return Err(Error::out_of_range(
                    C,
                    "method",
                    format!("{x:?}"),
                    "\"ewma\", \"mad\", \"seasonal\"",
                ))
            }
        };
        let mut cfg = AnomalyConfig::new(name, metric, method);
        if let Some(d) = &self.direction {
            cfg.direction = Direction::parse(d)?;
        }
        if let Some(t) = self.threshold {
            cfg.threshold = t;
        }
        // Unset options keep the method's own hysteresis (the seasonal detector's differs).
        let h = cfg.hysteresis;
        let min_ms = self
            .min_duration_ms
            .unwrap_or(h.min_duration_nanos as f64 / 1e6);
        if !(min_ms.is_finite() && min_ms >= 0.0) {
            return Err(Error::out_of_range(
                C,
                "min_duration_seconds",
                min_ms,
                "a finite number >= 0",
            ));
        }
        cfg.hysteresis = HysteresisConfig {
            window: self.hysteresis_window.map_or(h.window, int),
            fire_count: self.fire_count.map_or(h.fire_count, int),
            resolve_count: self.resolve_count.map_or(h.resolve_count, |v| {
                if v.fract() == 0.0 && v >= 0.0 {
                    v.min(u32::MAX as f64) as u32
                } else {
                    u32::MAX
                }
            }),
            min_duration_nanos: (min_ms * 1e6) as u64,
            ..cfg.hysteresis
        };
        if let Some(s) = &self.severity {
            cfg.severity = Severity::parse(C, "severity", s)?;
        }
        cfg.max_series = self.max_series.map_or(cfg.max_series, int);
        Ok(cfg)
    }
}

#[napi]
pub struct NativeAnomaly {
    inner: std::sync::Arc<AnomalyDetector>,
    clock: ClockRef,
}

#[napi(object)]
pub struct SeriesStats {
    pub model: String,
    pub template: String,
    pub baseline: f64,
    pub spread: f64,
    pub score: Option<f64>,
    pub firing: bool,
    pub observations: f64,
    pub fired: f64,
}

#[napi(object)]
pub struct AnomalyStats {
    pub name: String,
    pub metric: String,
    pub method: String,
    pub series: f64,
    pub max_series: f64,
    pub overflowed: f64,
    pub non_finite: f64,
    pub bytes_per_series: f64,
}

#[napi(catch_unwind)]
pub fn create_anomaly(
    name: String,
    metric: String,
    options: AnomalyOptions,
    clock: Option<&NativeManualClock>,
) -> Either<NativeAnomaly, ConfigError> {
    let clock = clock_of(clock);
    match options
        .to_config(name, metric)
        .and_then(|c| AnomalyDetector::new(c, clock.clone()))
    {
        Ok(inner) => {
            let inner = std::sync::Arc::new(inner);
            ferrule_core::watch::gauges::export(&inner);
            Either::A(NativeAnomaly { inner, clock })
        }
        Err(e) => Either::B(config_error(&e, &options.params())),
    }
}

#[napi]
impl NativeAnomaly {
    /// What a scrape shows for this watcher: `[name, labels, value]` rows.
    #[napi(catch_unwind)]
    pub fn gauges(&self) -> Vec<crate::watch::gauge_rows::GaugeRow> {
        crate::watch::gauge_rows::gauge_rows(&*self.inner)
    }

    #[napi(catch_unwind)]
    pub fn observe(
        &self,
        value: f64,
        model: String,
        template: String,
        at_ms: Option<f64>,
    ) -> Option<Vec<event::WatchEventObject>> {
        let key = SeriesKey { model, template };
        event::list(
            self.inner
                .observe_at(&key, value, at_nanos(&self.clock, at_ms)),
        )
    }

    #[napi(catch_unwind)]
    pub fn series(&self) -> Vec<SeriesStats> {
        self.inner
            .snapshot()
            .into_iter()
            .map(|s| SeriesStats {
                model: s.key.model,
                template: s.key.template,
                baseline: s.baseline,
                spread: s.spread,
                score: s.last_score,
                firing: s.firing,
                observations: s.observations as f64,
                fired: s.fired as f64,
            })
            .collect()
    }

    #[napi(catch_unwind)]
    pub fn stats(&self) -> AnomalyStats {
        let c = self.inner.config();
        AnomalyStats {
            name: c.name.clone(),
            metric: c.metric.clone(),
            method: c.method.as_str().into(),
            series: self.inner.series_count() as f64,
            max_series: c.max_series as f64,
            overflowed: self.inner.overflowed() as f64,
            non_finite: self.inner.non_finite() as f64,
            bytes_per_series: self.inner.bytes_per_series() as f64,
        }
    }
}
