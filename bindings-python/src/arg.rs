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

use pyo3::exceptions::{PyOverflowError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

/// What a parameter of Rust type `Self` accepts, in the words `ferrule._argcheck` uses, and for an
/// integer type the range it can hold (an int outside it is refused as out of range, not left as
/// Python's bare `OverflowError`).
pub trait Allowed {
    const ALLOWED: &'static str;
    const RANGE: Option<&'static str> = None;
}

macro_rules! allowed {
    ($($t:ty => $words:expr),* $(,)?) => {
        $(impl Allowed for $t { const ALLOWED: &'static str = $words; })*
    };
}
macro_rules! allowed_int {
    ($($t:ty => $range:expr),* $(,)?) => {
        $(impl Allowed for $t {
            const ALLOWED: &'static str = "an integer";
            const RANGE: Option<&'static str> = Some($range);
        })*
    };
}

allowed_int! {
    u16 => "an integer from 0 to 65535",
    u32 => "an integer from 0 to 4294967295",
    u64 => "an integer from 0 to 18446744073709551615",
    usize => "an integer from 0 to 18446744073709551615",
    i32 => "an integer from -2147483648 to 2147483647",
    i64 => "an integer from -9223372036854775808 to 9223372036854775807",
}
allowed! {
    f64 => "a number (int or float)",
    bool => "true or false (a bool)",
    String => "a string",
    &str => "a string",
    Vec<String> => "a list",
    Vec<f64> => "a list",
}
impl<'py> Allowed for Bound<'py, PyDict> {
    const ALLOWED: &'static str = "a dict";
}
impl<'py> Allowed for Bound<'py, PyString> {
    const ALLOWED: &'static str = "a string";
}

/// The `ConfigError` for a value of the wrong type, or (`range` given) for an int the Rust type
/// cannot hold, its parameter filled in by `add_note`; any other failure (an error raised by the
/// value itself) is kept as it was.
pub(crate) fn wrong_type(
    obj: &Bound<'_, PyAny>,
    allowed: &str,
    range: Option<&str>,
    optional: bool,
    err: PyErr,
) -> PyErr {
    let py = obj.py();
    let overflow = err.is_instance_of::<PyOverflowError>(py);
    if !(err.is_instance_of::<PyTypeError>(py) || overflow && range.is_some()) {
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
    let allowed = match (overflow, range) {
        (true, Some(r)) => r.to_string(),
        _ => allowed.to_string(),
    };
    let allowed = if optional {
        format!("None or {allowed}")
    } else {
        allowed
    };
    let made = py
        .import("ferrule.errors")
        .and_then(|m| m.getattr("ConfigError"))
        .and_then(|c| {
            if overflow {
                c.getattr("unnamed_out_of_range")?
                    .call1((shown, obj.clone(), allowed))
            } else {
                c.getattr("unnamed_wrong_type")?
                    .call1((shown, tname, allowed))
            }
        });
    match made {
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
        .map_err(|e| wrong_type(obj, T::ALLOWED, T::RANGE, false, e.into()))
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
        .map_err(|e| wrong_type(obj, T::ALLOWED, T::RANGE, true, e.into()))
}

/// `wrong_type` for a raw fastcall function, which extracts its arguments itself: the parameter is
/// named as PyO3 names it.
pub(crate) fn named(py: Python<'_>, name: &str, err: PyErr) -> PyErr {
    let _ = err
        .value(py)
        .call_method1("add_note", (format!("while processing '{name}'"),));
    err
}
