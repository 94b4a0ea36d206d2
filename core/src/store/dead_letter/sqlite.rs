//! The SQLite dead-letter store: one row per dead letter in a WAL-mode file that several processes
//! may open at once. Each write is one `BEGIN IMMEDIATE` transaction (the write lock is taken before
//! any read, so "is there room?" and the insert cannot interleave with another writer's).
//!
//! Durability: `synchronous=FULL` in WAL mode fsyncs the WAL at every commit, so a push that returned
//! `Stored` survives `kill -9` (and power loss) at any later moment. NORMAL would already survive a
//! process kill (the committed frames are in the OS page cache), but not a power cut; a dead letter
//! is written only after a request failed for good, so one fsync per push is a price worth paying.

use super::{Capacity, DeadLetter, DeadLetterStore, NewDeadLetter, OnFull, Pushed};
use crate::error::{Error, Result};
use crate::fork_guard;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

const STORE: &str = "dead_letter";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS dead_letter (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    payload TEXT NOT NULL,
    errors TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    first_failed_unix_ms INTEGER NOT NULL,
    last_failed_unix_ms INTEGER NOT NULL,
    trace_id TEXT,
    replay_count INTEGER NOT NULL DEFAULT 0,
    lease_until_unix_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS dead_letter_last_failed ON dead_letter(last_failed_unix_ms);
CREATE INDEX IF NOT EXISTS dead_letter_first_failed ON dead_letter(first_failed_unix_ms);
";

const COLUMNS: &str = "id, key, payload, errors, attempts, first_failed_unix_ms, \
                       last_failed_unix_ms, trace_id, replay_count";

fn storage(e: impl std::fmt::Display) -> Error {
    Error::Storage {
        store: STORE,
        message: e.to_string(),
    }
}

/// How long a writer waits for another process's write lock before the push fails (and is counted).
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct SqliteDeadLetterStore {
    path: PathBuf,
    // A lock off the hot path: rusqlite connections are !Sync, and a dead-letter operation happens
    // only after a request failed for good or when a user lists / replays. The fork generation the
    // connection was opened in rides along: a forked child must not use its parent's connection.
    conn: Mutex<Option<(u64, Connection)>>,
}

fn open(path: &Path) -> Result<Connection> {
    let c = Connection::open(path).map_err(storage)?;
    c.busy_timeout(BUSY_TIMEOUT).map_err(storage)?;
    c.pragma_update(None, "journal_mode", "WAL")
        .map_err(storage)?;
    c.pragma_update(None, "synchronous", "FULL")
        .map_err(storage)?;
    c.execute_batch(SCHEMA).map_err(storage)?;
    Ok(c)
}

fn u(v: i64) -> u64 {
    v.max(0) as u64
}

fn i(v: u64) -> i64 {
    v.min(i64::MAX as u64) as i64
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeadLetter> {
    let errors: String = r.get(3)?;
    Ok(DeadLetter {
        id: u(r.get(0)?),
        key: r.get(1)?,
        payload: r.get(2)?,
        // Written by `push` as a JSON array; a row edited by hand into something else still reads.
        errors: serde_json::from_str(&errors).unwrap_or_else(|_| vec![errors]),
        attempts: u(r.get(4)?) as u32,
        first_failed_unix_ms: u(r.get(5)?),
        last_failed_unix_ms: u(r.get(6)?),
        trace_id: r.get(7)?,
        replay_count: u(r.get(8)?) as u32,
    })
}

impl SqliteDeadLetterStore {
    /// Opens (creating if needed) the file; fails now if it cannot be opened or written.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let c = {
            let _q = fork_guard::quiesce();
            open(&path)?
        };
        Ok(Self {
            path,
            conn: Mutex::new(Some((fork_guard::generation(), c))),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        // No fork while this thread holds the connection lock or is inside SQLite (see
        // `fork_guard::quiesce`): a child forked mid-write would inherit both locked.
        let _q = fork_guard::quiesce();
        let mut g = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let gen = fork_guard::generation();
        if g.as_ref().is_some_and(|(og, _)| *og != gen) {
            // Forked child: closing the parent's connection here could disturb the parent's locks.
            if let Some((_, c)) = g.take() {
                std::mem::forget(c);
            }
        }
        if g.is_none() {
            *g = Some((gen, open(&self.path)?));
        }
        f(&mut g.as_mut().expect("opened above").1)
    }
}

impl DeadLetterStore for SqliteDeadLetterStore {
    fn push(&self, item: &NewDeadLetter, capacity: Capacity) -> Result<Pushed> {
        let errors = serde_json::to_string(&item.errors).map_err(storage)?;
        self.with(|c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(storage)?;
            let n: i64 = tx
                .query_row("SELECT COUNT(*) FROM dead_letter", [], |r| r.get(0))
                .map_err(storage)?;
            let mut evicted = 0;
            if u(n) >= capacity.max_items {
                match capacity.on_full {
                    OnFull::Reject => return Ok(Pushed::Rejected), // rollback on drop
                    OnFull::DropOldest => {
                        let excess = u(n) + 1 - capacity.max_items;
                        evicted = tx
                            .execute(
                                "DELETE FROM dead_letter WHERE id IN \
                                 (SELECT id FROM dead_letter ORDER BY id LIMIT ?1)",
                                [i(excess)],
                            )
                            .map_err(storage)? as u64;
                    }
                }
            }
            tx.execute(
                "INSERT INTO dead_letter (key, payload, errors, attempts, first_failed_unix_ms, \
                 last_failed_unix_ms, trace_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    item.key,
                    item.payload,
                    errors,
                    item.attempts,
                    i(item.first_failed_unix_ms),
                    i(item.last_failed_unix_ms),
                    item.trace_id
                ],
            )
            .map_err(storage)?;
            let id = u(tx.last_insert_rowid());
            tx.commit().map_err(storage)?;
            Ok(Pushed::Stored { id, evicted })
        })
    }

    fn len(&self) -> Result<u64> {
        self.with(|c| {
            c.query_row("SELECT COUNT(*) FROM dead_letter", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(u)
            .map_err(storage)
        })
    }

    fn list(
        &self,
        limit: usize,
        since_unix_ms: Option<u64>,
        after_id: Option<u64>,
    ) -> Result<Vec<DeadLetter>> {
        self.with(|c| {
            let mut st = c
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM dead_letter WHERE id > ?1 AND last_failed_unix_ms >= ?2 \
                     ORDER BY id LIMIT ?3"
                ))
                .map_err(storage)?;
            let rows = st
                .query_map(
                    params![
                        i(after_id.unwrap_or(0)),
                        i(since_unix_ms.unwrap_or(0)),
                        i(limit as u64)
                    ],
                    row,
                )
                .map_err(storage)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(storage)
        })
    }

    fn get(&self, id: u64) -> Result<Option<DeadLetter>> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {COLUMNS} FROM dead_letter WHERE id = ?1"),
                [i(id)],
                row,
            )
            .optional()
            .map_err(storage)
        })
    }

    fn claim(
        &self,
        _run: &super::ReplayRun,
        id: u64,
        now_unix_ms: u64,
        lease_until_unix_ms: u64,
    ) -> Result<bool> {
        self.with(|c| {
            c.execute(
                "UPDATE dead_letter SET lease_until_unix_ms = ?3 \
                 WHERE id = ?1 AND lease_until_unix_ms <= ?2",
                params![i(id), i(now_unix_ms), i(lease_until_unix_ms)],
            )
            .map(|n| n == 1)
            .map_err(storage)
        })
    }

    fn remove(&self, id: u64) -> Result<bool> {
        self.with(|c| {
            c.execute("DELETE FROM dead_letter WHERE id = ?1", [i(id)])
                .map(|n| n == 1)
                .map_err(storage)
        })
    }

    fn record_failure(&self, id: u64, error: &str, at_unix_ms: u64) -> Result<bool> {
        self.with(|c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(storage)?;
            let errors: Option<String> = tx
                .query_row(
                    "SELECT errors FROM dead_letter WHERE id = ?1",
                    [i(id)],
                    |r| r.get(0),
                )
                .optional()
                .map_err(storage)?;
            let Some(errors) = errors else {
                return Ok(false);
            };
            let mut chain: Vec<String> =
                serde_json::from_str(&errors).unwrap_or_else(|_| vec![errors]);
            chain.push(error.to_string());
            let chain = serde_json::to_string(&chain).map_err(storage)?;
            tx.execute(
                "UPDATE dead_letter SET errors = ?2, last_failed_unix_ms = ?3, \
                 replay_count = replay_count + 1, lease_until_unix_ms = 0 WHERE id = ?1",
                params![i(id), chain, i(at_unix_ms)],
            )
            .map_err(storage)?;
            tx.commit().map_err(storage)?;
            Ok(true)
        })
    }

    fn purge(&self, before_unix_ms: Option<u64>) -> Result<u64> {
        self.with(|c| {
            match before_unix_ms {
                Some(b) => c.execute(
                    "DELETE FROM dead_letter WHERE last_failed_unix_ms < ?1",
                    [i(b)],
                ),
                None => c.execute("DELETE FROM dead_letter", []),
            }
            .map(|n| n as u64)
            .map_err(storage)
        })
    }

    fn oldest_unix_ms(&self) -> Result<Option<u64>> {
        self.with(|c| {
            c.query_row(
                "SELECT MIN(first_failed_unix_ms) FROM dead_letter",
                [],
                |r| r.get::<_, Option<i64>>(0),
            )
            .map(|v| v.map(u))
            .map_err(storage)
        })
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}
