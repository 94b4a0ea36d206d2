//! `NativePolicy`: the core's retry policy and pipeline counters for the JS host layer
//! (`bindings-node/policy.js`), which runs the call, the breaker stage, the limiter, the waits and
//! the timeouts. Options arrive in Node units (ms, camelCase) and are converted once; the hot path
//! crosses with numbers only.

use crate::clock::NativeManualClock;
use crate::error::{config_error, ConfigError, NodeParam};
use ferrule_core::{
    Backoff, BudgetConfig, ClockRef, Decision, Event, Failure, GiveUp, HintHeaders, Jitter,
    Pipeline, PipelineConfig, RetryConfig, WaitSource,
};
use napi::bindgen_prelude::Either;
use napi_derive::napi;
use std::sync::Arc;
use std::time::Duration;

/// Options as the host layer normalised them. Absent means the core's default.
#[napi(object)]
pub struct PolicyOptions {
    /// The policy's name in metrics (absent: `policy`).
    pub name: Option<String>,
    /// False: one attempt, no retry.
    pub retry: bool,
    pub attempts: Option<f64>,
    /// "constant", "linear" or "exponential" (the host checked the name).
    pub backoff_kind: Option<String>,
    pub delay_ms: Option<f64>,
    pub initial_ms: Option<f64>,
    pub increment_ms: Option<f64>,
    pub multiplier: Option<f64>,
    pub max_ms: Option<f64>,
    pub jitter: Option<String>,
    pub max_elapsed_ms: Option<f64>,
    pub max_retry_after_ms: Option<f64>,
    pub budget_ratio: Option<f64>,
    /// `budgetRatio: null`: no budget.
    pub no_budget: Option<bool>,
    pub min_retries_per_second: Option<f64>,
    pub budget_window_ms: Option<f64>,
    pub seed: Option<f64>,
    pub timeout_ms: Option<f64>,
    pub total_timeout_ms: Option<f64>,
    /// The synthetic twin of a policy: a probe's calls, exported as synthetic traffic.
    pub synthetic: Option<bool>,
}

impl PolicyOptions {
    fn params(&self) -> Vec<NodeParam> {
        let p = |core, node, millis, given| NodeParam {
            core,
            node,
            millis,
            given,
        };
        vec![
            p("attempts", "attempts", false, self.attempts),
            p("delay", "delayMs", true, self.delay_ms),
            p("initial", "initialMs", true, self.initial_ms),
            p("increment", "incrementMs", true, self.increment_ms),
            p("multiplier", "multiplier", false, self.multiplier),
            p("max", "maxMs", true, self.max_ms),
            p("jitter", "jitter", false, None),
            p(
                "max_elapsed_seconds",
                "maxElapsedMs",
                true,
                self.max_elapsed_ms,
            ),
            p(
                "max_retry_after_seconds",
                "maxRetryAfterMs",
                true,
                self.max_retry_after_ms,
            ),
            p("budget_ratio", "budgetRatio", false, self.budget_ratio),
            p(
                "min_retries_per_second",
                "minRetriesPerSecond",
                false,
                self.min_retries_per_second,
            ),
            p(
                "budget_window_seconds",
                "budgetWindowMs",
                true,
                self.budget_window_ms,
            ),
            p("timeout_seconds", "timeoutMs", true, self.timeout_ms),
            p(
                "total_timeout_seconds",
                "totalTimeoutMs",
                true,
                self.total_timeout_ms,
            ),
        ]
    }

    fn backoff(&self) -> ferrule_core::Result<Backoff> {
        let s = |ms: f64| ms / 1000.0;
        let d = Backoff::default();
        let kind = self.backoff_kind.as_deref().unwrap_or("exponential");
        let jitter = match &self.jitter {
            Some(j) => Jitter::parse("Backoff", j)?,
            None if kind == "exponential" => Jitter::Full,
            None => Jitter::None,
        };
        match kind {
            "constant" => Backoff::constant(self.delay_ms.map_or(1.0, s), jitter),
            "linear" => Backoff::linear(
                self.initial_ms.map_or(0.1, s),
                self.increment_ms.map_or(0.1, s),
                self.max_ms.map_or(10.0, s),
                jitter,
            ),
            _ => Backoff::exponential(
                self.initial_ms.map_or(d.initial_seconds(), s),
                self.multiplier.unwrap_or(d.step()),
                self.max_ms.map_or(d.max_seconds(), s),
                jitter,
            ),
        }
    }

