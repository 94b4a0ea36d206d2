//! `MockServerCore`: the core's OpenAI-compatible mock server, for `ferrule.testing.MockLLMServer`.

use crate::error::to_py;
use crate::gil::without_gil;
use ferrule_core::mock::{FaultPlan, MockConfig, MockServer};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::sync::Mutex;

#[pyclass(frozen, name = "MockServerCore", module = "ferrule._ferrule")]
pub struct MockServerCore {
    // Only `stop` needs `&mut`; a mutex (never on a request path) lets the class stay frozen.
    server: Mutex<MockServer>,
    url: String,
    port: u16,
}

#[pymethods]
impl MockServerCore {
    #[new]
    #[pyo3(signature = (faults_json="[]", *, host="127.0.0.1", port=0, latency_ms=0, hang_ms=30000,
        max_connections=1024, allow_non_loopback=false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        faults_json: &str,
        host: &str,
        #[pyo3(from_py_with = crate::arg::value::<u16>)] port: u16,
        #[pyo3(from_py_with = crate::arg::value::<u64>)] latency_ms: u64,
        #[pyo3(from_py_with = crate::arg::value::<u64>)] hang_ms: u64,
        #[pyo3(from_py_with = crate::arg::value::<usize>)] max_connections: usize,
        allow_non_loopback: bool,
    ) -> PyResult<Self> {
        let plan = FaultPlan::from_json(faults_json).map_err(|e| to_py(py, e))?;
        let cfg = MockConfig {
            host: host.to_string(),
            port,
            plan,
            latency_ms,
            hang_ms,
            max_connections,
            allow_non_loopback,
            ..MockConfig::default()
        };
        let server = without_gil(py, || MockServer::start(cfg)).map_err(|e| to_py(py, e))?;
        Ok(Self {
            url: server.url(),
            port: server.port(),
            server: Mutex::new(server),
        })
    }

    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    #[getter]
    fn port(&self) -> u16 {
        self.port
    }

    /// Every recorded request, oldest first, as dicts.
    fn requests<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let reqs = self
            .server
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .requests();
        let out = PyList::empty(py);
        for r in reqs {
            let d = PyDict::new(py);
            d.set_item("index", r.index)?;
            d.set_item("method", r.method)?;
            d.set_item("path", r.path)?;
            let h = PyDict::new(py);
            for (k, v) in r.headers {
                h.set_item(k.to_ascii_lowercase(), v)?;
            }
            d.set_item("headers", h)?;
            d.set_item("body", r.body)?;
            d.set_item("fault", r.fault.as_str())?;
            d.set_item("at_unix_ms", r.at_unix_ms)?;
            out.append(d)?;
        }
        Ok(out)
    }

    fn clear_requests(&self) {
        self.server
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear_requests();
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self
            .server
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .stats();
        let d = PyDict::new(py);
        d.set_item("requests", s.requests)?;
        let f = PyDict::new(py);
        for (k, v) in s.by_fault {
            f.set_item(k, v)?;
        }
        d.set_item("by_fault", f)?;
        d.set_item("dropped_records", s.dropped_records)?;
        d.set_item("rejected_connections", s.rejected_connections)?;
        d.set_item("open_connections", s.open_connections)?;
        d.set_item("idle_connections", s.idle_connections)?;
        Ok(d)
    }

    /// Stops the server, waking hung connections; waits with the GIL released.
    fn stop(&self, py: Python<'_>) {
        without_gil(py, || {
            self.server.lock().unwrap_or_else(|p| p.into_inner()).stop()
        });
    }
}
