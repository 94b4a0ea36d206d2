//! The composed policy, in one fixed order: fallback → total timeout → retry → circuit breaker →
//! rate limiter → attempt timeout → call. This is its decision engine: per attempt, `begin`/`attempt`
//! (count, start the clock, ask the breaker) and `success`/`failure` (record); after a failure,
//! `decide`. The host runs the call, the limiter, the sleeps, the timeouts and the fallback, and
//! reports the events it executed (`note_*`) so every one is counted here.

use crate::error::{check, Error, Result};
use crate::policy::breaker::{CircuitBreaker, Outcome, Permit, Rejected, Transition};
use crate::policy::retry::{Decision, Failure, RetryConfig, RetryPolicy, RetryStats};
use crate::striped::StripedCounter;
use crate::ClockRef;
use std::sync::Arc;
use std::time::Duration;

const C: &str = "Policy";

#[derive(Debug, Clone, PartialEq, Default)]
pub struct PipelineConfig {
    /// The policy's name in metrics and logs (empty: `policy`).
    pub name: String,
    /// `None`: one attempt, no retry.
    pub retry: Option<RetryConfig>,
    /// Bounds the whole call, retries and waits included.
    pub total_timeout_seconds: Option<f64>,
    /// Bounds each attempt.
    pub attempt_timeout_seconds: Option<f64>,
}

impl PipelineConfig {
    pub fn validate(&self) -> Result<()> {
        if let Some(s) = self.total_timeout_seconds {
            check::finite_positive(C, "total_timeout_seconds", s)?;
        }
        if let Some(s) = self.attempt_timeout_seconds {
            check::finite_positive(C, "timeout_seconds", s)?;
        }
        Ok(())
    }
}

/// The breaker's answer, when there is a breaker.
pub type Admission = std::result::Result<(Option<Permit>, Option<Transition>), Rejected>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PipelineStats {
    pub calls: u64,
    pub attempts: u64,
    pub successes: u64,
    pub failures: u64,
    pub fallbacks: u64,
    pub fallback_failures: u64,
    pub timeouts: u64,
    pub abandoned: u64,
    pub rejected: u64,
    pub retry: RetryStats,
}

#[derive(Debug)]
pub struct Pipeline {
    name: String,
    retry: RetryPolicy,
    breaker: Option<Arc<CircuitBreaker>>,
    total_timeout: Option<Duration>,
    attempt_timeout: Option<Duration>,
    calls: StripedCounter,
    attempts: StripedCounter,
    successes: StripedCounter,
    failures: StripedCounter,
    fallbacks: StripedCounter,
    fallback_failures: StripedCounter,
    timeouts: StripedCounter,
    abandoned: StripedCounter,
    rejected: StripedCounter,
    /// Beaten on every success: set once, then one atomic load per success.
    heartbeat: std::sync::OnceLock<Arc<crate::watch::dead_mans_switch::DeadMansSwitch>>,
    /// The twin that carries a synthetic probe's calls: same decisions, but its counts
    /// are exported as `ferrule_synthetic_calls_total`, never in the user's series.
    synthetic: bool,
}

/// Events the host executed, counted here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The call failed for good and the error reached the caller.
    Failed,
    /// A fallback produced the result instead.
    Fallback,
    /// Every fallback alternative failed too.
    FallbackFailed,
    /// An attempt or the whole call ran out of time.
    Timeout,
    /// A hard-mode timeout left a call running on its worker thread.
    Abandoned,
}

impl Pipeline {
    pub fn new(
        config: PipelineConfig,
        breaker: Option<Arc<CircuitBreaker>>,
        clock: impl Into<ClockRef>,
    ) -> Result<Self> {
        config.validate()?;
        let retry = config.retry.clone().unwrap_or(RetryConfig {
            attempts: 1,
            budget: None,
            ..RetryConfig::default()
        });
        let secs = |s: Option<f64>, p| {
            s.map(|s| {
                Duration::try_from_secs_f64(s)
                    .map_err(|_| Error::out_of_range(C, p, s, "a finite number > 0"))
            })
            .transpose()
        };
        let name = if config.name.is_empty() {
            "policy".to_string()
        } else {
            config.name.clone()
        };
        Ok(Self {
            name,
            retry: RetryPolicy::with_clock(retry, clock)?,
            breaker,
            total_timeout: secs(config.total_timeout_seconds, "total_timeout_seconds")?,
            attempt_timeout: secs(config.attempt_timeout_seconds, "timeout_seconds")?,
            calls: StripedCounter::new(),
            attempts: StripedCounter::new(),
            successes: StripedCounter::new(),
            failures: StripedCounter::new(),
            fallbacks: StripedCounter::new(),
            fallback_failures: StripedCounter::new(),
            timeouts: StripedCounter::new(),
            abandoned: StripedCounter::new(),
            rejected: StripedCounter::new(),
            heartbeat: std::sync::OnceLock::new(),
            synthetic: false,
        })
    }

    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    pub fn breaker(&self) -> Option<&Arc<CircuitBreaker>> {
        self.breaker.as_ref()
    }

