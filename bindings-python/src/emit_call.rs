//! `ferrule.emit` as a raw fastcall function (`fastcall.rs`): as a pyo3 function its `**fields`
//! made every call build a tuple and a keyword dict, which cost more than rendering the event.
//! Conversion only: `telemetry::emit` does the rest.

use crate::fastcall::{finish, Params};
use crate::telemetry::{emit, EmitArgs};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

static PARAMS: Params<12> = Params {
    function: "emit",
    names: [
        "event",
        "level",
        "message",
        "model",
        "attempt",
        "latency_seconds",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "error",
        "error_type",
        "error_message",
    ],
    positional: 3,
    extra: true,
    interned: PyOnceLock::new(),
};

const DOC: &std::ffi::CStr = c"emit(event, level=\"info\", message=None, *, model=None, attempt=None, latency_seconds=None, input_tokens=None, output_tokens=None, cost_usd=None, error=None, error_type=None, error_message=None, **fields)\n--\n\nEmits one structured ferrule event (`retry.attempt`, `breaker.transition`, `fallback.used`,\n`validation.failed`, ...), stamped with the current span and context ids. Known fields fill the\nschema (`model`, `attempt`, `latency_seconds`, `input_tokens`, `output_tokens`, `cost_usd`,\n`error` (an exception), `error_type`, `error_message`); others are event-specific fields.\nReturns whether the event was written (false: below the level, or rate-limited).";

unsafe extern "C" fn emit_fastcall(
    _module: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls a METH_FASTCALL function with the interpreter attached.
    let py = unsafe { Python::assume_attached() };
    finish(py, || {
        // SAFETY: the arguments are exactly what CPython passed to this function.
        let a = unsafe { PARAMS.parse(py, args, nargs, kwnames) }?;
        let [event, level, message, model, attempt, latency_seconds, input_tokens, output_tokens, cost_usd, error, error_type, error_message] =
            a.slots;
        let written = emit(
            py,
            EmitArgs {
                event,
                level,
                message,
                model,
                attempt,
                latency_seconds,
                input_tokens,
                output_tokens,
                cost_usd,
                error,
                error_type,
                error_message,
                fields: a.extra,
            },
        )?;
        Ok(pyo3::types::PyBool::new(py, written).to_owned().into_any())
    })
}

/// Adds `emit` to the module.
pub fn add(m: &Bound<'_, PyModule>) -> PyResult<()> {
    crate::fastcall::define(m, c"emit", DOC, emit_fastcall)
}
