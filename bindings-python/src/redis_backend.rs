//! `RedisBackendCore`: the core's Redis backend for the Python host layer (`ferrule/redis_backend.py`),
//! which passes it as `backend=` to limiters and breakers. Only conversion here.

use crate::error::{guard, to_py};
use ferrule_core::store::redis_backend::{OnBackendError, RedisBackend, RedisConfig};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::Arc;

const C: &str = "RedisBackend";

#[pyclass(frozen, name = "RedisBackendCore", module = "ferrule._ferrule")]
pub struct RedisBackendCore {
    pub(crate) inner: Arc<RedisBackend>,
}

#[pymethods]
impl RedisBackendCore {
    /// Checks every setting; connects on first use. `on_event(state, message)` is called when Redis
    /// becomes unreachable ("firing") and when it answers again ("resolved"), from the thread that
    /// noticed it.
    #[new]
    #[pyo3(signature = (url, *, prefix=None, timeout_seconds=0.05, on_backend_error=None,
        retry_seconds=1.0, max_idle=16, on_event=None, ca_file=None, client_cert_file=None,
        client_key_file=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        url: String,
        prefix: Option<String>,
        timeout_seconds: f64,
        on_backend_error: Option<String>,
        retry_seconds: f64,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] max_idle: i64,
        on_event: Option<Py<PyAny>>,
        ca_file: Option<std::path::PathBuf>,
        client_cert_file: Option<std::path::PathBuf>,
        client_key_file: Option<std::path::PathBuf>,
    ) -> PyResult<Self> {
        let build = || -> ferrule_core::Result<RedisBackend> {
            let max_idle =
                ferrule_core::error::check::int(C, "max_idle", max_idle as i128, 1, 1024)?;
            let policy = on_backend_error.as_deref().unwrap_or("local");
            RedisBackend::new(RedisConfig {
                url,
                prefix: prefix.unwrap_or_else(|| "ferrule".into()),
                timeout_seconds,
                on_backend_error: OnBackendError::parse(C, "on_backend_error", policy)?,
                retry_seconds,
                max_idle: max_idle as usize,
                tls: ferrule_core::net::TlsFiles {
                    ca_file,
                    client_cert_file,
                    client_key_file,
                },
            })
        };
        let inner = build().map_err(|e| to_py(py, e))?;
        if let Some(cb) = on_event {
            // Outages and recoveries are rare; a failing listener is reported as unraisable.
            inner.on_event(move |e| {
                // try_attach: at interpreter shutdown this background thread must not touch Python.
                let _ = Python::try_attach(|py| {
                    if let Err(err) = cb.call1(py, (e.state.as_str(), e.message.as_str())) {
                        err.write_unraisable(py, Some(cb.bind(py)));
                    }
                });
            });
        }
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    #[getter]
    fn url(&self) -> &str {
        &self.inner.config().url
    }

    #[getter]
    fn prefix(&self) -> &str {
        &self.inner.config().prefix
    }

    #[getter]
    fn on_backend_error(&self) -> &'static str {
        self.inner.on_backend_error().as_str()
    }

    #[getter]
    fn timeout_seconds(&self) -> f64 {
        self.inner.config().timeout_seconds
    }

    #[getter]
    fn is_up(&self) -> bool {
        self.inner.is_up()
    }

    /// operations, errors, fallbacks (decisions taken by `on_backend_error`), outages, recoveries, up.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = guard(py, || self.inner.stats())?;
        let d = PyDict::new(py);
        d.set_item("operations", s.operations)?;
        d.set_item("errors", s.errors)?;
        d.set_item("fallbacks", s.fallbacks)?;
        d.set_item("outages", s.outages)?;
        d.set_item("recoveries", s.recoveries)?;
        d.set_item("up", s.up)?;
        d.set_item("idle_connections", s.idle_connections)?;
        Ok(d)
    }
}
