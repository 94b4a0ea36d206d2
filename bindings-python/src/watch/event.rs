//! Core watcher events as Python dicts; the host wraps them in `ferrule.WatchEvent`.

use ferrule_core::watch::event::Event;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

pub fn to_py<'py>(py: Python<'py>, e: &Event) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", e.name)?;
    d.set_item("source", &e.source)?;
    d.set_item("severity", e.severity.as_str())?;
    d.set_item("state", e.state.as_str())?;
    let labels = PyDict::new(py);
    for (k, v) in &e.labels {
        labels.set_item(k, v)?;
    }
    d.set_item("labels", labels)?;
    d.set_item("dedup_key", &e.dedup_key)?;
    d.set_item("value", e.value)?;
    d.set_item("threshold", e.threshold)?;
    d.set_item("message", &e.message)?;
    d.set_item("at", e.at_nanos as f64 / 1e9)?;
    Ok(d)
}

/// `None` when there are no events, so the common case allocates nothing on the Python side.
#[inline]
pub fn list<'py>(py: Python<'py>, events: Vec<Event>) -> PyResult<Option<Bound<'py, PyList>>> {
    if events.is_empty() {
        return Ok(None);
    }
    // Also to the installed alert router (the core's `publish`), so `on_alert` sees every watcher.
    ferrule_core::watch::alert_router::publish(&events);
    let l = PyList::empty(py);
    for e in &events {
        l.append(to_py(py, e)?)?;
    }
    Ok(Some(l))
}
