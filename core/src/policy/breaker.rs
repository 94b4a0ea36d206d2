//! The circuit breaker: closed → open → half-open → closed, judged on consecutive failures, a failure
//! rate or a slow-call rate over a sliding window. The whole state lives in one packed `AtomicU64`,
//! so `acquire` in the closed state is a single load and no path takes a lock.

use crate::clock::ClockRef;
use crate::error::{check, Error, Result};
use crate::policy::outcome_window::{OutcomeWindow, WindowSpec, WindowTotals, MAX_COUNT_WINDOW};
use crate::random::Random;
use crate::striped::StripedCounter;
use crate::telemetry::builtin;
use crate::telemetry::collector::{Collect, Sink};
use crate::telemetry::registry;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

const COMPONENT: &str = "CircuitBreaker";
const NANOS_PER_MS: u64 = 1_000_000;
/// A year: the longest time window (and open period) a breaker accepts.
const MAX_WINDOW_NANOS: u64 = 31_536_000 * 1_000_000_000;

pub use crate::breaker_state::State;

/// Why the breaker moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    ConsecutiveFailures,
    FailureRate,
    SlowCallRate,
    OpenElapsed,
    ProbeFailed,
    ProbesSucceeded,
    ForcedOpen,
    ForcedClosed,
    Reset,
    /// Opened because the breaker of the same name opened in another process (shared through Redis).
    Shared,
    /// The shared state became unknown (Redis down) and the backend's `on_backend_error` is
    /// `fail_open` (held closed: every call admitted) or `fail_closed` (held open: every call refused).
    BackendDown,
    /// Redis answers again: the hold ends and the breaker resumes the state it had before.
    BackendUp,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::ConsecutiveFailures => "consecutive_failures",
            Reason::FailureRate => "failure_rate",
            Reason::SlowCallRate => "slow_call_rate",
            Reason::OpenElapsed => "open_elapsed",
            Reason::ProbeFailed => "probe_failed",
            Reason::ProbesSucceeded => "probes_succeeded",
            Reason::ForcedOpen => "forced_open",
            Reason::ForcedClosed => "forced_closed",
            Reason::Reset => "reset",
            Reason::Shared => "shared",
            Reason::BackendDown => "backend_down",
            Reason::BackendUp => "backend_up",
        }
    }

    /// True when the transition was caused by another process (its state arrived through Redis).
    pub fn is_peer(self) -> bool {
        self == Reason::Shared
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transition {
    pub from: State,
    pub to: State,
    pub reason: Reason,
    /// Monotonic clock time of the transition, in nanoseconds.
    pub at_nanos: u64,
    /// For transitions to open: how long it stays open.
    pub open_for: Option<Duration>,
}

/// One structured event per transition (`breaker.transition`) through the core's logger, for
/// every host alike: masked, deduplicated, to the configured sink. An open is a warning, the rest
/// are info.
fn log_transition(name: &str, from: State, to: State, reason: Reason, open_for: Option<Duration>) {
    use crate::telemetry::log_event::{FieldValue, Level, LogEvent};
    let (level, message) = if to == State::Open {
        (
            Level::Warning,
            format!("circuit breaker '{name}' opened ({})", reason.as_str()),
        )
    } else {
        (
            Level::Info,
            format!(
                "circuit breaker '{name}' {} -> {} ({})",
                from.as_str(),
                to.as_str(),
                reason.as_str()
            ),
        )
    };
    let mut ev = LogEvent::new(level, "breaker.transition")
        .message(message)
        .field("breaker", FieldValue::Str(name.to_string()))
        .field("from_state", FieldValue::Str(from.as_str().to_string()))
        .field("to_state", FieldValue::Str(to.as_str().to_string()))
        .field("reason", FieldValue::Str(reason.as_str().to_string()));
    if to == State::Open {
        if let Some(d) = open_for {
            ev = ev.field("open_seconds", FieldValue::Float(d.as_secs_f64()));
        }
        ev = ev.field("peer", FieldValue::Bool(reason.is_peer()));
    }
    crate::telemetry::pipeline::Pipeline::global().log(&ev);
}

/// How a call ended, as the host classified it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    /// Neither success nor failure (an `ignore`d exception): returns a half-open permit unused.
    Ignored,
}

