//! The dead-letter queue for Node (`new DeadLetterQueue({ path, maxItems, onFull })`). Conversion
//! only: the host (`dead_letter.js`) builds payloads and error chains and runs replay handlers.
//! Ids, counts and unix-ms timestamps cross as `f64` (exact below 2^53, which ids and times are).

use crate::error::{config_error, ConfigError, NodeParam};
use crate::redis_backend::NativeRedisBackend;
use ferrule_core::store::dead_letter::queue::{DeadLetterConfig, DeadLetterQueue, ReplayCursor};
use ferrule_core::store::dead_letter::redis_streams::RedisDeadLetterStore;
use ferrule_core::store::dead_letter::{DeadLetter, DeadLetterStore, OnFull};
use ferrule_core::SqliteDeadLetterStore;
use napi::bindgen_prelude::Either;
use napi_derive::napi;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[napi(object)]
pub struct DeadLetterOptions {
    pub path: String,
    pub name: Option<String>,
    pub max_items: Option<f64>,
    pub on_full: Option<String>,
    pub mask: Option<bool>,
    pub replay_lease_ms: Option<f64>,
}

#[napi(object)]
pub struct DeadLetterItem {
    pub id: f64,
    pub key: String,
    pub payload: String,
    pub errors: Vec<String>,
    pub attempts: u32,
    pub first_failed_unix_ms: f64,
    pub last_failed_unix_ms: f64,
    pub trace_id: Option<String>,
    pub replay_count: u32,
}

#[napi(object)]
pub struct DeadLetterStats {
    pub stored: f64,
    pub rejected: f64,
    pub evicted: f64,
    pub replayed: f64,
    pub replay_failed: f64,
    pub store_errors: f64,
}

#[napi(object)]
pub struct ReplayReportJs {
    pub succeeded: f64,
    pub failed: f64,
    pub skipped: f64,
    pub busy: f64,
}

fn item(d: DeadLetter) -> DeadLetterItem {
    DeadLetterItem {
        id: d.id as f64,
        key: d.key,
        payload: d.payload,
        errors: d.errors,
        attempts: d.attempts,
        first_failed_unix_ms: d.first_failed_unix_ms as f64,
        last_failed_unix_ms: d.last_failed_unix_ms as f64,
        trace_id: d.trace_id,
        replay_count: d.replay_count,
    }
}

/// A store failure becomes a JS Error whose message starts with the stable code; the host turns it
/// into a `FerruleError` with `code: 'FERRULE_STORAGE'`.
fn js(e: ferrule_core::Error) -> napi::Error {
    napi::Error::from_reason(format!("{}: {e}", e.code()))
}

fn ms(v: Option<f64>) -> Option<u64> {
    v.filter(|v| v.is_finite() && *v >= 0.0).map(|v| v as u64)
}

#[napi]
pub struct NativeDeadLetterQueue {
    inner: Arc<DeadLetterQueue>,
}

impl NativeDeadLetterQueue {
    /// The core queue, for watchers (`observe`'s dead-letter alert).
    pub(crate) fn inner(&self) -> &Arc<DeadLetterQueue> {
        &self.inner
    }
}

/// Opens the queue, or says why the configuration was refused (the host throws that). A file that
/// cannot be opened is a thrown storage error.
#[napi(catch_unwind)]
pub fn create_dead_letter_queue(
    o: DeadLetterOptions,
    backend: Option<&NativeRedisBackend>,
) -> napi::Result<Either<NativeDeadLetterQueue, ConfigError>> {
    let on_full = match o.on_full.as_deref() {
        None => OnFull::Reject,
        Some(s) => match OnFull::parse(s) {
            Some(v) => v,
            None => {
                return Ok(Either::B(ConfigError {
                    kind: "RangeError".into(),
                    code: "FERRULE_INVALID_CONFIG".into(),
                    param: "onFull".into(),
                    message: format!(
                        "DeadLetterQueue: onFull={s:?} is not allowed; allowed: \"reject\" or \"dropOldest\""
                    ),
                }))
            }
        },
    };
    let max_items = o.max_items.unwrap_or(10_000.0);
    let lease_ms = o.replay_lease_ms.unwrap_or(300_000.0);
    let params = [
        NodeParam {
            core: "max_items",
            node: "maxItems",
            millis: false,
            given: Some(max_items),
        },
        NodeParam {
            core: "replay_lease_seconds",
            node: "replayLeaseMs",
            millis: true,
            given: Some(lease_ms),
        },
    ];
    let max_ok = max_items.is_finite() && max_items.fract() == 0.0 && max_items >= 1.0;
    let config = DeadLetterConfig {
        name: o.name.unwrap_or_else(|| "default".into()),
        max_items: if max_ok { max_items as u64 } else { 0 },
        on_full,
        mask: o.mask.unwrap_or(true),
        replay_lease: if lease_ms.is_finite() && lease_ms > 0.0 {
            Duration::from_secs_f64(lease_ms.min(1e12) / 1e3)
        } else {
            Duration::ZERO
        },
    };
    if let Err(e) = config.validate() {
        return Ok(Either::B(config_error(&e, &params)));
    }
    // Redis Streams when a backend is given (shared by every process on that server), else the
    // SQLite file at `path`.
    let store: Arc<dyn DeadLetterStore> = match backend {
        Some(b) => Arc::new(RedisDeadLetterStore::new(b.inner.clone(), &config.name)),
        None => Arc::new(SqliteDeadLetterStore::open(&o.path).map_err(js)?),
    };
    let q = DeadLetterQueue::new(store, config).map_err(js)?;
    let inner = Arc::new(q);
    ferrule_core::telemetry::collector::export(&inner);
    Ok(Either::A(NativeDeadLetterQueue { inner }))
}

