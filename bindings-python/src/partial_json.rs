//! `PartialJsonCore`: the core's incremental JSON reader for a streamed answer (partial values, and
//! the first schema violation no later text can undo). Conversion only.

use crate::json_to_python::to_python;
use ferrule_core::validate::{unrecoverable, PartialJson};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use serde_json::Value;

#[pyclass(name = "PartialJsonCore", module = "ferrule._ferrule")]
pub struct PartialJsonCore {
    inner: PartialJson,
    schema: Option<Value>,
    value: Option<Value>,
}

#[pymethods]
impl PartialJsonCore {
    #[new]
    #[pyo3(signature = (schema_json=None, *, max_input_bytes=10_485_760, max_depth=128))]
    fn new(
        schema_json: Option<&str>,
        #[pyo3(from_py_with = crate::arg::value::<u64>)] max_input_bytes: u64,
        #[pyo3(from_py_with = crate::arg::value::<u64>)] max_depth: u64,
    ) -> PyResult<Self> {
        let schema = match schema_json {
            Some(s) => Some(serde_json::from_str::<Value>(s).map_err(|e| {
                PyValueError::new_err(format!("PartialJson: schema is not valid JSON: {e}"))
            })?),
            None => None,
        };
        Ok(Self {
            inner: PartialJson::new(max_input_bytes as usize, max_depth as usize),
            schema,
            value: None,
        })
    }

    /// Feeds the next piece of text. Returns None when the partial value did not change, else
    /// `(value, violation)` with `violation` None or `(path, message)`: the first one no later text
    /// can undo. Raises ValueError past the size or depth bound.
    fn feed<'py>(&mut self, py: Python<'py>, piece: &str) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let changed = self
            .inner
            .push(piece)
            .map_err(|e| PyValueError::new_err(e.0))?;
        let Some(v) = changed else {
            return Ok(None);
        };
        let bad = self
            .schema
            .as_ref()
            .and_then(|s| unrecoverable(s, &v, self.inner.open_string()));
        let out = to_python(py, &v)?;
        self.value = Some(v);
        let bad = bad.map(|b| (b.path, b.message));
        Ok(Some(PyTuple::new(
            py,
            [out, bad.into_pyobject(py)?.into_any()],
        )?))
    }

    /// The latest partial value (None before the document starts).
    #[getter]
    fn value<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.value.as_ref().map(|v| to_python(py, v)).transpose()
    }

    /// Whether the top-level object or array has closed.
    #[getter]
    fn complete(&self) -> bool {
        self.inner.complete()
    }

    /// The text fed so far.
    #[getter]
    fn text(&self) -> &str {
        self.inner.text()
    }
}
