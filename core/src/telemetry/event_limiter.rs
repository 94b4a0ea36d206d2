//! Rate-limits repeated identical log events: the first of a kind in each window passes, the rest
//! are counted, and the next one that passes reports how many were suppressed.

use crate::clock::ClockRef;
use crate::striped::StripedCounter;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

pub enum Verdict {
    /// Emit; carries how many identical events were suppressed since the last one emitted.
    Emit {
        suppressed: u64,
    },
    Suppress,
}

pub struct EventLimiter {
    clock: ClockRef,
    window_ns: AtomicU64,
    capacity: usize,
    // A lock: only ferrule's own events pass here (retries, trips, drops), which are rare next to
    // calls; a concurrent map of per-key windows is not worth it at that rate.
    seen: Mutex<HashMap<u64, (u64, u64)>>,
    /// When the full table was last swept (under the same lock), so a flood of distinct events
    /// sweeps at most once per window instead of once per event.
    last_sweep: AtomicU64,
    suppressed: StripedCounter,
    /// Events let through unchecked because the table was full of live keys.
    overflow: StripedCounter,
}

impl EventLimiter {
    pub fn new(clock: ClockRef, window_ns: u64, capacity: usize) -> Self {
        Self {
            clock,
            window_ns: AtomicU64::new(window_ns),
            capacity,
            seen: Mutex::new(HashMap::new()),
            last_sweep: AtomicU64::new(0),
            suppressed: StripedCounter::new(),
            overflow: StripedCounter::new(),
        }
    }

    /// 0 turns rate-limiting off.
    pub fn set_window_ns(&self, w: u64) {
        self.window_ns.store(w, Ordering::Relaxed);
    }

    /// `key` identifies "the same event" (a hash of everything but its time).
    pub fn check(&self, key: u64) -> Verdict {
        let w = self.window_ns.load(Ordering::Relaxed);
        if w == 0 {
            return Verdict::Emit { suppressed: 0 };
        }
        let now = self.clock.now_nanos();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((since, count)) = seen.get_mut(&key) {
            if now.saturating_sub(*since) < w {
                *count += 1;
                self.suppressed.inc();
                return Verdict::Suppress;
            }
            let n = *count;
            *since = now;
            *count = 0;
            return Verdict::Emit { suppressed: n };
        }
        if seen.len() >= self.capacity {
            let last = self.last_sweep.load(Ordering::Relaxed);
            if last == 0 || now.saturating_sub(last) >= w {
                self.last_sweep.store(now, Ordering::Relaxed);
                // Expired keys with nothing suppressed can be forgotten without losing a count.
                seen.retain(|_, (since, count)| now.saturating_sub(*since) < w || *count > 0);
            }
            if seen.len() >= self.capacity {
                self.overflow.inc();
                return Verdict::Emit { suppressed: 0 };
            }
        }
        seen.insert(key, (now, 0));
        Verdict::Emit { suppressed: 0 }
    }

    pub fn suppressed(&self) -> u64 {
        self.suppressed.get()
    }
    pub fn overflow(&self) -> u64 {
        self.overflow.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn suppresses_within_window_and_reports_count_after() {
        let clock = ManualClock::new();
        let l = EventLimiter::new(clock.clone().into(), 1_000_000_000, 16);
        assert!(matches!(l.check(1), Verdict::Emit { suppressed: 0 }));
        for _ in 0..5 {
            assert!(matches!(l.check(1), Verdict::Suppress));
        }
        assert!(matches!(l.check(2), Verdict::Emit { suppressed: 0 }));
        clock.advance_secs(1.0);
        assert!(matches!(l.check(1), Verdict::Emit { suppressed: 5 }));
        assert!(matches!(l.check(1), Verdict::Suppress));
        assert_eq!(l.suppressed(), 6);
    }

    #[test]
    fn full_table_lets_events_through_and_counts_it() {
        let clock = ManualClock::new();
        let l = EventLimiter::new(clock.clone().into(), 1_000_000_000, 2);
        l.check(1);
        l.check(2);
        assert!(matches!(l.check(3), Verdict::Emit { .. }));
        assert!(matches!(l.check(4), Verdict::Emit { .. }));
        assert_eq!(l.overflow(), 2);
        // Once the window has passed, a sweep frees the expired keys and checking resumes.
        clock.advance_secs(1.0);
        assert!(matches!(l.check(5), Verdict::Emit { suppressed: 0 }));
        assert!(matches!(l.check(5), Verdict::Suppress));
        assert_eq!(l.overflow(), 2);
    }
}
