//! `NativeRateLimiter`: the core rate limiter as the JS host layer (`bindings-node/rate_limit.js`)
//! sees it. Options arrive in Node units (ms, camelCase) and are converted once. A wait step returns
//! one number (the wait, or a refusal) so no object crosses; the hot `tryAcquire` is a raw function
//! made in `rate_limit_fast_call.rs`.

use crate::clock::NativeManualClock;
use crate::error::{config_error, ConfigError, NodeParam};
use crate::rate_limit_events::{LimiterHandle, RateLimitWarning};
use crate::redis_backend::NativeRedisBackend;
use ferrule_core::{Algorithm, ClockRef, RateLimitConfig, RateLimiter, Step};
use napi::bindgen_prelude::Either;
use napi_derive::napi;
use std::sync::Arc;

/// `step` returns the wait in ms (`0`: admitted), or for a refusal `REFUSED_AFTER - retryAfterMs`
/// (always < 0).
const REFUSED_AFTER: f64 = -1.0;

/// Options as the host layer normalised them: numbers only, in Node units.
#[napi(object)]
pub struct RateLimiterOptions {
    pub rate: Option<f64>,
    pub per_ms: Option<f64>,
    pub burst: Option<f64>,
    pub limit: Option<f64>,
    pub window_ms: Option<f64>,
    pub max_keys: Option<f64>,
}

impl RateLimiterOptions {
    fn params(&self) -> [NodeParam; 6] {
        let p = |core, node, millis, given| NodeParam {
            core,
            node,
            millis,
            given,
        };
        [
            p("rate", "rate", false, self.rate),
            p("per_seconds", "perMs", true, self.per_ms),
            p("burst", "burst", false, self.burst),
            p("limit", "limit", false, self.limit),
            p("window_seconds", "windowMs", true, self.window_ms),
            p("max_keys", "maxKeys", false, self.max_keys),
        ]
    }

    fn to_config(&self, kind: &str, name: String) -> RateLimitConfig {
        let secs = |ms: Option<f64>, default_ms: f64| ms.unwrap_or(default_ms) / 1000.0;
        let algorithm = match kind {
            "tokenBucket" => {
                let rate = self.rate.unwrap_or(f64::NAN);
                Algorithm::TokenBucket {
                    rate,
                    per_seconds: secs(self.per_ms, 1000.0),
                    // Default burst: one period's worth, as in Python.
                    burst: self.burst.map_or_else(|| rate.ceil().max(1.0) as u64, int),
                }
            }
            "slidingWindow" => Algorithm::SlidingWindow {
                limit: self.limit.map_or(0, int),
                window_seconds: secs(self.window_ms, f64::NAN),
            },
            _ => Algorithm::SlidingLog {
                limit: self.limit.map_or(0, int),
                window_seconds: secs(self.window_ms, f64::NAN),
            },
        };
        RateLimitConfig {
            max_keys: self.max_keys.map_or(10_000, int),
            ..RateLimitConfig::new(name, algorithm)
        }
    }
}

/// A JS number the core cannot take as an integer (fractional, negative, NaN) becomes 0, below
/// every range the core checks, so the core still decides and names the range.
fn int(v: f64) -> u64 {
    if v.fract() == 0.0 && v >= 0.0 {
        v.min(u64::MAX as f64) as u64
    } else {
        0
    }
}

/// A request size for the core's check: fractional or NaN sizes become 0 (refused, like `n=0`);
/// the message still shows the number given, via `unitsError`.
pub(crate) fn units(n: f64) -> i128 {
    if n.fract() == 0.0 {
        n as i128
    } else {
        0
    }
}

