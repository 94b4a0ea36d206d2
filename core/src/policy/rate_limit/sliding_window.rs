//! The sliding-window counter (two buckets, O(1)): the count of the current fixed window plus the
//! previous window's count weighted by how much of it still overlaps the sliding window. Both counts
//! and the window index are packed into one `AtomicU64` and updated with a compare-exchange loop.

use super::rule::Rule;
use std::sync::atomic::{AtomicU64, Ordering};

/// Largest `limit`: keeps at least 8 bits of window index next to the two count fields.
pub(crate) const MAX_WINDOW_LIMIT: u64 = (1 << 27) - 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SlidingWindow {
    limit: u64,
    /// Window length in nanoseconds.
    w: u64,
    /// Bits per count field: one more than the limit needs, so a forced over-charge still fits.
    bits: u32,
    count_mask: u64,
    index_mask: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct View {
    index: u64,
    prev: u64,
    cur: u64,
    /// Nanoseconds since the current window began.
    elapsed: u64,
}

impl SlidingWindow {
    /// `1 ≤ limit ≤ MAX_WINDOW_LIMIT` and `window_nanos ≥ 1` are checked by the caller.
    pub(crate) fn new(limit: u64, window_nanos: u64) -> Self {
        let bits = (64 - limit.leading_zeros()) + 1;
        Self {
            limit,
            w: window_nanos,
            bits,
            count_mask: (1 << bits) - 1,
            index_mask: (1u64 << (64 - 2 * bits)) - 1,
        }
    }

    /// Window length in nanoseconds.
    /// Read only by the Redis scripts, which rebuild the same limit server-side.
    #[cfg(feature = "redis")]
    pub(crate) fn window(&self) -> u64 {
        self.w
    }

    #[inline]
    fn pack(&self, index: u64, prev: u64, cur: u64) -> u64 {
        ((index & self.index_mask) << (2 * self.bits)) | (prev << self.bits) | cur
    }

    /// Reads the packed word as of `now`: a stored window one behind becomes the previous bucket, an
    /// older one is empty. The index wraps; a cell idle for an exact multiple of 2^k windows reads its
    /// old counts as current, which can only deny, never over-admit.
    ///
    /// A stored window one *ahead* of `now` means this thread read the clock, was preempted, and
    /// another thread has since charged the next window: the view is that window as of its first
    /// instant (everything in it counts, the previous bucket at full weight), so the stale reading
    /// can neither wipe the newer counts nor admit past them. (Idle exactly 2^k − 1 windows reads the
    /// same way: again it can only deny, for at most one window.)
    #[inline]
    fn view(&self, word: u64, now: u64) -> View {
        let index = now / self.w;
        let stored = word >> (2 * self.bits);
        let prev = (word >> self.bits) & self.count_mask;
        let cur = word & self.count_mask;
        let behind = index.wrapping_sub(stored) & self.index_mask;
        if behind == self.index_mask {
            return View {
                index: index + 1,
                prev,
                cur,
                elapsed: 0,
            };
        }
        let (prev, cur) = match behind {
            0 => (prev, cur),
            1 => (cur, 0),
            _ => (0, 0),
        };
        View {
            index,
            prev,
            cur,
            elapsed: now % self.w,
        }
    }

    /// Does `n` more fit? `prev·(w − elapsed)/w + cur + n ≤ limit`, in integers.
    #[inline]
    fn fits(&self, v: &View, n: u64) -> bool {
        (v.prev as u128) * ((self.w - v.elapsed) as u128) + ((v.cur + n) as u128) * (self.w as u128)
            <= (self.limit as u128) * (self.w as u128)
    }

    /// Wait until `n` fits, from a view where it does not.
    fn wait(&self, v: &View, n: u64) -> u64 {
        let w = self.w as u128;
        // The earliest offset e into a window with `weighted` in its previous bucket at which
        // weighted·(w − e) ≤ room·w.
        let earliest = |weighted: u64, room: u64| -> u64 {
            if weighted == 0 {
                return 0;
            }
            let keep = (room as u128 * w) / weighted as u128; // largest allowed w − e
            (w - keep.min(w)) as u64
        };
        if v.cur + n <= self.limit {
            // Fits later in this window, once enough of the previous window has slid out.
            earliest(v.prev, self.limit - v.cur - n)
                .saturating_sub(v.elapsed)
                .max(1)
        } else {
            // Not in this window: in the next, `cur` becomes the weighted previous bucket.
            let rest = self.w - v.elapsed;
            if v.cur <= self.limit {
                rest + earliest(v.cur, self.limit - n)
            } else {
                rest + self.w // a forced over-charge: wait for it to leave both buckets
            }
        }
    }
}

impl Rule for SlidingWindow {
    type Cell = AtomicU64;

    fn new_cell(&self) -> AtomicU64 {
        AtomicU64::new(0)
    }

    fn max_n(&self) -> u64 {
        self.limit
    }

    #[inline]
    fn take(&self, cell: &AtomicU64, now: u64, n: u64) -> Result<(), u64> {
        let mut word = cell.load(Ordering::Acquire);
        loop {
            let v = self.view(word, now);
            if !self.fits(&v, n) {
                return Err(self.wait(&v, n));
            }
            let next = self.pack(v.index, v.prev, v.cur + n);
            match cell.compare_exchange_weak(word, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(()),
                Err(seen) => word = seen,
            }
        }
    }

    fn peek(&self, cell: &AtomicU64, now: u64, n: u64) -> u64 {
        let v = self.view(cell.load(Ordering::Acquire), now);
        if self.fits(&v, n) {
            0
        } else {
            self.wait(&v, n)
        }
    }

    fn refund(&self, cell: &AtomicU64, now: u64, n: u64, charged_at: u64) {
        let charged_index = charged_at / self.w;
        let _ = cell.fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
            let v = self.view(word, now);
            match v.index.checked_sub(charged_index) {
                Some(0) => Some(self.pack(v.index, v.prev, v.cur.saturating_sub(n))),
                Some(1) => Some(self.pack(v.index, v.prev.saturating_sub(n), v.cur)),
                _ => None, // the charge has left the sliding window already
            }
        });
    }

    fn force(&self, cell: &AtomicU64, now: u64, n: u64) -> u64 {
        let mut dropped = 0;
        let _ = cell.fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
            let v = self.view(word, now);
            let cur = v.cur.saturating_add(n).min(self.count_mask);
            dropped = n - (cur - v.cur);
            Some(self.pack(v.index, v.prev, cur))
        });
        dropped
    }

    fn time_to_fresh(&self, cell: &AtomicU64, now: u64) -> u64 {
        let v = self.view(cell.load(Ordering::Acquire), now);
        let rest = self.w - v.elapsed;
        match (v.prev, v.cur) {
            (0, 0) => 0,
            (_, 0) => rest,
            _ => rest + self.w,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: u64 = 60_000_000_000;

    #[test]
    fn previous_window_is_weighted_by_its_overlap() {
        let s = SlidingWindow::new(100, W);
        let c = s.new_cell();
        let t0 = 10 * W;
        s.take(&c, t0, 100).unwrap();
        assert!(s.take(&c, t0 + W - 1, 1).is_err());
        // A quarter into the next window, 75 of the previous 100 still count.
        let t = 11 * W + W / 4;
        s.take(&c, t, 25).unwrap();
        let e = s.take(&c, t, 1).unwrap_err();
        // One more fits once prev·(w − e)/w ≤ 74, i.e. at e = 0.26·w.
        assert_eq!(e, W / 100);
        assert_eq!(s.take(&c, t + e - 1, 1), Err(1));
        assert_eq!(s.take(&c, t + e, 1), Ok(()));
    }

    #[test]
    fn a_full_window_waits_into_the_next_and_old_windows_are_empty() {
        let s = SlidingWindow::new(10, W);
        let c = s.new_cell();
        let t0 = 3 * W;
        s.take(&c, t0, 10).unwrap();
        // Next window: 10 weighted, room for 1 once 9/10 of the window passed.
        let wait = s.take(&c, t0, 1).unwrap_err();
        assert_eq!(wait, W + W / 10);
        assert_eq!(s.take(&c, t0 + wait - 1, 1), Err(1));
        assert_eq!(s.take(&c, t0 + wait, 1), Ok(()));
        assert_eq!(
            s.peek(&c, 10 * W, 10),
            0,
            "two windows on, the cell is fresh"
        );
        assert_eq!(s.time_to_fresh(&c, 10 * W), 0);
    }

    #[test]
    fn a_stale_clock_reading_never_wipes_or_overruns_the_next_window() {
        // Thread A reads the clock just before a window boundary and is preempted; thread B charges
        // the next window to the limit. A's take with its stale reading must see B's counts.
        let s = SlidingWindow::new(10, W);
        let c = s.new_cell();
        s.take(&c, 5 * W + 1, 10).unwrap();
        let stale = 5 * W - 1;
        let wait = s.take(&c, stale, 1).unwrap_err();
        assert!(wait > 0);
        assert_eq!(s.peek(&c, stale, 1), wait);
        // B's counts survive: the window is still full for an up-to-date reader.
        assert!(s.take(&c, 5 * W + 2, 1).is_err());
        // A refund charged in the newer window, applied with a stale reading, still lands there.
        s.refund(&c, stale, 3, 5 * W + 1);
        assert_eq!(s.take(&c, 5 * W + 2, 3), Ok(()));
        assert!(s.take(&c, 5 * W + 2, 1).is_err());
    }

    #[test]
    fn refund_and_force() {
        let s = SlidingWindow::new(10, W);
        let c = s.new_cell();
        s.take(&c, W, 10).unwrap();
        s.refund(&c, W + 5, 4, W);
        s.take(&c, W + 5, 4).unwrap();
        assert!(s.take(&c, W + 5, 1).is_err());
        assert_eq!(s.force(&c, W + 5, 5), 0);
        assert_eq!(
            s.peek(&c, W + 5, 1),
            2 * W - 5,
            "15 > limit: both windows must pass"
        );
        // Field saturates at 2^bits − 1 = 31; the rest is reported dropped.
        assert_eq!(s.force(&c, W + 5, 20), 4);
        assert_eq!(
            s.force(&c, W + 5, u64::MAX),
            u64::MAX,
            "full: nothing more fits"
        );
    }
}