    pub fn attempts(&self) -> u32 {
        self.retry.config().attempts
    }

    #[inline]
    pub fn now_nanos(&self) -> u64 {
        self.retry.now_nanos()
    }

    /// A call starts: count it, deposit in the retry budget, ask the breaker for the first attempt.
    /// Returns the start time and the breaker's answer.
    #[inline]
    pub fn begin(&self) -> (u64, Admission) {
        self.calls.inc();
        let start = self.retry.begin();
        (start, self.attempt())
    }

    /// A retry starts: ask the breaker.
    #[inline]
    pub fn attempt(&self) -> Admission {
        self.attempts.inc();
        match &self.breaker {
            None => Ok((None, None)),
            Some(b) => match b.acquire() {
                Ok((p, t)) => Ok((Some(p), t)),
                Err(r) => {
                    self.rejected.inc();
                    Err(r)
                }
            },
        }
    }

    /// The attempt succeeded and so did the call.
    #[inline]
    pub fn success(&self, permit: Option<Permit>) -> Option<Transition> {
        self.successes.inc();
        if let Some(h) = self.heartbeat.get() {
            h.beat();
        }
        match (permit, &self.breaker) {
            (Some(p), Some(b)) => b.record(p, Outcome::Success),
            _ => None,
        }
    }

    /// The attempt ended as `outcome` (as the breaker's classification judged it).
    #[inline]
    pub fn record(&self, permit: Option<Permit>, outcome: Outcome) -> Option<Transition> {
        match (permit, &self.breaker) {
            (Some(p), Some(b)) => b.record(p, outcome),
            _ => None,
        }
    }

    /// After attempt `attempts_made` failed: wait how long, or give up. The total timeout tightens
    /// the retry deadline, so no wait ends past either.
    pub fn decide(
        &self,
        start_nanos: u64,
        attempts_made: u32,
        previous_delay: Duration,
        failure: Failure,
    ) -> Decision {
        self.retry.decide_with_deadline(
            start_nanos,
            attempts_made,
            previous_delay,
            failure,
            self.total_timeout,
        )
    }

