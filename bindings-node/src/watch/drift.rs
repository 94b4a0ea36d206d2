//! `NativeDrift`: the core drift detector for the host's `DriftDetector` class (which calls a user
//! embedder, when given one, and hands its vectors here).

use super::{at_nanos, clock_of, event, int};
use crate::clock::NativeManualClock;
use crate::error::{config_error, ConfigError, NodeParam};
use ferrule_core::{BaselinePolicy, ClockRef, DriftConfig, DriftDetector, Severity};
use napi::bindgen_prelude::Either;
use napi_derive::napi;

const C: &str = "DriftDetector";

#[napi(object)]
pub struct DriftOptions {
    pub dim: Option<f64>,
    pub baseline_size: Option<f64>,
    pub window_size: Option<f64>,
    pub check_every: Option<f64>,
    pub permutations: Option<f64>,
    pub p_value: Option<f64>,
    pub min_distance: Option<f64>,
    pub psi_threshold: Option<f64>,
    pub psi_bins: Option<f64>,
    pub consecutive: Option<f64>,
    pub baseline: Option<String>,
    pub severity: Option<String>,
    pub seed: Option<f64>,
}

impl DriftOptions {
    fn params(&self) -> Vec<NodeParam> {
        let p = |core, node, given| NodeParam {
            core,
            node,
            millis: false,
            given,
        };
        vec![
            p("dim", "dim", self.dim),
            p("baseline_size", "baselineSize", self.baseline_size),
            p("window_size", "windowSize", self.window_size),
            p("check_every", "checkEvery", self.check_every),
            p("permutations", "permutations", self.permutations),
            p("p_value", "pValue", self.p_value),
            p("min_distance", "minDistance", self.min_distance),
            p("psi_threshold", "psiThreshold", self.psi_threshold),
            p("psi_bins", "psiBins", self.psi_bins),
            p("consecutive", "consecutive", self.consecutive),
            p("vector", "vector", None),
        ]
    }

    fn to_config(&self, name: String) -> ferrule_core::Result<DriftConfig> {
        let d = DriftConfig::new(name);
        Ok(DriftConfig {
            dim: self.dim.map_or(d.dim, |v| int(v) as usize),
            baseline_size: self.baseline_size.map_or(d.baseline_size, int),
            window_size: self.window_size.map_or(d.window_size, int),
            check_every: self.check_every.map_or(d.check_every, int),
            permutations: self.permutations.map_or(d.permutations, int),
            p_value: self.p_value.unwrap_or(d.p_value),
            min_distance: self.min_distance.unwrap_or(d.min_distance),
            psi_threshold: self.psi_threshold.unwrap_or(d.psi_threshold),
            psi_bins: self.psi_bins.map_or(d.psi_bins, int),
            consecutive: self.consecutive.map_or(d.consecutive, int),
            policy: match &self.baseline {
                Some(b) => BaselinePolicy::parse(b)?,
                None => d.policy,
            },
            severity: match &self.severity {
                Some(s) => Severity::parse(C, "severity", s)?,
                None => d.severity,
            },
            seed: self.seed.map_or(d.seed, |s| s as u64),
            ..d
        })
    }
}

#[napi]
pub struct NativeDrift {
    inner: std::sync::Arc<DriftDetector>,
    clock: ClockRef,
    params: Vec<NodeParam>,
}

#[napi(object)]
pub struct DriftStats {
    pub name: String,
    pub baseline: String,
    pub dim: f64,
    pub baseline_len: f64,
    pub window_len: f64,
    pub outputs: f64,
    pub checks: f64,
    pub firing: bool,
    pub distance: Option<f64>,
    pub mmd2: Option<f64>,
    pub p_value: Option<f64>,
    pub psi_length: Option<f64>,
    pub psi_tokens: Option<f64>,
    pub memory_bytes: f64,
    pub max_memory_bytes: f64,
}

#[napi(catch_unwind)]
pub fn create_drift(
    name: String,
    options: DriftOptions,
    clock: Option<&NativeManualClock>,
) -> Either<NativeDrift, ConfigError> {
    let clock = clock_of(clock);
    match options
        .to_config(name)
        .and_then(|c| DriftDetector::new(c, clock.clone()))
    {
        Ok(inner) => {
            let inner = std::sync::Arc::new(inner);
            ferrule_core::watch::gauges::export(&inner);
            Either::A(NativeDrift {
                inner,
                clock,
                params: options.params(),
            })
        }
        Err(e) => Either::B(config_error(&e, &options.params())),
    }
}

#[napi]
impl NativeDrift {
    /// What a scrape shows for this watcher: `[name, labels, value]` rows.
    #[napi(catch_unwind)]
    pub fn gauges(&self) -> Vec<crate::watch::gauge_rows::GaugeRow> {
        crate::watch::gauge_rows::gauge_rows(&*self.inner)
    }

    #[napi(catch_unwind)]
    pub fn observe_text(
        &self,
        text: String,
        tokens: Option<f64>,
        at_ms: Option<f64>,
    ) -> Either<Option<Vec<event::WatchEventObject>>, ConfigError> {
        let at = at_nanos(&self.clock, at_ms);
        match self
            .inner
            .observe_text_at(&text, tokens.unwrap_or(f64::NAN), at)
        {
            Ok(ev) => Either::A(event::list(ev)),
            Err(e) => Either::B(config_error(&e, &self.params)),
        }
    }

    #[napi(catch_unwind)]
    pub fn observe_vector(
        &self,
        vector: Vec<f64>,
        length: f64,
        tokens: Option<f64>,
        at_ms: Option<f64>,
    ) -> Either<Option<Vec<event::WatchEventObject>>, ConfigError> {
        let at = at_nanos(&self.clock, at_ms);
        let v = vector.into_iter().map(|x| x as f32).collect();
        match self
            .inner
            .observe_vector_at(v, length, tokens.unwrap_or(f64::NAN), at)
        {
            Ok(ev) => Either::A(event::list(ev)),
            Err(e) => Either::B(config_error(&e, &self.params)),
        }
    }

    #[napi(catch_unwind)]
    pub fn accept(&self, at_ms: Option<f64>) -> Option<Vec<event::WatchEventObject>> {
        event::list(self.inner.accept_at(at_nanos(&self.clock, at_ms)))
    }

    #[napi(catch_unwind)]
    pub fn stats(&self) -> DriftStats {
        let s = self.inner.snapshot();
        DriftStats {
            name: s.name,
            baseline: s.policy.as_str().into(),
            dim: s.dim as f64,
            baseline_len: s.baseline_len as f64,
            window_len: s.window_len as f64,
            outputs: s.outputs as f64,
            checks: s.checks as f64,
            firing: s.firing,
            distance: s.last.map(|c| c.distance),
            mmd2: s.last.map(|c| c.mmd2),
            p_value: s.last.map(|c| c.p_value),
            psi_length: s.last.map(|c| c.psi_length),
            psi_tokens: s.last.map(|c| c.psi_tokens),
            memory_bytes: self.inner.heap_bytes() as f64,
            max_memory_bytes: self.inner.max_heap_bytes() as f64,
        }
    }
}