pub(crate) fn millis(d: std::time::Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

/// The core's `RateLimitStats`, counters as `f64` (exact below 2^53, unlike napi's `i64`).
#[napi(object)]
pub struct RateLimiterStats {
    pub name: String,
    pub algorithm: String,
    pub admitted: f64,
    pub admitted_units: f64,
    pub rejected: f64,
    pub waits: f64,
    pub wait_ms_total: f64,
    pub refunded_units: f64,
    pub charged_extra_units: f64,
    pub dropped_units: f64,
    pub keys: f64,
    pub evicted_idle: f64,
    pub evicted_active: f64,
}

#[napi]
pub struct NativeRateLimiter {
    pub(crate) inner: Arc<LimiterHandle>,
}

/// Builds a limiter of `kind` (`tokenBucket`, `slidingWindow`, `slidingLog`), or says why the
/// configuration was refused (the host throws that).
#[napi(catch_unwind)]
pub fn create_rate_limiter(
    kind: String,
    name: String,
    options: RateLimiterOptions,
    clock: Option<&NativeManualClock>,
    backend: Option<&NativeRedisBackend>,
) -> Either<NativeRateLimiter, ConfigError> {
    let clock = clock.map_or(ClockRef::System, |c| ClockRef::Manual(c.inner.clone()));
    let config = options.to_config(&kind, name);
    let built = match backend {
        Some(b) => RateLimiter::with_backend(config, clock, b.inner.clone()),
        None => RateLimiter::with_clock(config, clock),
    };
    match built {
        Ok(l) => Either::A(NativeRateLimiter {
            inner: Arc::new(LimiterHandle::new(l)),
        }),
        Err(e) => Either::B(config_error(&e, &options.params())),
    }
}

#[napi]
impl NativeRateLimiter {
    /// Why `n` is refused (the host throws it), or `null` when it is a valid size.
    #[napi(catch_unwind)]
    pub fn units_error(&self, n: f64) -> Option<ConfigError> {
        let given = NodeParam {
            core: "n",
            node: "n",
            millis: false,
            given: Some(n),
        };
        self.inner
            .units(units(n))
            .err()
            .map(|e| config_error(&e, &[given]))
    }

    /// One step of a wait loop: `0` admitted (`-0` when warnings wait in `takeWarnings`), `> 0` the
    /// ms to wait (counted as a wait), `< 0` refused because the wait passes `deadlineMs` (this
    /// limiter's clock): `REFUSED_AFTER - retryAfterMs`. `n` must have passed `unitsError`.
    #[napi(catch_unwind)]
    pub fn step(&self, n: f64, key: Option<String>, deadline_ms: Option<f64>) -> f64 {
        let Ok(n) = self.inner.units(units(n)) else {
            return f64::NAN;
        };
        let deadline = deadline_ms.map(|d| (d.max(0.0) * 1e6) as u64);
        match self.inner.acquire_until(n, key.as_deref(), deadline) {
            Step::Admitted if self.inner.events.pending() => -0.0,
            Step::Admitted => 0.0,
            Step::Wait(d) => millis(d).max(1e-6),
            Step::Rejected(d) => REFUSED_AFTER - millis(d),
        }
    }

    /// Ms until `n` would pass (0: now), charging and counting nothing.
    #[napi(catch_unwind)]
    pub fn peek(&self, n: f64, key: Option<String>) -> f64 {
        match self.inner.units(units(n)) {
            Ok(n) => millis(self.inner.peek(n, key.as_deref())),
            Err(_) => f64::NAN,
        }
    }

    /// Ms on this limiter's clock: the time base of `step`'s deadline.
    #[napi(catch_unwind)]
    pub fn now(&self) -> f64 {
        self.inner.now_nanos() as f64 / 1e6
    }

    /// The lost-state warnings since the last call, for `process.emitWarning`.
    #[napi(catch_unwind)]
    pub fn take_warnings(&self) -> Vec<RateLimitWarning> {
        self.inner.events.take(self.inner.name())
    }

    /// Drops every key whose state equals a new key's; returns how many.
    #[napi(catch_unwind)]
    pub fn evict_idle(&self) -> f64 {
        self.inner.evict_idle() as f64
    }

    #[napi(catch_unwind)]
    pub fn stats(&self) -> RateLimiterStats {
        let s = self.inner.stats();
        RateLimiterStats {
            name: s.name,
            algorithm: s.algorithm.into(),
            admitted: s.admitted as f64,
            admitted_units: s.admitted_units as f64,
            rejected: s.rejected as f64,
            waits: s.waits as f64,
            wait_ms_total: s.wait_seconds_total * 1000.0,
            refunded_units: s.refunded_units as f64,
            charged_extra_units: s.charged_extra_units as f64,
            dropped_units: s.dropped_units as f64,
            keys: s.keys.keys as f64,
            evicted_idle: s.keys.evicted_idle as f64,
            evicted_active: s.keys.evicted_active as f64,
        }
    }
}