/// A refused call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rejected {
    /// Time left open; `None` when forced open or when every half-open probe slot is taken.
    pub retry_after: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BreakerConfig {
    pub name: String,
    /// Trip when failures / calls over the window reach this (once `min_calls` were seen).
    pub failure_rate: Option<f64>,
    /// Trip after this many failures in a row.
    pub consecutive_failures: Option<u32>,
    pub window: WindowSpec,
    pub min_calls: u32,
    /// A call lasting at least this long is slow.
    pub slow_call_seconds: Option<f64>,
    /// Trip when slow calls / calls over the window reach this.
    pub slow_call_rate: Option<f64>,
    pub open_seconds: f64,
    /// When set, each trip that follows a failed half-open probe stays open `open_multiplier` times
    /// longer than the last, up to this, jittered by ±20%.
    pub max_open_seconds: Option<f64>,
    pub open_multiplier: f64,
    pub half_open_calls: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            name: "default".into(),
            failure_rate: Some(0.5),
            consecutive_failures: None,
            window: WindowSpec::Count(20),
            min_calls: 10,
            slow_call_seconds: None,
            slow_call_rate: None,
            open_seconds: 30.0,
            max_open_seconds: None,
            open_multiplier: 2.0,
            half_open_calls: 1,
        }
    }
}

impl BreakerConfig {
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// Every rule checked here, so a bad value fails at construction with its name and range.
    pub fn validate(&self) -> Result<()> {
        const C: &str = COMPONENT;
        if let Some(r) = self.failure_rate {
            check::rate(C, "failure_rate", r)?;
        }
        if let Some(r) = self.slow_call_rate {
            check::rate(C, "slow_call_rate", r)?;
            if self.slow_call_seconds.is_none() {
                return Err(Error::conflict(
                    C,
                    "slow_call_rate",
                    r,
                    "it needs slow_call_seconds",
                ));
            }
        }
        if let Some(s) = self.slow_call_seconds {
            check::finite_positive(C, "slow_call_seconds", s)?;
        }
        if let Some(n) = self.consecutive_failures {
            check::int_range(C, "consecutive_failures", n as u64, 1, 1_000_000)?;
        }
        if self.failure_rate.is_none()
            && self.consecutive_failures.is_none()
            && self.slow_call_rate.is_none()
        {
            return Err(Error::conflict(
                C,
                "failure_rate",
                "None",
                "at least one of failure_rate, consecutive_failures or slow_call_rate must be set",
            ));
        }
        match self.window {
            WindowSpec::Count(n) => {
                check::int_range(C, "window", n as u64, 1, MAX_COUNT_WINDOW)?;
                if self.min_calls > n {
                    return Err(Error::conflict(
                        C,
                        "min_calls",
                        self.min_calls,
                        format!("must be <= window ({n}), or the rate rules could never trip"),
                    ));
                }
            }
            WindowSpec::Time { nanos, buckets } => {
                check::int_range(C, "window_buckets", buckets as u64, 1, 1000)?;
                if nanos < 1_000_000 * buckets as u64 {
                    return Err(Error::out_of_range(
                        C,
                        "window_seconds",
                        nanos as f64 / 1e9,
                        format!(">= 0.001 s per bucket ({} buckets)", buckets),
                    ));
                }
                if nanos > MAX_WINDOW_NANOS {
                    return Err(Error::out_of_range(
                        C,
                        "window_seconds",
                        nanos as f64 / 1e9,
                        "(0, 31536000]",
                    ));
                }
            }
        }
        check::int_range(C, "min_calls", self.min_calls as u64, 1, 1_000_000_000)?;
        check::finite_positive(C, "open_seconds", self.open_seconds)?;
        if self.open_seconds > 31_536_000.0 {
            return Err(Error::out_of_range(
                C,
                "open_seconds",
                self.open_seconds,
                "(0, 31536000]",
            ));
        }
        if let Some(m) = self.max_open_seconds {
            check::finite_positive(C, "max_open_seconds", m)?;
            if m < self.open_seconds || m > 31_536_000.0 {
                return Err(Error::out_of_range(
                    C,
                    "max_open_seconds",
                    m,
                    format!("[open_seconds ({}), 31536000]", self.open_seconds),
                ));
            }
        }
        if !(self.open_multiplier.is_finite()
            && self.open_multiplier >= 1.0
            && self.open_multiplier <= 100.0)
        {
            return Err(Error::out_of_range(
                C,
                "open_multiplier",
                self.open_multiplier,
                "[1, 100]",
            ));
        }
        check::int_range(C, "half_open_calls", self.half_open_calls as u64, 1, 10_000)?;
        Ok(())
    }
}

