//! The one way this crate waits: every blocking wait goes through `wait`, which releases the GIL
//! (`Python::detach`) so other Python threads run meanwhile, and wakes at least every 50 ms to
//! check for signals, so Ctrl-C interrupts a long wait as it would `time.sleep`.

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
    /// Waits `d` with the GIL released; returns early with the error if a signal handler raised.
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
                    py.detach(|| std::thread::sleep(slice));
                    py.check_signals()?;
                }
            }
        }
    }
}
