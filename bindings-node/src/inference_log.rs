//! The inference log for Node (`bindings-node/inference_log.js`): the core's SQLite store, its
//! masking and capture rule, as a native object. Conversion only. SQL parameters and results cross
//! as JSON text: integers beyond 2^53 (the nanosecond times) travel as `{"b": "digits"}` and blobs
//! as `{"x": "hex"}`, which the host turns into BigInt and Buffer.

use crate::error::{config_error, ConfigError, NodeParam};
use ferrule_core::store::inference_log::{InferenceLog, InferenceRecord, Retention};
use ferrule_core::telemetry::pipeline::Pipeline;
use ferrule_core::Error;
use napi::bindgen_prelude::Either;
use napi_derive::napi;
use rusqlite::types::Value as SqlValue;
use serde_json::{json, Value};
use std::time::Duration;

const SAFE: i64 = (1 << 53) - 1;

fn refusal(e: &Error, params: &[NodeParam]) -> ConfigError {
    match e {
        Error::Storage { .. } => ConfigError {
            kind: "StorageError".into(),
            code: e.code().into(),
            param: String::new(),
            message: e.to_string(),
        },
        _ => config_error(e, params),
    }
}

fn params(max_age_ms: Option<f64>, max_rows: Option<f64>) -> [NodeParam; 2] {
    [
        NodeParam {
            core: "max_age_seconds",
            node: "maxAgeMs",
            millis: true,
            given: max_age_ms,
        },
        NodeParam {
            core: "max_rows",
            node: "maxRows",
            millis: false,
            given: max_rows,
        },
    ]
}

#[napi]
pub struct NativeInferenceLog {
    inner: std::sync::Arc<InferenceLog>,
}

/// Makes `log` the inference log every call record is written to (`null`: none).
#[napi(catch_unwind)]
pub fn use_inference_log(log: Option<&NativeInferenceLog>) {
    ferrule_core::call::inference::install(log.map(|l| l.inner.clone()));
}

/// Opens (creating if needed) the SQLite file at `path`; a bad path or retention is refused now.
#[napi(catch_unwind)]
pub fn open_inference_log(
    path: String,
    max_age_ms: Option<f64>,
    max_rows: Option<f64>,
) -> Either<NativeInferenceLog, ConfigError> {
    let p = params(max_age_ms, max_rows);
    let rows = match max_rows {
        None => Ok(None),
        Some(r) => ferrule_core::error::check::int(
            "inference_log",
            "max_rows",
            if r.is_finite() && r.fract() == 0.0 {
                r as i128
            } else {
                -1
            },
            1,
            i64::MAX as u64,
        )
        .map(Some),
    };
    let opened = rows.and_then(|max_rows| {
        InferenceLog::open(
            path,
            Retention {
                max_age_seconds: max_age_ms.map(|ms| ms / 1000.0),
                max_rows,
            },
            65_536,
        )
    });
    match opened {
        Ok(inner) => Either::A(NativeInferenceLog {
            inner: std::sync::Arc::new(inner),
        }),
        Err(e) => Either::B(refusal(&e, &p)),
    }
}

/// One call's record as the host assembles it (ids from the current span and context).
#[napi(object)]
pub struct InferenceRecordInput {
    pub request_id: String,
    pub outcome: String,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub template: Option<String>,
    /// The request parameters as JSON object text.
    pub parameters: Option<String>,
    pub input: Option<String>,
    pub output: Option<String>,
    pub input_tokens: Option<f64>,
    pub output_tokens: Option<f64>,
    pub cost_usd: Option<f64>,
    pub latency_seconds: Option<f64>,
    pub error_type: Option<String>,
    pub attempts: Option<f64>,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
}

fn whole(v: Option<f64>) -> Option<i64> {
    v.filter(|x| x.is_finite()).map(|x| x as i64)
}

