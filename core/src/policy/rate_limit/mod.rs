//! Rate limiters: a token bucket (GCRA), a sliding-window counter and an exact sliding log, each
//! optionally keyed (per tenant, user, model). A decision is one call that either charges or says how
//! long to wait; the host sleeps exactly that long, or gives up when its budget is shorter.

mod event;
mod gcra;
mod keyed;
mod multi;
#[cfg(feature = "redis")]
mod redis_gcra;
#[cfg(feature = "redis")]
mod redis_limit;
#[cfg(feature = "redis")]
mod redis_sliding_window;
mod rule;
mod sliding_log;
mod sliding_window;

pub use event::RateLimitEvent;
pub use keyed::KeyStats;
pub use multi::{MultiLimit, MultiStats, MultiStep, Reservation};

use crate::clock::ClockRef;
use crate::error::{check, Error, Result};
use crate::striped::StripedCounter;
use event::Events;
use gcra::Gcra;
use keyed::Cells;
use rule::Rule;
use sliding_log::{SlidingLog, MAX_LOG_LIMIT};
use sliding_window::{SlidingWindow, MAX_WINDOW_LIMIT};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const C: &str = "RateLimiter";
/// Longest bucket span or window: a year, far inside u64 nanoseconds.
const MAX_SPAN_NANOS: f64 = 31_536_000.0 * 1e9;

/// Which algorithm, with its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Algorithm {
    /// `rate` units per `per_seconds`, up to `burst` at once.
    TokenBucket {
        rate: f64,
        per_seconds: f64,
        burst: u64,
    },
    /// At most `limit` units in any `window_seconds`, estimated from two fixed windows (O(1)).
    SlidingWindow { limit: u64, window_seconds: f64 },
    /// At most `limit` units in any `window_seconds`, exactly (a log bounded by the limit).
    SlidingLog { limit: u64, window_seconds: f64 },
}

impl Algorithm {
    pub fn as_str(&self) -> &'static str {
        match self {
            Algorithm::TokenBucket { .. } => "token_bucket",
            Algorithm::SlidingWindow { .. } => "sliding_window",
            Algorithm::SlidingLog { .. } => "sliding_log",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RateLimitConfig {
    pub name: String,
    pub algorithm: Algorithm,
    /// Most keys held at once; beyond it, idle keys are evicted first.
    pub max_keys: u64,
}

impl RateLimitConfig {
    pub fn new(name: impl Into<String>, algorithm: Algorithm) -> Self {
        Self {
            name: name.into(),
            algorithm,
            max_keys: 10_000,
        }
    }
}

/// What the host does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Charged: go.
    Admitted,
    /// Nothing charged: sleep exactly this long, then ask again.
    Wait(Duration),
    /// Nothing charged, and the wait is longer than the caller's budget: give up now.
    Rejected(Duration),
}

/// Counters, read without stopping anyone.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimitStats {
    pub name: String,
    pub algorithm: &'static str,
    pub admitted: u64,
    pub admitted_units: u64,
    /// Requests refused (try_acquire false, or a wait longer than the caller's budget).
    pub rejected: u64,
    /// Times a caller was told to wait, and the total of those waits.
    pub waits: u64,
    pub wait_seconds_total: f64,
    /// Units given back (denied multi-limits, reservations settled below their estimate).
    pub refunded_units: u64,
    /// Units charged after the fact (reservations settled above their estimate).
    pub charged_extra_units: u64,
    /// Extra units that did not fit the bounded state and were not recorded.
    pub dropped_units: u64,
    pub keys: KeyStats,
}

enum Kind {
    Bucket(Gcra, Cells<Gcra>),
    Window(SlidingWindow, Cells<SlidingWindow>),
    Log(SlidingLog, Cells<SlidingLog>),
}

/// Calls `$body` with the rule and the keyed cells of whichever algorithm this limiter runs.
macro_rules! on_kind {
    ($self:expr, |$rule:ident, $cells:ident| $body:expr) => {
        match &$self.kind {
            Kind::Bucket($rule, $cells) => $body,
            Kind::Window($rule, $cells) => $body,
            Kind::Log($rule, $cells) => $body,
        }
    };
}

