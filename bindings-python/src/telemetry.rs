//! Module functions over the core telemetry pipeline: `configure`, `emit` (structured events),
//! `redact`, `recent_spans`, `flush` and `telemetry_stats`. Conversion only.

use crate::context::CallContext;
use crate::context_vars::{current, vars};
use crate::error::{config_error, guard, guard_detached, to_py};
use crate::span::Span;
use ferrule_core::telemetry::log_event::{FieldValue, Level, LogEvent};
use ferrule_core::telemetry::log_sink::{LogCallback, LogSink, RotatingFile};
use ferrule_core::telemetry::pipeline::{Pipeline, Settings};
use ferrule_core::telemetry::redact::RedactCallback;
use ferrule_core::telemetry::span::{AttrValue, SpanRecord};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};
use std::sync::Arc;
use std::time::Duration;

fn level_of(py: Python<'_>, param: &str, v: &Bound<'_, PyAny>) -> PyResult<Level> {
    if v.is_instance_of::<pyo3::types::PyInt>() && !v.is_instance_of::<pyo3::types::PyBool>() {
        // A `logging` level number; one beyond 64 bits is past either end of the scale.
        let n = v.extract::<i64>().unwrap_or_else(|_| {
            if v.gt(0).unwrap_or(true) {
                i64::MAX
            } else {
                i64::MIN
            }
        });
        return Ok(match n {
            n if n < 20 => Level::Debug,
            n if n < 30 => Level::Info,
            n if n < 40 => Level::Warning,
            _ => Level::Error,
        });
    }
    let s: String = v.extract()?;
    Level::parse(&s).ok_or_else(|| {
        config_error(
            py,
            format!(
                "{param}={s:?} is out of range; allowed: {} (or a logging level number)",
                Level::ALLOWED
            ),
        )
    })
}

/// A Python callable `(level: int, line: str)` as a core log sink. Calls may come from the export
/// thread, so they attach to the interpreter, and give up cleanly while it shuts down.
fn callback_sink(cb: Py<PyAny>) -> LogSink {
    let f: LogCallback = Arc::new(move |level: Level, line: &str| {
        Python::try_attach(|py| {
            cb.call1(py, (level.number(), line))
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .unwrap_or_else(|| Err("the Python interpreter is shutting down".into()))
    });
    LogSink::Callback(f)
}

fn redact_callback(cb: Py<PyAny>) -> RedactCallback {
    Arc::new(move |text: &str| {
        Python::try_attach(|py| {
            cb.call1(py, (text,))
                .and_then(|r| r.extract::<String>(py))
                .map_err(|e| e.to_string())
        })
        .unwrap_or_else(|| Err("the Python interpreter is shutting down".into()))
    })
}

/// The one settings entry point. The host layer (`ferrule.configure`) turns its friendlier values
/// (`"logging"`, `LogFile(...)`) into `log_sink` / `log_file`.
#[pyfunction]
#[pyo3(signature = (*, service_name=None, sample_ratio=None, slow_span_seconds=None,
    capture_content=None, content_max_chars=None, otlp_endpoint=None, disable_export=false,
    log_sink=None, log_callback=None, log_file=None, log_max_bytes=10_000_000, log_backups=5,
    log_level=None, log_dedup_seconds=None, redact_patterns=None, redact_callback=None,
    clear_redact_callback=false, otlp_headers=None, otlp_compression=None, ca_file=None,
    client_cert_file=None, client_key_file=None, otlp_logs=None))]
