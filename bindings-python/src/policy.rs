//! `RetryOptions` and `PolicyCore`: the core's retry policy and pipeline for the Python host layer
//! (`ferrule/policy.py`), which runs the call, the limiter, the sleeps, the timeouts and the
//! fallback. Only conversion here.
//!
//! A permit token is one Python int: the breaker's permit (below 2^53) with bit 63 set, or 0 when
//! the pipeline has no breaker. Start times are clock nanoseconds.

use crate::breaker::CircuitBreakerCore;
use crate::clock::ManualClock;
use crate::error::{circuit_open, guard, to_py};
use ferrule_core::error::check;
use ferrule_core::{
    Admission, BudgetConfig, ClockRef, Decision, Event, Failure, Outcome, Permit, Pipeline,
    PipelineConfig, RetryConfig, Transition, WaitSource,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::Arc;
use std::time::Duration;

const C: &str = "Retry";
const HAS_PERMIT: u64 = 1 << 63;

/// Validated retry options (`ferrule.Retry` builds one at construction).
#[pyclass(frozen, name = "RetryOptions", module = "ferrule._ferrule")]
pub struct RetryOptions {
    inner: RetryConfig,
}

#[pymethods]
impl RetryOptions {
    #[new]
    #[pyo3(signature = (attempts=3, *, backoff=None, max_elapsed_seconds=None,
        max_retry_after_seconds=60.0, budget_ratio=Some(0.2), min_retries_per_second=10.0,
        budget_window_seconds=10.0, seed=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] attempts: i64,
        backoff: Option<PyRef<'_, crate::backoff::Backoff>>,
        max_elapsed_seconds: Option<f64>,
        max_retry_after_seconds: f64,
        budget_ratio: Option<f64>,
        min_retries_per_second: f64,
        budget_window_seconds: f64,
        #[pyo3(from_py_with = crate::arg::optional::<u64>)] seed: Option<u64>,
    ) -> PyResult<Self> {
        let build = || -> ferrule_core::Result<RetryConfig> {
            let c = RetryConfig {
                attempts: check::int(C, "attempts", attempts as i128, 1, 1000)? as u32,
                backoff: backoff.as_ref().map_or_else(Default::default, |b| b.inner),
                max_elapsed_seconds,
                max_retry_after_seconds,
                budget: budget_ratio.map(|ratio| BudgetConfig {
                    ratio,
                    min_per_second: min_retries_per_second,
                    window_seconds: budget_window_seconds,
                }),
                seed,
            };
            c.validate()?;
            Ok(c)
        };
        build()
            .map(|inner| Self { inner })
            .map_err(|e| to_py(py, e))
    }

    #[getter]
    fn attempts(&self) -> u32 {
        self.inner.attempts
    }

    #[getter]
    fn max_elapsed_seconds(&self) -> Option<f64> {
        self.inner.max_elapsed_seconds
    }
}

#[pyclass(frozen, name = "PolicyCore", module = "ferrule._ferrule")]
pub struct PolicyCore {
    inner: Arc<Pipeline>,
    breaker: Option<Py<CircuitBreakerCore>>,
    /// A first attempt's budget in nanoseconds (known at construction), so `begin_at` reads the
    /// clock once.
    first_budget: Option<u64>,
}

impl PolicyCore {
    #[inline]
    fn dispatch(&self, py: Python<'_>, t: Option<Transition>) {
        if let (Some(t), Some(b)) = (t, &self.breaker) {
            b.get().dispatch(py, Some(t));
        }
    }

    #[inline]
    fn admitted(&self, py: Python<'_>, a: Admission) -> PyResult<u64> {
        match a {
            Ok((p, t)) => {
                if t.is_some() {
                    self.dispatch(py, t);
                }
                Ok(p.map_or(0, |p| p.token() | HAS_PERMIT))
            }
            Err(r) => {
                let name = self.breaker.as_ref().map_or("", |b| b.get().inner.name());
                Err(circuit_open(
                    py,
                    name,
                    r.retry_after.map(|d| d.as_secs_f64()),
                ))
            }
        }
    }

