//! `ferrule.span(...)`: the same as `Span(...)`, as a raw fastcall function (`fastcall.rs`), so a
//! call with keywords builds no keyword dict (a class call does) and matches its keywords by
//! identity. Conversion only: `Span::new` does the rest.

use crate::fastcall::{extract, finish, Params};
use crate::span::Span;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString};

static PARAMS: Params<8> = Params {
    function: "span",
    names: [
        "name",
        "operation",
        "model",
        "provider",
        "role",
        "attributes",
        "parent",
        "traceparent",
    ],
    positional: 1,
    extra: false,
    interned: PyOnceLock::new(),
};

const DOC: &std::ffi::CStr = c"span(name=None, *, operation=None, model=None, provider=None, role=\"call\", attributes=None, parent=None, traceparent=None)\n--\n\nA span named `name`, or `\"{operation} {model}\"` per the GenAI conventions, child of the\ncurrent span (or `parent`, or a remote `traceparent` header); the same as `Span(...)`.";

fn text<'py>(name: &str, v: Option<Bound<'py, PyAny>>) -> PyResult<Option<Bound<'py, PyString>>> {
    v.map(|v| extract::<Bound<'py, PyString>>(name, &v))
        .transpose()
}

unsafe extern "C" fn span_fastcall(
    _module: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls a METH_FASTCALL function with the interpreter attached.
    let py = unsafe { Python::assume_attached() };
    finish(py, || {
        // SAFETY: the arguments are exactly what CPython passed to this function.
        let mut a = unsafe { PARAMS.parse(py, args, nargs, kwnames) }?;
        let name: Option<String> = a.take(0).map(|v| extract("name", &v)).transpose()?;
        let operation = text("operation", a.take(1))?;
        let model = text("model", a.take(2))?;
        let provider = text("provider", a.take(3))?;
        let role = text("role", a.take(4))?;
        let attributes = a
            .take(5)
            .map(|v| extract::<Bound<'_, PyDict>>("attributes", &v))
            .transpose()?;
        let parent = a
            .take(6)
            .map(|v| extract::<PyRef<'_, Span>>("parent", &v))
            .transpose()?;
        let traceparent = text("traceparent", a.take(7))?;
        let span = Span::new(
            py,
            name,
            operation.as_ref().map(|s| s.to_str()).transpose()?,
            model.as_ref().map(|s| s.to_str()).transpose()?,
            provider.as_ref().map(|s| s.to_str()).transpose()?,
            match &role {
                Some(r) => r.to_str()?,
                None => "call",
            },
            attributes.as_ref(),
            parent,
            traceparent.as_ref().map(|s| s.to_str()).transpose()?,
        )?;
        Ok(Bound::new(py, span)?.into_any())
    })
}

/// Adds `span` to the module.
pub fn add(m: &Bound<'_, PyModule>) -> PyResult<()> {
    crate::fastcall::define(m, c"span", DOC, span_fastcall)
}
