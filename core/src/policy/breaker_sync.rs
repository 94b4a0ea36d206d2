//! A breaker shared across processes through Redis. Callers keep the local breaker's fast path (one
//! atomic load); a background thread publishes this process's trips at once (woken by the transition)
//! and, every `interval`, its window counts since the last sync, and applies what the others published:
//! an open breaker anywhere opens it everywhere within one interval (plus a round trip), and the summed
//! window counts trip it when no single process has seen `min_calls`. When Redis is down the backend's
//! `on_backend_error` decides: `local` keeps deciding locally, `fail_open` holds the breaker closed
//! (every call admitted), `fail_closed` holds it open (every call refused), until Redis answers. The
//! thread restarts itself lazily in a forked child (`ensure_running`, fork generation).

use crate::clock::{Clock, SystemClock};
use crate::policy::breaker::{CircuitBreaker, Reason, State, Transition};
use crate::store::redis_backend::{Fallback, OnBackendError, Op, RedisBackend};
use crate::telemetry::collector::{Collect, Sink};
use crate::watch::event::{Event as WatchEvent, EventState, Severity};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, OnceLock, Weak};
use std::time::Duration;

pub const SYNC_AGE_FAMILY: &str = "ferrule_breaker_sync_age_seconds";
pub const SYNCS_FAMILY: &str = "ferrule_breaker_syncs";
pub const HELD_FAMILY: &str = "ferrule_breaker_backend_decisions";

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
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerSyncStats {
    pub syncs: u64,
    pub errors: u64,
    /// Opens published from here, and applied here from elsewhere.
    pub published_opens: u64,
    pub applied_opens: u64,
    /// Seconds since the last exchange with Redis succeeded (since the start when none has).
    pub sync_age_seconds: f64,
    /// Is the breaker held by `fail_open` / `fail_closed` because Redis is down?
    pub held: bool,
    /// Calls the hold decided: admitted (`fail_open`), refused (`fail_closed`).
    pub held_admitted: u64,
    pub held_rejected: u64,
    /// Times the thread was started again in a forked child.
    pub restarts: u64,
}

fn declare_families() {
    static D: OnceLock<()> = OnceLock::new();
    D.get_or_init(|| {
        let r = crate::telemetry::registry::global();
        let ok = r
            .gauge(
                SYNC_AGE_FAMILY,
                "Seconds since this process last exchanged the breaker's state with Redis.",
                &["breaker"],
            )
            .and(r.counter(
                SYNCS_FAMILY,
                "Exchanges of a shared breaker's state with Redis, by outcome (ok, error).",
                &["breaker", "outcome"],
            ))
            .and(r.counter(
                HELD_FAMILY,
                "Calls decided by on_backend_error while Redis was down (admitted: fail_open, \
                 rejected: fail_closed).",
                &["breaker", "outcome"],
            ));
        debug_assert!(
            ok.is_ok(),
            "breaker sync metric declarations: {:?}",
            ok.err()
        );
    });
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
    // A lock, but taken only at a local trip, an outage event and a (re)start: never per call.
    thread: Mutex<Option<std::thread::Thread>>,
    /// The fork generation the thread runs in; another value means this is a child without it.
    generation: AtomicU64,
    policy: OnBackendError,
    clock: SystemClock,
    started_nanos: u64,
    /// Monotonic time of the last successful exchange; 0: none yet.
    last_ok_nanos: AtomicU64,
    /// Set while an outage is being handled here, so it is logged once when it starts and ends.
    degraded: AtomicBool,
    syncs: AtomicU64,
    errors: AtomicU64,
    published: AtomicU64,
    applied: AtomicU64,
    restarts: AtomicU64,
}

/// Keeps a breaker in step with its namesakes in other processes while it lives.
pub struct BreakerSync {
    shared: Arc<Shared>,
}

/// `sync_seconds` of a breaker, checked by hosts at construction even without a backend (a bad
/// value must not wait to fail until one is added).
pub fn check_sync_seconds(v: f64) -> crate::Result<f64> {
    if v.is_finite() && (0.001..=3600.0).contains(&v) {
        Ok(v)
    } else {
        Err(crate::error::Error::out_of_range(
            "CircuitBreaker",
            "sync_seconds",
            v,
            "[0.001, 3600]",
        ))
    }
}

