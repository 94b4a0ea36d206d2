//! `RateLimiterCore` and `LimitsCore`/`Reservation`: the core rate limiters for the Python host layer
//! (`ferrule/rate_limit.py`), which adds `acquire_async` and the decorator. Only conversion here;
//! the one blocking loop waits through `sleeper::Sleeper` (GIL released by `gil::without_gil`).

use crate::clock::ManualClock;
use crate::error::{guard, to_py};
use crate::gil::without_gil;
use crate::redis_backend::RedisBackendCore;
use crate::sleeper::Sleeper;
use ferrule_core::error::ConfigProblem;
use ferrule_core::{
    Algorithm, ClockRef, Error, MultiLimit, MultiStep, RateLimitConfig, RateLimiter,
    Reservation as CoreReservation, Step,
};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

// In the stable ABI only from 3.10, but exported by every CPython 3 interpreter; declared here so an
// abi3-py39 build borrows a key's UTF-8 (cached in the str object) instead of copying it per call.
extern "C" {
    fn PyUnicode_AsUTF8AndSize(
        unicode: *mut pyo3::ffi::PyObject,
        size: *mut pyo3::ffi::Py_ssize_t,
    ) -> *const std::os::raw::c_char;
}

/// A host key as the core's `&str`: strings borrowed as they are, anything else by `str(key)`.
fn key_str<'a>(key: &'a Option<Bound<'_, PyAny>>) -> PyResult<Option<Cow<'a, str>>> {
    let Some(k) = key else {
        return Ok(None);
    };
    match k.cast::<PyString>() {
        Ok(s) => {
            let mut size: pyo3::ffi::Py_ssize_t = 0;
            // SAFETY: `s` is a live str; the returned buffer is owned by it and lives as long as
            // the borrow `'a` of the key, and is valid UTF-8 of `size` bytes when not null.
            let data = unsafe { PyUnicode_AsUTF8AndSize(s.as_ptr(), &mut size) };
            if data.is_null() {
                return Err(PyErr::fetch(k.py())); // lone surrogates: not encodable
            }
            let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), size as usize) };
            Ok(Some(Cow::Borrowed(unsafe {
                std::str::from_utf8_unchecked(bytes)
            })))
        }
        Err(_) => Ok(Some(Cow::Owned(k.str()?.to_cow()?.into_owned()))),
    }
}

/// `now + timeout` in nanoseconds; a negative, NaN or infinite timeout is refused by name.
fn deadline_nanos(
    py: Python<'_>,
    now: u64,
    timeout: Option<f64>,
    component: &'static str,
) -> PyResult<Option<u64>> {
    match timeout {
        None => Ok(None),
        Some(t) => {
            let t = ferrule_core::error::check::finite_non_negative(component, "timeout", t)
                .map_err(|e| to_py(py, e))?;
            Ok(Some(now.saturating_add((t * 1e9) as u64)))
        }
    }
}

#[pyclass(frozen, name = "RateLimiterCore", module = "ferrule._ferrule")]
pub struct RateLimiterCore {
    pub(crate) inner: Arc<RateLimiter>,
    sleeper: Sleeper,
    /// State in Redis: every decision is a round trip, made with the GIL released.
    remote: bool,
}

/// Runs a decision: inline when it is a few atomics, with the GIL released when it goes to Redis.
#[inline]
fn decide<T: Send>(py: Python<'_>, remote: bool, f: impl FnOnce() -> T + Send) -> PyResult<T> {
    if remote {
        guard(py, || without_gil(py, f))
    } else {
        guard(py, f)
    }
}