// ---- the packed state word ------------------------------------------------------------------
// bits 0..3   kind
// bits 3..19  generation (wraps; lets late outcomes of an earlier state be told apart)
// half-open:  bits 19..35 probes admitted, bits 35..51 probe successes
// open:       bits 19..64 open-until, in milliseconds of the monotonic clock

const K_CLOSED: u64 = 0;
const K_OPEN: u64 = 1;
const K_HALF_OPEN: u64 = 2;
const K_FORCED_OPEN: u64 = 3;
const K_FORCED_CLOSED: u64 = 4;
/// Held by the `on_backend_error` policy while Redis is down: `fail_closed` refuses every call,
/// `fail_open` admits every call (recording nothing into the window), until Redis answers.
const K_HELD_OPEN: u64 = 5;
const K_HELD_CLOSED: u64 = 6;
const GEN_SHIFT: u32 = 3;
const GEN_MASK: u64 = 0xFFFF;
const A_SHIFT: u32 = 19;
const S_SHIFT: u32 = 35;
const F16: u64 = 0xFFFF;

#[inline]
fn kind(s: u64) -> u64 {
    s & 7
}
#[inline]
fn gen(s: u64) -> u64 {
    (s >> GEN_SHIFT) & GEN_MASK
}
#[inline]
fn word(kind: u64, g: u64) -> u64 {
    kind | ((g & GEN_MASK) << GEN_SHIFT)
}
#[inline]
fn open_word(g: u64, until_ms: u64) -> u64 {
    word(K_OPEN, g) | (until_ms << A_SHIFT)
}
#[inline]
fn open_until_ms(s: u64) -> u64 {
    s >> A_SHIFT
}
#[inline]
fn half_word(g: u64, admitted: u64, successes: u64) -> u64 {
    word(K_HALF_OPEN, g) | (admitted << A_SHIFT) | (successes << S_SHIFT)
}
#[inline]
fn admitted(s: u64) -> u64 {
    (s >> A_SHIFT) & F16
}
#[inline]
fn successes(s: u64) -> u64 {
    (s >> S_SHIFT) & F16
}

fn public_state(s: u64) -> State {
    match kind(s) {
        K_CLOSED | K_FORCED_CLOSED | K_HELD_CLOSED => State::Closed,
        K_HALF_OPEN => State::HalfOpen,
        _ => State::Open,
    }
}

// ---- permits --------------------------------------------------------------------------------
// A permit crosses into Python and JavaScript as one integer below 2^53 (exact in a JS number):
// bits 0..16 generation, bit 16 half-open probe, bit 17 timed, bits 18..53 start in µs (wrapping).

const P_PROBE: u64 = 1 << 16;
const P_TIMED: u64 = 1 << 17;
const P_START_SHIFT: u32 = 18;
const P_START_MASK: u64 = (1 << 35) - 1;

/// Proof that a call was admitted; hand it back to `record`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permit(u64);

impl Permit {
    #[inline]
    pub fn token(self) -> u64 {
        self.0
    }
    #[inline]
    pub fn from_token(t: u64) -> Self {
        Permit(t & ((1 << 53) - 1))
    }
    #[inline]
    fn gen(self) -> u64 {
        self.0 & GEN_MASK
    }
    #[inline]
    fn probe(self) -> bool {
        self.0 & P_PROBE != 0
    }
    #[inline]
    fn start_us(self) -> Option<u64> {
        (self.0 & P_TIMED != 0).then_some((self.0 >> P_START_SHIFT) & P_START_MASK)
    }
}

