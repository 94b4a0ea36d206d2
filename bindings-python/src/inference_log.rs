//! `InferenceLogCore`: the core inference log for `ferrule.inference_log`. Records are masked by
//! the core (and their content dropped unless capture is on) before they are queued.

use crate::error::{guard, guard_detached, to_py};
use ferrule_core::store::inference_log::{InferenceLog, InferenceRecord, Retention};
use ferrule_core::telemetry::pipeline::Pipeline;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use rusqlite::types::Value as SqlValue;
use std::time::Duration;

#[pyclass(frozen, name = "InferenceLogCore", module = "ferrule._ferrule")]
pub struct InferenceLogCore {
    inner: std::sync::Arc<InferenceLog>,
}

/// Makes `log` the inference log every call record is written to (`None`: none).
#[pyfunction]
#[pyo3(signature = (log=None))]
pub fn use_inference_log(log: Option<PyRef<'_, InferenceLogCore>>) {
    ferrule_core::call::inference::install(log.map(|l| l.inner.clone()));
}

fn sql_param(v: &Bound<'_, PyAny>) -> PyResult<SqlValue> {
    if v.is_none() {
        return Ok(SqlValue::Null);
    }
    if let Ok(b) = v.extract::<bool>() {
        return Ok(SqlValue::Integer(b as i64));
    }
    if let Ok(i) = v.extract::<i64>() {
        return Ok(SqlValue::Integer(i));
    }
    if let Ok(f) = v.extract::<f64>() {
        return Ok(SqlValue::Real(f));
    }
    if let Ok(s) = v.extract::<String>() {
        return Ok(SqlValue::Text(s));
    }
    if let Ok(b) = v.extract::<Vec<u8>>() {
        return Ok(SqlValue::Blob(b));
    }
    Err(pyo3::exceptions::PyTypeError::new_err(format!(
        "inference_log: query parameter of type {} is not allowed; allowed: None, bool, int, float, str, bytes",
        v.get_type().name()?
    )))
}

fn result<'py>(
    py: Python<'py>,
    cols: Vec<String>,
    rows: Vec<Vec<SqlValue>>,
) -> PyResult<Bound<'py, PyTuple>> {
    let out = PyList::empty(py);
    for r in rows {
        let t: Vec<Bound<'py, PyAny>> = r
            .into_iter()
            .map(|v| -> PyResult<Bound<'py, PyAny>> {
                Ok(match v {
                    SqlValue::Null => py.None().into_bound(py),
                    SqlValue::Integer(i) => i.into_pyobject(py)?.into_any(),
                    SqlValue::Real(f) => f.into_pyobject(py)?.into_any(),
                    SqlValue::Text(s) => s.into_pyobject(py)?.into_any(),
                    SqlValue::Blob(b) => PyBytes::new(py, &b).into_any(),
                })
            })
            .collect::<PyResult<_>>()?;
        out.append(PyTuple::new(py, t)?)?;
    }
    PyTuple::new(py, [PyList::new(py, cols)?.into_any(), out.into_any()])
}

#[pymethods]
impl InferenceLogCore {
    #[new]
    #[pyo3(signature = (path, *, max_age_seconds=None, max_rows=None, capacity=65536))]
    fn new(
        py: Python<'_>,
        path: std::path::PathBuf,
        max_age_seconds: Option<f64>,
        #[pyo3(from_py_with = crate::arg::optional::<i64>)] max_rows: Option<i64>,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] capacity: i64,
    ) -> PyResult<Self> {
        let build = || -> ferrule_core::Result<InferenceLog> {
            use ferrule_core::error::check;
            let cap = check::int("inference_log", "capacity", capacity as i128, 1, 10_000_000)?;
            let max_rows = max_rows
                .map(|r| check::int("inference_log", "max_rows", r as i128, 1, i64::MAX as u64))
                .transpose()?;
            InferenceLog::open(
                path,
                Retention {
                    max_age_seconds,
                    max_rows,
                },
                cap as usize,
            )
        };
        let inner = guard_detached(py, build)?.map_err(|e| to_py(py, e))?;
        Ok(Self {
            inner: std::sync::Arc::new(inner),
        })
    }

