//! Telemetry for Node: contexts, spans, structured events, redaction and settings over the core
//! pipeline. The JS host (`telemetry.js`) keeps the current context and span in AsyncLocalStorage
//! and passes them in; this file only converts. Nanosecond times cross as strings (they exceed
//! 2^53), counters as `f64`.

use crate::error::{config_error, ConfigError, NodeParam};
use ferrule_core::telemetry::context::{CallContext, ContextRef};
use ferrule_core::telemetry::ids::TraceParent;
use ferrule_core::telemetry::log_event::{FieldValue, Level, LogEvent};
use ferrule_core::telemetry::log_sink::{LogCallback, LogSink, RotatingFile};
use ferrule_core::telemetry::pipeline::{Pipeline, Settings};
use ferrule_core::telemetry::ring_buffer::{BoundedRing, Overflow};
use ferrule_core::telemetry::span::{keys, AttrValue, Attributes, SpanRole, Status};
use ferrule_core::telemetry::tracer::{SpanStart, Tracer};
use napi::bindgen_prelude::Either3;
use napi_derive::napi;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Lines for a JS `logSink` callback. The core may log from its export thread, where JS cannot be
/// called, so lines wait here (bounded, losses counted) and the host drains them on its thread.
fn js_lines() -> &'static Arc<BoundedRing<String>> {
    static Q: OnceLock<Arc<BoundedRing<String>>> = OnceLock::new();
    Q.get_or_init(|| Arc::new(BoundedRing::new(4096, Overflow::DropNewest)))
}

#[napi(object)]
pub struct TelemetryOptions {
    pub service_name: Option<String>,
    pub sample_ratio: Option<f64>,
    pub slow_span_ms: Option<f64>,
    pub capture_content: Option<bool>,
    pub content_max_chars: Option<f64>,
    pub otlp_endpoint: Option<String>,
    pub disable_export: Option<bool>,
    /// `"stderr"`, `"stdout"`, `"none"` or `"callback"` (the host drains `takeLogLines`).
    pub log_sink: Option<String>,
    pub log_file: Option<String>,
    pub log_max_bytes: Option<f64>,
    pub log_backups: Option<f64>,
    pub log_level: Option<String>,
    pub log_dedup_ms: Option<f64>,
    pub redact_patterns: Option<Vec<String>>,
    pub redact_named_patterns: Option<HashMap<String, String>>,
    /// `true`: install the callback staged by `stageRedactCallback`; `false`: remove the callback.
    pub use_redact_callback: Option<bool>,
    pub otlp_headers: Option<HashMap<String, String>>,
    /// `"gzip"` or `"none"`.
    pub otlp_compression: Option<String>,
    pub ca_file: Option<String>,
    pub client_cert_file: Option<String>,
    pub client_key_file: Option<String>,
    pub otlp_logs: Option<bool>,
}

fn range(param: &str, value: impl std::fmt::Display, allowed: &str) -> ConfigError {
    ConfigError {
        kind: "RangeError".into(),
        code: "FERRULE_INVALID_CONFIG".into(),
        param: param.into(),
        message: format!("configure: {param}={value} is out of range; allowed: {allowed}"),
    }
}

