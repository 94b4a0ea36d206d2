//! The host's context-local slots (two `contextvars.ContextVar`s made in `ferrule/tracing.py`),
//! handed to the native module once at import, so spans and events read the current span and
//! context without a Python-level call in between. The bound `get` / `set` / `reset` methods are
//! looked up once here, so the span path does no attribute lookups.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

pub struct Vars {
    pub span_get: Py<PyAny>,
    pub span_set: Py<PyAny>,
    pub span_reset: Py<PyAny>,
    pub context_get: Py<PyAny>,
}

static VARS: PyOnceLock<Vars> = PyOnceLock::new();

/// Called once by `ferrule.tracing` at import. Both variables must default to `None`.
#[pyfunction]
pub fn bind_context_vars(
    py: Python<'_>,
    span: Bound<'_, PyAny>,
    context: Bound<'_, PyAny>,
) -> PyResult<()> {
    let vars = Vars {
        span_get: span.getattr("get")?.unbind(),
        span_set: span.getattr("set")?.unbind(),
        span_reset: span.getattr("reset")?.unbind(),
        context_get: context.getattr("get")?.unbind(),
    };
    let _ = VARS.set(py, vars);
    Ok(())
}

pub fn vars(py: Python<'_>) -> Option<&Vars> {
    VARS.get(py)
}

/// The current value of a variable through its bound `get`, or `None` when unset.
#[inline]
pub fn current<'py>(py: Python<'py>, get: &Py<PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
    let v = get.bind(py).call0()?;
    Ok(if v.is_none() { None } else { Some(v) })
}
