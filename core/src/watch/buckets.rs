//! A ring of fixed-width time buckets counting calls and bad calls: per-minute for the alerting
//! windows, per-hour for the budget window. Each slot remembers which bucket it holds, so a slot
//! left over from a lap ago is never counted. Memory is fixed at construction: 16 bytes a slot.

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Slot {
    /// `at / width`, plus one so that 0 means "never used".
    epoch: u64,
    total: u32,
    bad: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: u64,
    pub bad: u64,
}

impl Counts {
    pub fn bad_ratio(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.bad as f64 / self.total as f64
        }
    }
}

#[derive(Debug, Clone)]
pub struct BucketRing {
    width_nanos: u64,
    slots: Box<[Slot]>,
}

impl BucketRing {
    pub fn new(width_nanos: u64, buckets: usize) -> Self {
        Self {
            width_nanos,
            slots: vec![Slot::default(); buckets.max(1)].into_boxed_slice(),
        }
    }

    #[inline]
    fn epoch(&self, at_nanos: u64) -> u64 {
        at_nanos / self.width_nanos + 1
    }

    /// Counts one call; `false` when `at_nanos` is older than the ring's span (an `at=` far in the
    /// past), which no bucket can hold: the caller counts that drop.
    #[inline]
    pub fn add(&mut self, at_nanos: u64, bad: bool) -> bool {
        let e = self.epoch(at_nanos);
        let i = (e % self.slots.len() as u64) as usize;
        let s = &mut self.slots[i];
        if s.epoch != e {
            if s.epoch > e {
                return false;
            }
            *s = Slot {
                epoch: e,
                total: 0,
                bad: 0,
            };
        }
        s.total = s.total.saturating_add(1);
        s.bad = s.bad.saturating_add(bad as u32);
        true
    }

    /// Totals over the `n` buckets ending with the one holding `now_nanos` (the current, partial one
    /// included). `n` larger than the ring is cut to the ring.
    pub fn sum_last(&self, now_nanos: u64, n: u64) -> Counts {
        let now = self.epoch(now_nanos);
        let n = n.min(self.slots.len() as u64);
        let mut c = Counts::default();
        for s in self.slots.iter() {
            if s.epoch != 0 && s.epoch <= now && now - s.epoch < n {
                c.total += s.total as u64;
                c.bad += s.bad as u64;
            }
        }
        c
    }

    /// Several windows in one pass: `ns[i]` buckets each, results in the same order.
    pub fn sum_many(&self, now_nanos: u64, ns: &[u64], out: &mut [Counts]) {
        let now = self.epoch(now_nanos);
        out.iter_mut().for_each(|c| *c = Counts::default());
        for s in self.slots.iter() {
            if s.epoch == 0 || s.epoch > now {
                continue;
            }
            let age = now - s.epoch;
            for (n, c) in ns.iter().zip(out.iter_mut()) {
                if age < (*n).min(self.slots.len() as u64) {
                    c.total += s.total as u64;
                    c.bad += s.bad as u64;
                }
            }
        }
    }

    pub fn width_nanos(&self) -> u64 {
        self.width_nanos
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn heap_bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Slot>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000_000_000;

    #[test]
    fn windows_count_only_their_buckets_and_laps_forget() {
        let mut r = BucketRing::new(MIN, 10);
        for m in 0..10u64 {
            for _ in 0..=m {
                r.add(m * MIN + 1, m % 2 == 0);
            }
        }
        // minute 9 holds 10 calls (good), minute 8 holds 9 (bad)
        let now = 9 * MIN + 5;
        assert_eq!(r.sum_last(now, 1), Counts { total: 10, bad: 0 });
        assert_eq!(r.sum_last(now, 2), Counts { total: 19, bad: 9 });
        assert_eq!(r.sum_last(now, 10).total, 55);
        assert_eq!(r.sum_last(now, 1000).total, 55, "cut to the ring");
        let mut out = [Counts::default(); 2];
        r.sum_many(now, &[1, 2], &mut out);
        assert_eq!(
            out,
            [Counts { total: 10, bad: 0 }, Counts { total: 19, bad: 9 }]
        );
        // One lap later, minute 10 overwrites minute 0's slot.
        r.add(10 * MIN, true);
        assert_eq!(r.sum_last(10 * MIN, 10).total, 55 - 1 + 1);
        // Far in the future nothing is in any window; a stale `at` is ignored.
        assert_eq!(r.sum_last(100 * MIN, 10), Counts::default());
        assert!(r.add(100 * MIN, false));
        assert!(
            !r.add(0, true),
            "minute 0 shares a slot with minute 100: too old for the ring"
        );
        assert_eq!(r.sum_last(100 * MIN, 10), Counts { total: 1, bad: 0 });
    }
}
