//! `NativeBreaker`: the core circuit breaker as the JS host layer (`bindings-node/breaker.js`) sees
//! it. Options arrive in Node units (ms, camelCase) and are converted once. On the hot path
//! (`fast_call.rs`) `acquire` gives a plain number and `record` nothing, unless the breaker moved:
//! no object and no exception crosses in the steady state.

use crate::clock::NativeManualClock;
use crate::error::{config_error, ConfigError, NodeParam};
use crate::redis_backend::NativeRedisBackend;
use ferrule_core::policy::breaker::Reason;
use ferrule_core::policy::breaker_sync::{BreakerSync, BreakerSyncConfig};
use ferrule_core::{
    BreakerConfig, CircuitBreaker, ClockRef, Error, Outcome, Permit, State, Transition, WindowSpec,
};
use napi::bindgen_prelude::{Either, Function};
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi_derive::napi;
use std::sync::Arc;

const C: &str = "CircuitBreaker";

/// Buckets of a time window when the caller names none; the Python binding uses the same.
const DEFAULT_WINDOW_BUCKETS: f64 = 10.0;

/// `acquire` returns the permit token (>= 0), or one of these for a refusal.
const REJECTED_UNKNOWN: f64 = -1.0;
/// A refusal with a known wait returns `REJECTED_AFTER - retry_after_ms` (so always <= -2).
const REJECTED_AFTER: f64 = -2.0;

/// Options as the host layer normalised them: numbers only, in Node units. Absent means the core's
/// default (`BreakerConfig::default()`).
#[napi(object)]
pub struct BreakerOptions {
    pub failure_rate: Option<f64>,
    /// `failureRate: null` in the Node API: judge without a failure rate (JS `null` and `undefined`
    /// both arrive as `None`, hence the flag).
    pub no_failure_rate: Option<bool>,
    pub consecutive_failures: Option<f64>,
    pub window: Option<f64>,
    pub window_ms: Option<f64>,
    pub window_buckets: Option<f64>,
    pub min_calls: Option<f64>,
    pub slow_call_ms: Option<f64>,
    pub slow_call_rate: Option<f64>,
    pub open_ms: Option<f64>,
    pub max_open_ms: Option<f64>,
    pub open_multiplier: Option<f64>,
    pub half_open_calls: Option<f64>,
}

impl BreakerOptions {
    /// Each core parameter with its Node name, unit and the value the caller gave.
    fn params(&self) -> [NodeParam; 12] {
        let p = |core, node, millis, given| NodeParam {
            core,
            node,
            millis,
            given,
        };
        [
            p("failure_rate", "failureRate", false, self.failure_rate),
            p(
                "consecutive_failures",
                "consecutiveFailures",
                false,
                self.consecutive_failures,
            ),
            p("window", "window", false, self.window),
            p("window_seconds", "windowMs", true, self.window_ms),
            p(
                "window_buckets",
                "windowBuckets",
                false,
                self.window_buckets,
            ),
            p("min_calls", "minCalls", false, self.min_calls),
            p("slow_call_seconds", "slowCallMs", true, self.slow_call_ms),
            p("slow_call_rate", "slowCallRate", false, self.slow_call_rate),
            p("open_seconds", "openMs", true, self.open_ms),
            p("max_open_seconds", "maxOpenMs", true, self.max_open_ms),
            p(
                "open_multiplier",
                "openMultiplier",
                false,
                self.open_multiplier,
            ),
            p(
                "half_open_calls",
                "halfOpenCalls",
                false,
                self.half_open_calls,
            ),
        ]
    }

    fn to_config(&self, name: String) -> ferrule_core::Result<BreakerConfig> {
        let d = BreakerConfig::named(name);
        let window = match (self.window, self.window_ms) {
            (Some(n), Some(_)) => {
                return Err(Error::conflict(
                    C,
                    "window",
                    n,
                    "window_seconds was given too; choose a count window or a time window",
                ))
            }
            (_, None) if self.window_buckets.is_some() => {
                return Err(Error::conflict(
                    C,
                    "window_buckets",
                    self.window_buckets.unwrap_or_default(),
                    "it applies to a time window only (window_seconds)",
                ))
            }
            (Some(n), None) => WindowSpec::Count(int(n)),
            (None, Some(ms)) => WindowSpec::Time {
                // Saturating cast: negative or NaN becomes 0, which the core refuses. The core sets
                // no upper bound on a time window yet (Infinity saturates to u64::MAX nanos).
                nanos: (ms * 1e6) as u64,
                buckets: int(self.window_buckets.unwrap_or(DEFAULT_WINDOW_BUCKETS)),
            },
            (None, None) => d.window,
        };
        Ok(BreakerConfig {
            failure_rate: if self.no_failure_rate == Some(true) {
                None
            } else {
                self.failure_rate.or(d.failure_rate)
            },
            consecutive_failures: self.consecutive_failures.map(int),
            window,
            min_calls: self.min_calls.map_or(d.min_calls, int),
            slow_call_seconds: self.slow_call_ms.map(secs),
            slow_call_rate: self.slow_call_rate,
            open_seconds: self.open_ms.map_or(d.open_seconds, secs),
            max_open_seconds: self.max_open_ms.map(secs),
            open_multiplier: self.open_multiplier.unwrap_or(d.open_multiplier),
            half_open_calls: self.half_open_calls.map_or(d.half_open_calls, int),
            ..d
        })
    }
}