pub struct RateLimiter {
    kind: Kind,
    max_n: u64,
    config: RateLimitConfig,
    clock: ClockRef,
    events: Events,
    admitted: StripedCounter,
    /// Units admitted beyond one per admission: the common single-unit decision then makes one
    /// counter increment, not two (`admitted_units` = `admitted` + this).
    extra_units: StripedCounter,
    rejected: StripedCounter,
    waits: StripedCounter,
    wait_nanos: StripedCounter,
    refunded: AtomicU64,
    charged_extra: AtomicU64,
    dropped: AtomicU64,
    /// State shared through Redis; the local cells then serve only `on_backend_error="local"`.
    #[cfg(feature = "redis")]
    remote: Option<redis_limit::RemoteLimit>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("name", &self.config.name)
            .field("algorithm", &self.config.algorithm)
            .finish()
    }
}

fn span_nanos(param: &'static str, seconds: f64) -> Result<u64> {
    check::finite_positive(C, param, seconds)?;
    let nanos = seconds * 1e9;
    if !(1.0..=MAX_SPAN_NANOS).contains(&nanos) {
        return Err(Error::out_of_range(C, param, seconds, "[1e-9, 31536000]"));
    }
    Ok(nanos.round() as u64)
}

impl RateLimiter {
    pub fn new(config: RateLimitConfig) -> Result<Self> {
        Self::with_clock(config, ClockRef::System)
    }

    /// Every rule checked here, so a bad value fails at construction with its name and range.
    pub fn with_clock(config: RateLimitConfig, clock: impl Into<ClockRef>) -> Result<Self> {
        check::int_range(C, "max_keys", config.max_keys, 1, 100_000_000)?;
        let max_keys = config.max_keys as usize;
        let events = Events::default();
        let kind = match config.algorithm {
            Algorithm::TokenBucket {
                rate,
                per_seconds,
                burst,
            } => {
                check::finite_positive(C, "rate", rate)?;
                let per = span_nanos("per_seconds", per_seconds)?;
                let interval = per as f64 / rate;
                // One unit per year at the slowest: a longer emission interval would overflow
                // the GCRA's u64 arithmetic (and admit everything) rather than limit.
                if interval > MAX_SPAN_NANOS {
                    return Err(Error::out_of_range(
                        C,
                        "rate",
                        rate,
                        format!(
                            "[{}, {}] (at least one unit per 31536000 s)",
                            per as f64 / MAX_SPAN_NANOS,
                            per
                        ),
                    ));
                }
                if interval < 1.0 {
                    return Err(Error::out_of_range(
                        C,
                        "rate",
                        rate,
                        format!("(0, {}] (one unit per nanosecond)", per),
                    ));
                }
                let interval = interval.round() as u64;
                let max_burst = (MAX_SPAN_NANOS as u64 / interval).max(1);
                check::int_range(C, "burst", burst, 1, max_burst.min(1 << 40))?;
                let rule = Gcra::new(interval, burst);
                Kind::Bucket(rule, Cells::new(&rule, max_keys, events.clone()))
            }
            Algorithm::SlidingWindow {
                limit,
                window_seconds,
            } => {
                check::int_range(C, "limit", limit, 1, MAX_WINDOW_LIMIT)?;
                let rule = SlidingWindow::new(limit, span_nanos("window_seconds", window_seconds)?);
                Kind::Window(rule, Cells::new(&rule, max_keys, events.clone()))
            }
            Algorithm::SlidingLog {
                limit,
                window_seconds,
            } => {
                check::int_range(C, "limit", limit, 1, MAX_LOG_LIMIT)?;
                let rule = SlidingLog::new(limit, span_nanos("window_seconds", window_seconds)?);
                Kind::Log(rule, Cells::new(&rule, max_keys, events.clone()))
            }
        };
        let max_n = match &kind {
            Kind::Bucket(rule, _) => rule.max_n(),
            Kind::Window(rule, _) => rule.max_n(),
            Kind::Log(rule, _) => rule.max_n(),
        };
        Ok(Self {
            kind,
            max_n,
            config,
            clock: clock.into(),
            events,
            admitted: StripedCounter::new(),
            extra_units: StripedCounter::new(),
            rejected: StripedCounter::new(),
            waits: StripedCounter::new(),
            wait_nanos: StripedCounter::new(),
            refunded: AtomicU64::new(0),
            charged_extra: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            #[cfg(feature = "redis")]
            remote: None,
        })
    }

