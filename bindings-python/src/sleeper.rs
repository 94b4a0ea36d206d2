//! How a blocking rate-limit wait sleeps: through `gil::without_gil`, so other Python threads run
//! meanwhile, in slices of at most 50 ms with a signal check between them, so Ctrl-C interrupts a
//! long wait as it would `time.sleep`. On a manual clock a wait moves the clock instead.

use crate::gil::without_gil;
use ferrule_core::ManualClock;
use pyo3::prelude::*;
use std::time::{Duration, Instant};

/// Longest stretch spent without the GIL before checking for a pending signal.
const SIGNAL_CHECK: Duration = Duration::from_millis(50);

/// What a wait runs on: real time, or a manual clock that a wait moves forward (so code under test
/// that waits on a manual clock completes at once, having "slept" exactly the wait).
pub enum Sleeper {
    Real,
    Manual(ManualClock),
}

impl Sleeper {
    /// Waits `d`; returns early with the error if a signal handler raised (e.g. KeyboardInterrupt).
    pub fn wait(&self, py: Python<'_>, d: Duration) -> PyResult<()> {
        match self {
            Sleeper::Manual(clock) => {
                clock.advance(d);
                Ok(())
            }
            Sleeper::Real => {
                let end = Instant::now() + d;
                loop {
                    let left = end.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(());
                    }
                    let slice = left.min(SIGNAL_CHECK);
                    without_gil(py, || std::thread::sleep(slice));
                    py.check_signals()?;
                }
            }
        }
    }
}