/// Applies the settings, or says why they were refused (the host throws it). Nothing is applied
/// when anything is refused.
#[napi(catch_unwind)]
pub fn configure_telemetry(o: TelemetryOptions) -> Option<ConfigError> {
    let sink = match (o.log_sink.as_deref(), &o.log_file) {
        (None, None) => None,
        (Some("stderr"), None) => Some(LogSink::Stderr),
        (Some("stdout"), None) => Some(LogSink::Stdout),
        (Some("none"), None) => Some(LogSink::Null),
        (Some("callback"), None) => {
            let q = js_lines().clone();
            let f: LogCallback = Arc::new(move |_, line: &str| {
                if q.push(line.to_string()) {
                    Ok(())
                } else {
                    Err("logSink queue full; line dropped".into())
                }
            });
            Some(LogSink::Callback(f))
        }
        (None, Some(path)) => {
            let max = o.log_max_bytes.unwrap_or(10_000_000.0);
            let backups = o.log_backups.unwrap_or(5.0);
            if !(max.is_finite() && max >= 1024.0) {
                return Some(range("logMaxBytes", max, "an integer >= 1024"));
            }
            if !(backups.is_finite() && (0.0..=1000.0).contains(&backups)) {
                return Some(range("logBackups", backups, "an integer in [0, 1000]"));
            }
            match RotatingFile::open(path, max as u64, backups as u32) {
                Ok(f) => Some(LogSink::File(f)),
                Err(e) => return Some(config_error(&e, &params(&o))),
            }
        }
        (Some(other), None) => {
            return Some(range(
                "logSink",
                format!("{other:?}"),
                "'stderr', 'stdout', 'none', a function, or { file }",
            ))
        }
        (Some(_), Some(_)) => {
            return Some(ConfigError {
                kind: "TypeError".into(),
                code: "FERRULE_INVALID_CONFIG".into(),
                param: "logSink".into(),
                message: "configure: give either logSink or logFile, not both".into(),
            })
        }
    };
    let level = match o.log_level.as_deref() {
        None => None,
        Some(l) => match Level::parse(l) {
            Some(l) => Some(l),
            None => return Some(range("logLevel", format!("{l:?}"), Level::ALLOWED)),
        },
    };
    let mut patterns: Option<Vec<(String, String)>> = o
        .redact_patterns
        .as_ref()
        .map(|p| p.iter().map(|r| (String::new(), r.clone())).collect());
    if let Some(named) = &o.redact_named_patterns {
        let p = patterns.get_or_insert_with(Vec::new);
        let mut named: Vec<_> = named.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        named.sort();
        p.extend(named);
    }
    let otlp_compression = match o.otlp_compression.as_deref() {
        None => None,
        Some(c) => match ferrule_core::net::Compression::parse(c) {
            Some(c) => Some(c),
            None => return Some(range("otlpCompression", c, "'gzip', 'none'")),
        },
    };
    let otlp_tls = (o.ca_file.is_some()
        || o.client_cert_file.is_some()
        || o.client_key_file.is_some())
    .then(|| ferrule_core::net::TlsFiles {
        ca_file: o.ca_file.clone().map(Into::into),
        client_cert_file: o.client_cert_file.clone().map(Into::into),
        client_key_file: o.client_key_file.clone().map(Into::into),
    });
    let otlp_headers = o.otlp_headers.as_ref().map(|h| {
        let mut v: Vec<(String, String)> = h.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        v.sort();
        v
    });
    let settings = Settings {
        service_name: o.service_name.clone(),
        sample_ratio: o.sample_ratio,
        slow_span_seconds: o.slow_span_ms.map(|ms| Some(ms / 1000.0)),
        capture_content: o.capture_content,
        content_max_chars: o.content_max_chars.map(|n| n as i128),
        otlp_endpoint: if o.disable_export == Some(true) {
            Some(None)
        } else {
            o.otlp_endpoint.clone().map(Some)
        },
        log_sink: sink,
        log_level: level,
        log_dedup_seconds: o.log_dedup_ms.map(|ms| ms / 1000.0),
        redact_patterns: patterns,
        redact_callback: match o.use_redact_callback {
            None => None,
            Some(false) => Some(None),
            Some(true) => match crate::redact_callback::take_staged() {
                Some(cb) => Some(Some(cb)),
                None => {
                    return Some(ConfigError {
                        kind: "TypeError".into(),
                        code: "FERRULE_INVALID_CONFIG".into(),
                        param: "redactCallback".into(),
                        message: "configure: redactCallback must be a function".into(),
                    })
                }
            },
        },
        otlp_headers,
        otlp_compression,
        otlp_tls,
        otlp_logs: o.otlp_logs,
    };
    Pipeline::global()
        .configure(settings)
        .err()
        .map(|e| config_error(&e, &params(&o)))
}