    /// A limiter whose state lives in Redis, shared by every process and host that builds one with
    /// the same name and backend prefix. Token bucket and sliding window only.
    #[cfg(feature = "redis")]
    pub fn with_backend(
        config: RateLimitConfig,
        clock: impl Into<ClockRef>,
        backend: std::sync::Arc<crate::store::redis_backend::RedisBackend>,
    ) -> Result<Self> {
        let mut me = Self::with_clock(config, clock)?;
        let (span, burst) = match &me.kind {
            Kind::Bucket(rule, _) => (rule.interval(), rule.max_n()),
            Kind::Window(rule, _) => (rule.window(), rule.max_n()),
            Kind::Log(rule, _) => (0, rule.max_n()),
        };
        me.remote = Some(redis_limit::RemoteLimit::new(
            backend,
            &me.config.name,
            &me.config.algorithm,
            span,
            burst,
            &me.clock,
        )?);
        Ok(me)
    }

    /// The Redis backend this limiter shares its state through, if any.
    #[cfg(feature = "redis")]
    pub fn backend(&self) -> Option<&std::sync::Arc<crate::store::redis_backend::RedisBackend>> {
        self.remote.as_ref().map(|r| &r.backend)
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn config(&self) -> &RateLimitConfig {
        &self.config
    }

    /// The largest `n` that can ever pass (the burst, or the window limit).
    pub fn max_n(&self) -> u64 {
        self.max_n
    }

    pub fn now_nanos(&self) -> u64 {
        self.clock.now_nanos()
    }

    /// Checks a host's request size: `1 ≤ n ≤ max_n`. A request larger than the burst could never
    /// pass, so it fails at once instead of waiting forever.
    #[inline]
    pub fn units(&self, n: i128) -> Result<u64> {
        if n >= 1 && n <= self.max_n as i128 {
            Ok(n as u64)
        } else {
            Err(self.units_error(n))
        }
    }

    #[cold]
    fn units_error(&self, n: i128) -> Error {
        let what = match self.config.algorithm {
            Algorithm::TokenBucket { .. } => "burst",
            _ => "limit",
        };
        Error::out_of_range(
            C,
            "n",
            n,
            format!(
                "an integer in [1, {}] (the {what}: a larger request could never pass)",
                self.max_n
            ),
        )
    }

    /// The decision: charge `n` now, or say how long to wait. `budget` is how long the caller is
    /// willing to wait (`Some(ZERO)`: not at all, `None`: as long as it takes).
    #[inline]
    pub fn acquire_step(&self, n: u64, key: Option<&str>, budget: Option<Duration>) -> Step {
        let now = self.clock.now_nanos();
        self.decide(now, n, key, budget)
    }

    /// Like `acquire_step`, with the budget given as a deadline on this limiter's clock (nanoseconds),
    /// so a host waiting in a loop reads the clock once per step.
    #[inline]
    pub fn acquire_until(&self, n: u64, key: Option<&str>, deadline: Option<u64>) -> Step {
        let now = self.clock.now_nanos();
        let budget = deadline.map(|d| Duration::from_nanos(d.saturating_sub(now)));
        self.decide(now, n, key, budget)
    }

    #[inline]
    fn decide(&self, now: u64, n: u64, key: Option<&str>, budget: Option<Duration>) -> Step {
        #[cfg(feature = "redis")]
        if let Some(r) = &self.remote {
            return match self.take_remote(r, now, n, key, budget) {
                Ok(()) => {
                    self.note_admitted(n);
                    Step::Admitted
                }
                Err(wait) => self.note_denied(wait, budget),
            };
        }
        match self.take(now, n, key) {
            Ok(()) => {
                self.note_admitted(n);
                Step::Admitted
            }
            Err(wait) => self.note_denied(wait, budget),
        }
    }

    /// The error a host raises for a `Step::Rejected`.
    pub fn refused(&self, retry_after: Duration, key: Option<&str>) -> Error {
        Error::RateLimited {
            limiter: self.config.name.clone(),
            retry_after,
            key: key.map(Into::into),
        }
    }

    /// Charges `n` if it fits now; `Err(wait)` otherwise (counted as a rejection).
    #[inline]
    pub fn try_acquire(&self, n: u64, key: Option<&str>) -> std::result::Result<(), Duration> {
        match self.acquire_step(n, key, Some(Duration::ZERO)) {
            Step::Admitted => Ok(()),
            Step::Wait(d) | Step::Rejected(d) => Err(d),
        }
    }

    /// How long until `n` would pass, charging and counting nothing.
    pub fn peek(&self, n: u64, key: Option<&str>) -> Duration {
        #[cfg(feature = "redis")]
        if let Some(r) = &self.remote {
            match redis_limit::decide(&[(r, n)], key, None, true) {
                Ok(redis_limit::RemoteStep::Admitted { .. }) => return Duration::ZERO,
                Ok(redis_limit::RemoteStep::Denied { wait, .. }) => {
                    return Duration::from_nanos(wait)
                }
                Err(_) => r.backend.note_fallback(
                    crate::store::redis_backend::Op::RateLimit,
                    crate::store::redis_backend::Fallback::Local,
                ), // the local view is the best answer left
            }
        }
        let now = self.clock.now_nanos();
        Duration::from_nanos(self.peek_at(now, n, key))
    }

    /// Gives back `n` units charged at `charged_at` (this limiter's clock, nanoseconds).
    pub fn refund(&self, n: u64, key: Option<&str>, charged_at: u64) {
        #[cfg(feature = "redis")]
        if let Some(r) = &self.remote {
            if self.adjust_remote(r, -(n as i128), key, charged_at) {
                self.refunded.fetch_add(n, Ordering::Relaxed);
                return;
            }
        }
        let now = self.clock.now_nanos();
        if self.refund_at(now, n, key, charged_at) {
            self.refunded.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Charges `n` whether or not it fits: the debt delays later requests.
    pub fn charge(&self, n: u64, key: Option<&str>) {
        #[cfg(feature = "redis")]
        if let Some(r) = &self.remote {
            if self.adjust_remote(r, n as i128, key, 0) {
                self.charged_extra.fetch_add(n, Ordering::Relaxed);
                return;
            }
        }
        let now = self.clock.now_nanos();
        let dropped = on_kind!(self, |rule, cells| cells
            .with(rule, key, now, |c| rule.force(c, now, n)));
        self.charged_extra.fetch_add(n - dropped, Ordering::Relaxed);
        if dropped > 0 {
            self.dropped.fetch_add(dropped, Ordering::Relaxed);
            self.events.emit(RateLimitEvent::Dropped { units: dropped });
        }
    }

    /// Calls `f` on every event where state is lost (also counted in `stats`), on the thread that
    /// caused it. Hosts log these at warning level.
    pub fn on_event(&self, f: impl Fn(&RateLimitEvent) + Send + Sync + 'static) {
        self.events.add(f);
    }

    /// Drops every key whose state equals a new key's; returns how many.
    pub fn evict_idle(&self) -> usize {
        let now = self.clock.now_nanos();
        on_kind!(self, |rule, cells| cells.evict_fresh(rule, now))
    }

    pub fn stats(&self) -> RateLimitStats {
        RateLimitStats {
            name: self.config.name.clone(),
            algorithm: self.config.algorithm.as_str(),
            admitted: self.admitted.get(),
            admitted_units: self.admitted.get().wrapping_add(self.extra_units.get()),
            rejected: self.rejected.get(),
            waits: self.waits.get(),
            wait_seconds_total: self.wait_nanos.get() as f64 / 1e9,
            refunded_units: self.refunded.load(Ordering::Relaxed),
            charged_extra_units: self.charged_extra.load(Ordering::Relaxed),
            dropped_units: self.dropped.load(Ordering::Relaxed),
            keys: on_kind!(self, |_rule, cells| cells.stats()),
        }
    }

    // ---- the uncounted primitives, shared with the multi-limit ---------------------------------

    /// One round trip to Redis; when it gives no answer, the backend's `on_backend_error` decides.
    #[cfg(feature = "redis")]
    #[inline(never)]
    fn take_remote(
        &self,
        r: &redis_limit::RemoteLimit,
        now: u64,
        n: u64,
        key: Option<&str>,
        budget: Option<Duration>,
    ) -> std::result::Result<(), u64> {
        use crate::store::redis_backend::OnBackendError;
        match redis_limit::decide(&[(r, n)], key, budget, false) {
            Ok(redis_limit::RemoteStep::Admitted { .. }) => Ok(()),
            Ok(redis_limit::RemoteStep::Denied { wait, .. }) => Err(wait),
            Err(unavailable) => {
                r.backend
                    .note_policy_fallback(crate::store::redis_backend::Op::RateLimit);
                match r.backend.on_backend_error() {
                    OnBackendError::FailOpen => Ok(()),
                    OnBackendError::FailClosed => {
                        Err(unavailable.retry_in(r.backend.retry()).as_nanos() as u64)
                    }
                    OnBackendError::Local => self.take(now, n, key),
                }
            }
        }
    }

    #[inline]
    fn take(&self, now: u64, n: u64, key: Option<&str>) -> std::result::Result<(), u64> {
        on_kind!(self, |rule, cells| cells
            .with(rule, key, now, |c| rule.take(c, now, n)))
    }

    fn peek_at(&self, now: u64, n: u64, key: Option<&str>) -> u64 {
        on_kind!(self, |rule, cells| cells
            .with_existing(key, |c| rule.peek(c, now, n))
            .unwrap_or(0))
    }

    /// False when the key is gone (evicted idle: its charges had left already), so nothing is owed.
    fn refund_at(&self, now: u64, n: u64, key: Option<&str>, charged_at: u64) -> bool {
        on_kind!(self, |rule, cells| cells
            .with_existing(key, |c| rule.refund(c, now, n, charged_at))
            .is_some())
    }

    /// True when Redis applied the adjustment. Otherwise it is lost for the shared state: counted as
    /// dropped and logged (the caller applies it locally, which is what `local` fallback decides on).
    #[cfg(feature = "redis")]
    fn adjust_remote(
        &self,
        r: &redis_limit::RemoteLimit,
        delta: i128,
        key: Option<&str>,
        charged_at: u64,
    ) -> bool {
        match redis_limit::adjust(&[(r, delta, charged_at)], key) {
            Ok(()) => true,
            Err(e) => {
                r.backend.note_fallback(
                    crate::store::redis_backend::Op::RateLimit,
                    crate::store::redis_backend::Fallback::Lost,
                );
                let units = delta.unsigned_abs() as u64;
                self.dropped.fetch_add(units, Ordering::Relaxed);
                self.events.emit(RateLimitEvent::Dropped { units });
                log::warn!(
                    "ferrule: rate limiter {:?}: {units} units not settled in Redis ({e:?})",
                    self.config.name
                );
                false
            }
        }
    }

    #[inline]
    fn note_admitted(&self, n: u64) {
        self.admitted.inc();
        if n > 1 {
            self.extra_units.add(n - 1);
        }
    }

    #[inline]
    fn note_denied(&self, wait: u64, budget: Option<Duration>) -> Step {
        let wait_d = Duration::from_nanos(wait);
        if budget.is_none_or(|b| wait_d <= b) {
            self.waits.inc();
            self.wait_nanos.add(wait);
            Step::Wait(wait_d)
        } else {
            self.rejected.inc();
            Step::Rejected(wait_d)
        }
    }
}

/// Read at scrape time from the limiter's own striped counters: no second increment per decision.
/// Bindings register a limiter they hold in an `Arc` with `telemetry::collector::export`.
impl crate::telemetry::collector::Collect for RateLimiter {
    fn collect(&self, sink: &mut crate::telemetry::collector::Sink) {
        let n = self.config.name.as_str();
        sink.sample(
            "ferrule_calls",
            &["rate_limiter", n, "admitted"],
            self.admitted.get() as f64,
        );
        sink.sample(
            "ferrule_rejections",
            &["rate_limiter", n, "rate_limited"],
            self.rejected.get() as f64,
        );
        sink.sample("ferrule_rate_limit_waits", &[n], self.waits.get() as f64);
        sink.sample(
            "ferrule_rate_limit_wait_seconds",
            &[n],
            self.wait_nanos.get() as f64 / 1e9,
        );
    }
}
