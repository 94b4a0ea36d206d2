//! `DriftCore`: the core drift detector for `ferrule/watch/drift.py` (which runs a user embedder,
//! when given one, and hands its vectors here).

use super::{at_nanos, clock_of, event};
use crate::clock::ManualClock;
use crate::error::{guard, internal, to_py};
use ferrule_core::error::check;
use ferrule_core::{BaselinePolicy, ClockRef, DriftConfig, DriftDetector, Severity};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

const C: &str = "DriftDetector";

#[pyclass(frozen, name = "DriftCore", module = "ferrule._ferrule")]
pub struct DriftCore {
    inner: std::sync::Arc<DriftDetector>,
    clock: ClockRef,
}

#[pymethods]
impl DriftCore {
    /// What a scrape shows for this watcher: `(name, labels, value)` rows.
    fn gauges<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyList>> {
        super::gauge_rows::gauge_rows(py, &*self.inner)
    }

    #[new]
    #[pyo3(signature = (name, *, dim=256, baseline_size=200, window_size=100, check_every=25,
        permutations=200, p_value=0.01, min_distance=0.01, psi_threshold=0.25, psi_bins=8,
        consecutive=3, baseline="fixed", severity="warning", seed=0x00d5_1f7a, clock=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        name: String,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] dim: i64,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] baseline_size: i64,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] window_size: i64,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] check_every: i64,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] permutations: i64,
        p_value: f64,
        min_distance: f64,
        psi_threshold: f64,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] psi_bins: i64,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] consecutive: i64,
        baseline: &str,
        severity: &str,
        #[pyo3(from_py_with = crate::arg::value::<u64>)] seed: u64,
        clock: Option<PyRef<'_, ManualClock>>,
    ) -> PyResult<Self> {
        let clock = clock_of(clock);
        let build = || -> ferrule_core::Result<DriftDetector> {
            let int = |p, v: i64, lo, hi| check::int(C, p, v as i128, lo, hi).map(|v| v as u32);
            let cfg = DriftConfig {
                dim: check::int(C, "dim", dim as i128, 8, 4096)? as usize,
                baseline_size: int("baseline_size", baseline_size, 20, 2000)?,
                window_size: int("window_size", window_size, 20, 2000)?,
                check_every: int("check_every", check_every, 1, 2000)?,
                permutations: int("permutations", permutations, 20, 10_000)?,
                p_value,
                min_distance,
                psi_threshold,
                psi_bins: int("psi_bins", psi_bins, 2, 50)?,
                consecutive: int("consecutive", consecutive, 1, 100)?,
                policy: BaselinePolicy::parse(baseline)?,
                severity: Severity::parse(C, "severity", severity)?,
                seed,
                ..DriftConfig::new(name)
            };
            DriftDetector::new(cfg, clock.clone())
        };
        let inner = build().map_err(|e| to_py(py, e))?;
        let inner = std::sync::Arc::new(inner);
        ferrule_core::watch::gauges::export(&inner);
        Ok(Self { inner, clock })
    }

    /// Embeds with the built-in hashing embedder (GIL released: a check can take milliseconds).
    #[pyo3(signature = (text, tokens=None, at=None))]
    fn observe_text<'py>(
        &self,
        py: Python<'py>,
        text: &str,
        tokens: Option<f64>,
        at: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyList>>> {
        let at = at_nanos(&self.clock, at)?;
        let tokens = tokens.unwrap_or(f64::NAN);
        let r = crate::gil::without_gil(py, || {
            ferrule_core::catch_panic(|| self.inner.observe_text_at(text, tokens, at))
        });
        let ev = r
            .map_err(|msg| internal(py, msg))?
            .map_err(|e| to_py(py, e))?;
        event::list(py, ev)
    }

    #[pyo3(signature = (vector, length, tokens=None, at=None))]
    fn observe_vector<'py>(
        &self,
        py: Python<'py>,
        vector: Vec<f32>,
        length: f64,
        tokens: Option<f64>,
        at: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyList>>> {
        let at = at_nanos(&self.clock, at)?;
        let tokens = tokens.unwrap_or(f64::NAN);
        let r = crate::gil::without_gil(py, || {
            ferrule_core::catch_panic(|| self.inner.observe_vector_at(vector, length, tokens, at))
        });
        let ev = r
            .map_err(|msg| internal(py, msg))?
            .map_err(|e| to_py(py, e))?;
        event::list(py, ev)
    }

    #[pyo3(signature = (at=None))]
    fn accept<'py>(
        &self,
        py: Python<'py>,
        at: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyList>>> {
        let at = at_nanos(&self.clock, at)?;
        let ev = guard(py, || self.inner.accept_at(at))?;
        event::list(py, ev)
    }

    #[getter]
    fn name(&self) -> &str {
        &self.inner.config().name
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = guard(py, || self.inner.snapshot())?;
        let d = PyDict::new(py);
        d.set_item("name", s.name)?;
        d.set_item("baseline", s.policy.as_str())?;
        d.set_item("dim", s.dim)?;
        d.set_item("baseline_len", s.baseline_len)?;
        d.set_item("window_len", s.window_len)?;
        d.set_item("outputs", s.outputs)?;
        d.set_item("checks", s.checks)?;
        d.set_item("firing", s.firing)?;
        if let Some(c) = s.last {
            d.set_item("distance", c.distance)?;
            d.set_item("mmd2", c.mmd2)?;
            d.set_item("p_value", c.p_value)?;
            d.set_item("psi_length", c.psi_length)?;
            d.set_item("psi_tokens", c.psi_tokens)?;
        } else {
            for k in ["distance", "mmd2", "p_value", "psi_length", "psi_tokens"] {
                d.set_item(k, py.None())?;
            }
        }
        d.set_item("memory_bytes", self.inner.heap_bytes())?;
        d.set_item("max_memory_bytes", self.inner.max_heap_bytes())?;
        Ok(d)
    }
}
