//! `PredictorCore`: the core error predictor for `ferrule/watch/predictor.py`.

use super::{at_nanos, clock_of, event};
use crate::clock::ManualClock;
use crate::error::{guard, guard_detached, to_py};
use ferrule_core::error::check;
use ferrule_core::watch::predictor::{headroom, PastCall, FEATURE_NAMES};
use ferrule_core::{CallOutcome, ClockRef, ErrorPredictor, PredictorConfig, Severity};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

const C: &str = "ErrorPredictor";

#[pyclass(frozen, name = "PredictorCore", module = "ferrule._ferrule")]
pub struct PredictorCore {
    inner: std::sync::Arc<ErrorPredictor>,
    clock: ClockRef,
}

#[pymethods]
impl PredictorCore {
    /// What a scrape shows for this watcher: `(name, labels, value)` rows.
    fn gauges<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyList>> {
        super::gauge_rows::gauge_rows(py, &*self.inner)
    }

    #[new]
    #[pyo3(signature = (name, *, interval_seconds=60.0, horizon_seconds=300.0,
        error_rate_threshold=0.25, warn_probability=0.7, resolve_probability=0.3, min_calls=5,
        learning_rate=0.05, l2=1e-4, positive_weight=3.0, prior=0.01, severity="warning",
        model=None, clock=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        name: String,
        interval_seconds: f64,
        horizon_seconds: f64,
        error_rate_threshold: f64,
        warn_probability: f64,
        resolve_probability: f64,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] min_calls: i64,
        learning_rate: f64,
        l2: f64,
        positive_weight: f64,
        prior: f64,
        severity: &str,
        model: Option<Vec<f64>>,
        clock: Option<PyRef<'_, ManualClock>>,
    ) -> PyResult<Self> {
        let clock = clock_of(clock);
        let build = || -> ferrule_core::Result<ErrorPredictor> {
            check::finite_positive(C, "interval_seconds", interval_seconds)?;
            check::finite_positive(C, "horizon_seconds", horizon_seconds)?;
            let horizon = (horizon_seconds / interval_seconds).round();
            let cfg = PredictorConfig {
                interval_seconds,
                horizon_intervals: check::int(C, "horizon_seconds", horizon as i128, 1, 1440)
                    .map_err(|_| {
                        ferrule_core::Error::out_of_range(
                            C,
                            "horizon_seconds",
                            horizon_seconds,
                            format!("1 to 1440 intervals of {interval_seconds}s"),
                        )
                    })? as u32,
                error_rate_threshold,
                warn_probability,
                resolve_probability,
                min_calls: check::int(C, "min_calls", min_calls as i128, 1, 1_000_000)? as u32,
                learning_rate,
                l2,
                positive_weight,
                prior,
                severity: Severity::parse(C, "severity", severity)?,
                ..PredictorConfig::new(name)
            };
            let p = ErrorPredictor::new(cfg, clock.clone())?;
            if let Some(m) = &model {
                p.load(m)?;
            }
            Ok(p)
        };
        let inner = build().map_err(|e| to_py(py, e))?;
        let inner = std::sync::Arc::new(inner);
        ferrule_core::watch::gauges::export(&inner);
        Ok(Self { inner, clock })
    }

    /// `outcome`: "ok", "rate_limited" (or "429"), "timeout", "error".
    #[pyo3(signature = (outcome, latency_seconds, ratelimit_remaining=None, ratelimit_limit=None, at=None))]
    #[inline]
    fn observe<'py>(
        &self,
        py: Python<'py>,
        outcome: &str,
        latency_seconds: f64,
        ratelimit_remaining: Option<f64>,
        ratelimit_limit: Option<f64>,
        at: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyList>>> {
        let at = at_nanos(&self.clock, at)?;
        let o = CallOutcome::parse(outcome).map_err(|e| to_py(py, e))?;
        let h = headroom(ratelimit_remaining, ratelimit_limit);
        let ev = guard(py, || self.inner.observe_at(o, latency_seconds, h, at))?;
        event::list(py, ev)
    }

    #[pyo3(signature = (at=None))]
    fn tick<'py>(&self, py: Python<'py>, at: Option<f64>) -> PyResult<Option<Bound<'py, PyList>>> {
        let at = at_nanos(&self.clock, at)?;
        let ev = guard(py, || self.inner.tick_at(at))?;
        event::list(py, ev)
    }

    #[getter]
    fn name(&self) -> &str {
        &self.inner.config().name
    }

    #[getter]
    fn probability(&self) -> Option<f64> {
        self.inner.probability()
    }

    fn export(&self) -> Vec<f64> {
        self.inner.export()
    }

    /// Learns from past calls, each `(at_nanos, outcome, error_type, latency_seconds, headroom)`
    /// (`outcome` from the inference log or the predictor's own words, see
    /// `CallOutcome::from_record`); returns what it learned from.
    #[pyo3(signature = (calls, epochs))]
    #[allow(clippy::type_complexity)]
    fn fit<'py>(
        &self,
        py: Python<'py>,
        calls: Vec<(u64, String, Option<String>, f64, Option<f64>)>,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] epochs: i64,
    ) -> PyResult<Bound<'py, PyDict>> {
        let build = || -> ferrule_core::Result<(Vec<PastCall>, u64, u32)> {
            let epochs = check::int(C, "epochs", epochs as i128, 1, 1000)? as u32;
            let mut past = Vec::with_capacity(calls.len());
            let mut skipped = 0;
            for (at, outcome, error_type, latency, h) in &calls {
                match CallOutcome::from_record(outcome, error_type.as_deref())? {
                    Some(o) => past.push(PastCall {
                        at_nanos: *at,
                        outcome: o,
                        latency_seconds: *latency,
                        headroom: h.filter(|h| h.is_finite()),
                    }),
                    None => skipped += 1,
                }
            }
            Ok((past, skipped, epochs))
        };
        let (past, skipped, epochs) = build().map_err(|e| to_py(py, e))?;
        let inner = self.inner.clone();
        // A long log takes a while: other Python threads run meanwhile.
        let r = guard_detached(py, move || inner.fit(&past, epochs))?.map_err(|e| to_py(py, e))?;
        let d = PyDict::new(py);
        d.set_item("calls", r.calls)?;
        d.set_item("skipped", skipped)?;
        d.set_item("intervals", r.intervals)?;
        d.set_item("examples", r.examples)?;
        d.set_item("positives", r.positives)?;
        d.set_item("epochs", r.epochs)?;
        Ok(d)
    }

    fn load(&self, py: Python<'_>, model: Vec<f64>) -> PyResult<()> {
        self.inner.load(&model).map_err(|e| to_py(py, e))
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = guard(py, || self.inner.snapshot())?;
        let d = PyDict::new(py);
        d.set_item("name", s.name)?;
        d.set_item("probability", s.probability)?;
        d.set_item("warning", s.warning)?;
        d.set_item("intervals", s.intervals)?;
        d.set_item("examples", s.examples)?;
        d.set_item("positives", s.positives)?;
        d.set_item("warnings", s.warnings)?;
        let f = PyDict::new(py);
        if let Some(v) = s.features {
            for (n, x) in FEATURE_NAMES.iter().zip(v) {
                f.set_item(*n, x)?;
            }
        }
        d.set_item("features", f)?;
        Ok(d)
    }
}
