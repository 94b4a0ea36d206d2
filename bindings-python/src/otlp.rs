//! `push_metrics`: the core's periodic OTLP/HTTP push of the default registry, as a Python handle
//! with `.push_now()`, `.stop()` and counters.

use crate::error::{guard, to_py};
use crate::gil::without_gil;
use ferrule_core::default_registry;
use ferrule_core::telemetry::otlp::{OtlpConfig, OtlpHandle, OtlpPusher as CorePusher};
use pyo3::prelude::*;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

#[pyclass(frozen, name = "OtlpPusher", module = "ferrule._ferrule")]
pub struct OtlpPusher {
    // A lock, but only held for an instant by stop() and `running`, never across an export or a
    // join, so no thread waits on it while a logger waits for the GIL.
    inner: Mutex<Option<CorePusher>>,
    handle: OtlpHandle,
}

#[pymethods]
impl OtlpPusher {
    /// Exports now; `True` when the collector accepted it (a failure is counted and logged).
    fn push_now(&self, py: Python<'_>) -> PyResult<bool> {
        let h = self.handle.clone();
        guard(py, || without_gil(py, move || h.push_now()))
    }

    /// Pushes a last export and stops (idempotent).
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        let taken = self.inner.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut p) = taken {
            guard(py, || without_gil(py, move || p.stop()))?;
        }
        Ok(())
    }

    #[getter]
    fn endpoint(&self) -> &str {
        self.handle.endpoint()
    }

    #[getter]
    fn pushes(&self) -> u64 {
        self.handle.pushes()
    }

    #[getter]
    fn failures(&self) -> u64 {
        self.handle.failures()
    }

    #[getter]
    fn running(&self) -> bool {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|p| p.is_running())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.stop(py)?;
        Ok(false)
    }
}

/// Pushes the default registry to an OTLP/HTTP collector every `interval_seconds` from a
/// background thread. `endpoint=None` reads `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` /
/// `OTEL_EXPORTER_OTLP_ENDPOINT`.
#[pyfunction]
#[pyo3(signature = (endpoint=None, *, interval_seconds=10.0, timeout_seconds=5.0,
    service_name="ferrule", headers=None))]
pub fn push_metrics(
    py: Python<'_>,
    endpoint: Option<&str>,
    interval_seconds: f64,
    timeout_seconds: f64,
    service_name: &str,
    headers: Option<HashMap<String, String>>,
) -> PyResult<OtlpPusher> {
    const C: &str = "push_metrics";
    let secs = |p: &'static str, v: f64| {
        ferrule_core::error::check::finite_positive(C, p, v)
            .map(Duration::from_secs_f64)
            .map_err(|e| to_py(py, e))
    };
    let mut cfg = OtlpConfig::new(endpoint).map_err(|e| to_py(py, e))?;
    cfg.interval = secs("interval_seconds", interval_seconds)?;
    cfg.timeout = secs("timeout_seconds", timeout_seconds)?;
    cfg.service_name = service_name.to_string();
    // Given headers replace OTEL_EXPORTER_OTLP_(METRICS_)HEADERS; absent, the environment's stay.
    if let Some(h) = headers {
        cfg.headers = h.into_iter().collect();
    }
    let registry = guard(py, default_registry)?;
    let inner = guard(py, || CorePusher::start(registry, cfg))?.map_err(|e| to_py(py, e))?;
    Ok(OtlpPusher {
        handle: inner.handle(),
        inner: Mutex::new(Some(inner)),
    })
}