impl RateLimiterCore {
    fn build(
        py: Python<'_>,
        name: Option<String>,
        algorithm: Algorithm,
        max_keys: i64,
        clock: Option<PyRef<'_, ManualClock>>,
        on_event: Option<Py<PyAny>>,
        backend: Option<PyRef<'_, RedisBackendCore>>,
    ) -> PyResult<Self> {
        let max_keys = ferrule_core::error::check::int(
            "RateLimiter",
            "max_keys",
            max_keys as i128,
            1,
            100_000_000,
        )
        .map_err(|e| to_py(py, e))?;
        let (clock_ref, sleeper) = match clock {
            Some(c) => (
                ClockRef::Manual(c.inner.clone()),
                Sleeper::Manual(c.inner.clone()),
            ),
            None => (ClockRef::System, Sleeper::Real),
        };
        let config = RateLimitConfig {
            name: name.unwrap_or_else(|| "rate_limiter".into()),
            algorithm,
            max_keys,
        };
        let remote = backend.is_some();
        let inner = match backend {
            Some(b) => RateLimiter::with_backend(config, clock_ref, b.inner.clone()),
            None => RateLimiter::with_clock(config, clock_ref),
        }
        .map_err(|e| to_py(py, e))?;
        if let Some(cb) = on_event {
            // Events are rare (a lossy eviction, dropped units); the host logs them. A failing
            // listener is reported as unraisable, never thrown into the unrelated call.
            let limiter = inner.name().to_string();
            inner.on_event(move |e| {
                // try_attach: at interpreter shutdown this background thread must not touch Python.
                let _ = Python::try_attach(|py| {
                    let args = (e.kind(), e.message(&limiter), e.count());
                    if let Err(err) = cb.call1(py, args) {
                        err.write_unraisable(py, Some(cb.bind(py)));
                    }
                });
            });
        }
        let inner = Arc::new(inner);
        ferrule_core::telemetry::collector::export(&inner);
        Ok(Self {
            inner,
            sleeper,
            remote,
        })
    }

    fn positive(py: Python<'_>, param: &'static str, v: i64) -> PyResult<u64> {
        ferrule_core::error::check::int("RateLimiter", param, v as i128, 1, u64::MAX)
            .map_err(|e| to_py(py, e))
    }
}

