//! Several limits checked all-or-nothing (500 requests/min AND 30,000 tokens/min), and the LLM token
//! reservation: pre-charge an estimate, then settle with the real usage (refund or extra charge), so a
//! tokens-per-minute limit tracks what the provider counts.

use super::{RateLimiter, Step};
use crate::error::{Error, Result};
use crate::striped::StripedCounter;
use std::sync::Arc;
use std::time::Duration;

const C: &str = "Limits";

/// Limits charged together. A denial by one gives back what the others took, so it consumes nothing.
/// While a denied attempt holds its charges (nanoseconds, between charge and refund), another caller
/// can be told to wait spuriously; it can never be admitted beyond a limit.
pub struct MultiLimit {
    names: Vec<String>,
    limiters: Vec<Arc<RateLimiter>>,
    admitted: StripedCounter,
    rejected: StripedCounter,
    waits: StripedCounter,
}

/// What a `MultiLimit` charged, to be settled once against real usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    key: Option<Box<str>>,
    /// Units charged per limit (0: that limit was not asked).
    charged: Vec<u64>,
    /// When each was charged, on that limiter's clock.
    at: Vec<u64>,
}

impl Reservation {
    pub fn charged(&self) -> &[u64] {
        &self.charged
    }
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiStep {
    Admitted(Reservation),
    /// Nothing charged: sleep this long (until every limit would pass), then ask again.
    Wait(Duration),
    /// Nothing charged; the wait exceeds the caller's budget. Names the limit that refused.
    Rejected {
        wait: Duration,
        limit: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultiStats {
    pub admitted: u64,
    pub rejected: u64,
    pub waits: u64,
}

impl MultiLimit {
    pub fn new(limits: Vec<(String, Arc<RateLimiter>)>) -> Result<Self> {
        if limits.is_empty() {
            return Err(Error::out_of_range(
                C,
                "limits",
                "{}",
                "at least one named limiter",
            ));
        }
        for (i, (name, _)) in limits.iter().enumerate() {
            if limits[..i].iter().any(|(n, _)| n == name) {
                return Err(Error::conflict(
                    C,
                    "name",
                    name,
                    "each limit needs its own name",
                ));
            }
        }
        #[cfg(feature = "redis")]
        {
            let first = limits[0].1.remote.as_ref();
            for (name, l) in &limits[1..] {
                let same = match (first, l.remote.as_ref()) {
                    (None, None) => true,
                    (Some(a), Some(b)) => a.same_backend(b),
                    _ => false,
                };
                if !same {
                    return Err(Error::conflict(
                        C,
                        "backend",
                        name,
                        "every limit on the same backend (one RedisBackend, or none), so one \
                         decision stays all-or-nothing",
                    ));
                }
            }
        }
        let (names, limiters) = limits.into_iter().unzip();
        Ok(Self {
            names,
            limiters,
            admitted: StripedCounter::new(),
            rejected: StripedCounter::new(),
            waits: StripedCounter::new(),
        })
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn limiters(&self) -> &[Arc<RateLimiter>] {
        &self.limiters
    }

    /// Checks a host's costs, one per limit in `names()` order: each in `[0, that limit's max]`
    /// (0 skips the limit), and at least one positive.
    pub fn units(&self, costs: &[i128]) -> Result<Vec<u64>> {
        if costs.len() != self.limiters.len() {
            return Err(Error::conflict(
                C,
                "costs",
                costs.len(),
                format!("one cost per limit ({})", self.limiters.len()),
            ));
        }
        let mut out = Vec::with_capacity(costs.len());
        for (i, &c) in costs.iter().enumerate() {
            let max = self.limiters[i].max_n();
            if c < 0 || c > max as i128 {
                return Err(Error::InvalidConfig {
                    component: C,
                    param: "cost",
                    value: format!("{}={c}", self.names[i]),
                    allowed: format!(
                        "an integer in [0, {max}] (the {} limit's largest request)",
                        self.names[i]
                    ),
                    problem: crate::error::ConfigProblem::OutOfRange,
                });
            }
            out.push(c as u64);
        }
        if out.iter().all(|&c| c == 0) {
            return Err(Error::out_of_range(C, "costs", 0, "at least one cost > 0"));
        }
        Ok(out)
    }

    /// `acquire_step` with the budget as a deadline on the first limiter's clock (nanoseconds).
    pub fn acquire_until(
        &self,
        costs: &[u64],
        key: Option<&str>,
        deadline: Option<u64>,
    ) -> MultiStep {
        let budget = deadline
            .map(|d| Duration::from_nanos(d.saturating_sub(self.limiters[0].clock.now_nanos())));
        self.acquire_step(costs, key, budget)
    }

    /// The error a host raises for a `MultiStep::Rejected`, naming the limit that refused.
    pub fn refused(&self, limit: usize, retry_after: Duration, key: Option<&str>) -> Error {
        Error::RateLimited {
            limiter: self.names[limit].clone(),
            retry_after,
            key: key.map(Into::into),
        }
    }

    pub fn now_nanos(&self) -> u64 {
        self.limiters[0].clock.now_nanos()
    }

    /// Charges every limit or none. `budget` as in `RateLimiter::acquire_step`.
    pub fn acquire_step(
        &self,
        costs: &[u64],
        key: Option<&str>,
        budget: Option<Duration>,
    ) -> MultiStep {
        #[cfg(feature = "redis")]
        if self.limiters[0].remote.is_some() {
            if let Some(step) = self.acquire_remote(costs, key, budget) {
                return step;
            }
        }
        let mut at = vec![0u64; self.limiters.len()];
        for (i, l) in self.limiters.iter().enumerate() {
            let n = costs[i];
            if n == 0 {
                continue;
            }
            let now = l.clock.now_nanos();
            if let Err(wait) = l.take(now, n, key) {
                for j in 0..i {
                    if costs[j] > 0 {
                        let lj = &self.limiters[j];
                        lj.refund_at(lj.clock.now_nanos(), costs[j], key, at[j]);
                    }
                }
                return self.denied(costs, key, i, wait, budget);
            }
            at[i] = now;
        }
        for (i, l) in self.limiters.iter().enumerate() {
            if costs[i] > 0 {
                l.note_admitted(costs[i]);
            }
        }
        self.admitted.inc();
        MultiStep::Admitted(Reservation {
            key: key.map(Into::into),
            charged: costs.to_vec(),
            at,
        })
    }

    /// Every limit in one Lua script, one round trip. `None`: Redis gave no answer and the backend's
    /// policy is `local`, so the caller decides with the local state.
    #[cfg(feature = "redis")]
    fn acquire_remote(
        &self,
        costs: &[u64],
        key: Option<&str>,
        budget: Option<Duration>,
    ) -> Option<MultiStep> {
        use super::redis_limit::{decide, RemoteStep};
        use crate::store::redis_backend::OnBackendError;
        let limits: Vec<_> = self
            .limiters
            .iter()
            .zip(costs)
            .filter_map(|(l, &n)| l.remote.as_ref().map(|r| (r, n)))
            .collect();
        let backend = &limits[0].0.backend;
        let (wait, refused) = match decide(&limits, key, budget, false) {
            Ok(RemoteStep::Admitted { at }) => {
                return Some(self.admitted(costs, key, vec![at; costs.len()]))
            }
            Ok(RemoteStep::Denied { wait, refused }) => (wait, refused),
            Err(unavailable) => {
                backend.note_policy_fallback(crate::store::redis_backend::Op::RateLimit);
                match backend.on_backend_error() {
                    OnBackendError::Local => return None,
                    OnBackendError::FailOpen => {
                        let now = self.now_nanos();
                        return Some(self.admitted(costs, key, vec![now; costs.len()]));
                    }
                    OnBackendError::FailClosed => (
                        unavailable.retry_in(backend.retry()).as_nanos() as u64,
                        costs.iter().position(|&c| c > 0).unwrap_or(0),
                    ),
                }
            }
        };
        if let Step::Wait(d) = self.limiters[refused].note_denied(wait, budget) {
            self.waits.inc();
            return Some(MultiStep::Wait(d));
        }
        self.rejected.inc();
        Some(MultiStep::Rejected {
            wait: Duration::from_nanos(wait),
            limit: refused,
        })
    }

    #[cfg(feature = "redis")]
    fn admitted(&self, costs: &[u64], key: Option<&str>, at: Vec<u64>) -> MultiStep {
        for (i, l) in self.limiters.iter().enumerate() {
            if costs[i] > 0 {
                l.note_admitted(costs[i]);
            }
        }
        self.admitted.inc();
        MultiStep::Admitted(Reservation {
            key: key.map(Into::into),
            charged: costs.to_vec(),
            at,
        })
    }

    /// The wait is until every limit would pass, not just the one that refused.
    fn denied(
        &self,
        costs: &[u64],
        key: Option<&str>,
        refused: usize,
        wait: u64,
        budget: Option<Duration>,
    ) -> MultiStep {
        let mut longest = wait;
        for (j, l) in self.limiters.iter().enumerate() {
            if j != refused && costs[j] > 0 {
                longest = longest.max(l.peek_at(l.clock.now_nanos(), costs[j], key));
            }
        }
        if let Step::Wait(d) = self.limiters[refused].note_denied(longest, budget) {
            self.waits.inc();
            return MultiStep::Wait(d);
        }
        self.rejected.inc();
        MultiStep::Rejected {
            wait: Duration::from_nanos(longest),
            limit: refused,
        }
    }

    /// Reconciles a reservation with real usage: `actual[i]` (None: keep the estimate) replaces what
    /// was charged to limit i; the difference is refunded or charged as debt.
    pub fn settle(&self, r: &Reservation, actual: &[Option<u64>]) {
        for (i, l) in self.limiters.iter().enumerate() {
            let Some(&Some(real)) = actual.get(i) else {
                continue;
            };
            let key = r.key.as_deref();
            let charged = r.charged[i];
            if real > charged {
                l.charge(real - charged, key);
            } else if real < charged {
                l.refund(charged - real, key, r.at[i]);
            }
        }
    }

    pub fn stats(&self) -> MultiStats {
        MultiStats {
            admitted: self.admitted.get(),
            rejected: self.rejected.get(),
            waits: self.waits.get(),
        }
    }
}
