//! A breaker shared across processes through Redis. Callers keep the local breaker's fast path (one
//! atomic load); a background thread publishes this process's trips at once (woken by the transition)
//! and, every `interval`, its window counts since the last sync, and applies what the others published:
//! an open breaker anywhere opens it everywhere within one interval (plus a round trip), and the summed
//! window counts trip it when no single process has seen `min_calls`. When Redis is down the breaker
//! simply stays local.

use crate::policy::breaker::{CircuitBreaker, Reason, State};
use crate::store::redis_backend::RedisBackend;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Weak};
use std::time::Duration;

/// KEYS[1]: hash {open_until: server ms}; KEYS[2]: hash of per-second counts {sec:s, sec:f}.
/// ARGV: successes, failures (since the last sync), local open ms (0: none), min_calls, failure rate
/// (< 0: none), open ms, window seconds. Returns {open_until, remaining ms, calls, failures}.
const SYNC: &str = r#"
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local sec = tonumber(t[1])
local ds, df, local_open = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local min_calls, rate, open_ms, window = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
if ds > 0 then redis.call('HINCRBY', KEYS[2], sec .. ':s', ds) end
if df > 0 then redis.call('HINCRBY', KEYS[2], sec .. ':f', df) end
redis.call('EXPIRE', KEYS[2], window + 60)
local calls, failures = 0, 0
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  local field, value = all[i], tonumber(all[i + 1])
  local s, kind = string.match(field, '^(%d+):(%a)$')
  if s == nil or tonumber(s) <= sec - window then
    redis.call('HDEL', KEYS[2], field)
  else
    calls = calls + value
    if kind == 'f' then failures = failures + value end
  end
end
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0') or 0
local opened = false
if local_open > 0 and now_ms + local_open > open_until then
  open_until = now_ms + local_open
  opened = true
elseif rate >= 0 and open_until <= now_ms and calls >= min_calls and calls > 0 and failures >= rate * calls then
  open_until = now_ms + open_ms
  opened = true
end
if opened then
  redis.call('HSET', KEYS[1], 'open_until', string.format('%.0f', open_until))
  redis.call('PEXPIRE', KEYS[1], string.format('%.0f', open_until - now_ms + 60000))
  redis.call('DEL', KEYS[2]) -- the window that tripped it must not trip it again after the open period
end
return {string.format('%.0f', open_until), string.format('%.0f', open_until - now_ms), calls, failures}
"#;

static SYNC_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(SYNC));

#[derive(Debug, Clone, PartialEq)]
pub struct BreakerSyncConfig {
    /// How often state is exchanged: the bound on how late another process's open is seen here.
    pub interval_seconds: f64,
    /// Shared failure-rate window, for breakers whose own window counts calls rather than time.
    pub window_seconds: f64,
}

impl Default for BreakerSyncConfig {
    fn default() -> Self {
        Self {
            interval_seconds: 0.5,
            window_seconds: 30.0,
        }
    }
}

/// Counters of the sync thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSyncStats {
    pub syncs: u64,
    pub errors: u64,
    /// Opens published from here, and applied here from elsewhere.
    pub published_opens: u64,
    pub applied_opens: u64,
}

struct Shared {
    breaker: Arc<CircuitBreaker>,
    backend: Arc<RedisBackend>,
    state_key: String,
    window_key: String,
    interval: Duration,
    window_seconds: u64,
    /// Open duration (ms) of a local trip not yet published; 0: none.
    pending_open_ms: AtomicU64,
    /// The last shared `open_until` applied or published here, so one open is applied once.
    applied_until: AtomicU64,
    seen_successes: AtomicU64,
    seen_failures: AtomicU64,
    stop: AtomicBool,
    /// The sync thread, woken at once by a local trip so the open is published without waiting.
    thread: std::sync::OnceLock<std::thread::Thread>,
    syncs: AtomicU64,
    errors: AtomicU64,
    published: AtomicU64,
    applied: AtomicU64,
}