#[allow(clippy::too_many_arguments)]
pub fn configure(
    py: Python<'_>,
    service_name: Option<String>,
    sample_ratio: Option<f64>,
    slow_span_seconds: Option<f64>,
    capture_content: Option<bool>,
    #[pyo3(from_py_with = crate::arg::optional::<i64>)] content_max_chars: Option<i64>,
    otlp_endpoint: Option<String>,
    disable_export: bool,
    log_sink: Option<&str>,
    log_callback: Option<Py<PyAny>>,
    log_file: Option<std::path::PathBuf>,
    #[pyo3(from_py_with = crate::arg::value::<i64>)] log_max_bytes: i64,
    #[pyo3(from_py_with = crate::arg::value::<i64>)] log_backups: i64,
    log_level: Option<&Bound<'_, PyAny>>,
    log_dedup_seconds: Option<f64>,
    redact_patterns: Option<Vec<(String, String)>>,
    redact_callback: Option<Py<PyAny>>,
    clear_redact_callback: bool,
    otlp_headers: Option<Vec<(String, String)>>,
    otlp_compression: Option<String>,
    ca_file: Option<std::path::PathBuf>,
    client_cert_file: Option<std::path::PathBuf>,
    client_key_file: Option<std::path::PathBuf>,
    otlp_logs: Option<bool>,
) -> PyResult<()> {
    let otlp_compression = match otlp_compression.as_deref() {
        None => None,
        Some(c) => match ferrule_core::net::Compression::parse(c) {
            Some(c) => Some(c),
            None => {
                return Err(config_error(
                    py,
                    format!("configure: otlp_compression={c:?} is out of range; allowed: \"gzip\", \"none\""),
                ))
            }
        },
    };
    let otlp_tls = (ca_file.is_some() || client_cert_file.is_some() || client_key_file.is_some())
        .then(|| ferrule_core::net::TlsFiles {
            ca_file,
            client_cert_file,
            client_key_file,
        });
    let sink = match (log_sink, log_callback, log_file) {
        (None, None, None) => None,
        (Some("stderr"), None, None) => Some(LogSink::Stderr),
        (Some("stdout"), None, None) => Some(LogSink::Stdout),
        (Some("none"), None, None) => Some(LogSink::Null),
        (None, Some(cb), None) => Some(callback_sink(cb)),
        (None, None, Some(path)) => {
            let max = ferrule_core::error::check::int("configure", "log_max_bytes", log_max_bytes as i128, 1024, u64::MAX)
                .map_err(|e| to_py(py, e))?;
            let backups = ferrule_core::error::check::int("configure", "log_backups", log_backups as i128, 0, 1000)
                .map_err(|e| to_py(py, e))?;
            Some(LogSink::File(
                RotatingFile::open(path, max, backups as u32).map_err(|e| to_py(py, e))?,
            ))
        }
        (Some(other), None, None) => {
            return Err(config_error(
                py,
                format!("configure: log_sink={other:?} is out of range; allowed: \"stderr\", \"stdout\", \"logging\", \"none\", a callable or ferrule.LogFile(...)"),
            ))
        }
        _ => {
            return Err(config_error(
                py,
                "configure: give only one of log_sink, log_callback, log_file".into(),
            ))
        }
    };
    let level = log_level
        .map(|l| level_of(py, "configure: log_level", l))
        .transpose()?;
    let s = Settings {
        service_name,
        sample_ratio,
        slow_span_seconds: slow_span_seconds.map(Some),
        capture_content,
        content_max_chars: content_max_chars.map(|n| n as i128),
        otlp_endpoint: if disable_export {
            Some(None)
        } else {
            otlp_endpoint.map(Some)
        },
        log_sink: sink,
        log_level: level,
        log_dedup_seconds,
        redact_patterns,
        redact_callback: match (redact_callback, clear_redact_callback) {
            (Some(cb), _) => Some(Some(redact_callback_fn(cb))),
            (None, true) => Some(None),
            (None, false) => None,
        },
        otlp_headers,
        otlp_compression,
        otlp_tls,
        otlp_logs,
    };
    guard_detached(py, || Pipeline::global().configure(s))?.map_err(|e| to_py(py, e))
}

fn redact_callback_fn(cb: Py<PyAny>) -> RedactCallback {
    redact_callback(cb)
}

