//! `DeadLetterQueueCore` and `ReplayCursorCore`: the core dead-letter queue for
//! `ferrule.DeadLetterQueue`. Conversion only; store I/O runs with the GIL released.

use crate::error::{config_error, guard_detached, to_py};
use crate::redis_backend::RedisBackendCore;
use ferrule_core::store::dead_letter::queue::{DeadLetterConfig, DeadLetterQueue, ReplayCursor};
use ferrule_core::store::dead_letter::redis_streams::RedisDeadLetterStore;
use ferrule_core::store::dead_letter::{DeadLetter, DeadLetterStore, OnFull};
use ferrule_core::SqliteDeadLetterStore;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[pyclass(frozen, name = "DeadLetterQueueCore", module = "ferrule._ferrule")]
pub struct DeadLetterQueueCore {
    inner: Arc<DeadLetterQueue>,
}

impl DeadLetterQueueCore {
    /// The core queue, for watchers (`observe`'s dead-letter alert).
    pub(crate) fn inner(&self) -> &Arc<DeadLetterQueue> {
        &self.inner
    }
}

/// `(id, key, payload, errors, attempts, first_failed_unix_ms, last_failed_unix_ms, trace_id,
/// replay_count)`; the Python layer wraps it in a `DeadLetter`.
fn item<'py>(py: Python<'py>, d: DeadLetter) -> PyResult<Bound<'py, PyTuple>> {
    (
        d.id,
        d.key,
        d.payload,
        d.errors,
        d.attempts,
        d.first_failed_unix_ms,
        d.last_failed_unix_ms,
        d.trace_id,
        d.replay_count,
    )
        .into_pyobject(py)
}

#[pymethods]
impl DeadLetterQueueCore {
    #[new]
    #[pyo3(signature = (path, *, name="default".to_string(), max_items=10_000, on_full="reject".to_string(), mask=true, replay_lease_seconds=300.0, backend=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        path: Option<std::path::PathBuf>,
        name: String,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] max_items: i64,
        on_full: String,
        mask: bool,
        replay_lease_seconds: f64,
        backend: Option<PyRef<'_, RedisBackendCore>>,
    ) -> PyResult<Self> {
        use ferrule_core::error::check;
        const C: &str = "DeadLetterQueue";
        let Some(on_full) = OnFull::parse(&on_full) else {
            return Err(config_error(
                py,
                format!(
                    "{C}: on_full={on_full:?} is not allowed; allowed: {}",
                    OnFull::NAMES
                ),
            ));
        };
        let max_items = check::int(C, "max_items", max_items as i128, 1, i64::MAX as u64)
            .map_err(|e| to_py(py, e))?;
        check::finite_positive(C, "replay_lease_seconds", replay_lease_seconds)
            .map_err(|e| to_py(py, e))?;
        // Redis Streams when a backend is given (shared by every process on that server), else
        // the SQLite file at `path`.
        let redis = backend.map(|b| b.inner.clone());
        if redis.is_none() && path.is_none() {
            return Err(config_error(
                py,
                format!("{C}: path=None needs backend=RedisBackend(...); allowed: a file path or a backend"),
            ));
        }
        let store_name = name.clone();
        let config = DeadLetterConfig {
            name,
            max_items,
            on_full,
            mask,
            replay_lease: Duration::from_secs_f64(replay_lease_seconds.min(1e9)),
        };
        let q = guard_detached(py, || -> ferrule_core::Result<DeadLetterQueue> {
            let store: Arc<dyn DeadLetterStore> = match (redis, path) {
                (Some(backend), _) => Arc::new(RedisDeadLetterStore::new(backend, &store_name)),
                (None, Some(path)) => Arc::new(SqliteDeadLetterStore::open(path)?),
                (None, None) => unreachable!("checked above"),
            };
            DeadLetterQueue::new(store, config)
        })?
        .map_err(|e| to_py(py, e))?;
        let inner = Arc::new(q);
        ferrule_core::telemetry::collector::export(&inner);
        Ok(Self { inner })
    }

    /// Stores a dead letter (masked unless `mask=False`). The id once it is durable; None when the
    /// queue is full and `on_full="reject"` (counted and logged).
    #[pyo3(signature = (key, payload, errors, attempts, first_failed_unix_ms=None, trace_id=None))]
    fn push(
        &self,
        py: Python<'_>,
        key: String,
        payload: String,
        errors: Vec<String>,
        #[pyo3(from_py_with = crate::arg::value::<u32>)] attempts: u32,
        #[pyo3(from_py_with = crate::arg::optional::<u64>)] first_failed_unix_ms: Option<u64>,
        trace_id: Option<String>,
    ) -> PyResult<Option<u64>> {
        guard_detached(py, || {
            self.inner.push(
                &key,
                &payload,
                errors,
                attempts,
                first_failed_unix_ms,
                trace_id,
            )
        })?
        .map_err(|e| to_py(py, e))
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        let n = guard_detached(py, || self.inner.len())?.map_err(|e| to_py(py, e))?;
        Ok(n as usize)
    }

    #[pyo3(signature = (limit=100, since_unix_ms=None))]
    fn list<'py>(
        &self,
        py: Python<'py>,
        #[pyo3(from_py_with = crate::arg::value::<usize>)] limit: usize,
        #[pyo3(from_py_with = crate::arg::optional::<u64>)] since_unix_ms: Option<u64>,
    ) -> PyResult<Vec<Bound<'py, PyTuple>>> {
        let v = guard_detached(py, || self.inner.list(limit, since_unix_ms))?
            .map_err(|e| to_py(py, e))?;
        v.into_iter().map(|d| item(py, d)).collect()
    }

    fn get<'py>(&self, py: Python<'py>, id: u64) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let v = guard_detached(py, || self.inner.get(id))?.map_err(|e| to_py(py, e))?;
        v.map(|d| item(py, d)).transpose()
    }

    fn remove(&self, py: Python<'_>, id: u64) -> PyResult<bool> {
        guard_detached(py, || self.inner.remove(id))?.map_err(|e| to_py(py, e))
    }

    #[pyo3(signature = (before_unix_ms=None))]
    fn purge(&self, py: Python<'_>, before_unix_ms: Option<u64>) -> PyResult<u64> {
        guard_detached(py, || self.inner.purge(before_unix_ms))?.map_err(|e| to_py(py, e))
    }

    fn oldest_age_seconds(&self, py: Python<'_>) -> PyResult<f64> {
        guard_detached(py, || self.inner.oldest_age_seconds())?.map_err(|e| to_py(py, e))
    }

    fn now_unix_ms(&self) -> u64 {
        self.inner.now_unix_ms()
    }

    #[pyo3(signature = (since_unix_ms=None, max=None))]
    fn replay_cursor(&self, since_unix_ms: Option<u64>, max: Option<u64>) -> ReplayCursorCore {
        ReplayCursorCore {
            queue: self.inner.clone(),
            cursor: Mutex::new(self.inner.replay_cursor(since_unix_ms, max)),
        }
    }

    #[getter]
    fn name(&self) -> String {
        self.inner.config().name.clone()
    }

    #[getter]
    fn max_items(&self) -> u64 {
        self.inner.config().max_items
    }

    #[getter]
    fn on_full(&self) -> &'static str {
        self.inner.config().on_full.as_str()
    }

    #[getter]
    fn mask(&self) -> bool {
        self.inner.config().mask
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.stats();
        let d = PyDict::new(py);
        for (k, v) in [
            ("stored", &s.stored),
            ("rejected", &s.rejected),
            ("evicted", &s.evicted),
            ("replayed", &s.replayed),
            ("replay_failed", &s.replay_failed),
            ("store_errors", &s.store_errors),
        ] {
            d.set_item(k, v.load(Ordering::Relaxed))?;
        }
        Ok(d)
    }
}

