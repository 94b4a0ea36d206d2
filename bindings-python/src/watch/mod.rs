//! The watchers for the Python host layer (`ferrule/watch/`): conversion only. Each `*Core` is fed
//! explicitly and returns the events a value caused (or `None`), which the host dispatches.

pub mod alert_router;
pub mod anomaly;
pub mod dead_mans_switch;
pub mod drift;
pub mod event;
pub mod gauge_rows;
pub mod predictor;
pub mod slo;
pub mod synthetic_probe;

use crate::clock::ManualClock;
use ferrule_core::ClockRef;
use pyo3::prelude::*;

pub(crate) fn clock_of(clock: Option<PyRef<'_, ManualClock>>) -> ClockRef {
    clock
        .as_ref()
        .map_or(ClockRef::System, |c| ClockRef::Manual(c.inner.clone()))
}

/// `at` in seconds on the watcher's clock, or now.
#[inline]
pub(crate) fn at_nanos(clock: &ClockRef, at: Option<f64>) -> PyResult<u64> {
    match at {
        None => Ok(clock.now_nanos()),
        Some(s) if s.is_finite() && s >= 0.0 => Ok((s * 1e9) as u64),
        Some(s) => Err(pyo3::exceptions::PyValueError::new_err(format!(
            "at={s} is out of range; allowed: a finite number of seconds >= 0 on the watcher's clock"
        ))),
    }
}