fn to_sql(v: &Value) -> std::result::Result<SqlValue, String> {
    Ok(match v {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Integer(*b as i64),
        Value::Number(n) => match n.as_i64() {
            Some(i) => SqlValue::Integer(i),
            None => SqlValue::Real(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => SqlValue::Text(s.clone()),
        Value::Object(o) if o.len() == 1 && o.get("b").is_some_and(Value::is_string) => {
            let digits = o["b"].as_str().unwrap_or_default();
            SqlValue::Integer(
                digits
                    .parse()
                    .map_err(|_| format!("BigInt {digits} does not fit in a 64-bit integer"))?,
            )
        }
        other => return Err(format!("query parameter {other} is not allowed; allowed: null, boolean, number, bigint, string")),
    })
}

fn from_sql(v: SqlValue) -> Value {
    match v {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(i) if (-SAFE..=SAFE).contains(&i) => json!(i),
        SqlValue::Integer(i) => json!({ "b": i.to_string() }),
        SqlValue::Real(f) => json!(f),
        SqlValue::Text(s) => json!(s),
        SqlValue::Blob(b) => {
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            json!({ "x": hex })
        }
    }
}

fn result_json(cols: Vec<String>, rows: Vec<Vec<SqlValue>>) -> String {
    let rows: Vec<Value> = rows
        .into_iter()
        .map(|r| Value::Array(r.into_iter().map(from_sql).collect()))
        .collect();
    json!({ "columns": cols, "rows": rows }).to_string()
}

#[napi]
impl NativeInferenceLog {
    /// Queues one record (masked; content kept only when capture is on). `true`: queued; `false`:
    /// the queue was full and it was dropped (counted); a refusal for a bad outcome.
    #[napi(catch_unwind)]
    pub fn record(&self, r: InferenceRecordInput) -> Either<bool, ConfigError> {
        let rec = InferenceRecord {
            time_unix_ns: 0,
            request_id: r.request_id,
            trace_id: r.trace_id,
            span_id: r.span_id,
            session_id: r.session_id,
            user_id: r.user_id,
            model: r.model,
            provider: r.provider,
            template: r.template,
            parameters: r.parameters,
            input: r.input,
            output: r.output,
            input_tokens: whole(r.input_tokens),
            output_tokens: whole(r.output_tokens),
            cost_usd: r.cost_usd,
            latency_seconds: r.latency_seconds,
            outcome: r.outcome,
            error_type: r.error_type,
            attempts: whole(r.attempts),
        };
        if let Err(e) = InferenceLog::validate(&rec) {
            return Either::B(refusal(&e, &[]));
        }
        let p = Pipeline::global();
        let rec = InferenceLog::prepare(rec, &p.tracer.redactor(), p.tracer.capture_content());
        Either::A(self.inner.record(rec))
    }

    /// `{"columns": [...], "rows": [[...]]}` of a read-only query with `?` parameters (JSON array),
    /// stopped after `timeout_ms` (default 10000).
    #[napi(catch_unwind)]
    pub fn query(
        &self,
        sql: String,
        params_json: String,
        timeout_ms: Option<f64>,
    ) -> Either<String, ConfigError> {
        let timeout_ms = timeout_ms.unwrap_or(10_000.0);
        if !(timeout_ms.is_finite() && timeout_ms > 0.0 && timeout_ms <= 1e12) {
            return Either::B(ConfigError {
                kind: "RangeError".into(),
                code: "FERRULE_INVALID_CONFIG".into(),
                param: "timeoutMs".into(),
                message: format!(
                    "inferenceLog.query: timeoutMs={} is out of range; allowed: a number of ms in (0, 1000000000000]",
                    crate::error::js_number(timeout_ms)
                ),
            });
        }
        let timeout = std::time::Duration::from_secs_f64(timeout_ms / 1000.0);
        let parsed: std::result::Result<Vec<SqlValue>, String> =
            match serde_json::from_str::<Vec<Value>>(&params_json) {
                Ok(v) => v.iter().map(to_sql).collect(),
                Err(e) => Err(format!("query parameters: {e}")),
            };
        let p = match parsed {
            Ok(p) => p,
            Err(m) => {
                return Either::B(ConfigError {
                    kind: "TypeError".into(),
                    code: "FERRULE_INVALID_CONFIG".into(),
                    param: "params".into(),
                    message: format!("inferenceLog.query: {m}"),
                })
            }
        };
        match self.inner.query_within(&sql, &p, timeout) {
            Ok((c, r)) => Either::A(result_json(c, r)),
            Err(e) => Either::B(refusal(&e, &[])),
        }
    }

    /// Records newest first, filtered by model, start time (Unix ms) and outcome.
    #[napi(catch_unwind)]
    pub fn records(
        &self,
        model: Option<String>,
        since_ms: Option<f64>,
        outcome: Option<String>,
        limit: f64,
    ) -> Either<String, ConfigError> {
        let limit = if limit.is_finite() && limit >= 0.0 {
            limit as u64
        } else {
            0
        };
        match self.inner.records(
            model.as_deref(),
            since_ms.map(|ms| ms / 1000.0),
            outcome.as_deref(),
            limit,
        ) {
            Ok((c, r)) => Either::A(result_json(c, r)),
            Err(e) => Either::B(refusal(
                &e,
                &[NodeParam {
                    core: "since",
                    node: "since",
                    millis: false,
                    given: since_ms,
                }],
            )),
        }
    }

    /// Waits up to `timeoutMs` until every queued record is written (blocks: tests, shutdown).
    #[napi(catch_unwind)]
    pub fn flush(&self, timeout_ms: f64) -> bool {
        let ms = if timeout_ms.is_finite() {
            timeout_ms.clamp(0.0, 3_600_000.0)
        } else {
            0.0
        };
        self.inner.flush(Duration::from_secs_f64(ms / 1000.0))
    }

    #[napi(catch_unwind)]
    pub fn close(&self) {
        self.inner.close()
    }

    /// The last problem the writer thread hit, if any (taken).
    #[napi(catch_unwind)]
    pub fn take_error(&self) -> Option<String> {
        self.inner.take_error()
    }

    #[napi(catch_unwind)]
    pub fn path(&self) -> String {
        self.inner.path().to_string_lossy().into_owned()
    }

    #[napi(catch_unwind)]
    pub fn stats(&self) -> InferenceLogStats {
        let s = self.inner.stats();
        InferenceLogStats {
            queued: s.queued as f64,
            dropped: s.dropped as f64,
            written: s.written as f64,
            write_errors: s.write_errors as f64,
            deleted_by_retention: s.deleted_by_retention as f64,
        }
    }
}

#[napi(object)]
pub struct InferenceLogStats {
    pub queued: f64,
    pub dropped: f64,
    pub written: f64,
    pub write_errors: f64,
    pub deleted_by_retention: f64,
}

/// A new UUID v7 request id (for records made outside any span).
#[napi(catch_unwind)]
pub fn new_request_id() -> String {
    ferrule_core::telemetry::ids::new_request_id().to_string()
}
