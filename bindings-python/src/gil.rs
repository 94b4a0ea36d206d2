//! The one way binding code runs core work that may block or wait: with the GIL released, so other
//! Python threads keep running. Every such call site goes through here so none forgets.

use pyo3::Python;

#[inline]
pub fn without_gil<T: Send, F: FnOnce() -> T + Send>(py: Python<'_>, f: F) -> T {
    py.detach(f)
}
