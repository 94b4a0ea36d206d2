//! An in-process dead-letter store: the reference implementation of the storage contract, for Rust
//! users who want the queue's rules without a file, and for tests of those rules. Not durable.

use super::{Capacity, DeadLetter, DeadLetterStore, NewDeadLetter, OnFull, Pushed};
use crate::error::Result;
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Default)]
struct Inner {
    next_id: u64,
    // id -> (item, lease_until_unix_ms)
    items: BTreeMap<u64, (DeadLetter, u64)>,
}

#[derive(Default)]
pub struct MemoryDeadLetterStore {
    // A lock off the hot path: the store is touched only after a request failed for good, or to
    // list / replay / purge; one lock keeps check-and-insert atomic like the durable backends.
    inner: Mutex<Inner>,
}

impl MemoryDeadLetterStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Locked<'_> {
        // The fork gate first: a child forked while a parent thread held this lock would wait
        // for it forever.
        let q = crate::fork_guard::quiesce();
        Locked {
            g: self.inner.lock().unwrap_or_else(|p| p.into_inner()),
            _q: q,
        }
    }
}

/// The store's lock, held inside a fork-gate hold (fields drop in order: the lock, then the gate).
struct Locked<'a> {
    g: std::sync::MutexGuard<'a, Inner>,
    _q: crate::fork_guard::Quiesce,
}

impl std::ops::Deref for Locked<'_> {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.g
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut Inner {
        &mut self.g
    }
}

impl DeadLetterStore for MemoryDeadLetterStore {
    fn push(&self, item: &NewDeadLetter, capacity: Capacity) -> Result<Pushed> {
        let mut g = self.lock();
        let mut evicted = 0;
        while g.items.len() as u64 >= capacity.max_items {
            if capacity.on_full == OnFull::Reject {
                return Ok(Pushed::Rejected);
            }
            g.items.pop_first();
            evicted += 1;
        }
        g.next_id += 1;
        let id = g.next_id;
        let d = DeadLetter {
            id,
            key: item.key.clone(),
            payload: item.payload.clone(),
            errors: item.errors.clone(),
            attempts: item.attempts,
            first_failed_unix_ms: item.first_failed_unix_ms,
            last_failed_unix_ms: item.last_failed_unix_ms,
            trace_id: item.trace_id.clone(),
            replay_count: 0,
        };
        g.items.insert(id, (d, 0));
        Ok(Pushed::Stored { id, evicted })
    }

    fn len(&self) -> Result<u64> {
        Ok(self.lock().items.len() as u64)
    }

    fn list(
        &self,
        limit: usize,
        since_unix_ms: Option<u64>,
        after_id: Option<u64>,
    ) -> Result<Vec<DeadLetter>> {
        let g = self.lock();
        let since = since_unix_ms.unwrap_or(0);
        Ok(g.items
            .range(after_id.unwrap_or(0).saturating_add(1)..)
            .map(|(_, (d, _))| d)
            .filter(|d| d.last_failed_unix_ms >= since)
            .take(limit)
            .cloned()
            .collect())
    }

    fn get(&self, id: u64) -> Result<Option<DeadLetter>> {
        Ok(self.lock().items.get(&id).map(|(d, _)| d.clone()))
    }

    fn claim(
        &self,
        _run: &super::ReplayRun,
        id: u64,
        now_unix_ms: u64,
        lease_until_unix_ms: u64,
    ) -> Result<bool> {
        let mut g = self.lock();
        Ok(match g.items.get_mut(&id) {
            Some((_, lease)) if *lease <= now_unix_ms => {
                *lease = lease_until_unix_ms;
                true
            }
            _ => false,
        })
    }

    fn remove(&self, id: u64) -> Result<bool> {
        Ok(self.lock().items.remove(&id).is_some())
    }

    fn record_failure(&self, id: u64, error: &str, at_unix_ms: u64) -> Result<bool> {
        let mut g = self.lock();
        Ok(match g.items.get_mut(&id) {
            Some((d, lease)) => {
                d.errors.push(error.to_string());
                d.last_failed_unix_ms = at_unix_ms;
                d.replay_count += 1;
                *lease = 0;
                true
            }
            None => false,
        })
    }

    fn purge(&self, before_unix_ms: Option<u64>) -> Result<u64> {
        let mut g = self.lock();
        let n = g.items.len();
        match before_unix_ms {
            Some(b) => g.items.retain(|_, (d, _)| d.last_failed_unix_ms >= b),
            None => g.items.clear(),
        }
        Ok((n - g.items.len()) as u64)
    }

    fn oldest_unix_ms(&self) -> Result<Option<u64>> {
        Ok(self
            .lock()
            .items
            .values()
            .map(|(d, _)| d.first_failed_unix_ms)
            .min())
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}