    fn to_config(&self) -> ferrule_core::Result<PipelineConfig> {
        let s = |ms: f64| ms / 1000.0;
        let retry = if self.retry {
            let d = RetryConfig::default();
            let b = BudgetConfig::default();
            Some(RetryConfig {
                // Fractional, negative or NaN becomes 0 (refused by the core, naming the given value).
                attempts: self.attempts.map_or(d.attempts, |a| {
                    if a.fract() == 0.0 && a >= 0.0 {
                        a.min(u32::MAX as f64) as u32
                    } else {
                        0
                    }
                }),
                backoff: self.backoff()?,
                max_elapsed_seconds: self.max_elapsed_ms.map(s),
                max_retry_after_seconds: self
                    .max_retry_after_ms
                    .map_or(d.max_retry_after_seconds, s),
                budget: if self.no_budget == Some(true) {
                    None
                } else {
                    Some(BudgetConfig {
                        ratio: self.budget_ratio.unwrap_or(b.ratio),
                        min_per_second: self.min_retries_per_second.unwrap_or(b.min_per_second),
                        window_seconds: self.budget_window_ms.map_or(b.window_seconds, s),
                    })
                },
                seed: self.seed.map(|v| v as u64),
            })
        } else {
            None
        };
        Ok(PipelineConfig {
            name: self.name.clone().unwrap_or_default(),
            retry,
            total_timeout_seconds: self.total_timeout_ms.map(s),
            attempt_timeout_seconds: self.timeout_ms.map(s),
        })
    }
}

/// `decide` answers a delay in ms (>= 0) or one of these.
const NOT_RETRYABLE: f64 = -1.0;
const ATTEMPTS: f64 = -2.0;
const DEADLINE: f64 = -3.0;
const RETRY_AFTER_TOO_LONG: f64 = -4.0;
const REFUSED: f64 = -5.0;
const BUDGET: f64 = -6.0;

