//! `CircuitBreakerCore`: the core breaker for the Python host layer (`ferrule/breaker.py`), which
//! classifies outcomes and runs the user's function. Only conversion here.

use crate::clock::ManualClock;
use crate::error::{circuit_open, guard, to_py};
use crate::redis_backend::RedisBackendCore;
use ferrule_core::error::check;
use ferrule_core::policy::breaker::Reason;
use ferrule_core::policy::breaker_sync::{BreakerSync, BreakerSyncConfig};
use ferrule_core::{
    BreakerConfig, CircuitBreaker, ClockRef, Outcome, Permit, Transition, WindowSpec,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::Arc;

const C: &str = "CircuitBreaker";

#[pyclass(frozen, name = "CircuitBreakerCore", module = "ferrule._ferrule")]
pub struct CircuitBreakerCore {
    // Shared with the `PolicyCore`s that put this breaker in their pipeline.
    pub(crate) inner: Arc<CircuitBreaker>,
    on_transition: Option<Py<PyAny>>,
    /// With a Redis backend: the thread that shares this breaker's state; stopped when it drops.
    sync: Option<BreakerSync>,
}

impl CircuitBreakerCore {
    /// Hands a transition to the host's dispatcher. The dispatcher catches listener errors itself;
    /// if it fails anyway, the error is reported as unraisable rather than lost or thrown into the
    /// caller's unrelated call.
    pub(crate) fn dispatch(&self, py: Python<'_>, t: Option<Transition>) {
        if let (Some(t), Some(cb)) = (t, &self.on_transition) {
            let open_for = t.open_for.map(|d| d.as_secs_f64());
            if let Err(e) = cb.call1(
                py,
                (t.from.as_str(), t.to.as_str(), t.reason.as_str(), open_for),
            ) {
                e.write_unraisable(py, Some(cb.bind(py)));
            }
        }
    }

    #[inline]
    fn finish(&self, py: Python<'_>, token: u64, outcome: Outcome) -> PyResult<()> {
        let t = guard(py, || self.inner.record(Permit::from_token(token), outcome))?;
        if t.is_some() {
            self.dispatch(py, t);
        }
        Ok(())
    }
}

#[pymethods]
impl CircuitBreakerCore {
    #[new]
    #[pyo3(signature = (name, *, failure_rate=None, consecutive_failures=None, window=None,
        window_seconds=None, window_buckets=10, min_calls=10, slow_call_seconds=None, slow_call_rate=None,
        open_seconds=30.0, max_open_seconds=None, open_multiplier=2.0, half_open_calls=1, clock=None,
        on_transition=None, backend=None, sync_seconds=0.5))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        name: String,
        failure_rate: Option<f64>,
        #[pyo3(from_py_with = crate::arg::optional::<i64>)] consecutive_failures: Option<i64>,
        #[pyo3(from_py_with = crate::arg::optional::<i64>)] window: Option<i64>,
        window_seconds: Option<f64>,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] window_buckets: i64,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] min_calls: i64,
        slow_call_seconds: Option<f64>,
        slow_call_rate: Option<f64>,
        open_seconds: f64,
        max_open_seconds: Option<f64>,
        open_multiplier: f64,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] half_open_calls: i64,
        clock: Option<PyRef<'_, ManualClock>>,
        on_transition: Option<Py<PyAny>>,
        backend: Option<PyRef<'_, RedisBackendCore>>,
        sync_seconds: f64,
    ) -> PyResult<Self> {
        let build = || -> ferrule_core::Result<CircuitBreaker> {
            let config = BreakerConfig {
                name,
                failure_rate,
                consecutive_failures: consecutive_failures
                    .map(|n| {
                        check::int(C, "consecutive_failures", n as i128, 1, 1_000_000)
                            .map(|n| n as u32)
                    })
                    .transpose()?,
                window: WindowSpec::from_options(C, window, window_seconds, window_buckets)?,
                min_calls: check::int(C, "min_calls", min_calls as i128, 1, 1_000_000_000)? as u32,
                slow_call_seconds,
                slow_call_rate,
                open_seconds,
                max_open_seconds,
                open_multiplier,
                half_open_calls: check::int(
                    C,
                    "half_open_calls",
                    half_open_calls as i128,
                    1,
                    10_000,
                )? as u32,
            };
            ferrule_core::policy::breaker_sync::check_sync_seconds(sync_seconds)?;
            let clock = clock
                .as_ref()
                .map_or(ClockRef::System, |c| ClockRef::Manual(c.inner.clone()));
            CircuitBreaker::with_clock(config, clock)
        };
        let inner = Arc::new(build().map_err(|e| to_py(py, e))?);
        if backend.is_some() {
            if let Some(cb) = &on_transition {
                // Transitions made by the sync thread (a peer's open arriving through Redis, a
                // backend hold and its end) have no Python caller to return to: they are handed to
                // the dispatcher from that thread. Rare, so attaching to Python there is fine.
                let cb = cb.clone_ref(py);
                inner.on_transition(move |t| {
                    if !matches!(
                        t.reason,
                        Reason::Shared | Reason::BackendDown | Reason::BackendUp
                    ) {
                        return;
                    }
                    let t = *t;
                    // try_attach: at interpreter shutdown this background thread must not touch Python.
                    let _ = Python::try_attach(|py| {
                        let open_for = t.open_for.map(|d| d.as_secs_f64());
                        if let Err(e) = cb.call1(
                            py,
                            (t.from.as_str(), t.to.as_str(), t.reason.as_str(), open_for),
                        ) {
                            e.write_unraisable(py, Some(cb.bind(py)));
                        }
                    });
                });
            }
        }
        let sync = match backend {
            Some(b) => Some(
                BreakerSync::start(
                    inner.clone(),
                    b.inner.clone(),
                    BreakerSyncConfig {
                        interval_seconds: sync_seconds,
                        ..BreakerSyncConfig::default()
                    },
                )
                .map_err(|e| to_py(py, e))?,
            ),
            None => None,
        };
        Ok(Self {
            inner,
            on_transition,
            sync,
        })
    }

    /// Asks to make a call: returns a permit token, or raises `CircuitOpenError`.
    #[inline]
    fn acquire(&self, py: Python<'_>) -> PyResult<u64> {
        if let Some(s) = &self.sync {
            s.ensure_running(); // a forked worker (gunicorn, celery) starts its own sync thread
        }
        match guard(py, || self.inner.acquire())? {
            Ok((permit, t)) => {
                if t.is_some() {
                    self.dispatch(py, t);
                }
                Ok(permit.token())
            }
            Err(r) => Err(circuit_open(
                py,
                self.inner.name(),
                r.retry_after.map(|d| d.as_secs_f64()),
            )),
        }
    }

    #[inline]
    fn success(&self, py: Python<'_>, token: u64) -> PyResult<()> {
        self.finish(py, token, Outcome::Success)
    }

    #[inline]
    fn failure(&self, py: Python<'_>, token: u64) -> PyResult<()> {
        self.finish(py, token, Outcome::Failure)
    }

    #[inline]
    fn ignored(&self, py: Python<'_>, token: u64) -> PyResult<()> {
        self.finish(py, token, Outcome::Ignored)
    }

    fn force_open(&self, py: Python<'_>) -> PyResult<()> {
        let t = guard(py, || self.inner.force_open())?;
        self.dispatch(py, t);
        Ok(())
    }

    fn force_closed(&self, py: Python<'_>) -> PyResult<()> {
        let t = guard(py, || self.inner.force_closed())?;
        self.dispatch(py, t);
        Ok(())
    }

    fn reset(&self, py: Python<'_>) -> PyResult<()> {
        let t = guard(py, || self.inner.reset())?;
        self.dispatch(py, t);
        Ok(())
    }

    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }

    #[getter]
    fn state(&self) -> &'static str {
        self.inner.state().as_str()
    }

    /// With a backend: syncs, errors, published_opens, applied_opens; else None.
    fn sync_stats<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(sync) = &self.sync else {
            return Ok(None);
        };
        let s = sync.stats();
        let d = PyDict::new(py);
        d.set_item("syncs", s.syncs)?;
        d.set_item("errors", s.errors)?;
        d.set_item("published_opens", s.published_opens)?;
        d.set_item("applied_opens", s.applied_opens)?;
        d.set_item("sync_age_seconds", s.sync_age_seconds)?;
        d.set_item("held", s.held)?;
        d.set_item("held_admitted", s.held_admitted)?;
        d.set_item("held_rejected", s.held_rejected)?;
        d.set_item("restarts", s.restarts)?;
        Ok(Some(d))
    }

    /// With a backend: starts the sync thread again when this is a forked child (the package's
    /// `os.register_at_fork` hook calls it, for breakers used only through a `Policy`).
    fn ensure_sync(&self) {
        if let Some(s) = &self.sync {
            s.ensure_running();
        }
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = guard(py, || self.inner.snapshot())?;
        let d = PyDict::new(py);
        d.set_item("name", s.name)?;
        d.set_item("state", s.state.as_str())?;
        d.set_item("forced", s.forced)?;
        d.set_item("calls", s.calls)?;
        d.set_item("successes", s.successes)?;
        d.set_item("failures", s.failures)?;
        d.set_item("ignored", s.ignored)?;
        d.set_item("slow", s.slow)?;
        d.set_item("rejected", s.rejected)?;
        d.set_item("transitions", s.transitions)?;
        d.set_item("consecutive_failures", s.consecutive_failures)?;
        d.set_item("window_calls", s.window.calls)?;
        d.set_item("window_failures", s.window.failures)?;
        d.set_item("window_slow", s.window.slow)?;
        d.set_item(
            "open_remaining_seconds",
            s.open_remaining.map(|d| d.as_secs_f64()),
        )?;
        Ok(d)
    }
}
