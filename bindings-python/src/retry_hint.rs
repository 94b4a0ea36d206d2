//! Server hints for the Python host: it picks the header values off an exception's response, the
//! core reads them. Also the transient HTTP statuses, so the rule is written once.

use crate::error::guard;
use ferrule_core::{transient_status, HintHeaders};
use pyo3::prelude::*;

/// The header names to look up, lower-case.
#[pyfunction]
pub fn hint_header_names() -> Vec<&'static str> {
    HintHeaders::NAMES.to_vec()
}

/// Seconds the server asked to wait, from `(name, value)` pairs and the HTTP status; `None` when it
/// did not say.
#[pyfunction]
#[pyo3(signature = (headers, status=None))]
pub fn retry_hint(
    py: Python<'_>,
    headers: Vec<(String, String)>,
    #[pyo3(from_py_with = crate::arg::optional::<u16>)] status: Option<u16>,
) -> PyResult<Option<f64>> {
    guard(py, || {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        HintHeaders::from_pairs(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .hint(status, now)
            .map(|d| d.as_secs_f64())
    })
}

/// Every HTTP status worth retrying (408, 409, 429, 5xx).
#[pyfunction]
pub fn transient_statuses() -> Vec<u16> {
    (100..600).filter(|s| transient_status(*s)).collect()
}
