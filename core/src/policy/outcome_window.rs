//! The sliding window of call outcomes a circuit breaker judges by: count-based (the last N calls)
//! or time-based (the last S seconds in buckets). Lock-free: the count window keeps one slot byte per
//! call plus one packed aggregate word; the time window keeps per-bucket atomics stamped with an epoch.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

/// The largest count window: the packed aggregate holds signed 21-bit fields.
pub const MAX_COUNT_WINDOW: u64 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WindowSpec {
    /// The last `n` recorded calls.
    Count(u32),
    /// The last `nanos` of time, split into `buckets` equal buckets.
    Time { nanos: u64, buckets: u32 },
}

impl WindowSpec {
    /// Builds the window from host options: a call count, or a duration in seconds split into
    /// buckets; never both. Neither gives the default, the last 20 calls.
    pub fn from_options(
        component: &'static str,
        count: Option<i64>,
        seconds: Option<f64>,
        buckets: i64,
    ) -> crate::Result<Self> {
        use crate::error::{check, Error};
        match (count, seconds) {
            (Some(n), Some(s)) => Err(Error::conflict(
                component,
                "window",
                n,
                format!("window_seconds={s} was given too; choose a count window or a time window"),
            )),
            (Some(n), None) => Ok(WindowSpec::Count(check::int(
                component,
                "window",
                n as i128,
                1,
                MAX_COUNT_WINDOW,
            )? as u32)),
            (None, Some(s)) => {
                let b = check::int(component, "window_buckets", buckets as i128, 1, 1000)?;
                // Guards the cast to nanoseconds; the per-bucket minimum is judged with the rest
                // of the breaker's rules in `BreakerConfig::validate`.
                if !(s.is_finite() && s > 0.0 && s <= 31_536_000.0) {
                    return Err(Error::out_of_range(
                        component,
                        "window_seconds",
                        s,
                        "(0, 31536000]",
                    ));
                }
                Ok(WindowSpec::Time {
                    nanos: (s * 1e9) as u64,
                    buckets: b as u32,
                })
            }
            (None, None) => Ok(WindowSpec::Count(20)),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WindowTotals {
    pub calls: u64,
    pub failures: u64,
    pub slow: u64,
}

#[derive(Debug)]
pub enum OutcomeWindow {
    Count(CountWindow),
    Time(TimeWindow),
}

impl OutcomeWindow {
    pub fn new(spec: WindowSpec) -> Self {
        match spec {
            WindowSpec::Count(n) => OutcomeWindow::Count(CountWindow::new(n as usize)),
            WindowSpec::Time { nanos, buckets } => {
                OutcomeWindow::Time(TimeWindow::new(nanos, buckets))
            }
        }
    }

    /// Records one outcome and returns the totals including it.
    #[inline]
    pub fn record(&self, failure: bool, slow: bool, now: u64) -> WindowTotals {
        match self {
            OutcomeWindow::Count(w) => w.record(failure, slow),
            OutcomeWindow::Time(w) => w.record(failure, slow, now),
        }
    }

    pub fn totals(&self, now: u64) -> WindowTotals {
        match self {
            OutcomeWindow::Count(w) => w.totals(),
            OutcomeWindow::Time(w) => w.totals(now),
        }
    }

    pub fn reset(&self) {
        match self {
            OutcomeWindow::Count(w) => w.reset(),
            OutcomeWindow::Time(w) => w.reset(),
        }
    }

    pub fn needs_time(&self) -> bool {
        matches!(self, OutcomeWindow::Time(_))
    }
}

// ---- count window ---------------------------------------------------------------------------

const SLOT_USED: u8 = 1;
const SLOT_FAILURE: u8 = 2;
const SLOT_SLOW: u8 = 4;
const FIELD_BITS: u32 = 21;
const FIELD_MASK: u64 = (1 << FIELD_BITS) - 1;

#[inline]
fn pack_slot(slot: u8) -> u64 {
    (slot & SLOT_USED) as u64
        | (((slot & SLOT_FAILURE) >> 1) as u64) << FIELD_BITS
        | (((slot & SLOT_SLOW) >> 2) as u64) << (2 * FIELD_BITS)
}

#[inline]
fn sign_extend(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// Decodes three signed fields packed by plain wrapping addition. Concurrent updates may leave a
/// field briefly negative (a decrement applied before its matching increment); signed fields keep
/// the others exact through that moment.
#[inline]
pub(crate) fn decode(w: u64) -> WindowTotals {
    let f0 = sign_extend(w & FIELD_MASK, FIELD_BITS);
    let w1 = w.wrapping_sub(f0 as u64) >> FIELD_BITS;
    let f1 = sign_extend(w1 & FIELD_MASK, FIELD_BITS);
    let w2 = w1.wrapping_sub(f1 as u64) >> FIELD_BITS;
    let f2 = sign_extend(w2, 64 - 2 * FIELD_BITS);
    WindowTotals {
        calls: f0.max(0) as u64,
        failures: f1.max(0) as u64,
        slow: f2.max(0) as u64,
    }
}

#[derive(Debug)]
pub struct CountWindow {
    slots: Box<[AtomicU8]>,
    pos: AtomicU64,
    agg: AtomicU64,
}

impl CountWindow {
    pub fn new(n: usize) -> Self {
        assert!(
            n >= 1 && n as u64 <= MAX_COUNT_WINDOW,
            "count window out of range"
        );
        Self {
            slots: (0..n).map(|_| AtomicU8::new(0)).collect(),
            pos: AtomicU64::new(0),
            agg: AtomicU64::new(0),
        }
    }

    #[inline]
    pub fn record(&self, failure: bool, slow: bool) -> WindowTotals {
        let i = (self.pos.fetch_add(1, Ordering::Relaxed) % self.slots.len() as u64) as usize;
        let new =
            SLOT_USED | if failure { SLOT_FAILURE } else { 0 } | if slow { SLOT_SLOW } else { 0 };
        let old = self.slots[i].swap(new, Ordering::AcqRel);
        if old == new {
            // The steady state (a success replacing a success) changes no total: no shared write.
            return decode(self.agg.load(Ordering::Acquire));
        }
        let delta = pack_slot(new).wrapping_sub(pack_slot(old));
        decode(
            self.agg
                .fetch_add(delta, Ordering::AcqRel)
                .wrapping_add(delta),
        )
    }

    pub fn totals(&self) -> WindowTotals {
        decode(self.agg.load(Ordering::Acquire))
    }

    /// Empties every slot, subtracting exactly what each held, so a record racing the reset keeps
    /// slots and totals consistent.
    pub fn reset(&self) {
        for s in self.slots.iter() {
            let old = s.swap(0, Ordering::AcqRel);
            if old != 0 {
                self.agg.fetch_sub(pack_slot(old), Ordering::AcqRel);
            }
        }
    }
}

// ---- time window ----------------------------------------------------------------------------

const RESETTING: u64 = u64::MAX;

#[derive(Debug, Default)]
struct Bucket {
    /// The bucket index (time / width) the counts belong to; 0 = never used.
    epoch: AtomicU64,
    calls: AtomicU64,
    failures: AtomicU64,
    slow: AtomicU64,
}

#[derive(Debug)]
pub struct TimeWindow {
    buckets: Box<[Bucket]>,
    width: u64,
}

impl TimeWindow {
    pub fn new(nanos: u64, buckets: u32) -> Self {
        assert!(
            buckets >= 1 && nanos >= buckets as u64,
            "time window out of range"
        );
        Self {
            buckets: (0..buckets).map(|_| Bucket::default()).collect(),
            width: nanos / buckets as u64,
        }
    }

    #[inline]
    pub fn record(&self, failure: bool, slow: bool, now: u64) -> WindowTotals {
        let idx = now / self.width;
        let b = &self.buckets[(idx % self.buckets.len() as u64) as usize];
        loop {
            let e = b.epoch.load(Ordering::Acquire);
            if e == idx {
                break;
            }
            if e == RESETTING {
                std::hint::spin_loop();
                continue;
            }
            if e > idx {
                // A caller delayed by a whole window: its outcome is already outside the window.
                return self.totals(now);
            }
            // The bucket holds an old epoch: the one thread that wins the exchange clears it while
            // the others spin for the few instructions that takes.
            if b.epoch
                .compare_exchange(e, RESETTING, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                b.calls.store(0, Ordering::Relaxed);
                b.failures.store(0, Ordering::Relaxed);
                b.slow.store(0, Ordering::Relaxed);
                b.epoch.store(idx, Ordering::Release);
                break;
            }
        }
        b.calls.fetch_add(1, Ordering::AcqRel);
        if failure {
            b.failures.fetch_add(1, Ordering::AcqRel);
        }
        if slow {
            b.slow.fetch_add(1, Ordering::AcqRel);
        }
        self.totals(now)
    }

    pub fn totals(&self, now: u64) -> WindowTotals {
        let idx = now / self.width;
        let n = self.buckets.len() as u64;
        let mut t = WindowTotals::default();
        for b in self.buckets.iter() {
            let e = b.epoch.load(Ordering::Acquire);
            if e != RESETTING && e != 0 && e <= idx && e + n > idx {
                t.calls += b.calls.load(Ordering::Relaxed);
                t.failures += b.failures.load(Ordering::Relaxed);
                t.slow += b.slow.load(Ordering::Relaxed);
            }
        }
        t
    }

    pub fn reset(&self) {
        for b in self.buckets.iter() {
            b.epoch.store(0, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn count_window_keeps_last_n() {
        let w = CountWindow::new(4);
        for _ in 0..4 {
            w.record(true, false);
        }
        assert_eq!(
            w.totals(),
            WindowTotals {
                calls: 4,
                failures: 4,
                slow: 0
            }
        );
        w.record(false, true);
        w.record(false, false);
        assert_eq!(
            w.totals(),
            WindowTotals {
                calls: 4,
                failures: 2,
                slow: 1
            }
        );
        w.reset();
        assert_eq!(w.totals(), WindowTotals::default());
        w.record(true, true);
        assert_eq!(
            w.totals(),
            WindowTotals {
                calls: 1,
                failures: 1,
                slow: 1
            }
        );
    }

    #[test]
    fn time_window_expires_old_buckets() {
        let s = 1_000_000_000u64;
        let w = TimeWindow::new(10 * s, 10);
        let t0 = 100 * s;
        w.record(true, false, t0);
        w.record(false, false, t0 + s);
        assert_eq!(
            w.totals(t0 + s),
            WindowTotals {
                calls: 2,
                failures: 1,
                slow: 0
            }
        );
        // 9.5 s later the first bucket (t0) has left the window, the second not yet.
        assert_eq!(w.totals(t0 + 10 * s).calls, 1);
        assert_eq!(w.totals(t0 + 11 * s).calls, 0);
        // A bucket slot reused by a later epoch starts from zero.
        w.record(false, true, t0 + 20 * s);
        assert_eq!(
            w.totals(t0 + 20 * s),
            WindowTotals {
                calls: 1,
                failures: 0,
                slow: 1
            }
        );
    }

    #[test]
    fn concurrent_count_window_totals_match_slots() {
        let w = std::sync::Arc::new(CountWindow::new(64));
        let hs: Vec<_> = (0..8)
            .map(|t| {
                let w = w.clone();
                std::thread::spawn(move || {
                    for i in 0..20_000u32 {
                        w.record((i + t) % 3 == 0, i % 5 == 0);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let mut expect = WindowTotals::default();
        for s in w.slots.iter() {
            let v = s.load(Ordering::Relaxed);
            expect.calls += (v & SLOT_USED) as u64;
            expect.failures += ((v & SLOT_FAILURE) >> 1) as u64;
            expect.slow += ((v & SLOT_SLOW) >> 2) as u64;
        }
        assert_eq!(w.totals(), expect);
        assert_eq!(expect.calls, 64);
    }

    proptest! {
        #[test]
        fn packed_fields_decode_exactly(a in -1000i64..1_000_000, b in -1000i64..1_000_000, c in -1000i64..1_000_000) {
            let w = (a as u64)
                .wrapping_add((b as u64).wrapping_shl(FIELD_BITS))
                .wrapping_add((c as u64).wrapping_shl(2 * FIELD_BITS));
            let t = decode(w);
            prop_assert_eq!(t.calls, a.max(0) as u64);
            prop_assert_eq!(t.failures, b.max(0) as u64);
            prop_assert_eq!(t.slow, c.max(0) as u64);
        }
    }
}
