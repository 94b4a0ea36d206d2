//! The host's context-local slots (two `contextvars.ContextVar`s made in `ferrule/tracing.py`),
//! handed to the native module once at import, so spans and events read the current span and
//! context without a Python-level call in between.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

pub struct Vars {
    pub span: Py<PyAny>,
    pub context: Py<PyAny>,
}

static VARS: PyOnceLock<Vars> = PyOnceLock::new();

/// Called once by `ferrule.tracing` at import.
#[pyfunction]
pub fn bind_context_vars(py: Python<'_>, span: Py<PyAny>, context: Py<PyAny>) -> PyResult<()> {
    let _ = VARS.set(py, Vars { span, context });
    Ok(())
}

pub fn vars(py: Python<'_>) -> Option<&Vars> {
    VARS.get(py)
}

/// The current value of `var`, or `None` when unset.
#[inline]
pub fn current<'py>(py: Python<'py>, var: &Py<PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
    let v = var
        .bind(py)
        .call_method1(pyo3::intern!(py, "get"), (py.None(),))?;
    Ok(if v.is_none() { None } else { Some(v) })
}
