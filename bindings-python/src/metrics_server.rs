//! `serve_metrics`: the core's scrape endpoint on its background thread, as a Python handle with
//! `.port`, `.host` and `.stop()`.

use crate::error::{guard, to_py};
use crate::gil::without_gil;
use ferrule_core::{default_registry, MetricsServer as CoreServer};
use pyo3::prelude::*;
use std::sync::Mutex;

#[pyclass(frozen, name = "MetricsServer", module = "ferrule._ferrule")]
pub struct MetricsServer {
    // A lock, but only taken by stop() and the getters; never on a call path.
    inner: Mutex<Option<CoreServer>>,
    host: String,
    port: u16,
}

#[pymethods]
impl MetricsServer {
    #[getter]
    fn port(&self) -> u16 {
        self.port
    }

    #[getter]
    fn host(&self) -> &str {
        &self.host
    }

    #[getter]
    fn url(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("http://{host}:{}/metrics", self.port)
    }

    #[getter]
    fn running(&self) -> bool {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|s| s.is_running())
    }

    /// Stops serving and joins the thread (idempotent).
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        let taken = self.inner.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut s) = taken {
            guard(py, || without_gil(py, move || s.stop()))?;
        }
        Ok(())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.stop(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!("<MetricsServer {} running={}>", self.url(), self.running())
    }
}

/// Serves the default registry at `http://host:port/metrics` from a background thread (loopback
/// by default; `port=0` picks a free port, read it back from `.port`).
#[pyfunction]
#[pyo3(signature = (port=9464, host="127.0.0.1"))]
pub fn serve_metrics(
    py: Python<'_>,
    #[pyo3(from_py_with = crate::arg::value::<i64>)] port: i64,
    host: &str,
) -> PyResult<MetricsServer> {
    let port = ferrule_core::error::check::int("serve_metrics", "port", port as i128, 0, 65535)
        .map_err(|e| to_py(py, e))? as u16;
    let registry = guard(py, default_registry)?;
    let host_owned = host.to_string();
    let server = guard(py, || {
        without_gil(py, move || CoreServer::start(registry, &host_owned, port))
    })?
    .map_err(|e| to_py(py, e))?;
    let addr = server.addr();
    Ok(MetricsServer {
        host: addr.ip().to_string(),
        port: addr.port(),
        inner: Mutex::new(Some(server)),
    })
}