fn ms(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

fn dur(ms: f64) -> Duration {
    Duration::try_from_secs_f64((ms / 1000.0).max(0.0)).unwrap_or(Duration::MAX)
}

/// The pipeline's counters, as `f64` (exact below 2^53).
#[napi(object)]
pub struct PolicyStats {
    pub calls: f64,
    pub attempts: f64,
    pub successes: f64,
    pub failures: f64,
    pub retries: f64,
    pub budget_denied: f64,
    pub gave_up_attempts: f64,
    pub gave_up_deadline: f64,
    pub gave_up_retry_after: f64,
    pub gave_up_refused: f64,
    pub not_retryable: f64,
    pub fallbacks: f64,
    pub fallback_failures: f64,
    pub timeouts: f64,
}

/// Owns the core pipeline; the hot path goes through the functions `fast_policy.rs` makes for it.
#[napi]
pub struct NativePolicy {
    pub(crate) inner: Arc<Pipeline>,
}

/// Builds a policy, or says why the configuration was refused (the host throws that).
#[napi(catch_unwind)]
pub fn create_policy(
    options: PolicyOptions,
    clock: Option<&NativeManualClock>,
) -> Either<NativePolicy, ConfigError> {
    let clock = clock.map_or(ClockRef::System, |c| ClockRef::Manual(c.inner.clone()));
    match options
        .to_config()
        .and_then(|c| Pipeline::new(c, None, clock))
    {
        Ok(inner) => {
            let synthetic = options.synthetic == Some(true);
            let inner = Arc::new(if synthetic {
                inner.into_synthetic()
            } else {
                inner
            });
            if synthetic {
                // Declares the synthetic families too.
                ferrule_core::watch::gauges::export(&inner);
            } else {
                ferrule_core::telemetry::collector::export(&inner);
            }
            Either::A(NativePolicy { inner })
        }
        Err(e) => Either::B(config_error(&e, &options.params())),
    }
}

/// Milliseconds the server asked to wait, from `[name, value]` pairs and the HTTP status; `null`
/// when it did not say. `nowMs` is the wall clock (`Date.now()`), for HTTP dates.
#[napi(catch_unwind)]
pub fn retry_hint_ms(headers: Vec<Vec<String>>, status: Option<u32>, now_ms: f64) -> Option<f64> {
    let h = HintHeaders::from_pairs(
        headers
            .iter()
            .filter(|p| p.len() == 2)
            .map(|p| (p[0].as_str(), p[1].as_str())),
    );
    h.hint(
        status.map(|s| s.min(u16::MAX as u32) as u16),
        now_ms / 1000.0,
    )
    .map(ms)
}

/// The header names the host should look up, lower-case.
#[napi(catch_unwind)]
pub fn hint_header_names() -> Vec<String> {
    HintHeaders::NAMES.iter().map(|s| s.to_string()).collect()
}

/// Every HTTP status worth retrying (408, 409, 429, 5xx).
#[napi(catch_unwind)]
pub fn transient_statuses() -> Vec<u32> {
    (100u16..600)
        .filter(|s| ferrule_core::transient_status(*s))
        .map(u32::from)
        .collect()
}

#[napi]
impl NativePolicy {
    /// A call starts: counts it and its first attempt, deposits in the retry budget. Returns the
    /// start time in clock nanoseconds (exact in a JS number for 104 days of uptime).
    #[napi(catch_unwind)]
    pub fn begin(&self) -> f64 {
        let (start, _) = self.inner.begin();
        start as f64
    }

    /// A retry starts.
    #[napi(catch_unwind)]
    pub fn attempt(&self) {
        let _ = self.inner.attempt();
    }

    #[napi(catch_unwind)]
    pub fn success(&self) {
        self.inner.success(None);
    }

    /// After attempt `attemptsMade` failed: the delay in ms (>= 0) or a negative give-up code.
    /// `waitMs` is the server's hint, or with `refused` the breaker's or limiter's wait.
    #[napi(catch_unwind)]
    pub fn decide(
        &self,
        start: f64,
        attempts_made: u32,
        previous_delay_ms: f64,
        retryable: bool,
        wait_ms: Option<f64>,
        refused: bool,
    ) -> f64 {
        let failure = if refused {
            Failure::refused(wait_ms.map(dur))
        } else {
            Failure {
                retryable,
                wait: wait_ms.map(|w| (WaitSource::Server, Some(dur(w)))),
            }
        };
        match self
            .inner
            .decide(start as u64, attempts_made, dur(previous_delay_ms), failure)
        {
            Decision::Retry(d) => ms(d),
            Decision::GiveUp(g) => match g {
                GiveUp::NotRetryable => NOT_RETRYABLE,
                GiveUp::Attempts => ATTEMPTS,
                GiveUp::Deadline => DEADLINE,
                GiveUp::RetryAfterTooLong => RETRY_AFTER_TOO_LONG,
                GiveUp::Refused => REFUSED,
                GiveUp::Budget => BUDGET,
            },
        }
    }

    /// The budget of a first attempt in ms (known at construction: nothing has elapsed yet), or
    /// `null` when unbounded.
    #[napi(catch_unwind)]
    pub fn first_attempt_budget_ms(&self) -> Option<f64> {
        self.inner.first_attempt_budget().map(ms)
    }

    /// Milliseconds an attempt starting now may take, or `null` when unbounded.
    #[napi(catch_unwind)]
    pub fn attempt_budget_ms(&self, start: f64) -> Option<f64> {
        self.inner.attempt_budget(start as u64).map(ms)
    }

    /// Milliseconds left of the whole call, or `null` when unbounded.
    #[napi(catch_unwind)]
    pub fn call_remaining_ms(&self, start: f64) -> Option<f64> {
        self.inner.call_remaining(start as u64).map(ms)
    }

    /// Counts an event the host executed: 0 failed, 1 fallback, 2 fallback failed, 3 timeout.
    #[napi(catch_unwind)]
    pub fn note(&self, event: u32) {
        self.inner.note(match event {
            0 => Event::Failed,
            1 => Event::Fallback,
            2 => Event::FallbackFailed,
            _ => Event::Timeout,
        });
    }

    /// The call failed and a fallback answers: counted and logged by the core; returns the
    /// masked message when the logger wrote it (the host's `process.emitWarning` is fed from it).
    #[napi(catch_unwind)]
    pub fn fallback_taken(&self, error_type: String, error_message: String) -> Option<String> {
        self.inner.fallback_taken(&error_type, &error_message)
    }

    /// Fallback alternative `index` (from 0) of `count` failed: logged by the core; returns the
    /// masked message when the logger wrote it.
    #[napi(catch_unwind)]
    pub fn fallback_alternative_failed(
        &self,
        index: u32,
        count: u32,
        error_type: String,
        error_message: String,
    ) -> Option<String> {
        self.inner
            .fallback_alternative_failed(index, count, &error_type, &error_message)
    }

    /// Every fallback alternative failed: counted by the core.
    #[napi(catch_unwind)]
    pub fn fallback_exhausted(&self) {
        self.inner.fallback_exhausted();
    }

    #[napi(catch_unwind)]
    pub fn stats(&self) -> PolicyStats {
        let s = self.inner.stats();
        PolicyStats {
            calls: s.calls as f64,
            attempts: s.attempts as f64,
            successes: s.successes as f64,
            failures: s.failures as f64,
            retries: s.retry.retries as f64,
            budget_denied: s.retry.budget_denied as f64,
            gave_up_attempts: s.retry.gave_up_attempts as f64,
            gave_up_deadline: s.retry.gave_up_deadline as f64,
            gave_up_retry_after: s.retry.gave_up_retry_after as f64,
            gave_up_refused: s.retry.gave_up_refused as f64,
            not_retryable: s.retry.not_retryable as f64,
            fallbacks: s.fallbacks as f64,
            fallback_failures: s.fallback_failures as f64,
            timeouts: s.timeouts as f64,
        }
    }
}
