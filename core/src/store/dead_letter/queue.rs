//! The dead-letter queue: the rules above any storage backend, written once. It masks payloads
//! and error chains (unless the owner opted out for replay), enforces `max_items` per `on_full`
//! (counted and logged), drives replays (claim, hand to the host's handler, remove on success, keep
//! with the new error on failure, never stop at a poison message), and exports depth and age at
//! scrape time.
//!
//! Replay is a cursor the host steps through, because the handler is the user's function and lives
//! in the host (sync or async); `replay_with` runs the same steps for Rust callers.

use super::{Capacity, DeadLetter, DeadLetterStore, NewDeadLetter, OnFull, Pushed, ReplayRun};
use crate::clock::ClockRef;
use crate::error::{check, Error, Result};
use crate::telemetry::collector::{Collect, Sink};
use crate::telemetry::pipeline::Pipeline;
use crate::telemetry::redact::Redactor;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const COMPONENT: &str = "DeadLetterQueue";
/// Items a replay asks the store for at a time (a consumer-group store claims that many at once).
const PAGE: usize = 16;

pub const DEPTH_FAMILY: &str = "ferrule_dead_letter_depth";
pub const AGE_FAMILY: &str = "ferrule_dead_letter_oldest_age_seconds";
pub const EVENTS_FAMILY: &str = "ferrule_dead_letters";

#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetterConfig {
    /// The queue's name in metrics and logs.
    pub name: String,
    pub max_items: u64,
    pub on_full: OnFull,
    /// Mask payloads and error chains with the process's redactor before they are stored. Turn off
    /// only when replay needs the exact arguments (and the file is protected accordingly).
    pub mask: bool,
    /// How long a replayer holds an item before another replayer may take it (a handler that runs
    /// longer than this may see the item replayed twice).
    pub replay_lease: Duration,
}

impl Default for DeadLetterConfig {
    fn default() -> Self {
        Self {
            name: "default".into(),
            max_items: 10_000,
            on_full: OnFull::Reject,
            mask: true,
            replay_lease: Duration::from_secs(300),
        }
    }
}

impl DeadLetterConfig {
    pub fn validate(&self) -> Result<()> {
        check::int_range(COMPONENT, "max_items", self.max_items, 1, i64::MAX as u64)?;
        check::finite_positive(
            COMPONENT,
            "replay_lease_seconds",
            self.replay_lease.as_secs_f64(),
        )?;
        if self.name.is_empty() {
            return Err(Error::out_of_range(
                COMPONENT,
                "name",
                "\"\"",
                "a non-empty string",
            ));
        }
        Ok(())
    }
}

/// Counted by the queue itself and read at scrape time.
#[derive(Debug, Default)]
pub struct DeadLetterStats {
    pub stored: AtomicU64,
    pub rejected: AtomicU64,
    pub evicted: AtomicU64,
    pub replayed: AtomicU64,
    pub replay_failed: AtomicU64,
    pub store_errors: AtomicU64,
}

/// What one replay run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Handled successfully and removed.
    pub succeeded: u64,
    /// The handler failed; kept with the new error appended.
    pub failed: u64,
    /// Refused by the caller's filter.
    pub skipped: u64,
    /// Held by another replayer's lease, or gone before it could be claimed.
    pub busy: u64,
}

/// The state of one replay run: where it is in the queue and how many more items it may handle.
#[derive(Debug)]
pub struct ReplayCursor {
    since_unix_ms: Option<u64>,
    run: ReplayRun,
    remaining: u64,
    page: VecDeque<DeadLetter>,
    /// The item last handed out, until it is claimed or skipped.
    current: Option<u64>,
    pub report: ReplayReport,
}

pub struct DeadLetterQueue {
    store: Arc<dyn DeadLetterStore>,
    config: DeadLetterConfig,
    clock: ClockRef,
    /// Unix time in ms when `clock` read zero: stored timestamps are wall time (they outlive the
    /// process), read through the clock trait so tests can move them.
    unix_origin_ms: u64,
    /// `None`: the process-wide redactor (`configure(redact_patterns=...)`) at each push.
    redactor: Option<Arc<Redactor>>,
    stats: DeadLetterStats,
}