#[pymethods]
impl RateLimiterCore {
    /// `rate` units per `per_seconds`, up to `burst` at once (GCRA).
    #[staticmethod]
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (rate, per_seconds=1.0, burst=None, *, name=None,
        max_keys=10_000, clock=None, on_event=None, backend=None))]
    fn token_bucket(
        py: Python<'_>,
        rate: f64,
        per_seconds: f64,
        #[pyo3(from_py_with = crate::arg::optional::<i64>)] burst: Option<i64>,
        name: Option<String>,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] max_keys: i64,
        clock: Option<PyRef<'_, ManualClock>>,
        on_event: Option<Py<PyAny>>,
        backend: Option<PyRef<'_, RedisBackendCore>>,
    ) -> PyResult<Self> {
        // Default burst: one period's worth (at least 1), as limits and pyrate-limiter do.
        let burst = match burst {
            Some(b) => Self::positive(py, "burst", b)?,
            None if rate.is_finite() && rate > 0.0 => rate.ceil().max(1.0) as u64,
            None => 1,
        };
        let algorithm = Algorithm::TokenBucket {
            rate,
            per_seconds,
            burst,
        };
        Self::build(py, name, algorithm, max_keys, clock, on_event, backend)
    }

    /// At most `limit` units in any `window_seconds`, from two fixed windows (O(1), approximate).
    #[staticmethod]
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (limit, window_seconds, *, name=None, max_keys=10_000,
        clock=None, on_event=None, backend=None))]
    fn sliding_window(
        py: Python<'_>,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] limit: i64,
        window_seconds: f64,
        name: Option<String>,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] max_keys: i64,
        clock: Option<PyRef<'_, ManualClock>>,
        on_event: Option<Py<PyAny>>,
        backend: Option<PyRef<'_, RedisBackendCore>>,
    ) -> PyResult<Self> {
        let limit = Self::positive(py, "limit", limit)?;
        let algorithm = Algorithm::SlidingWindow {
            limit,
            window_seconds,
        };
        Self::build(py, name, algorithm, max_keys, clock, on_event, backend)
    }

    /// At most `limit` units in any `window_seconds`, exactly (a log bounded by the limit).
    #[staticmethod]
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (limit, window_seconds, *, name=None, max_keys=10_000,
        clock=None, on_event=None, backend=None))]
    fn sliding_log(
        py: Python<'_>,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] limit: i64,
        window_seconds: f64,
        name: Option<String>,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] max_keys: i64,
        clock: Option<PyRef<'_, ManualClock>>,
        on_event: Option<Py<PyAny>>,
        backend: Option<PyRef<'_, RedisBackendCore>>,
    ) -> PyResult<Self> {
        let limit = Self::positive(py, "limit", limit)?;
        let algorithm = Algorithm::SlidingLog {
            limit,
            window_seconds,
        };
        Self::build(py, name, algorithm, max_keys, clock, on_event, backend)
    }

    /// Takes `n` now if it fits; never waits.
    #[pyo3(signature = (n=1, key=None))]
    #[inline]
    fn try_acquire(&self, py: Python<'_>, n: i64, key: Option<Bound<'_, PyAny>>) -> PyResult<bool> {
        let n = self.inner.units(n as i128).map_err(|e| to_py(py, e))?;
        let key = key_str(&key)?;
        decide(py, self.remote, || {
            self.inner.try_acquire(n, key.as_deref()).is_ok()
        })
    }

    /// One step of a wait loop: 0.0 when admitted, else the seconds to wait before the next step
    /// (counted as a wait); raises `RateLimitedError` when that wait would pass `deadline`
    /// (seconds on this limiter's clock, see `now()`).
    #[pyo3(signature = (n=1, key=None, deadline=None))]
    fn step(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] n: i64,
        key: Option<Bound<'_, PyAny>>,
        deadline: Option<f64>,
    ) -> PyResult<f64> {
        let n = self.inner.units(n as i128).map_err(|e| to_py(py, e))?;
        let key = key_str(&key)?;
        let deadline = deadline.map(|d| (d.max(0.0) * 1e9) as u64);
        match decide(py, self.remote, || {
            self.inner.acquire_until(n, key.as_deref(), deadline)
        })? {
            Step::Admitted => Ok(0.0),
            Step::Wait(d) => Ok(d.as_secs_f64().max(1e-9)),
            Step::Rejected(d) => Err(to_py(py, self.inner.refused(d, key.as_deref()))),
        }
    }

    /// Blocks, with the GIL released, until `n` is taken; raises `RateLimitedError` at once if the
    /// wait would outlast `timeout` seconds.
    #[pyo3(signature = (n=1, key=None, timeout=None))]
    fn acquire(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] n: i64,
        key: Option<Bound<'_, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let n = self.inner.units(n as i128).map_err(|e| to_py(py, e))?;
        let key = key_str(&key)?;
        let deadline = deadline_nanos(py, self.inner.now_nanos(), timeout, "RateLimiter")?;
        loop {
            match decide(py, self.remote, || {
                self.inner.acquire_until(n, key.as_deref(), deadline)
            })? {
                Step::Admitted => return Ok(()),
                Step::Wait(d) => self.sleeper.wait(py, d)?,
                Step::Rejected(d) => return Err(to_py(py, self.inner.refused(d, key.as_deref()))),
            }
        }
    }

    /// Seconds until `n` would pass (0.0: now), charging and counting nothing.
    #[pyo3(signature = (n=1, key=None))]
    fn peek(&self, py: Python<'_>, n: i64, key: Option<Bound<'_, PyAny>>) -> PyResult<f64> {
        let n = self.inner.units(n as i128).map_err(|e| to_py(py, e))?;
        let key = key_str(&key)?;
        decide(py, self.remote, || {
            self.inner.peek(n, key.as_deref()).as_secs_f64()
        })
    }

    /// Seconds on this limiter's clock.
    fn now(&self) -> f64 {
        self.inner.now_nanos() as f64 / 1e9
    }

    /// The deadline for `step`: now + `timeout` seconds on this limiter's clock (checked).
    fn deadline(&self, py: Python<'_>, timeout: f64) -> PyResult<f64> {
        let d = deadline_nanos(py, self.inner.now_nanos(), Some(timeout), "RateLimiter")?;
        Ok(d.unwrap_or(u64::MAX) as f64 / 1e9)
    }

    /// Drops every key whose state equals a new key's; returns how many.
    fn evict_idle(&self, py: Python<'_>) -> PyResult<usize> {
        guard(py, || self.inner.evict_idle())
    }

    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }

    #[getter]
    fn algorithm(&self) -> &'static str {
        self.inner.config().algorithm.as_str()
    }

    #[getter]
    fn max_n(&self) -> u64 {
        self.inner.max_n()
    }

    #[getter]
    fn manual_clock(&self) -> bool {
        matches!(self.sleeper, Sleeper::Manual(_))
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = guard(py, || self.inner.stats())?;
        let d = PyDict::new(py);
        d.set_item("name", s.name)?;
        d.set_item("algorithm", s.algorithm)?;
        d.set_item("admitted", s.admitted)?;
        d.set_item("admitted_units", s.admitted_units)?;
        d.set_item("rejected", s.rejected)?;
        d.set_item("waits", s.waits)?;
        d.set_item("wait_seconds_total", s.wait_seconds_total)?;
        d.set_item("refunded_units", s.refunded_units)?;
        d.set_item("charged_extra_units", s.charged_extra_units)?;
        d.set_item("dropped_units", s.dropped_units)?;
        d.set_item("keys", s.keys.keys)?;
        d.set_item("evicted_idle", s.keys.evicted_idle)?;
        d.set_item("evicted_active", s.keys.evicted_active)?;
        Ok(d)
    }
}