fn params(o: &TelemetryOptions) -> Vec<NodeParam> {
    vec![
        NodeParam {
            core: "sample_ratio",
            node: "sampleRatio",
            millis: false,
            given: o.sample_ratio,
        },
        NodeParam {
            core: "slow_span_seconds",
            node: "slowSpanMs",
            millis: true,
            given: o.slow_span_ms,
        },
        NodeParam {
            core: "content_max_chars",
            node: "contentMaxChars",
            millis: false,
            given: o.content_max_chars,
        },
        NodeParam {
            core: "otlp_endpoint",
            node: "otlpEndpoint",
            millis: false,
            given: None,
        },
        NodeParam {
            core: "log_dedup_seconds",
            node: "logDedupMs",
            millis: true,
            given: o.log_dedup_ms,
        },
        NodeParam {
            core: "redact_patterns",
            node: "redactPatterns",
            millis: false,
            given: None,
        },
        NodeParam {
            core: "redact_callback",
            node: "redactCallback",
            millis: false,
            given: None,
        },
        NodeParam {
            core: "log_sink",
            node: "logFile",
            millis: false,
            given: None,
        },
        NodeParam {
            core: "otlp_headers",
            node: "otlpHeaders",
            millis: false,
            given: None,
        },
        NodeParam {
            core: "ca_file",
            node: "caFile",
            millis: false,
            given: None,
        },
        NodeParam {
            core: "client_cert_file",
            node: "clientCertFile",
            millis: false,
            given: None,
        },
        NodeParam {
            core: "client_key_file",
            node: "clientKeyFile",
            millis: false,
            given: None,
        },
    ]
}

/// Lines queued for the JS `logSink` callback, oldest first.
#[napi(catch_unwind)]
pub fn take_log_lines() -> Vec<String> {
    js_lines().drain(4096)
}

#[napi]
pub struct NativeContext {
    inner: ContextRef,
}

#[napi]
impl NativeContext {
    /// Builds a context nested in `outer` (inheriting what is not given) and reports a session id
    /// reused by another user.
    #[napi(constructor, catch_unwind)]
    pub fn new(
        session_id: Option<String>,
        user_id: Option<String>,
        tags: Option<Vec<String>>,
        outer: Option<&NativeContext>,
    ) -> Self {
        let ctx = CallContext::nested(
            outer.map(|o| o.inner.as_ref()),
            session_id,
            user_id,
            tags.unwrap_or_default(),
        );
        Pipeline::global().enter_context(&ctx);
        Self {
            inner: Arc::new(ctx),
        }
    }
    #[napi(getter)]
    pub fn session_id(&self) -> String {
        self.inner.session_id.clone()
    }
    #[napi(getter)]
    pub fn user_id(&self) -> Option<String> {
        self.inner.user_id.clone()
    }
    #[napi(getter)]
    pub fn tags(&self) -> Vec<String> {
        self.inner.tags.clone()
    }
    #[napi(getter)]
    pub fn session_generated(&self) -> bool {
        self.inner.session_generated
    }
}

#[napi]
pub struct NativeSpan {
    start: SpanStart,
    name: String,
    role: SpanRole,
    attributes: Attributes,
    status: Status,
    context: Option<ContextRef>,
    ended: bool,
}

/// What `recordCall` needs to fill and end a call's span.
impl NativeSpan {
    pub(crate) fn start(&self) -> SpanStart {
        self.start
    }
    pub(crate) fn attributes_mut(&mut self) -> &mut Attributes {
        &mut self.attributes
    }
    pub(crate) fn context_ref(&self) -> Option<ContextRef> {
        self.context.clone()
    }

    fn finish(&mut self) -> Option<std::sync::Arc<ferrule_core::telemetry::span::SpanRecord>> {
        if self.ended {
            return None;
        }
        self.ended = true;
        Pipeline::global().end_span(
            &self.start,
            std::mem::take(&mut self.name),
            self.role,
            std::mem::take(&mut self.status),
            std::mem::take(&mut self.attributes),
            self.context.clone(),
        )
    }
}