fn secs(ms: f64) -> f64 {
    ms / 1000.0
}

/// A JS number the core cannot take as an integer (fractional, negative, NaN) becomes 0, below every
/// integer range the core checks (all start at 1); one beyond `u32` saturates above them all. So the
/// core still decides and names the range, and the message shows the number the caller gave.
fn int(v: f64) -> u32 {
    if v.fract() == 0.0 && v >= 0.0 {
        v.min(u32::MAX as f64) as u32
    } else {
        0
    }
}

/// A state change, for the host's `'stateChange'` listeners.
#[napi(object)]
pub struct TransitionInfo {
    pub from: String,
    pub to: String,
    pub reason: String,
    /// For a transition to open: how long it stays open.
    pub open_for_ms: Option<f64>,
    /// True when another process caused it (its open arrived through Redis).
    pub peer: bool,
}

impl From<Transition> for TransitionInfo {
    fn from(t: Transition) -> Self {
        Self {
            from: t.from.as_str().into(),
            to: t.to.as_str().into(),
            reason: t.reason.as_str().into(),
            open_for_ms: t.open_for.map(millis),
            peer: t.reason.is_peer(),
        }
    }
}

/// An admission that moved the breaker (open → half-open): rare, so it may cost an object.
#[napi(object)]
pub struct Admission {
    pub token: f64,
    pub transition: TransitionInfo,
}

/// The core's `Snapshot`, counters as `f64` (exact below 2^53, unlike napi's `i64`).
#[napi(object)]
pub struct BreakerStats {
    pub name: String,
    pub state: String,
    pub forced: bool,
    pub calls: f64,
    pub successes: f64,
    pub failures: f64,
    pub ignored: f64,
    pub slow: f64,
    pub rejected: f64,
    pub transitions: f64,
    pub consecutive_failures: f64,
    pub window_calls: f64,
    pub window_failures: f64,
    pub window_slow: f64,
    pub open_remaining_ms: Option<f64>,
}

