//! Retry: the decision "after this failure, wait how long, or give up?". The host runs the call and
//! sleeps; every rule (attempt count, backoff and jitter, server hints and their cap, the deadline,
//! the shared retry budget) is decided here, once, on the policy's clock.

use crate::clock::ClockRef;
use crate::error::{check, Error, Result};
use crate::policy::backoff::Backoff;
use crate::policy::retry_budget::{BudgetConfig, RetryBudget};
use crate::random::Random;
use crate::striped::StripedCounter;
use std::time::Duration;

const C: &str = "Retry";

/// HTTP statuses worth retrying: 408 Request Timeout, 409 Conflict (OpenAI's "try again"), 429 Too
/// Many Requests and every 5xx. Never 400, 401, 403, 404 or 422: those fail the same way again.
#[inline]
pub fn transient_status(status: u16) -> bool {
    matches!(status, 408 | 409 | 429 | 500..=599)
}

#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    /// Every try counts: 3 = one call and up to two retries.
    pub attempts: u32,
    pub backoff: Backoff,
    /// Bounds the whole retry loop: no wait ends past it.
    pub max_elapsed_seconds: Option<f64>,
    /// A server (or breaker) asking for a longer wait than this is not waited for: give up at once.
    pub max_retry_after_seconds: f64,
    /// The adaptive budget shared by every call of the policy; `None` disables it.
    pub budget: Option<BudgetConfig>,
    /// Seeds the jitter, for deterministic tests; `None` seeds from entropy.
    pub seed: Option<u64>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            attempts: 3,
            backoff: Backoff::default(),
            max_elapsed_seconds: None,
            max_retry_after_seconds: 60.0,
            budget: Some(BudgetConfig::default()),
            seed: None,
        }
    }
}

impl RetryConfig {
    pub fn validate(&self) -> Result<()> {
        check::int_range(C, "attempts", self.attempts as u64, 1, 1000)?;
        if let Some(s) = self.max_elapsed_seconds {
            check::finite_positive(C, "max_elapsed_seconds", s)?;
        }
        check::finite_non_negative(C, "max_retry_after_seconds", self.max_retry_after_seconds)?;
        if let Some(b) = &self.budget {
            b.validate()?;
        }
        Ok(())
    }
}

/// Where a minimum wait came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitSource {
    /// `Retry-After` and friends on the server's response.
    Server,
    /// A circuit breaker (or rate limiter) in the pipeline refused the call and said for how long.
    Refused,
}

/// What the host learned from a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Failure {
    /// The host's classification (`transient` or a user predicate).
    pub retryable: bool,
    /// A wait asked for, with its source. A refusal without a known wait is `(Refused, None)`.
    pub wait: Option<(WaitSource, Option<Duration>)>,
}

impl Failure {
    pub const RETRYABLE: Failure = Failure {
        retryable: true,
        wait: None,
    };
    pub const FATAL: Failure = Failure {
        retryable: false,
        wait: None,
    };

    pub fn server_hint(hint: Option<Duration>) -> Self {
        Failure {
            retryable: true,
            wait: hint.map(|h| (WaitSource::Server, Some(h))),
        }
    }

    pub fn refused(retry_after: Option<Duration>) -> Self {
        Failure {
            retryable: true,
            wait: Some((WaitSource::Refused, retry_after)),
        }
    }
}

/// Why the loop stopped without success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GiveUp {
    /// The error is not one to retry: the host re-raises it as it is.
    NotRetryable,
    Attempts,
    /// The next wait would end at or past the deadline.
    Deadline,
    /// The server asked for a wait longer than `max_retry_after_seconds`.
    RetryAfterTooLong,
    /// A breaker or limiter refused and its wait is unknown, too long, or past the deadline.
    Refused,
    /// The shared retry budget is spent.
    Budget,
}

impl GiveUp {
    pub fn as_str(self) -> &'static str {
        match self {
            GiveUp::NotRetryable => "not_retryable",
            GiveUp::Attempts => "attempts",
            GiveUp::Deadline => "deadline",
            GiveUp::RetryAfterTooLong => "retry_after_too_long",
            GiveUp::Refused => "refused",
            GiveUp::Budget => "budget",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    Retry(Duration),
    GiveUp(GiveUp),
}

/// Counters, read without stopping anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetryStats {
    pub retries: u64,
    pub budget_denied: u64,
    pub gave_up_attempts: u64,
    pub gave_up_deadline: u64,
    pub gave_up_retry_after: u64,
    pub gave_up_refused: u64,
    pub not_retryable: u64,
    pub budget_requests: u64,
    pub budget_retries: u64,
}

/// One call's progress through the loop, for Rust callers (hosts keep the same three numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryState {
    pub start_nanos: u64,
    /// Attempts made so far.
    pub attempts: u32,
    pub previous_delay: Duration,
}

#[derive(Debug)]
pub struct RetryPolicy {
    config: RetryConfig,
    max_elapsed: Option<Duration>,
    max_retry_after: Duration,
    budget: Option<RetryBudget>,
    clock: ClockRef,
    random: Random,
    retries: StripedCounter,
    gave_up: [StripedCounter; 4],
    not_retryable: StripedCounter,
}

impl RetryPolicy {
    pub fn new(config: RetryConfig) -> Result<Self> {
        Self::with_clock(config, ClockRef::System)
    }

