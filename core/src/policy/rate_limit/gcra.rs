//! Token bucket as GCRA (the generic cell rate algorithm): the whole state is one `AtomicU64`, the
//! theoretical arrival time (TAT), updated with a compare-exchange loop, as in the governor crate.
//! A request of `n` passes when `max(TAT, now) + n·T ≤ now + burst·T`, T being the emission interval.

use super::rule::Rule;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gcra {
    /// Emission interval: nanoseconds per unit.
    t: u64,
    burst: u64,
    /// `burst · t`: how far ahead of now the TAT may run.
    tau: u64,
}

impl Gcra {
    /// `interval_nanos` ≥ 1 and `burst` ≥ 1 are checked by the caller.
    pub(crate) fn new(interval_nanos: u64, burst: u64) -> Self {
        Self {
            t: interval_nanos,
            burst,
            tau: interval_nanos.saturating_mul(burst),
        }
    }

    /// Nanoseconds per unit.
    /// Read only by the Redis scripts, which rebuild the same limit server-side.
    #[cfg(feature = "redis")]
    pub(crate) fn interval(&self) -> u64 {
        self.t
    }
}

impl Rule for Gcra {
    type Cell = AtomicU64;

    fn new_cell(&self) -> AtomicU64 {
        AtomicU64::new(0) // a TAT in the past: a full bucket
    }

    fn max_n(&self) -> u64 {
        self.burst
    }

    #[inline]
    fn take(&self, cell: &AtomicU64, now: u64, n: u64) -> Result<(), u64> {
        let inc = n * self.t;
        let limit = now + self.tau;
        let mut tat = cell.load(Ordering::Acquire);
        loop {
            let next = tat.max(now) + inc;
            if next > limit {
                return Err(next - limit);
            }
            match cell.compare_exchange_weak(tat, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(()),
                Err(seen) => tat = seen,
            }
        }
    }

    #[inline]
    fn peek(&self, cell: &AtomicU64, now: u64, n: u64) -> u64 {
        let next = cell.load(Ordering::Acquire).max(now) + n * self.t;
        next.saturating_sub(now + self.tau)
    }

    fn refund(&self, cell: &AtomicU64, _now: u64, n: u64, _charged_at: u64) {
        // Moving the TAT back by n·T returns exactly n units; below `now` the bucket is simply full.
        let dec = n * self.t;
        let _ = cell.fetch_update(Ordering::AcqRel, Ordering::Acquire, |tat| {
            Some(tat.saturating_sub(dec))
        });
    }

    fn force(&self, cell: &AtomicU64, now: u64, n: u64) -> u64 {
        let inc = n.saturating_mul(self.t);
        let _ = cell.fetch_update(Ordering::AcqRel, Ordering::Acquire, |tat| {
            Some(tat.max(now).saturating_add(inc))
        });
        0
    }

    fn time_to_fresh(&self, cell: &AtomicU64, now: u64) -> u64 {
        cell.load(Ordering::Acquire).saturating_sub(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn full_bucket_admits_burst_then_waits_one_interval_per_unit() {
        let g = Gcra::new(S / 10, 3); // 10/s, burst 3
        let c = g.new_cell();
        let now = 5 * S;
        for _ in 0..3 {
            assert_eq!(g.take(&c, now, 1), Ok(()));
        }
        assert_eq!(g.take(&c, now, 1), Err(S / 10));
        assert_eq!(g.take(&c, now, 2), Err(2 * S / 10));
        assert_eq!(g.peek(&c, now, 1), S / 10);
        assert_eq!(g.take(&c, now + S / 10, 1), Ok(()));
    }

    #[test]
    fn refund_returns_exactly_what_was_taken_and_force_runs_into_debt() {
        let g = Gcra::new(10, 4);
        let c = g.new_cell();
        let now = 1000;
        g.take(&c, now, 4).unwrap();
        assert!(g.take(&c, now, 1).is_err());
        g.refund(&c, now, 2, now);
        g.take(&c, now, 2).unwrap();
        assert!(g.take(&c, now, 1).is_err());
        assert_eq!(g.force(&c, now, 3), 0);
        assert_eq!(
            g.peek(&c, now, 1),
            40,
            "3 units of debt plus the unit asked for"
        );
        assert_eq!(g.time_to_fresh(&c, now), 70);
        assert_eq!(g.time_to_fresh(&c, now + 70), 0);
    }
}