// ---- multi-limit ----------------------------------------------------------------------------------

#[pyclass(frozen, name = "LimitsCore", module = "ferrule._ferrule")]
pub struct LimitsCore {
    inner: Arc<MultiLimit>,
    sleeper: Sleeper,
    remote: bool,
}

impl LimitsCore {
    fn costs(&self, py: Python<'_>, costs: Vec<i64>) -> PyResult<Vec<u64>> {
        let wide: Vec<i128> = costs.into_iter().map(|c| c as i128).collect();
        self.inner.units(&wide).map_err(|e| to_py(py, e))
    }

    fn reservation(&self, r: CoreReservation) -> Reservation {
        Reservation {
            limits: self.inner.clone(),
            inner: r,
            settled: AtomicBool::new(false),
            remote: self.remote,
        }
    }
}

#[pymethods]
impl LimitsCore {
    /// `names[i]` names `limiters[i]`; costs are given in that order.
    #[new]
    fn new(
        py: Python<'_>,
        names: Vec<String>,
        limiters: Vec<PyRef<'_, RateLimiterCore>>,
    ) -> PyResult<Self> {
        if names.len() != limiters.len() {
            return Err(to_py(
                py,
                Error::conflict("Limits", "names", names.len(), "one name per limiter"),
            ));
        }
        // Waits run on the first limiter's clock, like the deadline.
        let sleeper = match limiters.first().map(|l| &l.sleeper) {
            Some(Sleeper::Manual(c)) => Sleeper::Manual(c.clone()),
            _ => Sleeper::Real,
        };
        let remote = limiters.first().is_some_and(|l| l.remote);
        let pairs = names
            .into_iter()
            .zip(limiters.iter().map(|l| l.inner.clone()))
            .collect();
        let inner = MultiLimit::new(pairs).map_err(|e| to_py(py, e))?;
        let inner = Arc::new(inner);
        Ok(Self {
            inner,
            sleeper,
            remote,
        })
    }

    /// Takes every cost now, or none.
    #[pyo3(signature = (costs, key=None))]
    fn try_acquire(
        &self,
        py: Python<'_>,
        costs: Vec<i64>,
        key: Option<Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let costs = self.costs(py, costs)?;
        let key = key_str(&key)?;
        let step = decide(py, self.remote, || {
            self.inner
                .acquire_step(&costs, key.as_deref(), Some(std::time::Duration::ZERO))
        })?;
        Ok(matches!(step, MultiStep::Admitted(_)))
    }

    /// One step of a wait loop: a `Reservation` when admitted, else the seconds to wait; raises
    /// `RateLimitedError` when the wait would pass `deadline` (seconds on the first limiter's clock).
    #[pyo3(signature = (costs, key=None, deadline=None))]
    fn step(
        &self,
        py: Python<'_>,
        costs: Vec<i64>,
        key: Option<Bound<'_, PyAny>>,
        deadline: Option<f64>,
    ) -> PyResult<Py<PyAny>> {
        let costs = self.costs(py, costs)?;
        let key = key_str(&key)?;
        let deadline = deadline.map(|d| (d.max(0.0) * 1e9) as u64);
        match decide(py, self.remote, || {
            self.inner.acquire_until(&costs, key.as_deref(), deadline)
        })? {
            MultiStep::Admitted(r) => Ok(Py::new(py, self.reservation(r))?.into_any()),
            MultiStep::Wait(d) => Ok(d
                .as_secs_f64()
                .max(1e-9)
                .into_pyobject(py)?
                .into_any()
                .unbind()),
            MultiStep::Rejected { wait, limit } => {
                Err(to_py(py, self.inner.refused(limit, wait, key.as_deref())))
            }
        }
    }

    /// Blocks, with the GIL released, until every cost is taken; returns the `Reservation`.
    #[pyo3(signature = (costs, key=None, timeout=None))]
    fn acquire(
        &self,
        py: Python<'_>,
        costs: Vec<i64>,
        key: Option<Bound<'_, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<Reservation> {
        let costs = self.costs(py, costs)?;
        let key = key_str(&key)?;
        let deadline = deadline_nanos(py, self.inner.now_nanos(), timeout, "Limits")?;
        loop {
            match decide(py, self.remote, || {
                self.inner.acquire_until(&costs, key.as_deref(), deadline)
            })? {
                MultiStep::Admitted(r) => return Ok(self.reservation(r)),
                MultiStep::Wait(d) => self.sleeper.wait(py, d)?,
                MultiStep::Rejected { wait, limit } => {
                    return Err(to_py(py, self.inner.refused(limit, wait, key.as_deref())))
                }
            }
        }
    }

