//! Monotonic time for every primitive. Primitives never call `Instant::now()` directly: they read a
//! `Clock`, so tests drive state machines on a `ManualClock` and never sleep for real.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// A monotonic clock in nanoseconds since an arbitrary origin fixed for the process.
pub trait Clock: Send + Sync + 'static {
    fn now_nanos(&self) -> u64;
}

/// The real monotonic clock (`Instant`), shared origin for the whole process.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

impl Clock for SystemClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        // Starts at 1 s so that "0" can never be confused with a real timestamp.
        origin().elapsed().as_nanos() as u64 + 1_000_000_000
    }
}

/// A clock that only moves when told to. Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    pub fn new() -> Self {
        Self {
            nanos: Arc::new(AtomicU64::new(1_000_000_000)),
        }
    }
    pub fn advance(&self, d: Duration) {
        self.nanos.fetch_add(d.as_nanos() as u64, Ordering::SeqCst);
    }
    pub fn advance_secs(&self, s: f64) {
        self.advance(Duration::from_secs_f64(s));
    }
    pub fn set_nanos(&self, n: u64) {
        self.nanos.store(n, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        self.nanos.load(Ordering::SeqCst)
    }
}

/// The clock a primitive holds. An enum rather than `Arc<dyn Clock>` so the common case (the system
/// clock) is a direct, inlinable call on the hot path.
#[derive(Clone, Default)]
pub enum ClockRef {
    #[default]
    System,
    Manual(ManualClock),
    Custom(Arc<dyn Clock>),
}

impl std::fmt::Debug for ClockRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClockRef::System => f.write_str("SystemClock"),
            ClockRef::Manual(_) => f.write_str("ManualClock"),
            ClockRef::Custom(_) => f.write_str("CustomClock"),
        }
    }
}

impl ClockRef {
    #[inline]
    pub fn now_nanos(&self) -> u64 {
        match self {
            ClockRef::System => SystemClock.now_nanos(),
            ClockRef::Manual(m) => m.now_nanos(),
            ClockRef::Custom(c) => c.now_nanos(),
        }
    }
}

impl ClockRef {
    /// Whether two clocks read the same time (so deadlines on them compare).
    pub fn same_as(&self, other: &ClockRef) -> bool {
        match (self, other) {
            (ClockRef::System, ClockRef::System) => true,
            (ClockRef::Manual(a), ClockRef::Manual(b)) => Arc::ptr_eq(&a.nanos, &b.nanos),
            (ClockRef::Custom(a), ClockRef::Custom(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl From<ManualClock> for ClockRef {
    fn from(m: ManualClock) -> Self {
        ClockRef::Manual(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_is_monotonic_and_nonzero() {
        let a = SystemClock.now_nanos();
        let b = SystemClock.now_nanos();
        assert!(a >= 1_000_000_000);
        assert!(b >= a);
    }

    #[test]
    fn manual_clock_moves_only_when_told_and_clones_share_time() {
        let c = ManualClock::new();
        let d = c.clone();
        let t0 = c.now_nanos();
        assert_eq!(c.now_nanos(), t0);
        d.advance(Duration::from_millis(1500));
        assert_eq!(c.now_nanos(), t0 + 1_500_000_000);
    }
}
