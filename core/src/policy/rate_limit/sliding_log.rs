//! The exact sliding log: every admitted charge is kept with its time until it leaves the window, so
//! a request passes only if the units charged in the last `window` plus its own fit the limit. The
//! log is bounded by the limit (one entry per charge, merged when times are equal).

use super::rule::Rule;
use std::collections::VecDeque;
use std::sync::Mutex;

/// Largest `limit`: bounds each key's log to this many entries.
pub(crate) const MAX_LOG_LIMIT: u64 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SlidingLog {
    limit: u64,
    w: u64,
}

/// The log of one limiter or key. A lock, because admitting means reading and appending several
/// entries as one step, which no single atomic word can hold. It is held only for that step: never
/// across user code, a sleep or a call into the host.
#[derive(Debug, Default)]
pub(crate) struct Log {
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    /// (time, units), oldest first, times non-decreasing.
    charges: VecDeque<(u64, u64)>,
    total: u64,
}

impl Entries {
    fn expire(&mut self, now: u64, w: u64) {
        while let Some(&(t, n)) = self.charges.front() {
            if t + w > now {
                break;
            }
            self.charges.pop_front();
            self.total -= n;
        }
    }

    fn push(&mut self, now: u64, n: u64) {
        // Times stay sorted even when a caller read the clock just before another: taking the later
        // time only keeps a charge in the window longer.
        match self.charges.back_mut() {
            Some((t, m)) if *t >= now => *m += n,
            _ => self.charges.push_back((now, n)),
        }
        self.total += n;
    }
}

impl SlidingLog {
    /// `1 ≤ limit ≤ MAX_LOG_LIMIT` and `window_nanos ≥ 1` are checked by the caller.
    pub(crate) fn new(limit: u64, window_nanos: u64) -> Self {
        Self {
            limit,
            w: window_nanos,
        }
    }

    fn lock<'a>(&self, log: &'a Log) -> std::sync::MutexGuard<'a, Entries> {
        // Every update leaves the entries consistent, so a poisoned lock is still safe to use.
        log.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wait until `n` more fit, from expired-free entries where they do not.
    fn wait(&self, e: &Entries, now: u64, n: u64) -> u64 {
        let mut must_free = e.total + n - self.limit;
        for &(t, m) in &e.charges {
            if m >= must_free {
                return t + self.w - now;
            }
            must_free -= m;
        }
        self.w // unreachable while total + n > limit; a full window is the safe answer
    }
}

impl Rule for SlidingLog {
    type Cell = Log;

    fn new_cell(&self) -> Log {
        Log::default()
    }

    fn max_n(&self) -> u64 {
        self.limit
    }

    fn take(&self, cell: &Log, now: u64, n: u64) -> Result<(), u64> {
        let mut e = self.lock(cell);
        e.expire(now, self.w);
        if e.total + n > self.limit {
            return Err(self.wait(&e, now, n));
        }
        e.push(now, n);
        Ok(())
    }

    fn peek(&self, cell: &Log, now: u64, n: u64) -> u64 {
        let mut e = self.lock(cell);
        e.expire(now, self.w);
        if e.total + n > self.limit {
            self.wait(&e, now, n)
        } else {
            0
        }
    }

    fn refund(&self, cell: &Log, now: u64, n: u64, charged_at: u64) {
        if charged_at + self.w <= now {
            return; // the charge has left the window: nothing to give back
        }
        let mut e = self.lock(cell);
        e.expire(now, self.w);
        // Give back from the first entry at or after the charge: that is the charge itself (or one
        // made at the same instant), so the log stays exact.
        let mut left = n;
        let start = e.charges.partition_point(|&(t, _)| t < charged_at);
        let mut i = start;
        while left > 0 && i < e.charges.len() {
            let take = e.charges[i].1.min(left);
            e.charges[i].1 -= take;
            e.total -= take;
            left -= take;
            i += 1;
        }
        e.charges.retain(|&(_, m)| m > 0);
    }

    fn force(&self, cell: &Log, now: u64, n: u64) -> u64 {
        let mut e = self.lock(cell);
        e.expire(now, self.w);
        // The log stays bounded: at most twice the limit, the rest is reported as dropped.
        let room = (2 * self.limit).saturating_sub(e.total);
        let kept = n.min(room);
        if kept > 0 {
            e.push(now, kept);
        }
        n - kept
    }

    fn time_to_fresh(&self, cell: &Log, now: u64) -> u64 {
        let e = self.lock(cell);
        e.charges
            .back()
            .map_or(0, |&(t, _)| (t + self.w).saturating_sub(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: u64 = 1_000;

    #[test]
    fn exact_window_and_waits() {
        let s = SlidingLog::new(5, W);
        let c = s.new_cell();
        s.take(&c, 100, 2).unwrap();
        s.take(&c, 400, 3).unwrap();
        assert_eq!(s.take(&c, 500, 1), Err(100 + W - 500));
        assert_eq!(s.take(&c, 500, 3), Err(400 + W - 500));
        assert_eq!(s.take(&c, 100 + W - 1, 1), Err(1));
        s.take(&c, 100 + W, 2).unwrap();
        assert!(s.take(&c, 100 + W, 1).is_err());
    }

    #[test]
    fn refund_gives_back_the_charge_itself() {
        let s = SlidingLog::new(5, W);
        let c = s.new_cell();
        s.take(&c, 100, 2).unwrap();
        s.take(&c, 300, 3).unwrap();
        s.refund(&c, 350, 2, 300);
        // The charge at 100 is untouched: 2 + 1 remain, 2 more fit now.
        s.take(&c, 350, 2).unwrap();
        assert_eq!(s.take(&c, 350, 1), Err(100 + W - 350));
        // A refund after the charge has left the window gives nothing back.
        s.refund(&c, 100 + W, 2, 100);
        assert_eq!(s.peek(&c, 100 + W, 3), 300 + W - (100 + W));
    }

    #[test]
    fn force_is_bounded_and_counts_what_it_drops() {
        let s = SlidingLog::new(3, W);
        let c = s.new_cell();
        s.take(&c, 0, 3).unwrap();
        assert_eq!(s.force(&c, 10, 5), 2);
        assert_eq!(s.time_to_fresh(&c, 10), W);
        assert_eq!(s.time_to_fresh(&c, 10 + W), 0);
    }
}