fn field_value(k: &str, v: &Bound<'_, PyAny>) -> PyResult<FieldValue> {
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(FieldValue::Str(s.to_string_lossy().into_owned()));
    }
    if v.is_instance_of::<PyBool>() {
        return Ok(FieldValue::Bool(v.extract()?));
    }
    if v.is_instance_of::<PyInt>() {
        if let Ok(i) = v.extract::<i64>() {
            return Ok(FieldValue::Int(i));
        }
    }
    if v.is_instance_of::<PyFloat>() {
        return Ok(FieldValue::Float(v.extract()?));
    }
    if v.is_none() {
        return Err(PyTypeError::new_err(format!(
            "event field {k}=None: omit it instead"
        )));
    }
    Ok(FieldValue::Str(v.str()?.to_string_lossy().into_owned()))
}

/// The arguments of one `ferrule.emit(...)` call, as the entry point (`emit_call.rs`) matched them.
#[derive(Default)]
pub struct EmitArgs<'py> {
    pub event: Option<Bound<'py, PyAny>>,
    pub level: Option<Bound<'py, PyAny>>,
    pub message: Option<Bound<'py, PyAny>>,
    pub model: Option<Bound<'py, PyAny>>,
    pub attempt: Option<Bound<'py, PyAny>>,
    pub latency_seconds: Option<Bound<'py, PyAny>>,
    pub input_tokens: Option<Bound<'py, PyAny>>,
    pub output_tokens: Option<Bound<'py, PyAny>>,
    pub cost_usd: Option<Bound<'py, PyAny>>,
    pub error: Option<Bound<'py, PyAny>>,
    pub error_type: Option<Bound<'py, PyAny>>,
    pub error_message: Option<Bound<'py, PyAny>>,
    /// Event-specific fields (`**fields`), in call order.
    pub fields: Vec<(Bound<'py, PyString>, Bound<'py, PyAny>)>,
}

/// `None` for an absent or `None` argument, else `v` converted as pyo3 would for `Option<T>`.
fn opt<'a, 'py, T>(name: &str, v: &'a Option<Bound<'py, PyAny>>) -> PyResult<Option<T>>
where
    T: FromPyObject<'a, 'py> + crate::arg::Allowed,
    T::Error: Into<PyErr>,
{
    match v.as_ref().filter(|v| !v.is_none()) {
        None => Ok(None),
        Some(v) => crate::fastcall::extract(name, v).map(Some),
    }
}