    fn now(&self) -> f64 {
        self.inner.now_nanos() as f64 / 1e9
    }

    /// The deadline for `step`: now + `timeout` seconds on the first limiter's clock (checked).
    fn deadline(&self, py: Python<'_>, timeout: f64) -> PyResult<f64> {
        let d = deadline_nanos(py, self.inner.now_nanos(), Some(timeout), "Limits")?;
        Ok(d.unwrap_or(u64::MAX) as f64 / 1e9)
    }

    #[getter]
    fn names(&self) -> Vec<String> {
        self.inner.names().to_vec()
    }

    #[getter]
    fn manual_clock(&self) -> bool {
        matches!(self.sleeper, Sleeper::Manual(_))
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = guard(py, || self.inner.stats())?;
        let d = PyDict::new(py);
        d.set_item("admitted", s.admitted)?;
        d.set_item("rejected", s.rejected)?;
        d.set_item("waits", s.waits)?;
        Ok(d)
    }
}

/// What `Limits.acquire` charged; `settle(tokens=actual)` reconciles it with real usage, once.
#[pyclass(frozen, name = "Reservation", module = "ferrule._ferrule")]
pub struct Reservation {
    limits: Arc<MultiLimit>,
    inner: CoreReservation,
    settled: AtomicBool,
    remote: bool,
}

impl Reservation {
    /// Settles the limit named `tokens` (if there is one) with `actual`; `None` keeps the estimate.
    /// For `record_call`: a wrapper's token budget settles from the response's usage.
    pub(crate) fn settle_tokens(&self, py: Python<'_>, actual: Option<u64>) -> PyResult<()> {
        if self.settled.swap(true, Ordering::AcqRel) {
            return Ok(()); // the caller settled it already
        }
        let real: Vec<Option<u64>> = self
            .limits
            .names()
            .iter()
            .map(|n| if *n == "tokens" { actual } else { None })
            .collect();
        decide(py, self.remote, || self.limits.settle(&self.inner, &real))
    }
}

#[pymethods]
impl Reservation {
    /// `name=actual_units` for each limit to reconcile; the others keep their estimate. The
    /// difference is refunded, or charged as debt that delays later calls.
    #[pyo3(signature = (**actual))]
    fn settle(&self, py: Python<'_>, actual: Option<Bound<'_, PyDict>>) -> PyResult<()> {
        let names = self.limits.names();
        let mut real: Vec<Option<u64>> = vec![None; names.len()];
        if let Some(actual) = actual {
            for (k, v) in actual.iter() {
                let k: String = k.extract()?;
                let Some(i) = names.iter().position(|n| *n == k) else {
                    return Err(to_py(
                        py,
                        Error::InvalidConfig {
                            component: "Reservation.settle",
                            param: "limit",
                            value: k,
                            allowed: names.join(", "),
                            problem: ConfigProblem::Unknown,
                        },
                    ));
                };
                let v: i64 = v.extract()?;
                real[i] = Some(
                    ferrule_core::error::check::int(
                        "Reservation.settle",
                        "actual",
                        v as i128,
                        0,
                        u64::MAX,
                    )
                    .map_err(|e| to_py(py, e))?,
                );
            }
        }
        if self.settled.swap(true, Ordering::AcqRel) {
            return Err(to_py(
                py,
                Error::conflict(
                    "Reservation",
                    "settle",
                    "a second call",
                    "a reservation settles once",
                ),
            ));
        }
        decide(py, self.remote, || self.limits.settle(&self.inner, &real))
    }

    #[getter]
    fn settled(&self) -> bool {
        self.settled.load(Ordering::Acquire)
    }

    /// Units charged per limit name.
    #[getter]
    fn charged<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (n, c) in self.limits.names().iter().zip(self.inner.charged()) {
            d.set_item(n, *c)?;
        }
        Ok(d)
    }

    #[getter]
    fn key(&self) -> Option<&str> {
        self.inner.key()
    }

    fn __repr__(&self) -> String {
        let parts: Vec<String> = self
            .limits
            .names()
            .iter()
            .zip(self.inner.charged())
            .map(|(n, c)| format!("{n}={c}"))
            .collect();
        format!(
            "<Reservation {}{}>",
            parts.join(" "),
            if self.settled() { " settled" } else { "" }
        )
    }
}