    pub fn with_clock(config: RetryConfig, clock: impl Into<ClockRef>) -> Result<Self> {
        config.validate()?;
        let budget = config.budget.map(RetryBudget::new).transpose()?;
        Ok(Self {
            max_elapsed: config.max_elapsed_seconds.map(Duration::from_secs_f64),
            max_retry_after: Duration::try_from_secs_f64(config.max_retry_after_seconds).map_err(
                |_| {
                    Error::out_of_range(
                        C,
                        "max_retry_after_seconds",
                        config.max_retry_after_seconds,
                        "a finite number >= 0",
                    )
                },
            )?,
            budget,
            clock: clock.into(),
            random: config
                .seed
                .map_or_else(Random::from_entropy, Random::seeded),
            retries: StripedCounter::new(),
            gave_up: std::array::from_fn(|_| StripedCounter::new()),
            not_retryable: StripedCounter::new(),
            config,
        })
    }

    pub fn config(&self) -> &RetryConfig {
        &self.config
    }

    pub fn clock(&self) -> &ClockRef {
        &self.clock
    }

    #[inline]
    pub fn now_nanos(&self) -> u64 {
        self.clock.now_nanos()
    }

    /// A new call starts: it counts as one request toward the budget. Returns the start time.
    #[inline]
    pub fn begin(&self) -> u64 {
        let now = self.clock.now_nanos();
        if let Some(b) = &self.budget {
            b.deposit(now);
        }
        now
    }

    /// For Rust callers: `begin` wrapped in a state to pass to [`RetryPolicy::next`].
    pub fn start(&self) -> RetryState {
        RetryState {
            start_nanos: self.begin(),
            attempts: 1,
            previous_delay: Duration::ZERO,
        }
    }

    /// For Rust callers: decides after a failed attempt and moves the state on.
    pub fn next(&self, state: &mut RetryState, failure: Failure) -> Decision {
        let d = self.decide(
            state.start_nanos,
            state.attempts,
            state.previous_delay,
            failure,
        );
        if let Decision::Retry(w) = d {
            state.attempts += 1;
            state.previous_delay = w;
        }
        d
    }

    /// The wait still allowed before the deadline, for a call that started at `start_nanos`;
    /// `None` when no deadline is set.
    pub fn remaining(&self, start_nanos: u64) -> Option<Duration> {
        let max = self.max_elapsed?;
        let elapsed = Duration::from_nanos(self.clock.now_nanos().saturating_sub(start_nanos));
        Some(max.saturating_sub(elapsed))
    }

    fn give_up(&self, g: GiveUp) -> Decision {
        match g {
            GiveUp::NotRetryable => self.not_retryable.inc(),
            GiveUp::Attempts => self.gave_up[0].inc(),
            GiveUp::Deadline => self.gave_up[1].inc(),
            GiveUp::RetryAfterTooLong => self.gave_up[2].inc(),
            GiveUp::Refused => self.gave_up[3].inc(),
            // The budget counts its own denials.
            GiveUp::Budget => {}
        }
        Decision::GiveUp(g)
    }

    /// After attempt number `attempts_made` (1-based) failed: wait how long, or give up?
    /// `previous_delay` is the wait before that attempt (zero for the first). `deadline_cap`
    /// (a total timeout measured from `start_nanos`, enforced by the host) tightens
    /// `max_elapsed_seconds` when shorter.
    pub fn decide_with_deadline(
        &self,
        start_nanos: u64,
        attempts_made: u32,
        previous_delay: Duration,
        failure: Failure,
        deadline_cap: Option<Duration>,
    ) -> Decision {
        if !failure.retryable {
            return self.give_up(GiveUp::NotRetryable);
        }
        if attempts_made >= self.config.attempts {
            return self.give_up(GiveUp::Attempts);
        }
        let delay = match failure.wait {
            Some((WaitSource::Refused, None)) => return self.give_up(GiveUp::Refused),
            Some((WaitSource::Refused, Some(w))) if w > self.max_retry_after => {
                return self.give_up(GiveUp::Refused)
            }
            Some((WaitSource::Server, Some(w))) if w > self.max_retry_after => {
                return self.give_up(GiveUp::RetryAfterTooLong)
            }
            Some((_, Some(w))) => w,
            _ => self
                .config
                .backoff
                .delay(attempts_made, previous_delay, &self.random),
        };
        let deadline = match (self.max_elapsed, deadline_cap) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(deadline) = deadline {
            let now = self.clock.now_nanos();
            let elapsed = Duration::from_nanos(now.saturating_sub(start_nanos));
            if elapsed + delay >= deadline {
                return match failure.wait {
                    Some((WaitSource::Refused, _)) => self.give_up(GiveUp::Refused),
                    _ => self.give_up(GiveUp::Deadline),
                };
            }
        }
        if let Some(b) = &self.budget {
            if !b.try_withdraw(self.clock.now_nanos()) {
                return self.give_up(GiveUp::Budget);
            }
        }
        self.retries.inc();
        Decision::Retry(delay)
    }

    pub fn decide(
        &self,
        start_nanos: u64,
        attempts_made: u32,
        previous_delay: Duration,
        failure: Failure,
    ) -> Decision {
        self.decide_with_deadline(start_nanos, attempts_made, previous_delay, failure, None)
    }

    pub fn stats(&self) -> RetryStats {
        let now = self.clock.now_nanos();
        let (budget_requests, budget_retries) =
            self.budget.as_ref().map_or((0, 0), |b| b.window(now));
        RetryStats {
            retries: self.retries.get(),
            budget_denied: self.budget.as_ref().map_or(0, |b| b.denied()),
            gave_up_attempts: self.gave_up[0].get(),
            gave_up_deadline: self.gave_up[1].get(),
            gave_up_retry_after: self.gave_up[2].get(),
            gave_up_refused: self.gave_up[3].get(),
            not_retryable: self.not_retryable.get(),
            budget_requests,
            budget_retries,
        }
    }
}