    /// What is left of the whole call: the total timeout and the retry deadline, measured from
    /// `start_nanos`. `None` when neither is set.
    pub fn call_remaining(&self, start_nanos: u64) -> Option<Duration> {
        let elapsed = Duration::from_nanos(self.now_nanos().saturating_sub(start_nanos));
        let total = self.total_timeout.map(|t| t.saturating_sub(elapsed));
        let retry = self.retry.remaining(start_nanos);
        match (total, retry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The time an attempt starting now may take: the attempt timeout, cut by what is left of the
    /// call. `None` when nothing bounds it.
    pub fn attempt_budget(&self, start_nanos: u64) -> Option<Duration> {
        match (self.attempt_timeout, self.call_remaining(start_nanos)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The budget of a first attempt, known at construction: nothing has elapsed yet.
    pub fn first_attempt_budget(&self) -> Option<Duration> {
        let retry = self
            .retry
            .config()
            .max_elapsed_seconds
            .map(Duration::from_secs_f64);
        [self.attempt_timeout, self.total_timeout, retry]
            .into_iter()
            .flatten()
            .min()
    }

    /// `begin` for a sync call on a bounded pipeline: when admitted, its first attempt is entered on
    /// this thread's deadline stack (see `deadline.rs`), so the host keeps no per-call state.
    #[inline]
    pub fn begin_sync(&self, first_budget_nanos: u64) -> Admission {
        let (start, a) = self.begin();
        if a.is_ok() {
            crate::policy::deadline::enter(
                self.retry.clock(),
                start,
                start.saturating_add(first_budget_nanos),
            );
        }
        a
    }

    /// Enters an attempt of a call started at `start` on this thread's deadline stack, bounded by
    /// `attempt_budget`. Returns the deadline in force (clock nanoseconds), or `None` when unbounded
    /// (nothing is entered then).
    pub fn enter(&self, start: u64) -> Option<u64> {
        let budget = self.attempt_budget(start)?;
        let now = self.now_nanos();
        let at = now.saturating_add(budget.as_nanos().min(u64::MAX as u128) as u64);
        Some(crate::policy::deadline::enter(
            self.retry.clock(),
            start,
            at,
        ))
    }

    /// Whether any timeout or deadline bounds a call (the host then tracks deadlines).
    pub fn bounded(&self) -> bool {
        self.attempt_timeout.is_some()
            || self.total_timeout.is_some()
            || self.retry.config().max_elapsed_seconds.is_some()
    }

    pub fn note(&self, e: Event) {
        match e {
            Event::Failed => self.failures.inc(),
            Event::Fallback => self.fallbacks.inc(),
            Event::FallbackFailed => self.fallback_failures.inc(),
            Event::Timeout => self.timeouts.inc(),
            Event::Abandoned => self.abandoned.inc(),
        }
    }

    /// The call failed with `error` and a fallback answers instead: counted, and one warning
    /// (`policy.fallback`) through the core's logger, the same from every host. Returns the masked
    /// message when the logger wrote it (for a host's own warning channel).
    pub fn fallback_taken(&self, error_type: &str, error_message: &str) -> Option<String> {
        use crate::telemetry::log_event::{FieldValue, Level, LogEvent};
        self.note(Event::Fallback);
        let name = self.name();
        crate::telemetry::pipeline::Pipeline::global().warn_for_host(
            LogEvent::new(Level::Warning, "policy.fallback")
                .message(format!(
                    "{name}: call failed ({error_type}: {error_message}); fallback taken"
                ))
                .field("policy", FieldValue::Str(name.to_string()))
                .field("error", FieldValue::Str(error_type.to_string())),
        )
    }

    /// Fallback alternative `index` (from 0) of `count` failed with `error`: one warning
    /// (`policy.fallback_failed`); the last one's failure is counted by `fallback_exhausted`.
    /// Returns the masked message when the logger wrote it.
    pub fn fallback_alternative_failed(
        &self,
        index: u32,
        count: u32,
        error_type: &str,
        error_message: &str,
    ) -> Option<String> {
        use crate::telemetry::log_event::{FieldValue, Level, LogEvent};
        let name = self.name();
        crate::telemetry::pipeline::Pipeline::global().warn_for_host(
            LogEvent::new(Level::Warning, "policy.fallback_failed")
                .message(format!(
                    "{name}: fallback alternative {} of {count} failed ({error_type}: {error_message})",
                    index + 1
                ))
                .field("policy", FieldValue::Str(name.to_string()))
                .field("error", FieldValue::Str(error_type.to_string())),
        )
    }

    /// Every fallback alternative failed: the call failed.
    pub fn fallback_exhausted(&self) {
        self.note(Event::FallbackFailed);
        self.note(Event::Failed);
    }

    pub fn stats(&self) -> PipelineStats {
        PipelineStats {
            calls: self.calls.get(),
            attempts: self.attempts.get(),
            successes: self.successes.get(),
            failures: self.failures.get(),
            fallbacks: self.fallbacks.get(),
            fallback_failures: self.fallback_failures.get(),
            timeouts: self.timeouts.get(),
            abandoned: self.abandoned.get(),
            rejected: self.rejected.get(),
            retry: self.retry.stats(),
        }
    }
}

impl Pipeline {
    /// Makes every successful call beat `switch`; false if a switch was already attached.
    pub fn beat_on_success(
        &self,
        switch: Arc<crate::watch::dead_mans_switch::DeadMansSwitch>,
    ) -> bool {
        self.heartbeat.set(switch).is_ok()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Makes this pipeline the synthetic twin of a user's policy: a probe's calls go through it
    /// (same breaker, same rules) and are exported as synthetic traffic, not in the user's series.
    pub fn into_synthetic(mut self) -> Self {
        self.synthetic = true;
        self
    }

    pub fn is_synthetic(&self) -> bool {
        self.synthetic
    }
}

/// Read at scrape time from the pipeline's own striped counters: no second increment per call.
/// Bindings register a pipeline they hold in an `Arc` with `telemetry::collector::export`.
impl crate::telemetry::collector::Collect for Pipeline {
    fn collect(&self, sink: &mut crate::telemetry::collector::Sink) {
        let n = self.name.as_str();
        let s = self.stats();
        if self.synthetic {
            // Only the outcome counts: the twin's retries and fallbacks stay in its stats.
            sink.sample(
                "ferrule_synthetic_calls",
                &["policy", n, "success"],
                s.successes as f64,
            );
            sink.sample(
                "ferrule_synthetic_calls",
                &["policy", n, "failure"],
                s.failures as f64,
            );
            return;
        }
        sink.sample(
            "ferrule_calls",
            &["policy", n, "success"],
            s.successes as f64,
        );
        sink.sample(
            "ferrule_calls",
            &["policy", n, "failure"],
            s.failures as f64,
        );
        sink.sample("ferrule_retries", &[n], s.retry.retries as f64);
        sink.sample(
            "ferrule_retry_budget_denials",
            &[n],
            s.retry.budget_denied as f64,
        );
        sink.sample("ferrule_fallbacks", &[n, "call_failed"], s.fallbacks as f64);
        sink.sample(
            "ferrule_fallbacks",
            &[n, "alternative_failed"],
            s.fallback_failures as f64,
        );
        sink.sample(
            "ferrule_errors",
            &["policy", n, "timeout"],
            s.timeouts as f64,
        );
        sink.sample(
            "ferrule_errors",
            &["policy", n, "abandoned"],
            s.abandoned as f64,
        );
    }
}