fn system_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Declares the queue's families in the default registry once, so collector samples render.
fn declare_families() {
    static D: OnceLock<()> = OnceLock::new();
    D.get_or_init(|| {
        let r = crate::telemetry::registry::global();
        let ok = r
            .gauge(DEPTH_FAMILY, "Dead letters currently stored.", &["name"])
            .and(r.gauge(
                AGE_FAMILY,
                "Age of the oldest stored dead letter (0 when empty).",
                &["name"],
            ))
            .and(r.counter(
                EVENTS_FAMILY,
                "Dead-letter queue events: stored, rejected (queue full), evicted (drop_oldest), \
                 replayed, replay_failed, store_error.",
                &["name", "outcome"],
            ));
        debug_assert!(
            ok.is_ok(),
            "dead-letter metric declarations: {:?}",
            ok.err()
        );
    });
}

impl DeadLetterQueue {
    pub fn new(store: Arc<dyn DeadLetterStore>, config: DeadLetterConfig) -> Result<Self> {
        let clock = ClockRef::System;
        let origin = system_unix_ms().saturating_sub(clock.now_nanos() / 1_000_000);
        Self::with_clock(store, config, clock, origin)
    }

    /// `unix_origin_ms` is the wall time at which `clock` reads zero.
    pub fn with_clock(
        store: Arc<dyn DeadLetterStore>,
        config: DeadLetterConfig,
        clock: ClockRef,
        unix_origin_ms: u64,
    ) -> Result<Self> {
        config.validate()?;
        declare_families();
        Ok(Self {
            store,
            config,
            clock,
            unix_origin_ms,
            redactor: None,
            stats: DeadLetterStats::default(),
        })
    }

    /// Masks with this redactor instead of the process-wide one.
    pub fn with_redactor(mut self, r: Arc<Redactor>) -> Self {
        self.redactor = Some(r);
        self
    }

    pub fn config(&self) -> &DeadLetterConfig {
        &self.config
    }