#[napi]
impl NativeSpan {
    /// The host checked `role` and that a name can be built (`name`, or `operation`/`model`).
    #[napi(constructor, catch_unwind)]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: Option<String>,
        role: String,
        operation: Option<String>,
        model: Option<String>,
        provider: Option<String>,
        parent: Option<&NativeSpan>,
        context: Option<&NativeContext>,
        traceparent: Option<String>,
    ) -> Self {
        let tracer = &Pipeline::global().tracer;
        let start = match (parent, traceparent.as_deref().and_then(TraceParent::parse)) {
            (Some(p), _) => tracer.start(Some(&p.start)),
            (None, Some(remote)) => tracer.start_remote(&remote),
            (None, None) => tracer.start(None),
        };
        let name = name
            .or_else(|| Tracer::genai_name(operation.as_deref(), model.as_deref()))
            .unwrap_or_else(|| "span".into());
        Self {
            start,
            name,
            role: SpanRole::parse(&role).unwrap_or_default(),
            attributes: Tracer::genai_attributes(
                operation.as_deref(),
                model.as_deref(),
                provider.as_deref(),
            ),
            status: Status::Unset,
            context: context.map(|c| c.inner.clone()),
            ended: false,
        }
    }

    /// A JS number that is an integer in the safe range becomes an int attribute, else a float.
    #[napi(catch_unwind)]
    pub fn set_attribute(&mut self, key: String, value: Either3<String, f64, bool>) {
        let v = match value {
            Either3::A(s) => AttrValue::Str(s),
            Either3::B(n) if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_991.0 => {
                AttrValue::Int(n as i64)
            }
            Either3::B(n) => AttrValue::Float(n),
            Either3::C(b) => AttrValue::Bool(b),
        };
        if let Some(slot) = self.attributes.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = v;
        } else {
            self.attributes.push((key.into(), v));
        }
    }

    /// Prompt / response text, kept only with `captureContent`, masked and cut; true if kept.
    #[napi(catch_unwind)]
    pub fn set_content(
        &mut self,
        input: Option<String>,
        output: Option<String>,
        always: Option<bool>,
    ) -> bool {
        let tracer = &Pipeline::global().tracer;
        let always = always.unwrap_or(false);
        let mut any = false;
        for (key, text) in [
            (keys::INPUT_MESSAGES, input),
            (keys::OUTPUT_MESSAGES, output),
        ] {
            // `always`: the caller opted in itself (`wrapOpenAI(c, { captureContent: true })`).
            let captured = match text {
                Some(t) if always => Some(tracer.masked_content(&t)),
                Some(t) => tracer.content(&t),
                None => None,
            };
            if let Some(c) = captured {
                self.attributes.push((key.into(), AttrValue::Str(c)));
                any = true;
            }
        }
        any
    }

    /// `status` is `ok`, `error` or `unset` (checked by the host).
    #[napi(catch_unwind)]
    pub fn set_status(&mut self, status: String, description: Option<String>) {
        self.status = match status.as_str() {
            "ok" => Status::Ok,
            "error" => Status::Error(description.unwrap_or_default()),
            _ => Status::Unset,
        };
    }

    /// Marks the span failed: status error and `error.type`.
    #[napi(catch_unwind)]
    pub fn set_error(&mut self, error_type: String, message: String) {
        self.status = Status::Error(message);
        self.attributes.retain(|(k, _)| k != keys::ERROR_TYPE);
        self.attributes
            .push((keys::ERROR_TYPE.into(), AttrValue::Str(error_type)));
    }

    /// Ends the span in the core (masked, sampled, recorded); a second call does nothing.
    #[napi(catch_unwind)]
    pub fn end(&mut self) {
        self.finish();
    }

    /// `end()` that also answers the finished span as JSON (null when unsampled or already
    /// ended), for the OpenTelemetry bridge handing spans to the app's TracerProvider.
    #[napi(catch_unwind)]
    pub fn end_record(&mut self) -> Option<String> {
        self.finish().map(|r| span_json(&r).to_string())
    }

    #[napi(getter)]
    pub fn trace_id(&self) -> String {
        self.start.trace_id.to_string()
    }
    #[napi(getter)]
    pub fn span_id(&self) -> String {
        self.start.span_id.to_string()
    }
    #[napi(getter)]
    pub fn parent_span_id(&self) -> Option<String> {
        self.start.parent_span_id.map(|p| p.to_string())
    }
    #[napi(getter)]
    pub fn request_id(&self) -> String {
        self.start.request_id.to_string()
    }
    #[napi(getter)]
    pub fn traceparent(&self) -> String {
        self.start.traceparent().header()
    }
    #[napi(getter)]
    pub fn ended(&self) -> bool {
        self.ended
    }
}