    #[inline]
    fn permit(token: u64) -> Option<Permit> {
        (token & HAS_PERMIT != 0).then(|| Permit::from_token(token))
    }

    fn deadline(&self, start: u64) -> Option<f64> {
        self.inner
            .attempt_budget(start)
            .map(|d| (self.inner.now_nanos() as f64 + d.as_nanos() as f64) / 1e9)
    }
}

#[pymethods]
impl PolicyCore {
    #[new]
    #[pyo3(signature = (*, retry=None, breaker=None, timeout_seconds=None,
        total_timeout_seconds=None, clock=None, name=None, synthetic=false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        retry: Option<PyRef<'_, RetryOptions>>,
        breaker: Option<Py<CircuitBreakerCore>>,
        timeout_seconds: Option<f64>,
        total_timeout_seconds: Option<f64>,
        clock: Option<PyRef<'_, ManualClock>>,
        name: Option<String>,
        synthetic: bool,
    ) -> PyResult<Self> {
        let config = PipelineConfig {
            name: name.unwrap_or_default(),
            retry: retry.as_ref().map(|r| r.inner.clone()),
            total_timeout_seconds,
            attempt_timeout_seconds: timeout_seconds,
        };
        let clock = clock
            .as_ref()
            .map_or(ClockRef::System, |c| ClockRef::Manual(c.inner.clone()));
        let shared = breaker.as_ref().map(|b| b.get().inner.clone());
        let p = Pipeline::new(config, shared, clock).map_err(|e| to_py(py, e))?;
        let inner = Arc::new(if synthetic { p.into_synthetic() } else { p });
        if synthetic {
            // Declares the synthetic families too.
            ferrule_core::watch::gauges::export(&inner);
        } else {
            ferrule_core::telemetry::collector::export(&inner);
        }
        let first_budget = inner
            .first_attempt_budget()
            .map(|d| d.as_nanos().min(u64::MAX as u128) as u64);
        Ok(Self {
            inner,
            breaker,
            first_budget,
        })
    }

    /// A call starts: returns the first attempt's permit token, or raises `CircuitOpenError`.
    #[inline]
    fn begin(&self, py: Python<'_>) -> PyResult<u64> {
        let (_, a) = guard(py, || self.inner.begin())?;
        self.admitted(py, a)
    }

    /// `begin` for a bounded pipeline: `(token, start_nanos, attempt_deadline)`. On refusal the
    /// `CircuitOpenError` is raised and the host reads the start with `now_nanos()`.
    #[inline]
    fn begin_at(&self, py: Python<'_>) -> PyResult<(u64, u64, Option<f64>)> {
        let (start, a) = guard(py, || self.inner.begin())?;
        let token = self.admitted(py, a)?;
        let deadline = self
            .first_budget
            .map(|b| start.saturating_add(b) as f64 / 1e9);
        Ok((token, start, deadline))
    }

    /// `begin` for a sync call on a bounded pipeline: the first attempt's deadline is entered on this
    /// thread's deadline stack (read by `ferrule.remaining()`), so nothing crosses back but the
    /// token. Pair with `success_sync` or `fail_sync`.
    #[inline]
    fn begin_sync(&self, py: Python<'_>) -> PyResult<u64> {
        let budget = self.first_budget.unwrap_or(u64::MAX);
        let a = guard(py, || self.inner.begin_sync(budget))?;
        self.admitted(py, a)
    }

    /// Leaves the attempt `begin_sync` or `enter` entered and records its success.
    #[inline]
    fn success_sync(&self, py: Python<'_>, token: u64) -> PyResult<()> {
        let t = guard(py, || {
            ferrule_core::deadline::leave();
            self.inner.success(Self::permit(token))
        })?;
        if t.is_some() {
            self.dispatch(py, t);
        }
        Ok(())
    }

    /// Leaves the attempt `begin_sync` entered and records its outcome (0 success, 1 failure,
    /// 2 ignored); returns the call's start, for the retry loop.
    fn fail_sync(&self, py: Python<'_>, token: u64, outcome: u8) -> PyResult<u64> {
        let o = match outcome {
            0 => Outcome::Success,
            1 => Outcome::Failure,
            _ => Outcome::Ignored,
        };
        let (start, t) = guard(py, || {
            let start = ferrule_core::deadline::leave().unwrap_or(0);
            (start, self.inner.record(Self::permit(token), o))
        })?;
        self.dispatch(py, t);
        Ok(start)
    }

    /// Enters an attempt of the call started at `start` on this thread's deadline stack. Returns
    /// the deadline in force (clock ns), or `None` when unbounded (then nothing was entered).
    fn enter(&self, py: Python<'_>, start: u64) -> PyResult<Option<u64>> {
        guard(py, || self.inner.enter(start))
    }

    /// Enters a known deadline (a hard-mode worker thread takes its caller's).
    fn enter_at(&self, py: Python<'_>, start: u64, deadline: u64) -> PyResult<()> {
        guard(py, || {
            ferrule_core::deadline::enter(self.inner.retry().clock(), start, deadline);
        })
    }

    /// Leaves the innermost entered attempt.
    fn leave(&self, py: Python<'_>) -> PyResult<()> {
        guard(py, || {
            ferrule_core::deadline::leave();
        })
    }

    /// A retry starts: returns its permit token, or raises `CircuitOpenError`.
    #[inline]
    fn attempt(&self, py: Python<'_>) -> PyResult<u64> {
        let a = guard(py, || self.inner.attempt())?;
        self.admitted(py, a)
    }

    #[inline]
    fn success(&self, py: Python<'_>, token: u64) -> PyResult<()> {
        let t = guard(py, || self.inner.success(Self::permit(token)))?;
        if t.is_some() {
            self.dispatch(py, t);
        }
        Ok(())
    }

    /// Records an attempt's outcome with the breaker: 0 success, 1 failure, 2 ignored.
    fn record(&self, py: Python<'_>, token: u64, outcome: u8) -> PyResult<()> {
        let o = match outcome {
            0 => Outcome::Success,
            1 => Outcome::Failure,
            _ => Outcome::Ignored,
        };
        let t = guard(py, || self.inner.record(Self::permit(token), o))?;
        self.dispatch(py, t);
        Ok(())
    }

    /// After attempt `attempts_made` failed: the seconds to wait (a float), or why to give up (a
    /// str). `wait` is the server's hint, or with `refused` the breaker's or limiter's wait.
    #[pyo3(signature = (start, attempts_made, previous_delay, retryable, wait=None, refused=false))]
    fn decide<'py>(
        &self,
        py: Python<'py>,
        start: u64,
        attempts_made: u32,
        previous_delay: f64,
        retryable: bool,
        wait: Option<f64>,
        refused: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let secs = |s: f64| Duration::try_from_secs_f64(s.max(0.0)).unwrap_or(Duration::MAX);
        let failure = if refused {
            Failure::refused(wait.map(secs))
        } else {
            Failure {
                retryable,
                wait: wait.map(|w| (WaitSource::Server, Some(secs(w)))),
            }
        };
        let prev = secs(previous_delay);
        match guard(py, || {
            self.inner.decide(start, attempts_made, prev, failure)
        })? {
            Decision::Retry(d) => Ok(d.as_secs_f64().into_pyobject(py)?.into_any()),
            Decision::GiveUp(g) => Ok(g.as_str().into_pyobject(py)?.into_any()),
        }
    }

    /// The absolute clock time (seconds) an attempt starting now must end by, or `None`.
    fn attempt_deadline(&self, py: Python<'_>, start: u64) -> PyResult<Option<f64>> {
        guard(py, || self.deadline(start))
    }

    /// Seconds left of the whole call started at `start`, or `None` when unbounded.
    fn call_remaining(&self, py: Python<'_>, start: u64) -> PyResult<Option<f64>> {
        guard(py, || {
            self.inner.call_remaining(start).map(|d| d.as_secs_f64())
        })
    }

    fn now(&self) -> f64 {
        self.inner.now_nanos() as f64 / 1e9
    }

    fn now_nanos(&self) -> u64 {
        self.inner.now_nanos()
    }

    /// Seconds from now until `deadline` (clock ns); negative when past.
    fn until(&self, deadline: u64) -> f64 {
        (deadline as f64 - self.inner.now_nanos() as f64) / 1e9
    }

    /// Counts an event the host executed: "failed", "fallback", "fallback_failed", "timeout",
    /// "abandoned".
    fn note(&self, event: &str) -> PyResult<()> {
        let e = match event {
            "failed" => Event::Failed,
            "fallback" => Event::Fallback,
            "fallback_failed" => Event::FallbackFailed,
            "timeout" => Event::Timeout,
            "abandoned" => Event::Abandoned,
            other => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "PolicyCore.note: unknown event {other:?}"
                )))
            }
        };
        self.inner.note(e);
        Ok(())
    }

    /// The call failed and a fallback answers: counted and logged by the core.
    fn fallback_taken(&self, error_type: &str, error_message: &str) {
        let _ = self.inner.fallback_taken(error_type, error_message);
    }

    /// Fallback alternative `index` (from 0) of `count` failed: logged by the core.
    fn fallback_alternative_failed(
        &self,
        index: u32,
        count: u32,
        error_type: &str,
        error_message: &str,
    ) {
        let _ = self
            .inner
            .fallback_alternative_failed(index, count, error_type, error_message);
    }

    /// Every fallback alternative failed: counted by the core.
    fn fallback_exhausted(&self) {
        self.inner.fallback_exhausted();
    }

    #[getter]
    fn attempts(&self) -> u32 {
        self.inner.attempts()
    }

    #[getter]
    fn bounded(&self) -> bool {
        self.inner.bounded()
    }

    /// Every successful call beats `switch`; False if one was already attached.
    fn beat_on_success(
        &self,
        switch: PyRef<'_, crate::watch::dead_mans_switch::DeadMansSwitchCore>,
    ) -> bool {
        self.inner.beat_on_success(switch.inner.clone())
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = guard(py, || self.inner.stats())?;
        let d = PyDict::new(py);
        d.set_item("calls", s.calls)?;
        d.set_item("attempts", s.attempts)?;
        d.set_item("successes", s.successes)?;
        d.set_item("failures", s.failures)?;
        d.set_item("retries", s.retry.retries)?;
        d.set_item("budget_denied", s.retry.budget_denied)?;
        d.set_item("gave_up_attempts", s.retry.gave_up_attempts)?;
        d.set_item("gave_up_deadline", s.retry.gave_up_deadline)?;
        d.set_item("gave_up_retry_after", s.retry.gave_up_retry_after)?;
        d.set_item("gave_up_refused", s.retry.gave_up_refused)?;
        d.set_item("not_retryable", s.retry.not_retryable)?;
        d.set_item("budget_window_requests", s.retry.budget_requests)?;
        d.set_item("budget_window_retries", s.retry.budget_retries)?;
        d.set_item("rejected", s.rejected)?;
        d.set_item("fallbacks", s.fallbacks)?;
        d.set_item("fallback_failures", s.fallback_failures)?;
        d.set_item("timeouts", s.timeouts)?;
        d.set_item("abandoned", s.abandoned)?;
        Ok(d)
    }
}

/// Seconds left before the deadline of the innermost sync attempt on this thread, or `None`.
#[pyfunction]
pub fn sync_remaining(py: Python<'_>) -> PyResult<Option<f64>> {
    guard(py, || {
        ferrule_core::deadline::remaining().map(|d| d.as_secs_f64())
    })
}