impl BreakerSync {
    pub fn start(
        breaker: Arc<CircuitBreaker>,
        backend: Arc<RedisBackend>,
        config: BreakerSyncConfig,
    ) -> crate::Result<Self> {
        use crate::error::{check, Error};
        const C: &str = "CircuitBreaker";
        check_sync_seconds(config.interval_seconds)?;
        let window_seconds = match breaker.config().window {
            crate::WindowSpec::Time { nanos, .. } => nanos as f64 / 1e9,
            _ => config.window_seconds,
        };
        check::finite_positive(C, "window_seconds", window_seconds)?;
        let name = breaker.name().to_string();
        declare_families();
        let clock = SystemClock;
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
            thread: Mutex::new(None),
            generation: AtomicU64::new(crate::fork_guard::generation()),
            policy: backend.on_backend_error(),
            started_nanos: clock.now_nanos(),
            clock,
            last_ok_nanos: AtomicU64::new(0),
            degraded: AtomicBool::new(false),
            syncs: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            published: AtomicU64::new(0),
            applied: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
            breaker,
            backend,
        });
        let weak: Weak<Shared> = Arc::downgrade(&shared);
        // Runs on the caller's thread at a transition: only an atomic store and a wake, no Redis.
        shared.breaker.on_transition(move |t| {
            // Only this process's own trips are published; peer opens and backend holds are not.
            let own = !matches!(
                t.reason,
                Reason::Shared | Reason::BackendDown | Reason::BackendUp
            );
            if t.to == State::Open && own {
                if let Some(s) = weak.upgrade() {
                    let ms = t.open_for.map_or(1, |d| d.as_millis().max(1) as u64);
                    s.pending_open_ms.store(ms, Ordering::Release);
                    s.wake(); // a futex wake: the round trip happens on the sync thread
                }
            }
        });
        // Another user of the backend (a limiter, another breaker) may see the outage or the
        // recovery first: the thread reacts at once instead of at its next interval.
        let weak: Weak<Shared> = Arc::downgrade(&shared);
        shared.backend.on_event(move |_| {
            if let Some(s) = weak.upgrade() {
                s.wake();
            }
        });
        let weak: Weak<dyn Collect> = Arc::downgrade(&shared) as _;
        crate::telemetry::registry::global().add_collector(weak);
        Shared::spawn(&shared).map_err(|e| Error::Storage {
            store: "breaker sync",
            message: e.to_string(),
        })?;
        Ok(Self { shared })
    }

    /// Starts the thread again if this is a forked child of the process that started it (a child
    /// inherits memory, not threads). Two atomic loads when nothing changed; hosts call it where a
    /// forked worker first uses the breaker.
    #[inline]
    pub fn ensure_running(&self) {
        let g = crate::fork_guard::generation();
        let was = self.shared.generation.load(Ordering::Acquire);
        if was == g {
            return;
        }
        if self
            .shared
            .generation
            .compare_exchange(was, g, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.shared.restarts.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = Shared::spawn(&self.shared) {
                log::warn!(
                    "ferrule: breaker {:?}: the sync thread could not start in this forked process \
                     ({e}); it decides locally",
                    self.shared.breaker.name()
                );
            } else {
                log::info!(
                    "ferrule: breaker {:?}: sync thread started in forked process {}",
                    self.shared.breaker.name(),
                    std::process::id()
                );
            }
        }
    }

    /// One exchange now (the thread does this every interval).
    pub fn sync_now(&self) {
        self.shared.sync_once();
    }

    pub fn stats(&self) -> BreakerSyncStats {
        let s = &self.shared;
        let (held_admitted, held_rejected) = s.breaker.held_decisions();
        BreakerSyncStats {
            syncs: s.syncs.load(Ordering::Relaxed),
            errors: s.errors.load(Ordering::Relaxed),
            published_opens: s.published.load(Ordering::Relaxed),
            applied_opens: s.applied.load(Ordering::Relaxed),
            sync_age_seconds: s.sync_age_seconds(),
            held: s.breaker.is_held(),
            held_admitted,
            held_rejected,
            restarts: s.restarts.load(Ordering::Relaxed),
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
        self.shared.wake();
    }
}

impl Collect for Shared {
    fn collect(&self, sink: &mut Sink) {
        let n = self.breaker.name();
        sink.sample(SYNC_AGE_FAMILY, &[n], self.sync_age_seconds());
        let syncs = self.syncs.load(Ordering::Relaxed);
        let errors = self.errors.load(Ordering::Relaxed);
        sink.sample(
            SYNCS_FAMILY,
            &[n, "ok"],
            syncs.saturating_sub(errors) as f64,
        );
        sink.sample(SYNCS_FAMILY, &[n, "error"], errors as f64);
        let (admitted, rejected) = self.breaker.held_decisions();
        sink.sample(HELD_FAMILY, &[n, "admitted"], admitted as f64);
        sink.sample(HELD_FAMILY, &[n, "rejected"], rejected as f64);
    }
}