fn field(v: &serde_json::Value) -> Option<FieldValue> {
    Some(match v {
        serde_json::Value::String(s) => FieldValue::Str(s.clone()),
        serde_json::Value::Bool(b) => FieldValue::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => FieldValue::Int(i),
            None => FieldValue::Float(n.as_f64()?),
        },
        serde_json::Value::Null => return None,
        other => FieldValue::Str(other.to_string()),
    })
}

/// Emits one structured event with the ids of `span` / `context`. `fields` is a JSON object; the
/// schema's own fields arrive under their schema names (`model`, `attempt`, `latency_seconds`,
/// `input_tokens`, `output_tokens`, `cost_usd`, `error_type`, `error_message`), translated by the
/// host. Returns false when below the level or rate-limited; `None` when `level` is unknown.
#[napi(catch_unwind)]
pub fn emit_event(
    level: String,
    event: String,
    message: Option<String>,
    span: Option<&NativeSpan>,
    context: Option<&NativeContext>,
    fields: Option<String>,
) -> Option<bool> {
    let level = Level::parse(&level)?;
    let p = Pipeline::global();
    if !p.logger.admit(level) {
        return Some(false);
    }
    let mut ev = LogEvent::new(level, event);
    ev.message = message;
    if let Some(s) = span {
        ev.trace_id = Some(s.start.trace_id);
        ev.span_id = Some(s.start.span_id);
        ev.request_id = Some(s.start.request_id);
        ev.context = s.context.clone();
    }
    if ev.context.is_none() {
        ev.context = context.map(|c| c.inner.clone());
    }
    if let Some(serde_json::Value::Object(map)) =
        fields.as_deref().and_then(|f| serde_json::from_str(f).ok())
    {
        for (k, v) in map {
            match (k.as_str(), &v) {
                ("model", serde_json::Value::String(s)) => ev.model = Some(s.clone()),
                ("attempt", v) if v.is_u64() => ev.attempt = v.as_u64().map(|n| n as u32),
                ("latency_seconds", v) if v.is_number() => ev.latency_seconds = v.as_f64(),
                ("input_tokens", v) if v.is_u64() => ev.input_tokens = v.as_u64(),
                ("output_tokens", v) if v.is_u64() => ev.output_tokens = v.as_u64(),
                ("cost_usd", v) if v.is_number() => ev.cost_usd = v.as_f64(),
                ("error_type", serde_json::Value::String(s)) => ev.error_type = Some(s.clone()),
                ("error_message", serde_json::Value::String(s)) => {
                    ev.error_message = Some(s.clone())
                }
                _ => {
                    if let Some(f) = field(&v) {
                        ev.fields.push((k, f));
                    }
                }
            }
        }
    }
    Some(p.log(&ev))
}

/// `text` with PII and secrets replaced by typed placeholders (`[EMAIL]`, `[PHONE]`, ...).
#[napi(catch_unwind)]
pub fn redact(text: String) -> String {
    Pipeline::global()
        .tracer
        .redactor()
        .redact(&text)
        .into_owned()
}