fn millis(d: std::time::Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

/// The sync thread's counters (a breaker with a Redis backend), numbers as `f64`.
#[napi(object)]
pub struct BreakerSyncStatsJs {
    pub syncs: f64,
    pub errors: f64,
    pub published_opens: f64,
    pub applied_opens: f64,
    /// Since the last exchange with Redis that succeeded.
    pub sync_age_ms: f64,
    /// Held by `failOpen` / `failClosed` while Redis is down.
    pub held: bool,
    pub held_admitted: f64,
    pub held_rejected: f64,
}

/// Owns the core breaker. The hot path does not go through this object's methods but through
/// the functions `fast_call.rs` makes for it, each holding its own strong reference.
#[napi]
pub struct NativeBreaker {
    pub(crate) inner: Arc<CircuitBreaker>,
    /// With a Redis backend: the thread that shares this breaker's state; stopped when it drops.
    _sync: Option<BreakerSync>,
}

/// Builds a breaker, or says why the configuration was refused (the host throws that). Without a
/// manual clock it reads the system clock.
#[napi(catch_unwind)]
pub fn create_breaker(
    name: String,
    options: BreakerOptions,
    clock: Option<&NativeManualClock>,
    backend: Option<&NativeRedisBackend>,
    sync_ms: Option<f64>,
    on_background_transition: Option<Function<TransitionInfo, ()>>,
) -> Either<NativeBreaker, ConfigError> {
    let clock = clock.map_or(ClockRef::System, |c| ClockRef::Manual(c.inner.clone()));
    let inner = match options
        .to_config(name)
        .and_then(|config| CircuitBreaker::with_clock(config, clock))
    {
        Ok(b) => Arc::new(b),
        Err(e) => return Either::B(config_error(&e, &options.params())),
    };
    // Transitions made by the sync thread (a peer's open arriving through Redis, a backend hold and
    // its end) have no JS caller to return to: they are queued to the JS thread. Weak, so a breaker
    // never keeps the process alive.
    if let (Some(_), Some(f)) = (backend, on_background_transition) {
        let tsfn = f
            .build_threadsafe_function::<TransitionInfo>()
            .weak::<true>()
            .callee_handled::<false>()
            .build();
        match tsfn {
            Ok(tsfn) => inner.on_transition(move |t| {
                if matches!(
                    t.reason,
                    Reason::Shared | Reason::BackendDown | Reason::BackendUp
                ) {
                    let _ = tsfn.call((*t).into(), ThreadsafeFunctionCallMode::NonBlocking);
                }
            }),
            Err(e) => {
                let e = Error::Storage {
                    store: "breaker sync",
                    message: format!("cannot deliver background transitions to listeners: {e}"),
                };
                return Either::B(config_error(&e, &[]));
            }
        }
    }
    // Shared through Redis: opens and window counts published and picked up every `syncMs`, on a
    // background thread (never on a caller's path).
    let sync = match backend {
        None => None,
        Some(b) => {
            let interval_seconds = sync_ms.unwrap_or(500.0) / 1e3;
            match BreakerSync::start(
                inner.clone(),
                b.inner.clone(),
                BreakerSyncConfig {
                    interval_seconds,
                    ..BreakerSyncConfig::default()
                },
            ) {
                Ok(s) => Some(s),
                Err(e) => {
                    let param = NodeParam {
                        core: "sync_seconds",
                        node: "syncMs",
                        millis: true,
                        given: sync_ms,
                    };
                    return Either::B(config_error(&e, &[param]));
                }
            }
        }
    };
    Either::A(NativeBreaker { inner, _sync: sync })
}

/// Asks to make a call (for `fast_call.rs`): the permit token (>= 0), `-1` when refused with no
/// known wait, `-2 - retryAfterMs` when refused with one; and the transition when this call moved
/// the breaker to half-open.
#[inline]
pub(crate) fn acquire(b: &CircuitBreaker) -> (f64, Option<Transition>) {
    match b.acquire() {
        Ok((permit, t)) => (permit.token() as f64, t),
        Err(r) => (
            match r.retry_after {
                Some(d) => REJECTED_AFTER - millis(d),
                None => REJECTED_UNKNOWN,
            },
            None,
        ),
    }
}

/// Records how an admitted call ended (for `fast_call.rs`). Returns the transition it caused.
#[inline]
pub(crate) fn record(b: &CircuitBreaker, token: f64, outcome: Outcome) -> Option<Transition> {
    b.record(Permit::from_token(token as u64), outcome)
}

#[napi]
impl NativeBreaker {
    #[napi(catch_unwind)]
    pub fn force_open(&self) -> Option<TransitionInfo> {
        self.inner.force_open().map(Into::into)
    }

    #[napi(catch_unwind)]
    pub fn force_closed(&self) -> Option<TransitionInfo> {
        self.inner.force_closed().map(Into::into)
    }

    #[napi(catch_unwind)]
    pub fn reset(&self) -> Option<TransitionInfo> {
        self.inner.reset().map(Into::into)
    }

    /// 0 closed, 1 open, 2 half-open: the host maps it to its interned strings.
    #[napi(catch_unwind)]
    pub fn state(&self) -> u32 {
        match self.inner.state() {
            State::Closed => 0,
            State::Open => 1,
            State::HalfOpen => 2,
        }
    }

    /// With a backend: the sync thread's counters; otherwise null.
    #[napi(catch_unwind)]
    pub fn sync_stats(&self) -> Option<BreakerSyncStatsJs> {
        self._sync.as_ref().map(|s| {
            let s = s.stats();
            BreakerSyncStatsJs {
                syncs: s.syncs as f64,
                errors: s.errors as f64,
                published_opens: s.published_opens as f64,
                applied_opens: s.applied_opens as f64,
                sync_age_ms: s.sync_age_seconds * 1e3,
                held: s.held,
                held_admitted: s.held_admitted as f64,
                held_rejected: s.held_rejected as f64,
            }
        })
    }

    #[napi(catch_unwind)]
    pub fn stats(&self) -> BreakerStats {
        let s = self.inner.snapshot();
        BreakerStats {
            name: s.name,
            state: s.state.as_str().into(),
            forced: s.forced,
            calls: s.calls as f64,
            successes: s.successes as f64,
            failures: s.failures as f64,
            ignored: s.ignored as f64,
            slow: s.slow as f64,
            rejected: s.rejected as f64,
            transitions: s.transitions as f64,
            consecutive_failures: s.consecutive_failures as f64,
            window_calls: s.window.calls as f64,
            window_failures: s.window.failures as f64,
            window_slow: s.window.slow as f64,
            open_remaining_ms: s.open_remaining.map(millis),
        }
    }
}