/// Keeps a breaker in step with its namesakes in other processes while it lives.
pub struct BreakerSync {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BreakerSync {
    pub fn start(
        breaker: Arc<CircuitBreaker>,
        backend: Arc<RedisBackend>,
        config: BreakerSyncConfig,
    ) -> crate::Result<Self> {
        use crate::error::{check, Error};
        const C: &str = "CircuitBreaker";
        check::finite_positive(C, "sync_seconds", config.interval_seconds)?;
        if !(0.001..=3600.0).contains(&config.interval_seconds) {
            return Err(Error::out_of_range(
                C,
                "sync_seconds",
                config.interval_seconds,
                "[0.001, 3600]",
            ));
        }
        let window_seconds = match breaker.config().window {
            crate::WindowSpec::Time { nanos, .. } => nanos as f64 / 1e9,
            _ => config.window_seconds,
        };
        check::finite_positive(C, "window_seconds", window_seconds)?;
        let name = breaker.name().to_string();
        let shared = Arc::new(Shared {
            state_key: backend.key("cb", &name, Some("state")),
            window_key: backend.key("cb", &name, Some("window")),
            interval: Duration::from_secs_f64(config.interval_seconds),
            window_seconds: window_seconds.ceil().max(1.0) as u64,
            pending_open_ms: AtomicU64::new(0),
            applied_until: AtomicU64::new(0),
            seen_successes: AtomicU64::new(0),
            seen_failures: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            thread: std::sync::OnceLock::new(),
            syncs: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            published: AtomicU64::new(0),
            applied: AtomicU64::new(0),
            breaker,
            backend,
        });
        let weak: Weak<Shared> = Arc::downgrade(&shared);
        // Runs on the caller's thread at a transition: only an atomic store, no Redis.
        shared.breaker.on_transition(move |t| {
            if t.to == State::Open && t.reason != Reason::Shared {
                if let Some(s) = weak.upgrade() {
                    let ms = t.open_for.map_or(1, |d| d.as_millis().max(1) as u64);
                    s.pending_open_ms.store(ms, Ordering::Release);
                    if let Some(t) = s.thread.get() {
                        t.unpark(); // a futex wake: the round trip happens on the sync thread
                    }
                }
            }
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("ferrule-breaker-sync-{name}"))
            .spawn(move || {
                while !s.stop.load(Ordering::Acquire) {
                    s.sync_once();
                    std::thread::park_timeout(s.interval);
                }
            })
            .map_err(|e| Error::Storage {
                store: "breaker sync",
                message: e.to_string(),
            })?;
        let _ = shared.thread.set(thread.thread().clone());
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// One exchange now (the thread does this every interval).
    pub fn sync_now(&self) {
        self.shared.sync_once();
    }

    pub fn stats(&self) -> BreakerSyncStats {
        let s = &self.shared;
        BreakerSyncStats {
            syncs: s.syncs.load(Ordering::Relaxed),
            errors: s.errors.load(Ordering::Relaxed),
            published_opens: s.published.load(Ordering::Relaxed),
            applied_opens: s.applied.load(Ordering::Relaxed),
        }
    }
}

impl Drop for BreakerSync {
    /// Stops the thread without waiting for it: it owns what it uses (`Arc<Shared>`) and ends at
    /// its next wake-up. Joining here could deadlock a host at exit: Python drops the breaker while
    /// finalizing, and a thread that is mid-call (a Redis round trip, a log line routed to the host)
    /// may never be scheduled to finish.
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
        }
    }
}

impl Shared {
    fn sync_once(&self) {
        let snap = self.breaker.snapshot();
        let ds = snap
            .successes
            .saturating_sub(self.seen_successes.load(Ordering::Relaxed));
        let df = snap
            .failures
            .saturating_sub(self.seen_failures.load(Ordering::Relaxed));
        let local_open = self.pending_open_ms.swap(0, Ordering::AcqRel);
        let c = self.breaker.config();
        let rate = c.failure_rate.unwrap_or(-1.0);
        let open_ms = (c.open_seconds * 1000.0).ceil() as u64;
        let result: Result<(String, String, u64, u64), _> = self.backend.run(None, |conn| {
            SYNC_SCRIPT
                .key(&self.state_key)
                .key(&self.window_key)
                .arg(ds)
                .arg(df)
                .arg(local_open)
                .arg(c.min_calls)
                .arg(rate)
                .arg(open_ms)
                .arg(self.window_seconds)
                .invoke(conn)
        });
        self.syncs.fetch_add(1, Ordering::Relaxed);
        let (until, remaining) = match result {
            Ok((until, remaining, _, _)) => (
                until.parse::<f64>().unwrap_or(0.0) as u64,
                remaining.parse::<f64>().unwrap_or(0.0),
            ),
            Err(e) => {
                // Not published: try again next time; the breaker keeps deciding locally meanwhile.
                self.errors.fetch_add(1, Ordering::Relaxed);
                self.backend.note_fallback();
                if local_open > 0 {
                    let _ = self.pending_open_ms.compare_exchange(
                        0,
                        local_open,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    );
                }
                log::debug!(
                    "ferrule: breaker {:?} not synced: {e:?}",
                    self.breaker.name()
                );
                return;
            }
        };
        self.seen_successes.store(snap.successes, Ordering::Relaxed);
        self.seen_failures.store(snap.failures, Ordering::Relaxed);
        if local_open > 0 {
            self.published.fetch_add(1, Ordering::Relaxed);
            self.applied_until.fetch_max(until, Ordering::AcqRel);
            return;
        }
        if remaining > 0.0 && self.applied_until.fetch_max(until, Ordering::AcqRel) < until {
            let d = Duration::from_secs_f64(remaining / 1000.0);
            if self.breaker.open_from_peer(d).is_some() {
                self.applied.fetch_add(1, Ordering::Relaxed);
                log::warn!(
                    "ferrule: breaker {:?} opened for {d:?}: opened in another process",
                    self.breaker.name()
                );
            }
        }
    }
}
