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
        Error::InvalidConfig {
            component,
            param,
            value,
            allowed,
            problem,
        } => config_error_with(
            py,
            e.to_string(),
            ConfigFields {
                component,
                param,
                value: config_value(py, value, *problem),
                allowed,
                kind: problem.as_str(),
            },
        ),
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
        Error::Validation(f) => return crate::validate::validation_error(py, f, None),
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

/// The fields of a refused configuration, as `ConfigError` carries them.
struct ConfigFields<'a, 'py> {
    component: &'a str,
    param: &'a str,
    value: Bound<'py, PyAny>,
    allowed: &'a str,
    kind: &'static str,
}

fn config_error_with<'py>(
    py: Python<'py>,
    message: String,
    f: ConfigFields<'_, 'py>,
) -> PyResult<Bound<'py, PyAny>> {
    let kw = pyo3::types::PyDict::new(py);
    kw.set_item("param", f.param)?;
    kw.set_item("value", f.value)?;
    kw.set_item("allowed", f.allowed)?;
    kw.set_item("kind", f.kind)?;
    kw.set_item("component", f.component)?;
    class(py, &CONFIG_ERROR, "ConfigError")?.call((message,), Some(&kw))
}

/// The refused value as a Python object: the core keeps it as text (its `Display`, which
/// round-trips numbers), so a number becomes `int` / `float` again and `None` becomes `None`; for a
/// wrong type it is the type's name, as given.
fn config_value<'py>(
    py: Python<'py>,
    value: &str,
    problem: ferrule_core::ConfigProblem,
) -> Bound<'py, PyAny> {
    use pyo3::IntoPyObjectExt;
    let any = |r: PyResult<Bound<'py, PyAny>>| r.unwrap_or_else(|_| py.None().into_bound(py));
    if matches!(
        problem,
        ferrule_core::ConfigProblem::Type | ferrule_core::ConfigProblem::Missing
    ) {
        return any(value.into_bound_py_any(py));
    }
    if value == "None" {
        return py.None().into_bound(py);
    }
    if let Ok(i) = value.parse::<i128>() {
        return any(i.into_bound_py_any(py));
    }
    match value {
        "NaN" => return any(f64::NAN.into_bound_py_any(py)),
        "inf" => return any(f64::INFINITY.into_bound_py_any(py)),
        "-inf" => return any(f64::NEG_INFINITY.into_bound_py_any(py)),
        _ => {}
    }
    if let Ok(x) = value.parse::<f64>() {
        return any(x.into_bound_py_any(py));
    }
    any(value.into_bound_py_any(py))
}

/// A panic caught elsewhere (e.g. inside `gil::without_gil`) as `ferrule.errors.InternalError`.
pub fn internal(py: Python<'_>, msg: String) -> PyErr {
    match class(py, &INTERNAL_ERROR, "InternalError")
        .and_then(|c| c.call1((format!("ferrule core panicked: {msg}"),)))
    {
        Ok(v) => PyErr::from_value(v),
        Err(err) => err,
    }
}

/// Runs core code that may block (I/O, waiting on a background thread) with the GIL released; a
/// panic becomes `InternalError` like in `guard`.
pub fn guard_detached<T: Send>(py: Python<'_>, f: impl FnOnce() -> T + Send) -> PyResult<T> {
    crate::gil::without_gil(py, || ferrule_core::catch_panic(f)).map_err(|msg| internal(py, msg))
}
