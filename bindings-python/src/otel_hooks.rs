//! The hooks `ferrule.otel` installs when the application uses the OpenTelemetry API: `parent()`
//! gives a span with no ferrule parent the app's current span as its parent (a `traceparent`),
//! `enter(trace_id, span_id, sampled)` / `exit(token)` make an entered ferrule span the current
//! OpenTelemetry span too (so the app's own spans inside an attempt nest under it), and
//! `on_end(span_dict)` hands each finished span to the app's TracerProvider. Until they are
//! installed, a span pays one relaxed atomic load for all of this.

use ferrule_core::telemetry::pipeline::Pipeline;
use pyo3::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

pub struct Hooks {
    pub parent: Option<Py<PyAny>>,
    pub enter: Option<Py<PyAny>>,
    pub exit: Option<Py<PyAny>>,
    pub on_end: Option<Py<PyAny>>,
}

static ACTIVE: AtomicBool = AtomicBool::new(false);
// A lock, but only read (uncontended) while interop is on, and written by `set_otel_hooks` at
// setup; the steady state without interop never takes it.
static HOOKS: RwLock<Option<Arc<Hooks>>> = RwLock::new(None);

#[inline]
pub fn hooks() -> Option<Arc<Hooks>> {
    if !ACTIVE.load(Ordering::Relaxed) {
        return None;
    }
    HOOKS.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Installs (or, with no arguments, removes) the OpenTelemetry bridge hooks.
#[pyfunction]
#[pyo3(signature = (parent=None, enter=None, exit=None, on_end=None))]
pub fn set_otel_hooks(
    parent: Option<Py<PyAny>>,
    enter: Option<Py<PyAny>>,
    exit: Option<Py<PyAny>>,
    on_end: Option<Py<PyAny>>,
) {
    let any = parent.is_some() || enter.is_some() || on_end.is_some();
    let h = any.then(|| {
        Arc::new(Hooks {
            parent,
            enter,
            exit,
            on_end,
        })
    });
    *HOOKS.write().unwrap_or_else(|p| p.into_inner()) = h;
    ACTIVE.store(any, Ordering::Relaxed);
}

/// A hook that raised: the span goes on without the bridge for this call; the failure is logged
/// (deduplicated) through the core's logger and counted there.
pub fn report(py: Python<'_>, which: &str, e: PyErr) {
    let msg = e.value(py).to_string();
    Pipeline::global().warn(
        "telemetry.otel_bridge_failed",
        format!("OpenTelemetry bridge hook {which} raised: {msg}"),
    );
}
