//! Rate-limits repeated identical log events: the first of a kind in each window passes, the rest
//! are counted, and the next one that passes reports how many were suppressed.

use crate::clock::ClockRef;
use crate::striped::StripedCounter;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The 64-bit key of an event's rendered bytes: eight bytes per step, each folded in with a
/// 64x64->128-bit multiply (the wyhash mixer). FNV-1a, one multiply per byte, cost ~0.3 µs on a
/// 200-byte line; this is a few nanoseconds.
pub fn event_key(bytes: &[u8]) -> u64 {
    const P0: u64 = 0xa076_1d64_78bd_642f;
    const P1: u64 = 0xe703_7ed1_a0b4_28db;
    let mix = |a: u64, b: u64| {
        let r = (a as u128).wrapping_mul(b as u128);
        (r as u64) ^ ((r >> 64) as u64)
    };
    let mut h = P0 ^ bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = mix(w ^ P1, h ^ P0);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut b = [0u8; 8];
        b[..rest.len()].copy_from_slice(rest);
        h = mix(u64::from_le_bytes(b) ^ P1, h ^ P0);
    }
    mix(h ^ P1, P0)
}

/// The table's keys are already hashes (`event_key`), so hashing them again is wasted work.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed here; anything else is folded in plainly.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ b as u64;
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

type KeyMap = HashMap<u64, (u64, u64), BuildHasherDefault<KeyHasher>>;

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
    seen: Mutex<KeyMap>,
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
            seen: Mutex::new(KeyMap::default()),
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
    fn event_keys_tell_lines_apart() {
        let mut seen = std::collections::HashSet::new();
        let base =
            br#"{"level":"warning","event":"retry.attempt","message":"x","attempt":"#.to_vec();
        for i in 0..20_000u32 {
            let mut b = base.clone();
            b.extend_from_slice(i.to_string().as_bytes());
            assert!(seen.insert(event_key(&b)), "collision at {i}");
        }
        // Every length and every byte position counts, including a short tail.
        assert_ne!(event_key(b"abc"), event_key(b"abc\0"));
        assert_ne!(event_key(b""), event_key(b"\0"));
        assert_ne!(event_key(b"0123456789"), event_key(b"0123456798"));
        assert_eq!(event_key(b"same line"), event_key(b"same line"));
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
