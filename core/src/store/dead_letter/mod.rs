//! The dead-letter queue: requests that exhausted their retries and fallbacks, kept
//! durably so they can be listed, replayed and purged. This file is the storage contract every
//! backend implements (SQLite here, Redis Streams in redis_streams.rs); the rules (on_full accounting,
//! masking, replay, metrics) live once in `queue.rs`, above the trait, so every backend gets them.

use crate::error::Result;
use std::time::Duration;

pub mod memory;
pub mod queue;
#[cfg(feature = "redis")]
pub mod redis_streams;
pub mod sqlite;

/// A dead letter as stored. `id` is assigned by the store, increases with insertion order, and is
/// never reused by the same store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub id: u64,
    /// The policy / queue name the request came from.
    pub key: String,
    /// The call's arguments as JSON text, masked unless the owner opted out for replay.
    pub payload: String,
    /// The error chain, oldest first; a failed replay appends its error.
    pub errors: Vec<String>,
    /// Attempts made by the policy that gave up (replays are counted in `replay_count`).
    pub attempts: u32,
    pub first_failed_unix_ms: u64,
    pub last_failed_unix_ms: u64,
    pub trace_id: Option<String>,
    pub replay_count: u32,
}

/// A dead letter before the store gave it an id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewDeadLetter {
    pub key: String,
    pub payload: String,
    pub errors: Vec<String>,
    pub attempts: u32,
    pub first_failed_unix_ms: u64,
    pub last_failed_unix_ms: u64,
    pub trace_id: Option<String>,
}

/// Items a replay run reads from a store that pages by id, at a time.
pub const FETCH_PAGE: usize = 64;

/// One replay run's place in a store: the queue holds it, only the store reads or changes it.
#[derive(Debug, Clone, Default)]
pub struct ReplayRun {
    /// The last id fetched (stores that page by id).
    pub after_id: Option<u64>,
    /// True once the store has nothing more for this run.
    pub done: bool,
    /// Items found held by another replayer while fetching (stores that claim at fetch).
    pub busy: u64,
    /// The run's consumer name in a consumer group (set by stores that deliver through one).
    pub consumer: String,
    /// Where the run's sweep of abandoned claims stands (consumer-group stores; `None`: not begun).
    pub sweep: Option<String>,
}

/// What a full queue does with a new item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFull {
    /// The new item is refused (`Pushed::Rejected`); the queue keeps what it has.
    Reject,
    /// The oldest items are deleted to make room; the new item is stored.
    DropOldest,
}

impl OnFull {
    pub const NAMES: &'static str = "\"reject\" or \"drop_oldest\"";

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "reject" => Some(OnFull::Reject),
            "drop_oldest" | "dropOldest" => Some(OnFull::DropOldest),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OnFull::Reject => "reject",
            OnFull::DropOldest => "drop_oldest",
        }
    }
}

/// The bound a push must respect. It is passed to the store, not checked above it, because with
/// several processes writing one queue only the store can check "is there room" and insert in one
/// atomic step (a SQLite write transaction, a Redis script / `XADD MAXLEN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    pub max_items: u64,
    pub on_full: OnFull,
}

/// What `push` did. The queue above counts and logs `Rejected` and `evicted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Stored durably (acknowledged) with this id; `evicted` oldest items were deleted to make room.
    Stored { id: u64, evicted: u64 },
    /// The queue was full and `on_full` is `Reject`: nothing was written.
    Rejected,
}

/// Durable storage for dead letters. Every method may block on I/O (bindings call it with the GIL
/// released / off the JS thread where it matters); none is on a call's hot path: a policy only
/// pushes after it has given up on a request.
pub trait DeadLetterStore: Send + Sync {
    /// Stores `item` within `capacity`, atomically with respect to other writers (other threads and
    /// other processes). When it returns `Stored`, the item is durable: it survives `kill -9` of
    /// the process at any later moment.
    fn push(&self, item: &NewDeadLetter, capacity: Capacity) -> Result<Pushed>;

    /// Items currently stored.
    fn len(&self) -> Result<u64>;

    fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Up to `limit` items, oldest first (by id), whose `last_failed_unix_ms >= since_unix_ms` and
    /// whose id is greater than `after_id` (a cursor, so a replay pages through without revisiting).
    fn list(
        &self,
        limit: usize,
        since_unix_ms: Option<u64>,
        after_id: Option<u64>,
    ) -> Result<Vec<DeadLetter>>;

    /// One item by id.
    fn get(&self, id: u64) -> Result<Option<DeadLetter>>;

    /// Replay, step 1: the next items for run `run`, oldest first, last failed at or after
    /// `since_unix_ms`; `max` is how many more the run may handle. Empty with `run.done` set: the
    /// run is over. By default a page of candidates that `claim` then takes one at a time; a store
    /// that delivers through a consumer group (Redis Streams) returns them already claimed for the
    /// run, for `lease`.
    fn fetch(
        &self,
        run: &mut ReplayRun,
        max: usize,
        since_unix_ms: Option<u64>,
        lease: Duration,
    ) -> Result<Vec<DeadLetter>> {
        let _ = (max, lease);
        let page = self.list(FETCH_PAGE, since_unix_ms, run.after_id)?;
        run.done = page.len() < FETCH_PAGE;
        if let Some(last) = page.last() {
            run.after_id = Some(last.id);
        }
        Ok(page)
    }

    /// Replay, step 2: takes (or, where `fetch` claimed already, confirms and renews) run `run`'s
    /// lease on `id` until `lease_until_unix_ms`, so two replayers (threads or processes) never hand
    /// the same item to a handler at once. False when the item is gone or another replayer's lease
    /// on it is still running at `now_unix_ms`. `remove` and `record_failure` end the lease.
    fn claim(
        &self,
        run: &ReplayRun,
        id: u64,
        now_unix_ms: u64,
        lease_until_unix_ms: u64,
    ) -> Result<bool>;

    /// Replay: run `run` will not handle a fetched item (its filter refused it, or the run ended
    /// early); another run may take it at once. Nothing to do where `fetch` claims nothing.
    fn release(&self, run: &ReplayRun, id: u64) -> Result<()> {
        let _ = (run, id);
        Ok(())
    }

    /// Deletes one item (a successful replay). False when it was already gone.
    fn remove(&self, id: u64) -> Result<bool>;

    /// A replay failed: appends `error` to the item's chain, sets `last_failed_unix_ms`, increments
    /// `replay_count` and ends the lease. The item stays. False when it was already gone.
    fn record_failure(&self, id: u64, error: &str, at_unix_ms: u64) -> Result<bool>;

    /// Deletes every item whose `last_failed_unix_ms < before_unix_ms`, or every item when `None`.
    /// Returns how many were deleted.
    fn purge(&self, before_unix_ms: Option<u64>) -> Result<u64>;

    /// The smallest `first_failed_unix_ms` stored (for the age metric), `None` when empty.
    fn oldest_unix_ms(&self) -> Result<Option<u64>>;

    /// A short name for logs and errors ("sqlite", "redis").
    fn backend(&self) -> &'static str;
}