/// Counters, read without stopping anyone.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub name: String,
    pub state: State,
    pub forced: bool,
    pub calls: u64,
    pub successes: u64,
    pub failures: u64,
    pub ignored: u64,
    pub slow: u64,
    pub rejected: u64,
    pub transitions: u64,
    pub consecutive_failures: u64,
    pub window: WindowTotals,
    pub open_remaining: Option<Duration>,
}

type Listener = Arc<dyn Fn(&Transition) + Send + Sync>;

/// The breaker's per-call counters, shared with the metrics registry, which reads them at scrape
/// time: calls and rejections reach `ferrule_calls_total` / `ferrule_rejections_total` without a
/// second increment on the call path.
struct Counters {
    name: String,
    successes: StripedCounter,
    failures: StripedCounter,
    ignored: StripedCounter,
    slow: StripedCounter,
    rejected: StripedCounter,
    /// Calls decided by the backend policy while Redis was down (held closed / held open).
    held_admitted: StripedCounter,
    held_rejected: StripedCounter,
}

impl Collect for Counters {
    fn collect(&self, sink: &mut Sink) {
        let n = self.name.as_str();
        for (outcome, c) in [
            ("success", &self.successes),
            ("failure", &self.failures),
            ("ignored", &self.ignored),
        ] {
            sink.sample("ferrule_calls", &["breaker", n, outcome], c.get() as f64);
        }
        sink.sample(
            "ferrule_rejections",
            &["breaker", n, "breaker_open"],
            self.rejected.get() as f64,
        );
        sink.sample("ferrule_breaker_slow_calls", &[n], self.slow.get() as f64);
    }
}

pub struct CircuitBreaker {
    state: AtomicU64,
    config: BreakerConfig,
    window: OutcomeWindow,
    clock: ClockRef,
    timed: bool,
    slow_nanos: u64,
    open_nanos: u64,
    consecutive: AtomicU32,
    /// Trips since the breaker last closed: drives the growing open duration.
    trips_since_close: AtomicU32,
    counters: Arc<Counters>,
    transitions: AtomicU64,
    /// The state word a backend hold replaced, restored when the hold ends.
    held_from: AtomicU64,
    random: Random,
    // A lock, but only read when a transition happens (rare) and written when a listener is added.
    listeners: RwLock<Vec<Listener>>,
}

impl std::fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.config.name)
            .field("state", &self.state())
            .finish()
    }
}

impl CircuitBreaker {
    pub fn new(config: BreakerConfig) -> Result<Self> {
        Self::with_clock(config, ClockRef::System)
    }

    pub fn with_clock(config: BreakerConfig, clock: impl Into<ClockRef>) -> Result<Self> {
        config.validate()?;
        let window = OutcomeWindow::new(config.window);
        let slow_nanos = config.slow_call_seconds.map_or(0, |s| (s * 1e9) as u64);
        let counters = Arc::new(Counters {
            name: config.name.clone(),
            successes: StripedCounter::new(),
            failures: StripedCounter::new(),
            ignored: StripedCounter::new(),
            slow: StripedCounter::new(),
            rejected: StripedCounter::new(),
            held_admitted: StripedCounter::new(),
            held_rejected: StripedCounter::new(),
        });
        builtin::breaker_state(&config.name, State::Closed);
        let weak: std::sync::Weak<dyn Collect> = Arc::downgrade(&counters) as _;
        registry::global().add_collector(weak);
        Ok(Self {
            state: AtomicU64::new(word(K_CLOSED, 0)),
            timed: config.slow_call_seconds.is_some() || window.needs_time(),
            slow_nanos,
            open_nanos: (config.open_seconds * 1e9) as u64,
            window,
            clock: clock.into(),
            consecutive: AtomicU32::new(0),
            trips_since_close: AtomicU32::new(0),
            counters,
            transitions: AtomicU64::new(0),
            held_from: AtomicU64::new(0),
            random: Random::from_entropy(),
            listeners: RwLock::new(Vec::new()),
            config,
        })
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// Calls `f` on every transition, on the thread that caused it, after the state changed.
    pub fn on_transition(&self, f: impl Fn(&Transition) + Send + Sync + 'static) {
        self.listeners
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::new(f));
    }

