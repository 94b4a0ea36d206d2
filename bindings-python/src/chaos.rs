//! `ChaosCore`: the core's fault injector for `ferrule.Chaos`, which raises and sleeps.

use crate::error::{guard, to_py};
use ferrule_core::{Chaos, ChaosConfig};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Bits of `next()`'s answer.
const ERROR: u8 = 1;
const LATENCY: u8 = 2;

#[pyclass(frozen, name = "ChaosCore", module = "ferrule._ferrule")]
pub struct ChaosCore {
    inner: Chaos,
}

#[pymethods]
impl ChaosCore {
    #[new]
    #[pyo3(signature = (*, error_rate=0.0, latency_rate=0.0, latency_seconds=0.0, seed=None))]
    fn new(
        py: Python<'_>,
        error_rate: f64,
        latency_rate: f64,
        latency_seconds: f64,
        #[pyo3(from_py_with = crate::arg::optional::<u64>)] seed: Option<u64>,
    ) -> PyResult<Self> {
        Chaos::new(ChaosConfig {
            error_rate,
            latency_rate,
            latency_seconds,
            seed,
        })
        .map(|inner| Self { inner })
        .map_err(|e| to_py(py, e))
    }

    /// The fault for the next call: bit 1 inject the error, bit 2 add the latency.
    #[inline]
    fn next(&self, py: Python<'_>) -> PyResult<u8> {
        guard(py, || {
            let f = self.inner.next();
            (if f.error { ERROR } else { 0 }) | (if f.latency.is_some() { LATENCY } else { 0 })
        })
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let (calls, errors, delays) = guard(py, || self.inner.counts())?;
        let d = PyDict::new(py);
        d.set_item("calls", calls)?;
        d.set_item("errors_injected", errors)?;
        d.set_item("latency_injected", delays)?;
        Ok(d)
    }
}