#[napi]
impl NativeDeadLetterQueue {
    /// The id once durable; null when full with `onFull: "reject"` (counted and logged).
    #[napi(catch_unwind)]
    pub fn push(
        &self,
        key: String,
        payload: String,
        errors: Vec<String>,
        attempts: u32,
        trace_id: Option<String>,
    ) -> napi::Result<Option<f64>> {
        self.inner
            .push(&key, &payload, errors, attempts, None, trace_id)
            .map(|id| id.map(|i| i as f64))
            .map_err(js)
    }

    #[napi(catch_unwind)]
    pub fn size(&self) -> napi::Result<f64> {
        self.inner.len().map(|n| n as f64).map_err(js)
    }

    #[napi(catch_unwind)]
    pub fn list(
        &self,
        limit: f64,
        since_unix_ms: Option<f64>,
    ) -> napi::Result<Vec<DeadLetterItem>> {
        let limit = if limit.is_finite() && limit >= 0.0 {
            limit.min(1e9) as usize
        } else {
            0
        };
        self.inner
            .list(limit, ms(since_unix_ms))
            .map(|v| v.into_iter().map(item).collect())
            .map_err(js)
    }

    #[napi(catch_unwind)]
    pub fn get(&self, id: f64) -> napi::Result<Option<DeadLetterItem>> {
        self.inner.get(id as u64).map(|v| v.map(item)).map_err(js)
    }

    #[napi(catch_unwind)]
    pub fn remove(&self, id: f64) -> napi::Result<bool> {
        self.inner.remove(id as u64).map_err(js)
    }

    #[napi(catch_unwind)]
    pub fn purge(&self, before_unix_ms: Option<f64>) -> napi::Result<f64> {
        self.inner
            .purge(ms(before_unix_ms))
            .map(|n| n as f64)
            .map_err(js)
    }

    #[napi(catch_unwind)]
    pub fn oldest_age_ms(&self) -> napi::Result<f64> {
        self.inner.oldest_age_seconds().map(|s| s * 1e3).map_err(js)
    }

    #[napi(catch_unwind)]
    pub fn stats(&self) -> DeadLetterStats {
        let s = self.inner.stats();
        let g = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed) as f64;
        DeadLetterStats {
            stored: g(&s.stored),
            rejected: g(&s.rejected),
            evicted: g(&s.evicted),
            replayed: g(&s.replayed),
            replay_failed: g(&s.replay_failed),
            store_errors: g(&s.store_errors),
        }
    }

    #[napi(getter, catch_unwind)]
    pub fn name(&self) -> String {
        self.inner.config().name.clone()
    }

    #[napi(getter, catch_unwind)]
    pub fn max_items(&self) -> f64 {
        self.inner.config().max_items as f64
    }

    #[napi(getter, catch_unwind)]
    pub fn on_full(&self) -> String {
        match self.inner.config().on_full {
            OnFull::Reject => "reject".into(),
            OnFull::DropOldest => "dropOldest".into(),
        }
    }

    #[napi(catch_unwind)]
    pub fn replay_cursor(
        &self,
        since_unix_ms: Option<f64>,
        max: Option<f64>,
    ) -> NativeReplayCursor {
        NativeReplayCursor {
            queue: self.inner.clone(),
            cursor: Mutex::new(self.inner.replay_cursor(ms(since_unix_ms), ms(max))),
        }
    }
}

/// One replay run, stepped by the JS loop (which awaits the user's handler).
#[napi]
pub struct NativeReplayCursor {
    queue: Arc<DeadLetterQueue>,
    // A lock only for interior mutability behind napi's shared reference; one run owns its cursor.
    cursor: Mutex<ReplayCursor>,
}

impl NativeReplayCursor {
    fn with<T>(
        &self,
        f: impl FnOnce(&DeadLetterQueue, &mut ReplayCursor) -> ferrule_core::Result<T>,
    ) -> napi::Result<T> {
        let mut c = self.cursor.lock().unwrap_or_else(|p| p.into_inner());
        f(&self.queue, &mut c).map_err(js)
    }
}

#[napi]
impl NativeReplayCursor {
    #[napi(catch_unwind)]
    pub fn next(&self) -> napi::Result<Option<DeadLetterItem>> {
        self.with(|q, c| q.replay_next(c)).map(|v| v.map(item))
    }

    #[napi(catch_unwind)]
    pub fn skip(&self) -> napi::Result<()> {
        self.with(|q, c| q.replay_skip(c))
    }

    #[napi(catch_unwind)]
    pub fn claim(&self, id: f64) -> napi::Result<bool> {
        self.with(|q, c| q.replay_claim(c, id as u64))
    }

    #[napi(catch_unwind)]
    pub fn succeeded(&self, id: f64) -> napi::Result<()> {
        self.with(|q, c| q.replay_succeeded(c, id as u64))
    }

    #[napi(catch_unwind)]
    pub fn failed(&self, id: f64, error: String) -> napi::Result<()> {
        self.with(|q, c| q.replay_failed(c, id as u64, &error))
    }

    #[napi(catch_unwind)]
    pub fn report(&self) -> ReplayReportJs {
        let r = self.cursor.lock().unwrap_or_else(|p| p.into_inner()).report;
        ReplayReportJs {
            succeeded: r.succeeded as f64,
            failed: r.failed as f64,
            skipped: r.skipped as f64,
            busy: r.busy as f64,
        }
    }
}