    /// Queues one record (masked; content kept only when capture is on). Returns false when the
    /// queue was full and the record was dropped (counted in `stats()["dropped"]`).
    #[pyo3(signature = (*, request_id, outcome, model=None, provider=None, template=None,
        parameters=None, input=None, output=None, input_tokens=None, output_tokens=None,
        cost_usd=None, latency_seconds=None, error_type=None, attempts=None, trace_id=None,
        span_id=None, session_id=None, user_id=None, time_unix_ns=0))]
    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        py: Python<'_>,
        request_id: String,
        outcome: String,
        model: Option<String>,
        provider: Option<String>,
        template: Option<String>,
        parameters: Option<String>,
        input: Option<String>,
        output: Option<String>,
        #[pyo3(from_py_with = crate::arg::optional::<i64>)] input_tokens: Option<i64>,
        #[pyo3(from_py_with = crate::arg::optional::<i64>)] output_tokens: Option<i64>,
        cost_usd: Option<f64>,
        latency_seconds: Option<f64>,
        error_type: Option<String>,
        #[pyo3(from_py_with = crate::arg::optional::<i64>)] attempts: Option<i64>,
        trace_id: Option<String>,
        span_id: Option<String>,
        session_id: Option<String>,
        user_id: Option<String>,
        #[pyo3(from_py_with = crate::arg::value::<u64>)] time_unix_ns: u64,
    ) -> PyResult<bool> {
        let rec = InferenceRecord {
            time_unix_ns,
            request_id,
            trace_id,
            span_id,
            session_id,
            user_id,
            model,
            provider,
            template,
            parameters,
            input,
            output,
            input_tokens,
            output_tokens,
            cost_usd,
            latency_seconds,
            outcome,
            error_type,
            attempts,
        };
        InferenceLog::validate(&rec).map_err(|e| to_py(py, e))?;
        guard(py, || {
            let p = Pipeline::global();
            let rec = InferenceLog::prepare(rec, &p.tracer.redactor(), p.tracer.capture_content());
            self.inner.record(rec)
        })
    }

    /// `(columns, rows)` of a read-only SQL query with positional `?` parameters, stopped after
    /// `timeout_seconds`.
    #[pyo3(signature = (sql, params=None, *, timeout_seconds=10.0))]
    fn query<'py>(
        &self,
        py: Python<'py>,
        sql: &str,
        params: Option<&Bound<'py, PyAny>>,
        timeout_seconds: f64,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let timeout = ferrule_core::error::check::finite_positive(
            "inference_log",
            "timeout_seconds",
            timeout_seconds,
        )
        .map_err(|e| to_py(py, e))?;
        let timeout = std::time::Duration::from_secs_f64(timeout);
        let p: Vec<SqlValue> = match params {
            None => Vec::new(),
            Some(seq) => seq
                .try_iter()?
                .map(|v| sql_param(&v?))
                .collect::<PyResult<_>>()?,
        };
        let (cols, rows) = guard_detached(py, || self.inner.query_within(sql, &p, timeout))?
            .map_err(|e| to_py(py, e))?;
        result(py, cols, rows)
    }

    #[pyo3(signature = (*, model=None, since=None, outcome=None, limit=1000))]
    fn records<'py>(
        &self,
        py: Python<'py>,
        model: Option<String>,
        since: Option<f64>,
        outcome: Option<String>,
        #[pyo3(from_py_with = crate::arg::value::<u64>)] limit: u64,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let (cols, rows) = guard_detached(py, || {
            self.inner
                .records(model.as_deref(), since, outcome.as_deref(), limit)
        })?
        .map_err(|e| to_py(py, e))?;
        result(py, cols, rows)
    }

    #[pyo3(signature = (timeout_seconds=5.0))]
    fn flush(&self, py: Python<'_>, timeout_seconds: f64) -> PyResult<bool> {
        let t = Duration::from_secs_f64(if timeout_seconds.is_finite() {
            timeout_seconds.clamp(0.0, 3600.0)
        } else {
            0.0
        });
        guard_detached(py, || self.inner.flush(t))
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        guard_detached(py, || self.inner.close())
    }

    /// The last problem the writer thread hit, if any (taken: the next call returns None).
    fn take_error(&self) -> Option<String> {
        self.inner.take_error()
    }

    #[getter]
    fn path(&self) -> std::path::PathBuf {
        self.inner.path().to_path_buf()
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.stats();
        let d = PyDict::new(py);
        d.set_item("queued", s.queued)?;
        d.set_item("dropped", s.dropped)?;
        d.set_item("written", s.written)?;
        d.set_item("write_errors", s.write_errors)?;
        d.set_item("deleted_by_retention", s.deleted_by_retention)?;
        Ok(d)
    }
}
