//! `NativeManualClock`: the core's manual clock, so node tests drive a breaker's state machine by
//! moving time by hand instead of sleeping. Time crosses in milliseconds, as `f64`.

use ferrule_core::{Clock, ManualClock};
use napi_derive::napi;
use std::time::Duration;

#[napi]
pub struct NativeManualClock {
    pub(crate) inner: ManualClock,
}

#[napi]
impl NativeManualClock {
    #[napi(constructor, catch_unwind)]
    pub fn new() -> Self {
        Self {
            inner: ManualClock::new(),
        }
    }

    /// Moves time forward; the host checked `ms` is finite and >= 0 (the cast saturates anyway).
    #[napi(catch_unwind)]
    pub fn advance(&self, ms: f64) {
        self.inner.advance(Duration::from_nanos((ms * 1e6) as u64));
    }

    /// Milliseconds since the clock's origin.
    #[napi(catch_unwind)]
    pub fn now(&self) -> f64 {
        self.inner.now_nanos() as f64 / 1e6
    }
}

impl Default for NativeManualClock {
    fn default() -> Self {
        Self::new()
    }
}
