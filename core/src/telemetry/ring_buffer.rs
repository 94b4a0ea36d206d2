//! A bounded lock-free MPMC ring (crossbeam's `ArrayQueue`) that counts everything it loses: in
//! `Overwrite` mode the oldest item makes room (the read-back of recent spans), in `DropNewest` mode
//! a full ring refuses the new item (the export queue, which must never grow or block a caller).

use crate::striped::StripedCounter;
use crossbeam_queue::ArrayQueue;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    Overwrite,
    DropNewest,
}

pub struct BoundedRing<T> {
    q: ArrayQueue<T>,
    mode: Overflow,
    lost: StripedCounter,
    pushed: StripedCounter,
}

impl<T> BoundedRing<T> {
    pub fn new(capacity: usize, mode: Overflow) -> Self {
        Self {
            q: ArrayQueue::new(capacity.max(1)),
            mode,
            lost: StripedCounter::new(),
            pushed: StripedCounter::new(),
        }
    }

    /// Never blocks, never allocates beyond the fixed capacity; returns false if something was lost.
    #[inline]
    pub fn push(&self, item: T) -> bool {
        self.pushed.inc();
        match self.mode {
            Overflow::Overwrite => {
                if self.q.force_push(item).is_some() {
                    self.lost.inc();
                    return false;
                }
                true
            }
            Overflow::DropNewest => {
                if self.q.push(item).is_err() {
                    self.lost.inc();
                    return false;
                }
                true
            }
        }
    }

    pub fn pop(&self) -> Option<T> {
        self.q.pop()
    }

    /// Takes up to `max` items, oldest first.
    pub fn drain(&self, max: usize) -> Vec<T> {
        let mut v = Vec::with_capacity(max.min(self.q.len()));
        while v.len() < max {
            match self.q.pop() {
                Some(x) => v.push(x),
                None => break,
            }
        }
        v
    }

    pub fn len(&self) -> usize {
        self.q.len()
    }
    pub fn is_empty(&self) -> bool {
        self.q.is_empty()
    }
    pub fn capacity(&self) -> usize {
        self.q.capacity()
    }
    /// Items evicted (Overwrite) or refused (DropNewest) so far.
    pub fn lost(&self) -> u64 {
        self.lost.get()
    }
    pub fn pushed(&self) -> u64 {
        self.pushed.get()
    }
}

impl<T: Clone> BoundedRing<T> {
    /// A copy of the contents, oldest first, without consuming them (items pushed concurrently may
    /// or may not appear). Pops and re-pushes, so it is for read-back off the hot path only.
    pub fn snapshot(&self) -> Vec<T> {
        let items = self.drain(self.q.capacity());
        for it in items.iter().cloned() {
            // Re-inserting may evict a newer concurrent push in Overwrite mode; counted like any loss.
            if self.q.force_push(it).is_some() {
                self.lost.inc();
            }
        }
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn overwrite_keeps_newest_and_counts_evictions() {
        let r = BoundedRing::new(3, Overflow::Overwrite);
        for i in 0..10 {
            r.push(i);
        }
        assert_eq!(r.snapshot(), vec![7, 8, 9]);
        assert_eq!(r.lost(), 7);
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn drop_newest_refuses_and_counts_across_threads() {
        let r = Arc::new(BoundedRing::new(1000, Overflow::DropNewest));
        let hs: Vec<_> = (0..8)
            .map(|t| {
                let r = r.clone();
                std::thread::spawn(move || {
                    for i in 0..10_000 {
                        r.push(t * 100_000 + i);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(r.len(), 1000);
        assert_eq!(r.lost(), 80_000 - 1000);
        assert_eq!(r.pushed(), 80_000);
    }
}
