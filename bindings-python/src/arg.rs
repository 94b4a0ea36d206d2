//! Arguments of native classes and functions that refuse a wrong type with `ferrule.ConfigError`
//! (`kind == "type"`, `param`, `value` = the type's name, `allowed`), as the Python layer's own
//! checks do, instead of PyO3's bare `'float' object cannot be interpreted as an integer`.
//!
//! PyO3 0.30 reports a failed argument extraction by calling `add_note("while processing
//! '<param>'")` on the extraction's exception. `value::<T>` / `optional::<T>` (an argument's
//! `#[pyo3(from_py_with = ...)]`) turn a failed extraction of `T` into a `ConfigError` that knows
//! the value and what is allowed but not yet the parameter; `ConfigError.add_note` (in
//! `ferrule/errors.py`) reads the parameter from that note and renders the message. The raw
//! fastcall functions go through the same path (`named`). One conversion for every argument.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

/// What a parameter of Rust type `Self` accepts, in the words `ferrule._argcheck` uses.
pub trait Allowed {
    const ALLOWED: &'static str;
}

impl Allowed for f64 {
    const ALLOWED: &'static str = "a number (int or float)";
}
impl Allowed for i64 {
    const ALLOWED: &'static str = "an integer";
}
impl Allowed for u32 {
    const ALLOWED: &'static str = "an integer";
}
impl Allowed for u64 {
    const ALLOWED: &'static str = "an integer";
}
impl Allowed for u16 {
    const ALLOWED: &'static str = "an integer";
}
impl Allowed for i32 {
    const ALLOWED: &'static str = "an integer";
}
impl Allowed for usize {
    const ALLOWED: &'static str = "an integer";
}
impl Allowed for bool {
    const ALLOWED: &'static str = "true or false (a bool)";
}
impl Allowed for String {
    const ALLOWED: &'static str = "a string";
}
impl Allowed for Vec<String> {
    const ALLOWED: &'static str = "a list";
}
impl Allowed for Vec<f64> {
    const ALLOWED: &'static str = "a list";
}
impl<'py> Allowed for Bound<'py, PyDict> {
    const ALLOWED: &'static str = "a dict";
}
impl<'py> Allowed for Bound<'py, PyString> {
    const ALLOWED: &'static str = "a string";
}

impl Allowed for &str {
    const ALLOWED: &'static str = "a string";
}

/// The `ConfigError` for a value of the wrong type, its parameter filled in by `add_note`; any
/// other failure (an overflow, an error raised by the value itself) is kept as it was.
pub(crate) fn wrong_type(
    obj: &Bound<'_, PyAny>,
    allowed: &str,
    optional: bool,
    err: PyErr,
) -> PyErr {
    let py = obj.py();
    if !err.is_instance_of::<PyTypeError>(py) {
        return err;
    }
    let tname = obj
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".into());
    let shown = obj
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| format!("<{tname}>"));
    let shown = if shown.chars().count() > 80 {
        format!("{}...", shown.chars().take(77).collect::<String>())
    } else {
        shown
    };
    let allowed = if optional {
        format!("None or {allowed}")
    } else {
        allowed.to_string()
    };
    match py
        .import("ferrule.errors")
        .and_then(|m| m.getattr("ConfigError"))
        .and_then(|c| c.getattr("unnamed_wrong_type"))
        .and_then(|f| f.call1((shown, tname, allowed)))
    {
        Ok(e) => {
            let e = PyErr::from_value(e);
            e.set_cause(py, Some(err));
            e
        }
        Err(_) => err,
    }
}

/// An argument of type `T` (`#[pyo3(from_py_with = crate::arg::value::<T>)]`).
pub fn value<'a, 'py, T>(obj: &'a Bound<'py, PyAny>) -> PyResult<T>
where
    T: FromPyObject<'a, 'py> + Allowed,
{
    obj.extract::<T>()
        .map_err(|e| wrong_type(obj, T::ALLOWED, false, e.into()))
}

/// An argument of type `T` that may be `None` (`#[pyo3(from_py_with = crate::arg::optional::<T>)]`).
pub fn optional<'a, 'py, T>(obj: &'a Bound<'py, PyAny>) -> PyResult<Option<T>>
where
    T: FromPyObject<'a, 'py> + Allowed,
{
    if obj.is_none() {
        return Ok(None);
    }
    obj.extract::<T>()
        .map(Some)
        .map_err(|e| wrong_type(obj, T::ALLOWED, true, e.into()))
}

/// `wrong_type` for a raw fastcall function, which extracts its arguments itself: the parameter is
/// named as PyO3 names it.
pub(crate) fn named(py: Python<'_>, name: &str, err: PyErr) -> PyErr {
    let _ = err
        .value(py)
        .call_method1("add_note", (format!("while processing '{name}'"),));
    err
}
