//! A watcher's exported samples as Python rows `(name, labels, value)`: exactly what a scrape shows,
//! named and ordered by the core (`watch::gauges::rows`).

use ferrule_core::telemetry::collector::Collect;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

pub(crate) fn gauge_rows<'py>(py: Python<'py>, w: &dyn Collect) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for (name, labels, value) in ferrule_core::watch::gauges::rows(w) {
        let d = PyDict::new(py);
        for (k, v) in labels {
            d.set_item(k, v)?;
        }
        out.append((name, d, value))?;
    }
    Ok(out)
}