/// Emits one structured ferrule event (`retry.attempt`, `breaker.transition`, `fallback.used`,
/// `validation.failed`, ...), stamped with the current span and context ids. Known fields fill the
/// schema (`model`, `attempt`, `latency_seconds`, `input_tokens`, `output_tokens`, `cost_usd`,
/// `error` (an exception), `error_type`, `error_message`); others are event-specific fields.
/// Returns whether the event was written (false: below the level, or rate-limited).
pub fn emit(py: Python<'_>, a: EmitArgs<'_>) -> PyResult<bool> {
    let Some(event) = a.event.as_ref() else {
        return Err(PyTypeError::new_err(
            "emit() missing 1 required positional argument: 'event'",
        ));
    };
    let event: String = event
        .cast::<PyString>()
        .map(|s| s.to_string_lossy().into_owned())
        .map_err(|e| {
            crate::arg::named(
                py,
                "event",
                crate::arg::wrong_type(event, "a string", None, false, e.into()),
            )
        })?;
    // Borrowed from the str, never a `PyBackedStr`: this entry point runs without pyo3's GIL
    // count (see emit_call.rs), where dropping a `Py` handle queues a deferred decref that only a
    // later GIL acquisition releases: 8 bytes per call piled up with the Rust-side sinks.
    let level_text = match a.level.as_ref().filter(|v| !v.is_none()) {
        None => None,
        Some(v) => Some(
            v.cast::<PyString>()
                .map_err(|e| {
                    crate::arg::named(
                        py,
                        "level",
                        crate::arg::wrong_type(v, "a string", None, false, e.into()),
                    )
                })?
                .to_string_lossy(),
        ),
    };
    let level_text = level_text.as_deref().unwrap_or("info");
    let Some(level) = Level::parse(level_text) else {
        return Err(config_error(
            py,
            format!(
                "emit: level={level_text:?} is out of range; allowed: {}",
                Level::ALLOWED
            ),
        ));
    };
    let p = Pipeline::global();
    if !p.logger.admit(level) {
        return Ok(false);
    }
    let mut ev = LogEvent::new(level, event);

    if let Some(v) = vars(py) {
        if let Some(s) = current(py, &v.span_get)? {
            let s = s.cast::<Span>()?.borrow();
            ev.trace_id = Some(s.start.trace_id);
            ev.span_id = Some(s.start.span_id);
            ev.request_id = Some(s.start.request_id);
            ev.context = s.context.clone();
        }
        if ev.context.is_none() && crate::context_vars::contexts_in_use() {
            if let Some(c) = current(py, &v.context_get)? {
                ev.context = Some(c.cast::<CallContext>()?.get().inner.clone());
            }
        }
    }
    let text = |v: &Option<Bound<'_, PyAny>>| -> PyResult<Option<String>> {
        match v.as_ref().filter(|v| !v.is_none()) {
            None => Ok(None),
            Some(v) => match v.cast::<PyString>() {
                Ok(s) => Ok(Some(s.to_string_lossy().into_owned())),
                Err(_) => Ok(Some(v.str()?.to_string_lossy().into_owned())),
            },
        }
    };
    ev.message = text(&a.message)?;
    ev.model = text(&a.model)?;
    ev.attempt = opt("attempt", &a.attempt)?;
    ev.latency_seconds = opt("latency_seconds", &a.latency_seconds)?;
    ev.input_tokens = opt("input_tokens", &a.input_tokens)?;
    ev.output_tokens = opt("output_tokens", &a.output_tokens)?;
    ev.cost_usd = opt("cost_usd", &a.cost_usd)?;
    ev.error_type = text(&a.error_type)?;
    ev.error_message = text(&a.error_message)?;
    if let Some(e) = a.error.as_ref().filter(|e| !e.is_none()) {
        if !e.is_instance_of::<pyo3::exceptions::PyBaseException>() {
            let refused = PyTypeError::new_err("not an exception");
            return Err(crate::arg::named(
                py,
                "error",
                crate::arg::wrong_type(e, "an exception", None, true, refused),
            ));
        }
        ev.error_type = Some(e.get_type().qualname()?.to_string());
        ev.error_message = Some(e.str()?.to_string());
    }
    for (k, v) in &a.fields {
        if v.is_none() {
            continue;
        }
        let k = k.to_string_lossy();
        let fv = field_value(&k, v)?;
        ev.fields.push((k.into_owned(), fv));
    }
    guard(py, || p.log(&ev))
}

/// `text` with every email, phone number, card, IP address and secret replaced by a typed
/// placeholder (`[EMAIL]`, `[PHONE]`, `[CARD]`, `[IP]`, `[SECRET]`), plus the configured patterns
/// and callback.
#[pyfunction]
pub fn redact(
    py: Python<'_>,
    #[pyo3(from_py_with = crate::arg::value::<Bound<'_, PyString>>)] text: Bound<'_, PyString>,
) -> PyResult<String> {
    // Lossy: a lone surrogate becomes U+FFFD instead of a UnicodeEncodeError in the caller.
    let text = text.to_string_lossy();
    let text: &str = &text;
    guard(py, || {
        Pipeline::global()
            .tracer
            .redactor()
            .redact(text)
            .into_owned()
    })
}

fn attr_to_py<'py>(py: Python<'py>, v: &AttrValue) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        AttrValue::Str(s) => s.into_pyobject(py)?.into_any(),
        AttrValue::Int(i) => i.into_pyobject(py)?.into_any(),
        AttrValue::Float(f) => f.into_pyobject(py)?.into_any(),
        AttrValue::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        AttrValue::StrList(l) => PyList::new(py, l)?.into_any(),
    })
}