    #[inline]
    fn permit(&self, g: u64, probe: bool) -> Permit {
        let mut t = g & GEN_MASK;
        if probe {
            t |= P_PROBE;
        }
        if self.timed {
            let us = self.clock.now_nanos() / 1000;
            t |= P_TIMED | ((us & P_START_MASK) << P_START_SHIFT);
        }
        Permit(t)
    }

    /// Asks to make a call. Closed: one atomic load. Open past its time: the one caller that wins
    /// the exchange becomes the first half-open probe and is told of the transition.
    #[inline]
    pub fn acquire(&self) -> std::result::Result<(Permit, Option<Transition>), Rejected> {
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            match kind(s) {
                K_CLOSED | K_FORCED_CLOSED => return Ok((self.permit(gen(s), false), None)),
                K_HELD_CLOSED => {
                    self.counters.held_admitted.inc();
                    return Ok((self.permit(gen(s), false), None));
                }
                K_HELD_OPEN => {
                    self.counters.held_rejected.inc();
                    self.counters.rejected.inc();
                    return Err(Rejected { retry_after: None });
                }
                K_OPEN => {
                    let now = self.clock.now_nanos();
                    let until = open_until_ms(s) * NANOS_PER_MS;
                    if now < until {
                        self.counters.rejected.inc();
                        return Err(Rejected {
                            retry_after: Some(Duration::from_nanos(until - now)),
                        });
                    }
                    let next = half_word(gen(s) + 1, 1, 0);
                    match self
                        .state
                        .compare_exchange(s, next, Ordering::AcqRel, Ordering::Acquire)
                    {
                        Ok(_) => {
                            let t = self.emit(
                                State::Open,
                                State::HalfOpen,
                                Reason::OpenElapsed,
                                now,
                                None,
                            );
                            return Ok((self.permit(gen(next), true), Some(t)));
                        }
                        Err(cur) => s = cur,
                    }
                }
                K_HALF_OPEN => {
                    let a = admitted(s);
                    if a >= self.config.half_open_calls as u64 {
                        self.counters.rejected.inc();
                        return Err(Rejected { retry_after: None });
                    }
                    let next = half_word(gen(s), a + 1, successes(s));
                    match self
                        .state
                        .compare_exchange(s, next, Ordering::AcqRel, Ordering::Acquire)
                    {
                        Ok(_) => return Ok((self.permit(gen(s), true), None)),
                        Err(cur) => s = cur,
                    }
                }
                _ => {
                    self.counters.rejected.inc();
                    return Err(Rejected { retry_after: None });
                }
            }
        }
    }

    /// Records how an admitted call ended. Returns the transition this outcome caused, if any.
    #[inline]
    pub fn record(&self, permit: Permit, outcome: Outcome) -> Option<Transition> {
        let (now, slow) = match permit.start_us() {
            Some(start) => {
                let now = self.clock.now_nanos();
                let dur_us = ((now / 1000).wrapping_sub(start)) & P_START_MASK;
                // Recorded on another thread, the clock may read a few ns before the permit's read
                // (see clock.rs): a wrapped "negative" duration is zero, not ~9.5 hours. (So a call
                // over 2^34 µs, ~4.8 h, does not count as slow.)
                let dur_us = if dur_us > P_START_MASK / 2 { 0 } else { dur_us };
                (now, self.slow_nanos > 0 && dur_us * 1000 >= self.slow_nanos)
            }
            None => (0, false),
        };
        match outcome {
            Outcome::Success => self.counters.successes.inc(),
            Outcome::Failure => self.counters.failures.inc(),
            Outcome::Ignored => self.counters.ignored.inc(),
        }
        if slow {
            self.counters.slow.inc();
        }
        if permit.probe() {
            self.record_probe(permit, outcome, slow, now)
        } else if outcome == Outcome::Ignored {
            None
        } else {
            self.record_closed(permit, outcome == Outcome::Failure, slow, now)
        }
    }

    #[inline]
    fn record_closed(
        &self,
        permit: Permit,
        failure: bool,
        slow: bool,
        now: u64,
    ) -> Option<Transition> {
        let s = self.state.load(Ordering::Acquire);
        if kind(s) != K_CLOSED || gen(s) != permit.gen() {
            return None; // a late outcome from before the last transition, or forced closed
        }
        let run = if failure {
            self.consecutive.fetch_add(1, Ordering::AcqRel) + 1
        } else {
            if self.consecutive.load(Ordering::Relaxed) != 0 {
                self.consecutive.store(0, Ordering::Release);
            }
            0
        };
        let totals = self.window.record(failure, slow, now);
        let reason = self.judge(run, totals)?;
        let now = if now == 0 {
            self.clock.now_nanos()
        } else {
            now
        };
        self.trip(s, State::Closed, reason, now)
    }

    fn judge(&self, run: u32, t: WindowTotals) -> Option<Reason> {
        let c = &self.config;
        if let Some(n) = c.consecutive_failures {
            if run >= n {
                return Some(Reason::ConsecutiveFailures);
            }
        }
        if t.calls >= c.min_calls as u64 && t.calls > 0 {
            let calls = t.calls as f64;
            if let Some(r) = c.failure_rate {
                if t.failures as f64 >= r * calls {
                    return Some(Reason::FailureRate);
                }
            }
            if let Some(r) = c.slow_call_rate {
                if t.slow as f64 >= r * calls {
                    return Some(Reason::SlowCallRate);
                }
            }
        }
        None
    }

    fn record_probe(
        &self,
        permit: Permit,
        outcome: Outcome,
        slow: bool,
        now: u64,
    ) -> Option<Transition> {
        let failed = outcome == Outcome::Failure || (slow && self.config.slow_call_rate.is_some());
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            if kind(s) != K_HALF_OPEN || gen(s) != permit.gen() {
                return None;
            }
            if failed {
                let now = if now == 0 {
                    self.clock.now_nanos()
                } else {
                    now
                };
                return self.trip(s, State::HalfOpen, Reason::ProbeFailed, now);
            }
            let next = match outcome {
                Outcome::Ignored => half_word(gen(s), admitted(s).saturating_sub(1), successes(s)),
                _ => {
                    if successes(s) + 1 >= self.config.half_open_calls as u64 {
                        // Clear the window before anyone can record into the new closed state.
                        self.window.reset();
                        self.consecutive.store(0, Ordering::Release);
                        word(K_CLOSED, gen(s) + 1)
                    } else {
                        half_word(gen(s), admitted(s), successes(s) + 1)
                    }
                }
            };
            match self
                .state
                .compare_exchange(s, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) if kind(next) == K_CLOSED => {
                    self.trips_since_close.store(0, Ordering::Release);
                    let now = if now == 0 {
                        self.clock.now_nanos()
                    } else {
                        now
                    };
                    return Some(self.emit(
                        State::HalfOpen,
                        State::Closed,
                        Reason::ProbesSucceeded,
                        now,
                        None,
                    ));
                }
                Ok(_) => return None,
                Err(cur) => s = cur,
            }
        }
    }

    fn open_duration(&self, trips: u32) -> u64 {
        match self.config.max_open_seconds {
            Some(max) if trips > 0 => {
                let grown = self.config.open_seconds
                    * self.config.open_multiplier.powi(trips.min(64) as i32);
                let jittered = grown.min(max) * (0.8 + 0.4 * self.random.next_f64());
                (jittered.min(max).max(self.config.open_seconds) * 1e9) as u64
            }
            _ => self.open_nanos,
        }
    }

    fn trip(&self, from_word: u64, from: State, reason: Reason, now: u64) -> Option<Transition> {
        let trips = self.trips_since_close.load(Ordering::Acquire);
        let d = self.open_duration(trips);
        let until_ms = (now + d).div_ceil(NANOS_PER_MS);
        let next = open_word(gen(from_word) + 1, until_ms);
        self.state
            .compare_exchange(from_word, next, Ordering::AcqRel, Ordering::Acquire)
            .ok()?;
        self.trips_since_close.fetch_add(1, Ordering::AcqRel);
        Some(self.emit(
            from,
            State::Open,
            reason,
            now,
            Some(Duration::from_nanos(d)),
        ))
    }

    fn emit(
        &self,
        from: State,
        to: State,
        reason: Reason,
        at: u64,
        open_for: Option<Duration>,
    ) -> Transition {
        self.transitions.fetch_add(1, Ordering::Relaxed);
        builtin::breaker_transition(&self.config.name, from, to);
        log_transition(&self.config.name, from, to, reason, open_for);
        let t = Transition {
            from,
            to,
            reason,
            at_nanos: at,
            open_for,
        };
        let ls = self.listeners.read().unwrap_or_else(|p| p.into_inner());
        for l in ls.iter() {
            l(&t);
        }
        t
    }

    fn force(&self, next_kind: u64, reason: Reason) -> Option<Transition> {
        let now = self.clock.now_nanos();
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            let next = word(next_kind, gen(s) + 1);
            match self
                .state
                .compare_exchange(s, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    if next_kind == K_CLOSED {
                        self.trips_since_close.store(0, Ordering::Release);
                    }
                    let (from, to) = (public_state(s), public_state(next));
                    return (from != to || kind(s) != next_kind)
                        .then(|| self.emit(from, to, reason, now, None));
                }
                Err(cur) => s = cur,
            }
        }
    }

    /// Opens and stays open, rejecting every call, until `force_closed` or `reset`.
    pub fn force_open(&self) -> Option<Transition> {
        self.force(K_FORCED_OPEN, Reason::ForcedOpen)
    }

    /// Closes and stays closed, whatever fails, until `force_open` or `reset`.
    pub fn force_closed(&self) -> Option<Transition> {
        self.force(K_FORCED_CLOSED, Reason::ForcedClosed)
    }

    /// Opens for `open_for` because the same breaker opened elsewhere. Only a closed or half-open
    /// breaker moves; an open or forced one keeps its own state.
    pub fn open_from_peer(&self, open_for: Duration) -> Option<Transition> {
        let now = self.clock.now_nanos();
        let until_ms = (now + open_for.as_nanos() as u64).div_ceil(NANOS_PER_MS);
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            if !matches!(kind(s), K_CLOSED | K_HALF_OPEN) {
                return None;
            }
            let from = public_state(s);
            match self.state.compare_exchange(
                s,
                open_word(gen(s) + 1, until_ms),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    return Some(self.emit(from, State::Open, Reason::Shared, now, Some(open_for)))
                }
                Err(cur) => s = cur,
            }
        }
    }

    /// Redis is down and the backend's policy is `fail_open` (`admit`: every call goes through) or
    /// `fail_closed` (every call is refused) until `end_hold`. A forced breaker keeps its forced state
    /// (the operator's word wins); an existing hold is left as it is.
    pub fn hold(&self, admit: bool) -> Option<Transition> {
        let now = self.clock.now_nanos();
        let next_kind = if admit { K_HELD_CLOSED } else { K_HELD_OPEN };
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            if !matches!(kind(s), K_CLOSED | K_OPEN | K_HALF_OPEN) {
                return None;
            }
            self.held_from.store(s, Ordering::Release);
            let next = word(next_kind, gen(s) + 1);
            match self
                .state
                .compare_exchange(s, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    let from = self.public_at(s, now);
                    let to = public_state(next);
                    return (from != to)
                        .then(|| self.emit(from, to, Reason::BackendDown, now, None));
                }
                Err(cur) => s = cur,
            }
        }
    }

    /// Redis answers again: the state before the hold comes back (an open period that ran out meanwhile
    /// reads half-open, as it would have). Window counts were not touched by the hold.
    pub fn end_hold(&self) -> Option<Transition> {
        let now = self.clock.now_nanos();
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            if !matches!(kind(s), K_HELD_OPEN | K_HELD_CLOSED) {
                return None;
            }
            let before = self.held_from.load(Ordering::Acquire);
            let next = match kind(before) {
                K_OPEN => open_word(gen(s) + 1, open_until_ms(before)),
                _ => word(K_CLOSED, gen(s) + 1), // a half-open probe in flight is void after the hold
            };
            match self
                .state
                .compare_exchange(s, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    let from = public_state(s);
                    let to = self.public_at(next, now);
                    return (from != to).then(|| self.emit(from, to, Reason::BackendUp, now, None));
                }
                Err(cur) => s = cur,
            }
        }
    }

    /// Is a backend hold in force?
    pub fn is_held(&self) -> bool {
        matches!(
            kind(self.state.load(Ordering::Acquire)),
            K_HELD_OPEN | K_HELD_CLOSED
        )
    }

    /// Calls decided by a backend hold so far: (admitted, refused).
    pub fn held_decisions(&self) -> (u64, u64) {
        (
            self.counters.held_admitted.get(),
            self.counters.held_rejected.get(),
        )
    }

    fn public_at(&self, s: u64, now: u64) -> State {
        if kind(s) == K_OPEN && now >= open_until_ms(s) * NANOS_PER_MS {
            return State::HalfOpen;
        }
        public_state(s)
    }

    /// Back to a fresh closed breaker: window, failure run and open backoff cleared.
    pub fn reset(&self) -> Option<Transition> {
        self.window.reset();
        self.consecutive.store(0, Ordering::Release);
        self.force(K_CLOSED, Reason::Reset)
    }

    /// The state a caller would meet now: an open breaker whose time is up reads as half-open.
    pub fn state(&self) -> State {
        let s = self.state.load(Ordering::Acquire);
        if kind(s) == K_OPEN && self.clock.now_nanos() >= open_until_ms(s) * NANOS_PER_MS {
            return State::HalfOpen;
        }
        public_state(s)
    }

    pub fn snapshot(&self) -> Snapshot {
        let s = self.state.load(Ordering::Acquire);
        let now = self.clock.now_nanos();
        let (successes, failures, ignored) = (
            self.counters.successes.get(),
            self.counters.failures.get(),
            self.counters.ignored.get(),
        );
        Snapshot {
            name: self.config.name.clone(),
            state: self.state(),
            forced: matches!(kind(s), K_FORCED_OPEN | K_FORCED_CLOSED),
            calls: successes + failures + ignored,
            successes,
            failures,
            ignored,
            slow: self.counters.slow.get(),
            rejected: self.counters.rejected.get(),
            transitions: self.transitions.load(Ordering::Relaxed),
            consecutive_failures: self.consecutive.load(Ordering::Relaxed) as u64,
            window: self.window.totals(now),
            open_remaining: (kind(s) == K_OPEN).then(|| {
                Duration::from_nanos((open_until_ms(s) * NANOS_PER_MS).saturating_sub(now))
            }),
        }
    }

    /// Runs `f` through the breaker (for Rust callers). `is_failure` classifies errors.
    pub fn call<T, E>(
        &self,
        f: impl FnOnce() -> std::result::Result<T, E>,
        is_failure: impl Fn(&E) -> bool,
    ) -> std::result::Result<T, CallError<E>> {
        let (permit, _) = self.acquire().map_err(|r| {
            CallError::Open(Error::CircuitOpen {
                breaker: self.config.name.clone(),
                retry_after: r.retry_after.unwrap_or_default(),
            })
        })?;
        match f() {
            Ok(v) => {
                self.record(permit, Outcome::Success);
                Ok(v)
            }
            Err(e) => {
                self.record(
                    permit,
                    if is_failure(&e) {
                        Outcome::Failure
                    } else {
                        Outcome::Ignored
                    },
                );
                Err(CallError::Inner(e))
            }
        }
    }
}

/// The error of `CircuitBreaker::call`: refused by the breaker, or the call's own error.
#[derive(Debug)]
pub enum CallError<E> {
    Open(Error),
    Inner(E),
}
