//! The watchers for the JS host layer (`bindings-node/watch.js`): options arrive in Node units
//! (ms, camelCase) and are converted once; each native watcher is fed explicitly and returns the
//! events a value caused (or nothing), which the host hands to its listeners.

pub mod alerting;
pub mod anomaly;
pub mod drift;
pub mod event;
pub mod gauge_rows;
pub mod predictor;
pub mod slo;

use crate::clock::NativeManualClock;
use ferrule_core::ClockRef;

pub(crate) fn clock_of(clock: Option<&NativeManualClock>) -> ClockRef {
    clock.map_or(ClockRef::System, |c| ClockRef::Manual(c.inner.clone()))
}

/// `atMs` on the watcher's clock, or now. The host checked it is a finite number >= 0.
#[inline]
pub(crate) fn at_nanos(clock: &ClockRef, at_ms: Option<f64>) -> u64 {
    at_ms.map_or_else(|| clock.now_nanos(), |ms| (ms * 1e6) as u64)
}

pub(crate) fn secs(ms: f64) -> f64 {
    ms / 1000.0
}

/// Like the breaker's: a JS number that is not a whole non-negative number becomes 0, which every
/// integer range the core checks refuses, so the core still names the parameter and range.
pub(crate) fn int(v: f64) -> u32 {
    if v.fract() == 0.0 && v >= 0.0 {
        v.min(u32::MAX as f64) as u32
    } else {
        0
    }
}
