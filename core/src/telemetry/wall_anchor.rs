//! Wall time for monotonic readings. Span times are exported as Unix-epoch nanoseconds but read from
//! the monotonic clock (cheap, never backwards). A single offset fixed at start drifts: the CPU
//! counter's calibration is off by a few ppm (tens of ms per hour), and NTP steps move the wall
//! clock. So the offset is re-anchored to `SystemTime` at most once per interval, by whichever
//! caller first sees it stale; every other caller only does one relaxed load and a compare.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Re-anchor once a second: the counter's drift stays under ~10 µs between anchors.
pub const DEFAULT_REANCHOR_NANOS: u64 = 1_000_000_000;

pub fn system_unix_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

#[derive(Debug)]
pub struct WallAnchor {
    /// Unix nanoseconds minus monotonic nanoseconds at the last anchor.
    offset: AtomicI64,
    /// Monotonic nanoseconds of the last anchor.
    anchored_at: AtomicU64,
    /// 0 disables re-anchoring (a manual clock in tests keeps one fixed offset).
    every_nanos: u64,
}

impl WallAnchor {
    pub fn new(mono_now: u64, wall_now: i64, every_nanos: u64) -> Self {
        Self {
            offset: AtomicI64::new(wall_now - mono_now as i64),
            anchored_at: AtomicU64::new(mono_now),
            every_nanos,
        }
    }

    /// Unix nanoseconds for the monotonic reading `mono`. `now` gives a fresh (monotonic, wall)
    /// pair; it is called only when the anchor is stale, by one caller.
    #[inline]
    pub fn unix_nanos(&self, mono: u64, now: impl FnOnce() -> (u64, i64)) -> u64 {
        if self.every_nanos != 0 {
            let at = self.anchored_at.load(Ordering::Relaxed);
            if mono.saturating_sub(at) >= self.every_nanos
                && self
                    .anchored_at
                    .compare_exchange(at, mono, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                let (m, w) = now();
                self.offset.store(w - m as i64, Ordering::Relaxed);
            }
        }
        (mono as i64 + self.offset.load(Ordering::Relaxed)).max(0) as u64
    }

    pub fn offset(&self) -> i64 {
        self.offset.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn fixed_when_disabled() {
        let a = WallAnchor::new(1_000, 5_000, 0);
        let calls = Cell::new(0);
        let u = a.unix_nanos(10_000_000_000, || {
            calls.set(calls.get() + 1);
            (0, 0)
        });
        assert_eq!(u, 10_000_004_000);
        assert_eq!(calls.get(), 0);
    }

    #[test]
    fn drift_is_corrected_once_per_interval() {
        // The wall clock runs 10 ppm faster than the monotonic one.
        let wall_at = |mono: u64| 1_700_000_000_000_000_000i64 + (mono as f64 * 1.00001) as i64;
        let a = WallAnchor::new(0, wall_at(0), 1_000_000_000);
        let calls = Cell::new(0);
        let fresh = |m: u64| {
            a.unix_nanos(m, || {
                calls.set(calls.get() + 1);
                (m, wall_at(m))
            })
        };
        // Within the first interval: the start offset, no re-anchor.
        assert_eq!(fresh(999_999_999), (wall_at(0) + 999_999_999) as u64);
        assert_eq!(calls.get(), 0);
        // One hour later: re-anchored, so the error is gone (it would be 36 ms otherwise).
        let hour = 3_600_000_000_000u64;
        assert_eq!(fresh(hour), wall_at(hour) as u64);
        assert_eq!(calls.get(), 1);
        // Within the next second: no further anchor, the error stays under 10 µs.
        let later = hour + 500_000_000;
        let err = fresh(later) as i64 - wall_at(later);
        assert!(err.abs() < 10_000, "{err}");
        assert_eq!(calls.get(), 1);
    }

    #[test]
    fn one_reanchor_among_racing_threads() {
        let a = std::sync::Arc::new(WallAnchor::new(0, 0, 1_000));
        let calls = std::sync::Arc::new(AtomicU64::new(0));
        std::thread::scope(|s| {
            for _ in 0..8 {
                let (a, calls) = (a.clone(), calls.clone());
                s.spawn(move || {
                    for _ in 0..1000 {
                        a.unix_nanos(5_000, || {
                            calls.fetch_add(1, Ordering::Relaxed);
                            (5_000, 7_000)
                        });
                    }
                });
            }
        });
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        assert_eq!(a.offset(), 2_000);
    }
}
