//! The host's context-local slots (two `contextvars.ContextVar`s made in `ferrule/tracing.py`),
//! handed to the native module once at import, so spans and events read the current span and
//! context without a Python-level call in between. The bound `get` / `set` / `reset` methods are
//! looked up once here, so the span path does no attribute lookups.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

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

/// Set when the first `CallContext` is made. Until then no `ferrule.context(...)` can be current
/// anywhere, so spans and events skip reading the context variable (a Python call each).
static CONTEXTS_IN_USE: AtomicBool = AtomicBool::new(false);

pub fn mark_contexts_in_use() {
    CONTEXTS_IN_USE.store(true, Ordering::Relaxed);
}

#[inline]
pub fn contexts_in_use() -> bool {
    CONTEXTS_IN_USE.load(Ordering::Relaxed)
}

/// `f(arg)` through `PyObject_CallFunctionObjArgs`, which passes the argument on the C stack
/// (vectorcall); `call1((arg,))` builds a tuple per call under the abi3 API. Used for the
/// context variable's `set` / `reset` on every span.
#[inline]
pub fn call_one<'py>(
    py: Python<'py>,
    f: &Py<PyAny>,
    arg: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: both pointers are live objects owned by the caller for the duration of the call;
    // the argument list is NULL-terminated as the C API requires; the result is a new reference
    // or NULL with an exception set, which `from_owned_ptr_or_err` turns into `Err`.
    unsafe {
        let r = pyo3::ffi::PyObject_CallFunctionObjArgs(
            f.as_ptr(),
            arg.as_ptr(),
            std::ptr::null_mut::<pyo3::ffi::PyObject>(),
        );
        Bound::from_owned_ptr_or_err(py, r)
    }
}