/// One finished span as the JSON object the host reads (times as decimal strings, for BigInt).
fn span_json(r: &ferrule_core::telemetry::span::SpanRecord) -> serde_json::Value {
    let attrs: serde_json::Map<String, serde_json::Value> = r
        .all_attributes()
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                AttrValue::Str(s) => serde_json::Value::from(s),
                AttrValue::Int(i) => serde_json::Value::from(i),
                AttrValue::Float(f) => serde_json::Value::from(f),
                AttrValue::Bool(b) => serde_json::Value::from(b),
                AttrValue::StrList(l) => serde_json::Value::from(l),
            };
            (k.into_owned(), v)
        })
        .collect();
    let mut o = serde_json::json!({
        "name": r.name,
        "traceId": r.trace_id.to_string(),
        "spanId": r.span_id.to_string(),
        "parentSpanId": r.parent_span_id.map(|p| p.to_string()),
        "startNs": r.start_unix_ns.to_string(),
        "endNs": r.end_unix_ns.to_string(),
        "status": r.status.as_str(),
        "attributes": attrs,
    });
    if let Status::Error(m) = &r.status {
        o["statusMessage"] = serde_json::Value::from(m.clone());
    }
    o
}

/// The spans in the read-back ring as a JSON array (the host turns times into BigInt).
#[napi(catch_unwind)]
pub fn recent_spans_json() -> String {
    let spans = Pipeline::global().tracer.recent_spans();
    let out: Vec<serde_json::Value> = spans.iter().map(|r| span_json(r)).collect();
    serde_json::Value::from(out).to_string()
}

#[napi(catch_unwind)]
pub fn clear_recent_spans() {
    Pipeline::global().tracer.clear_recent();
}

/// Exports what is queued, waiting up to `timeoutMs` (blocks the calling thread: for shutdown).
#[napi(catch_unwind)]
pub fn flush_telemetry(timeout_ms: f64) -> bool {
    let ms = if timeout_ms.is_finite() {
        timeout_ms.clamp(0.0, 3_600_000.0)
    } else {
        0.0
    };
    Pipeline::global().flush(Duration::from_secs_f64(ms / 1000.0))
}

#[napi(object)]
pub struct TelemetryStats {
    pub spans_started: f64,
    pub spans_ended: f64,
    pub spans_unsampled: f64,
    pub recent_len: f64,
    pub recent_capacity: f64,
    pub recent_evicted: f64,
    pub export_queued: f64,
    pub export_capacity: f64,
    pub export_dropped: f64,
    pub exported_spans: f64,
    pub export_failed_spans: f64,
    pub logs_emitted: f64,
    pub logs_suppressed: f64,
    pub log_sink_errors: f64,
    pub log_lines_dropped: f64,
    pub session_conflicts: f64,
    /// Times `redactCallback` threw or could not run (the pattern-masked text was kept).
    pub redact_callback_errors: f64,
}

#[napi(catch_unwind)]
pub fn telemetry_stats() -> TelemetryStats {
    let s = Pipeline::global().stats();
    TelemetryStats {
        spans_started: s.tracer.started as f64,
        spans_ended: s.tracer.ended as f64,
        spans_unsampled: s.tracer.unsampled as f64,
        recent_len: s.tracer.recent_len as f64,
        recent_capacity: s.tracer.recent_capacity as f64,
        recent_evicted: s.tracer.recent_evicted as f64,
        export_queued: s.export_queued as f64,
        export_capacity: s.export_capacity as f64,
        export_dropped: s.export_dropped as f64,
        exported_spans: s.exported_spans as f64,
        export_failed_spans: s.export_failed_spans as f64,
        logs_emitted: s.logger.emitted as f64,
        logs_suppressed: s.logger.suppressed as f64,
        log_sink_errors: s.logger.sink_errors as f64,
        log_lines_dropped: js_lines().lost() as f64,
        redact_callback_errors: s.redact_callback_errors as f64,
        session_conflicts: s.session_conflicts as f64,
    }
}
