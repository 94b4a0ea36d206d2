//! Per-key state (per tenant, user, model) for one rule: a lock-free map from key to cell, bounded to
//! `max_keys`. When a new key finds the map full, keys whose cell is indistinguishable from a new one
//! are evicted (nothing is lost); if there are none, the few closest to that are (counted apart).

use super::event::{Events, RateLimitEvent};
use super::rule::Rule;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

pub(crate) struct Cells<R: Rule> {
    /// The cell used when no key is given: no map lookup on that path.
    unkeyed: R::Cell,
    map: papaya::HashMap<Box<str>, R::Cell>,
    /// Keys in the map, reserved before an insert so the bound holds under concurrent inserts.
    count: AtomicUsize,
    max_keys: usize,
    evicted_idle: AtomicU64,
    evicted_active: AtomicU64,
    events: Events,
    /// Serialises evictions. Taken only when a new key meets a full map, never on a lookup.
    sweeping: Mutex<()>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyStats {
    pub keys: u64,
    /// Keys dropped whose state equalled a new key's: nothing was lost.
    pub evicted_idle: u64,
    /// Keys dropped while still limited, because the map was full of active keys: those keys start
    /// over with a full allowance.
    pub evicted_active: u64,
}

impl<R: Rule> Cells<R> {
    pub(crate) fn new(rule: &R, max_keys: usize, events: Events) -> Self {
        Self {
            unkeyed: rule.new_cell(),
            map: papaya::HashMap::new(),
            count: AtomicUsize::new(0),
            max_keys,
            evicted_idle: AtomicU64::new(0),
            evicted_active: AtomicU64::new(0),
            events,
            sweeping: Mutex::new(()),
        }
    }

    /// Runs `f` on the cell of `key`, creating it (and making room) if needed. A new key's cell is
    /// charged before it is published, so a published cell that looks new really is idle.
    #[inline]
    pub(crate) fn with<T>(
        &self,
        rule: &R,
        key: Option<&str>,
        now: u64,
        f: impl Fn(&R::Cell) -> T,
    ) -> T {
        let Some(key) = key else {
            return f(&self.unkeyed);
        };
        let map = self.map.pin();
        if let Some(cell) = map.get(key) {
            return f(cell);
        }
        self.reserve(rule, now);
        let cell = rule.new_cell();
        let out = f(&cell);
        match map.try_insert(key.into(), cell) {
            Ok(_) => out,
            Err(taken) => {
                // Another thread inserted the same key first: our cell is dropped unseen, so the
                // decision is taken again on theirs, and the reservation given back.
                self.count.fetch_sub(1, Ordering::AcqRel);
                f(taken.current)
            }
        }
    }

    /// Like `with`, but a key that does not exist is not created (refunds and peeks).
    pub(crate) fn with_existing<T>(
        &self,
        key: Option<&str>,
        f: impl FnOnce(&R::Cell) -> T,
    ) -> Option<T> {
        match key {
            None => Some(f(&self.unkeyed)),
            Some(k) => self.map.pin().get(k).map(f),
        }
    }

    fn reserve(&self, rule: &R, now: u64) {
        loop {
            let n = self.count.load(Ordering::Acquire);
            if n < self.max_keys {
                if self
                    .count
                    .compare_exchange_weak(n, n + 1, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return;
                }
                continue;
            }
            self.make_room(rule, now);
        }
    }

    /// Evicts every fresh key; if none is fresh, a batch of the keys closest to fresh.
    fn make_room(&self, rule: &R, now: u64) {
        let _one_sweeper = self.sweeping.lock().unwrap_or_else(|p| p.into_inner());
        if self.count.load(Ordering::Acquire) < self.max_keys {
            return; // another sweep made room while this thread waited
        }
        if self.evict_fresh_locked(rule, now) > 0 {
            return;
        }
        let map = self.map.pin();
        let mut by_age: Vec<(u64, &str)> = map
            .iter()
            .map(|(k, c)| (rule.time_to_fresh(c, now), &**k))
            .collect();
        let batch = (self.max_keys / 64).clamp(1, by_age.len().max(1));
        if by_age.len() > batch {
            by_age.select_nth_unstable(batch - 1);
            by_age.truncate(batch);
        }
        if by_age.is_empty() {
            // Every slot is reserved by an insert still in flight: let it finish.
            std::thread::yield_now();
            return;
        }
        let mut evicted = 0;
        for (_, k) in by_age {
            if map.remove(k).is_some() {
                self.count.fetch_sub(1, Ordering::AcqRel);
                evicted += 1;
            }
        }
        self.evicted_active.fetch_add(evicted, Ordering::Relaxed);
        if evicted > 0 {
            self.events.emit(RateLimitEvent::EvictedActive {
                keys: evicted,
                max_keys: self.max_keys as u64,
            });
        }
    }

    /// Drops every key whose cell equals a new one. A charge racing with the removal of its key can
    /// be lost; the key was idle, so that is at most the racing request itself.
    pub(crate) fn evict_fresh(&self, rule: &R, now: u64) -> usize {
        let _one_sweeper = self.sweeping.lock().unwrap_or_else(|p| p.into_inner());
        self.evict_fresh_locked(rule, now)
    }

    fn evict_fresh_locked(&self, rule: &R, now: u64) -> usize {
        let map = self.map.pin();
        let mut removed = 0;
        map.retain(|_, c| {
            let fresh = rule.time_to_fresh(c, now) == 0;
            removed += fresh as usize;
            !fresh
        });
        self.count.fetch_sub(removed, Ordering::AcqRel);
        self.evicted_idle
            .fetch_add(removed as u64, Ordering::Relaxed);
        removed
    }

    pub(crate) fn stats(&self) -> KeyStats {
        KeyStats {
            keys: self.count.load(Ordering::Acquire) as u64,
            evicted_idle: self.evicted_idle.load(Ordering::Relaxed),
            evicted_active: self.evicted_active.load(Ordering::Relaxed),
        }
    }
}
