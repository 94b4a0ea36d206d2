//! A manual clock for Python tests: primitives built with `clock=ManualClock()` never read real time.

use ferrule_core::{Clock, ManualClock as CoreManualClock};
use pyo3::prelude::*;

#[pyclass(frozen, name = "ManualClock", module = "ferrule._ferrule")]
#[derive(Clone)]
pub struct ManualClock {
    pub inner: CoreManualClock,
}

#[pymethods]
impl ManualClock {
    #[new]
    fn new() -> Self {
        Self {
            inner: CoreManualClock::new(),
        }
    }

    /// Moves time forward by `seconds` (0 to 1e9).
    fn advance(&self, seconds: f64) -> PyResult<()> {
        if ferrule_core::error::check::seconds("ManualClock.advance", "seconds", seconds).is_err() {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "ManualClock.advance: seconds={seconds} is out of range; allowed: a number of seconds in [0, 1e9]"
            )));
        }
        self.inner.advance_secs(seconds);
        Ok(())
    }

    /// Seconds since the clock's origin.
    fn now(&self) -> f64 {
        self.inner.now_nanos() as f64 / 1e9
    }
}
