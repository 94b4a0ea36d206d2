//! The one place core errors become Python exceptions. The classes are defined in
//! `ferrule/errors.py`, not with `create_exception!`, because several need two bases
//! (`ConfigError` is a `ValueError`, `TimeoutError` a builtin `TimeoutError`), which PyO3's macro
//! cannot express; they are imported once and cached here.

use ferrule_core::Error;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

static CONFIG_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static CIRCUIT_OPEN_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static INTERNAL_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static STORAGE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static RATE_LIMITED_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn class<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyType>>,
    name: &str,
) -> PyResult<&'py Bound<'py, PyType>> {
    cell.import(py, "ferrule.errors", name)
}

/// Maps a core error to its Python exception.
pub fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let made = match &e {
        Error::InvalidConfig { .. } => {
            class(py, &CONFIG_ERROR, "ConfigError").and_then(|c| c.call1((e.to_string(),)))
        }
        Error::CircuitOpen {
            breaker,
            retry_after,
        } => class(py, &CIRCUIT_OPEN_ERROR, "CircuitOpenError")
            .and_then(|c| c.call1((e.to_string(), breaker.as_str(), retry_after.as_secs_f64()))),
        Error::Storage { .. } => {
            class(py, &STORAGE_ERROR, "StorageError").and_then(|c| c.call1((e.to_string(),)))
        }
        Error::RateLimited {
            limiter,
            retry_after,
            key,
        } => class(py, &RATE_LIMITED_ERROR, "RateLimitedError").and_then(|c| {
            c.call1((
                e.to_string(),
                retry_after.as_secs_f64(),
                key.as_deref(),
                limiter.as_str(),
            ))
        }),
    };
    match made {
        Ok(v) => PyErr::from_value(v),
        Err(err) => err,
    }
}

pub fn circuit_open(py: Python<'_>, breaker: &str, retry_after: Option<f64>) -> PyErr {
    let msg = match retry_after {
        Some(s) => format!("circuit breaker '{breaker}' is open; retry after {s:.3}s"),
        None => format!("circuit breaker '{breaker}' is open"),
    };
    match class(py, &CIRCUIT_OPEN_ERROR, "CircuitOpenError")
        .and_then(|c| c.call1((msg, breaker, retry_after)))
    {
        Ok(v) => PyErr::from_value(v),
        Err(err) => err,
    }
}

/// Runs core code; a panic becomes `ferrule.errors.InternalError` instead of unwinding into Python.
#[inline]
pub fn guard<T>(py: Python<'_>, f: impl FnOnce() -> T) -> PyResult<T> {
    ferrule_core::catch_panic(f).map_err(|msg| {
        match class(py, &INTERNAL_ERROR, "InternalError")
            .and_then(|c| c.call1((format!("ferrule core panicked: {msg}"),)))
        {
            Ok(v) => PyErr::from_value(v),
            Err(err) => err,
        }
    })
}

/// A `ferrule.ConfigError` with a message built in the binding (for host-only options).
pub fn config_error(py: Python<'_>, msg: String) -> PyErr {
    match class(py, &CONFIG_ERROR, "ConfigError").and_then(|c| c.call1((msg,))) {
        Ok(v) => PyErr::from_value(v),
        Err(err) => err,
    }
}

/// Runs core code that may block (I/O, waiting on a background thread) with the GIL released; a
/// panic becomes `InternalError` like in `guard`.
pub fn guard_detached<T: Send>(py: Python<'_>, f: impl FnOnce() -> T + Send) -> PyResult<T> {
    crate::gil::without_gil(py, || ferrule_core::catch_panic(f)).map_err(|msg| {
        match class(py, &INTERNAL_ERROR, "InternalError")
            .and_then(|c| c.call1((format!("ferrule core panicked: {msg}"),)))
        {
            Ok(v) => PyErr::from_value(v),
            Err(err) => err,
        }
    })
}