    pub fn stats(&self) -> &DeadLetterStats {
        &self.stats
    }

    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }

    pub fn now_unix_ms(&self) -> u64 {
        self.unix_origin_ms + self.clock.now_nanos() / 1_000_000
    }

    fn mask(&self, s: &str) -> String {
        match &self.redactor {
            Some(r) => r.redact(s).into_owned(),
            None => Pipeline::global().tracer.redactor().redact(s).into_owned(),
        }
    }

    /// Every drop, rejection and store failure is logged at warning (and counted by the caller);
    /// the bindings route `log` to Python's `logging` / Node's console.
    fn warn(&self, event: &'static str, msg: String) {
        log::warn!(target: "ferrule::dead_letter", "{event}: {msg}");
    }

    fn store_error(&self, op: &str, e: Error) -> Error {
        self.stats.store_errors.fetch_add(1, Ordering::Relaxed);
        self.warn(
            "dead_letter_store_error",
            format!(
                "dead-letter queue '{}' ({}): {op} failed: {e}",
                self.config.name,
                self.store.backend()
            ),
        );
        e
    }

    /// Stores a request that failed for good. `Ok(Some(id))` once it is durable; `Ok(None)` when
    /// the queue is full and `on_full` is `reject` (counted and logged). A store error is counted,
    /// logged and returned; the caller's own error must still reach the caller.
    pub fn push(
        &self,
        key: &str,
        payload: &str,
        errors: Vec<String>,
        attempts: u32,
        first_failed_unix_ms: Option<u64>,
        trace_id: Option<String>,
    ) -> Result<Option<u64>> {
        let now = self.now_unix_ms();
        let (payload, errors) = if self.config.mask {
            (
                self.mask(payload),
                errors.iter().map(|e| self.mask(e)).collect(),
            )
        } else {
            (payload.to_string(), errors)
        };
        let item = NewDeadLetter {
            key: key.to_string(),
            payload,
            errors,
            attempts,
            first_failed_unix_ms: first_failed_unix_ms.unwrap_or(now).min(now),
            last_failed_unix_ms: now,
            trace_id,
        };
        let cap = Capacity {
            max_items: self.config.max_items,
            on_full: self.config.on_full,
        };
        match self.store.push(&item, cap) {
            Ok(Pushed::Stored { id, evicted }) => {
                self.stats.stored.fetch_add(1, Ordering::Relaxed);
                if evicted > 0 {
                    self.stats.evicted.fetch_add(evicted, Ordering::Relaxed);
                    self.warn(
                        "dead_letter_evicted",
                        format!(
                            "dead-letter queue '{}' is full (max_items={}): dropped the {evicted} \
                             oldest item(s) to store a new one (on_full=drop_oldest)",
                            self.config.name, self.config.max_items
                        ),
                    );
                }
                Ok(Some(id))
            }
            Ok(Pushed::Rejected) => {
                self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                self.warn(
                    "dead_letter_rejected",
                    format!(
                        "dead-letter queue '{}' is full (max_items={}): a dead letter from '{key}' \
                         was not stored (on_full=reject)",
                        self.config.name, self.config.max_items
                    ),
                );
                Ok(None)
            }
            Err(e) => Err(self.store_error("push", e)),
        }
    }

    pub fn len(&self) -> Result<u64> {
        self.store.len().map_err(|e| self.store_error("len", e))
    }

    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    pub fn list(&self, limit: usize, since_unix_ms: Option<u64>) -> Result<Vec<DeadLetter>> {
        self.store
            .list(limit, since_unix_ms, None)
            .map_err(|e| self.store_error("list", e))
    }

    pub fn get(&self, id: u64) -> Result<Option<DeadLetter>> {
        self.store.get(id).map_err(|e| self.store_error("get", e))
    }

    pub fn remove(&self, id: u64) -> Result<bool> {
        self.store
            .remove(id)
            .map_err(|e| self.store_error("remove", e))
    }

    /// Deletes items last failed before `before_unix_ms` (all when `None`); returns how many.
    pub fn purge(&self, before_unix_ms: Option<u64>) -> Result<u64> {
        self.store
            .purge(before_unix_ms)
            .map_err(|e| self.store_error("purge", e))
    }

    /// Seconds since the oldest stored item first failed; 0 when empty.
    pub fn oldest_age_seconds(&self) -> Result<f64> {
        let oldest = self
            .store
            .oldest_unix_ms()
            .map_err(|e| self.store_error("oldest", e))?;
        Ok(oldest.map_or(0.0, |o| {
            self.now_unix_ms().saturating_sub(o) as f64 / 1000.0
        }))
    }

    /// Starts a replay over items last failed at or after `since_unix_ms`, handling at most `max`.
    pub fn replay_cursor(&self, since_unix_ms: Option<u64>, max: Option<u64>) -> ReplayCursor {
        ReplayCursor {
            since_unix_ms,
            run: ReplayRun::default(),
            remaining: max.unwrap_or(u64::MAX),
            page: VecDeque::new(),
            current: None,
            report: ReplayReport::default(),
        }
    }

    /// The next candidate, oldest first; each item is offered once per run, so an item that fails
    /// again (a poison message) is kept and the run moves on. `None` when the run is done.
    pub fn replay_next(&self, cur: &mut ReplayCursor) -> Result<Option<DeadLetter>> {
        if let Some(id) = cur.current.take() {
            // Handed out and neither claimed nor skipped (the host moved on): free it.
            self.release(cur, id)?;
        }
        if cur.remaining == 0 {
            // Fetched but not to be handled: another run may take them at once.
            while let Some(d) = cur.page.pop_front() {
                self.release(cur, d.id)?;
            }
            return Ok(None);
        }
        while cur.page.is_empty() && !cur.run.done {
            let busy = cur.run.busy;
            let max = cur.remaining.min(PAGE as u64) as usize;
            let page = self
                .store
                .fetch(
                    &mut cur.run,
                    max,
                    cur.since_unix_ms,
                    self.config.replay_lease,
                )
                .map_err(|e| self.store_error("fetch", e))?;
            cur.report.busy += cur.run.busy - busy;
            cur.page.extend(page);
        }
        let item = cur.page.pop_front();
        cur.current = item.as_ref().map(|d| d.id);
        Ok(item)
    }

    fn release(&self, cur: &ReplayCursor, id: u64) -> Result<()> {
        self.store
            .release(&cur.run, id)
            .map_err(|e| self.store_error("release", e))
    }

    /// The caller's filter refused the item: it is left for another run.
    pub fn replay_skip(&self, cur: &mut ReplayCursor) -> Result<()> {
        cur.report.skipped += 1;
        match cur.current.take() {
            Some(id) => self.release(cur, id),
            None => Ok(()),
        }
    }

    /// Claims the item for this run. False (counted as `busy`) when another replayer holds it or it
    /// is gone: the host skips it.
    pub fn replay_claim(&self, cur: &mut ReplayCursor, id: u64) -> Result<bool> {
        let now = self.now_unix_ms();
        let until = now + self.config.replay_lease.as_millis() as u64;
        if cur.current == Some(id) {
            cur.current = None;
        }
        let ok = self
            .store
            .claim(&cur.run, id, now, until)
            .map_err(|e| self.store_error("claim", e))?;
        if ok {
            cur.remaining -= 1;
        } else {
            cur.report.busy += 1;
        }
        Ok(ok)
    }

    /// The handler succeeded: the item is removed.
    pub fn replay_succeeded(&self, cur: &mut ReplayCursor, id: u64) -> Result<()> {
        self.store
            .remove(id)
            .map_err(|e| self.store_error("remove", e))?;
        cur.report.succeeded += 1;
        self.stats.replayed.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// The handler failed: the item stays, with `error` appended (masked like the rest).
    pub fn replay_failed(&self, cur: &mut ReplayCursor, id: u64, error: &str) -> Result<()> {
        let error = if self.config.mask {
            self.mask(error)
        } else {
            error.to_string()
        };
        self.store
            .record_failure(id, &error, self.now_unix_ms())
            .map_err(|e| self.store_error("record_failure", e))?;
        cur.report.failed += 1;
        self.stats.replay_failed.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// A replay for Rust callers: the same steps the host layers run.
    pub fn replay_with(
        &self,
        since_unix_ms: Option<u64>,
        max: Option<u64>,
        mut filter: impl FnMut(&DeadLetter) -> bool,
        mut handler: impl FnMut(&DeadLetter) -> std::result::Result<(), String>,
    ) -> Result<ReplayReport> {
        let mut cur = self.replay_cursor(since_unix_ms, max);
        while let Some(item) = self.replay_next(&mut cur)? {
            if !filter(&item) {
                self.replay_skip(&mut cur)?;
                continue;
            }
            if !self.replay_claim(&mut cur, item.id)? {
                continue;
            }
            match handler(&item) {
                Ok(()) => self.replay_succeeded(&mut cur, item.id)?,
                Err(e) => self.replay_failed(&mut cur, item.id, &e)?,
            }
        }
        Ok(cur.report)
    }
}

/// Depth and age come from the store at scrape time (another process may have written or replayed
/// since); the event counters are this process's. A store error at scrape is counted and logged and
/// the two gauges are left out of that scrape rather than reported as zero.
impl Collect for DeadLetterQueue {
    fn collect(&self, sink: &mut Sink) {
        let n = self.config.name.as_str();
        if let Ok(len) = self.len() {
            sink.sample(DEPTH_FAMILY, &[n], len as f64);
        }
        if let Ok(age) = self.oldest_age_seconds() {
            sink.sample(AGE_FAMILY, &[n], age);
        }
        let s = &self.stats;
        for (outcome, c) in [
            ("stored", &s.stored),
            ("rejected", &s.rejected),
            ("evicted", &s.evicted),
            ("replayed", &s.replayed),
            ("replay_failed", &s.replay_failed),
            ("store_error", &s.store_errors),
        ] {
            sink.sample(
                EVENTS_FAMILY,
                &[n, outcome],
                c.load(Ordering::Relaxed) as f64,
            );
        }
    }
}