impl Shared {
    /// Starts the sync thread (at construction, or in a forked child). The thread owns what it
    /// uses (`Arc<Shared>`) and ends at its next wake-up after `stop`; nobody joins it.
    fn spawn(shared: &Arc<Shared>) -> std::io::Result<()> {
        let s = shared.clone();
        let generation = shared.generation.load(Ordering::Acquire);
        let t = std::thread::Builder::new()
            .name(format!("ferrule-breaker-sync-{}", shared.breaker.name()))
            .spawn(move || {
                while !s.stop.load(Ordering::Acquire)
                    && s.generation.load(Ordering::Acquire) == generation
                {
                    s.sync_once();
                    std::thread::park_timeout(s.interval);
                }
            })?;
        *shared.thread.lock().unwrap_or_else(|p| p.into_inner()) = Some(t.thread().clone());
        Ok(())
    }

    fn wake(&self) {
        if let Some(t) = &*self.thread.lock().unwrap_or_else(|p| p.into_inner()) {
            t.unpark();
        }
    }

    fn sync_age_seconds(&self) -> f64 {
        let last = self.last_ok_nanos.load(Ordering::Relaxed);
        let since = if last == 0 { self.started_nanos } else { last };
        self.clock.now_nanos().saturating_sub(since) as f64 / 1e9
    }

    /// The breaker's transition caused by the backend, as a watch event (to the alert router).
    fn publish(&self, state: EventState, message: String, t: &Transition) {
        let labels = vec![
            ("breaker".to_string(), self.breaker.name().to_string()),
            ("policy".to_string(), self.policy.as_str().to_string()),
        ];
        let e = WatchEvent {
            name: "breaker_backend_hold",
            source: self.breaker.name().to_string(),
            severity: Severity::Critical,
            state,
            dedup_key: WatchEvent::key("breaker_backend_hold", self.breaker.name(), &labels),
            labels,
            value: self.errors.load(Ordering::Relaxed) as f64,
            threshold: 1.0,
            message,
            at_nanos: t.at_nanos,
        };
        crate::watch::alert_router::publish(std::slice::from_ref(&e));
    }

    /// Redis gave no answer: the policy decides until it does (counted, logged once per outage).
    fn unavailable(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let name = self.breaker.name();
        let held = match self.policy {
            OnBackendError::Local => None,
            OnBackendError::FailOpen => self.breaker.hold(true),
            OnBackendError::FailClosed => self.breaker.hold(false),
        };
        self.backend
            .note_fallback(Op::BreakerSync, Fallback::of(self.policy));
        if !self.degraded.swap(true, Ordering::AcqRel) {
            let what = match self.policy {
                OnBackendError::Local => "it decides with this process's state alone",
                OnBackendError::FailOpen => "every call is admitted (held closed)",
                OnBackendError::FailClosed => "every call is refused (held open)",
            };
            log::warn!(
                "ferrule: breaker {name:?}: Redis unavailable, state not shared; \
                 on_backend_error={}: {what} until it answers",
                self.policy.as_str()
            );
        }
        if let Some(t) = held {
            self.publish(
                EventState::Firing,
                format!(
                    "breaker {name:?} held {} while Redis is down (on_backend_error={})",
                    t.to.as_str(),
                    self.policy.as_str()
                ),
                &t,
            );
        }
    }

    /// Redis answered: any hold ends (the state before it returns), logged once per outage.
    fn available(&self) {
        self.last_ok_nanos
            .store(self.clock.now_nanos().max(1), Ordering::Relaxed);
        if !self.degraded.swap(false, Ordering::AcqRel) {
            return;
        }
        let name = self.breaker.name();
        let ended = self.breaker.end_hold();
        log::warn!(
            "ferrule: breaker {name:?}: Redis answers again; state is shared again \
             (on_backend_error={} applied during the outage)",
            self.policy.as_str()
        );
        if let Some(t) = ended {
            self.publish(
                EventState::Resolved,
                format!("breaker {name:?}: Redis answers again, hold ended"),
                &t,
            );
        }
    }

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
        let result: Result<(String, String, u64, u64), _> =
            self.backend.run(Op::BreakerSync, None, |conn| {
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
                // Not published: try again next time; the policy decides meanwhile.
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
                self.unavailable();
                return;
            }
        };
        self.available();
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