pub fn span_dict<'py>(py: Python<'py>, r: &SpanRecord) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", &r.name)?;
    d.set_item("trace_id", r.trace_id.to_string())?;
    d.set_item("span_id", r.span_id.to_string())?;
    d.set_item("parent_span_id", r.parent_span_id.map(|p| p.to_string()))?;
    d.set_item("start_ns", r.start_unix_ns)?;
    d.set_item("end_ns", r.end_unix_ns)?;
    d.set_item("status", r.status.as_str())?;
    if let ferrule_core::telemetry::span::Status::Error(m) = &r.status {
        d.set_item("status_message", m)?;
    }
    let a = PyDict::new(py);
    for (k, v) in r.all_attributes() {
        a.set_item(k.as_ref(), attr_to_py(py, &v)?)?;
    }
    d.set_item("attributes", a)?;
    Ok(d)
}

/// The spans kept in the in-process ring, oldest first, as dicts.
#[pyfunction]
pub fn recent_spans<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
    let spans = guard(py, || Pipeline::global().tracer.recent_spans())?;
    let l = PyList::empty(py);
    for s in spans {
        l.append(span_dict(py, &s)?)?;
    }
    Ok(l)
}

#[pyfunction]
pub fn clear_recent_spans(py: Python<'_>) -> PyResult<()> {
    guard(py, || Pipeline::global().tracer.clear_recent())
}

/// Exports everything queued and waits up to `timeout_seconds`; true when done.
#[pyfunction]
#[pyo3(signature = (timeout_seconds=5.0))]
pub fn flush(py: Python<'_>, timeout_seconds: f64) -> PyResult<bool> {
    let t = ferrule_core::error::check::finite_non_negative(
        "flush",
        "timeout_seconds",
        timeout_seconds,
    )
    .map_err(|e| to_py(py, e))?;
    guard_detached(py, || Pipeline::global().flush(Duration::from_secs_f64(t)))
}

/// Counters of the telemetry pipeline: spans started/ended/unsampled, ring and export-queue sizes,
/// drops, export results, log events emitted/suppressed, sink and redaction-callback errors.
#[pyfunction]
pub fn telemetry_stats<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
    let p = Pipeline::global();
    let s = guard(py, || p.stats())?;
    let d = PyDict::new(py);
    d.set_item("spans_started", s.tracer.started)?;
    d.set_item("spans_ended", s.tracer.ended)?;
    d.set_item("spans_unsampled", s.tracer.unsampled)?;
    d.set_item("recent_len", s.tracer.recent_len)?;
    d.set_item("recent_capacity", s.tracer.recent_capacity)?;
    d.set_item("recent_evicted", s.tracer.recent_evicted)?;
    d.set_item("export_queued", s.export_queued)?;
    d.set_item("export_capacity", s.export_capacity)?;
    d.set_item("export_dropped", s.export_dropped)?;
    d.set_item("exported_spans", s.exported_spans)?;
    d.set_item("export_failed_spans", s.export_failed_spans)?;
    d.set_item("export_retries", s.export_retries)?;
    d.set_item("fork_discarded", s.fork_discarded)?;
    d.set_item("logs_emitted", s.logger.emitted)?;
    d.set_item("logs_suppressed", s.logger.suppressed)?;
    d.set_item("logs_below_level", s.logger.below_level)?;
    d.set_item("log_sink_errors", s.logger.sink_errors)?;
    d.set_item("session_conflicts", s.session_conflicts)?;
    d.set_item("redact_callback_errors", s.redact_callback_errors)?;
    d.set_item("service_name", p.service_name().as_str())?;
    d.set_item("sample_ratio", p.tracer.sampler.ratio())?;
    d.set_item("capture_content", p.tracer.capture_content())?;
    d.set_item("otlp_endpoint", p.export_url())?;
    d.set_item("log_sink", format!("{:?}", **p.logger.sink()))?;
    Ok(d)
}

/// A new UUID v7 request id (for records made outside any span).
#[pyfunction]
pub fn new_request_id() -> String {
    ferrule_core::telemetry::ids::new_request_id().to_string()
}