/// One replay run, stepped by the Python loop (which runs the user's handler, sync or async).
#[pyclass(frozen, name = "ReplayCursorCore", module = "ferrule._ferrule")]
pub struct ReplayCursorCore {
    queue: Arc<DeadLetterQueue>,
    // A lock only to give the frozen pyclass interior mutability; one replay run owns its cursor.
    cursor: Mutex<ReplayCursor>,
}

impl ReplayCursorCore {
    fn with<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&DeadLetterQueue, &mut ReplayCursor) -> ferrule_core::Result<T> + Send,
    ) -> PyResult<T> {
        guard_detached(py, || {
            let mut c = self.cursor.lock().unwrap_or_else(|p| p.into_inner());
            f(&self.queue, &mut c)
        })?
        .map_err(|e| to_py(py, e))
    }
}

#[pymethods]
impl ReplayCursorCore {
    /// The next candidate, or None when the run is done.
    fn next<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let v = self.with(py, |q, c| q.replay_next(c))?;
        v.map(|d| item(py, d)).transpose()
    }

    fn skip(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |q, c| q.replay_skip(c))
    }

    fn claim(&self, py: Python<'_>, id: u64) -> PyResult<bool> {
        self.with(py, |q, c| q.replay_claim(c, id))
    }

    fn succeeded(&self, py: Python<'_>, id: u64) -> PyResult<()> {
        self.with(py, |q, c| q.replay_succeeded(c, id))
    }

    fn failed(&self, py: Python<'_>, id: u64, error: String) -> PyResult<()> {
        self.with(py, |q, c| q.replay_failed(c, id, &error))
    }

    fn report<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let r = self.cursor.lock().unwrap_or_else(|p| p.into_inner()).report;
        let d = PyDict::new(py);
        d.set_item("succeeded", r.succeeded)?;
        d.set_item("failed", r.failed)?;
        d.set_item("skipped", r.skipped)?;
        d.set_item("busy", r.busy)?;
        Ok(d)
    }
}
