//! OTLP log records from structured events. The logger hands the worker each written event's
//! masked JSON line with its time, level and trace/span ids (one bounded queue, dropping and
//! counting when full, like spans); the export thread, not the caller, turns the line into an
//! OTLP `LogRecord`: severity, body (the message, else the event name), trace and span ids in their
//! own fields, and every other member as an attribute (`event` as `event.name`).

use crate::telemetry::ids::{SpanId, TraceId};
use crate::telemetry::log_event::Level;
use crate::telemetry::ring_buffer::BoundedRing;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::resource::v1::Resource;

/// One written event, as the logger produced it (already masked and deduplicated).
#[derive(Debug, Clone)]
pub struct ExportedLog {
    pub time_unix_ns: u64,
    pub level: Level,
    pub trace_id: Option<TraceId>,
    pub span_id: Option<SpanId>,
    /// The JSON line, without its trailing newline.
    pub line: String,
}

pub type LogQueue = BoundedRing<ExportedLog>;

pub fn severity(level: Level) -> SeverityNumber {
    match level {
        Level::Debug => SeverityNumber::Debug,
        Level::Info => SeverityNumber::Info,
        Level::Warning => SeverityNumber::Warn,
        Level::Error => SeverityNumber::Error,
    }
}

fn any(v: &serde_json::Value) -> AnyValue {
    use any_value::Value as V;
    let value = match v {
        serde_json::Value::String(s) => V::StringValue(s.clone()),
        serde_json::Value::Bool(b) => V::BoolValue(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => V::IntValue(i),
            None => V::DoubleValue(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::Array(a) => {
            V::ArrayValue(opentelemetry_proto::tonic::common::v1::ArrayValue {
                values: a.iter().map(any).collect(),
            })
        }
        other => V::StringValue(other.to_string()),
    };
    AnyValue { value: Some(value) }
}

fn kv(key: &str, v: AnyValue) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(v),
        ..Default::default()
    }
}

pub fn record(l: &ExportedLog) -> LogRecord {
    let parsed: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&l.line).unwrap_or_default();
    let mut body = None;
    let mut event = None;
    let mut attributes = Vec::with_capacity(parsed.len());
    for (k, v) in &parsed {
        match k.as_str() {
            // carried by the record's own fields or the resource
            "time" | "level" | "trace_id" | "span_id" | "service" => {}
            "message" => body = Some(any(v)),
            "event" => {
                event = v.as_str().map(str::to_string);
                attributes.push(kv("event.name", any(v)));
            }
            _ => attributes.push(kv(k, any(v))),
        }
    }
    let body = body.or_else(|| {
        event.clone().map(|e| AnyValue {
            value: Some(any_value::Value::StringValue(e)),
        })
    });
    LogRecord {
        time_unix_nano: l.time_unix_ns,
        observed_time_unix_nano: l.time_unix_ns,
        severity_number: severity(l.level) as i32,
        severity_text: l.level.as_str().to_uppercase(),
        body,
        attributes,
        flags: if l.trace_id.is_some() { 1 } else { 0 },
        trace_id: l
            .trace_id
            .map(|t| t.to_bytes().to_vec())
            .unwrap_or_default(),
        span_id: l.span_id.map(|s| s.to_bytes().to_vec()).unwrap_or_default(),
        event_name: event.unwrap_or_default(),
        ..Default::default()
    }
}

/// The `ExportLogsServiceRequest` for a batch.
pub fn encode(batch: &[ExportedLog], service_name: &str) -> ExportLogsServiceRequest {
    let str_kv = |k: &str, v: &str| {
        kv(
            k,
            AnyValue {
                value: Some(any_value::Value::StringValue(v.to_string())),
            },
        )
    };
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![
                    str_kv("service.name", service_name),
                    str_kv("telemetry.sdk.name", "ferrule"),
                ],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "ferrule".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..Default::default()
                }),
                log_records: batch.iter().map(record).collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_becomes_a_record_with_ids_severity_body_and_attributes() {
        let l = ExportedLog {
            time_unix_ns: 1_700_000_000_000_000_000,
            level: Level::Warning,
            trace_id: Some(TraceId(0x4bf92f3577b34da6a3ce929d0e0e4736)),
            span_id: Some(SpanId(0x00f067aa0ba902b7)),
            line: r#"{"time":"x","level":"warning","event":"retry.attempt","service":"svc","message":"503","trace_id":"4bf9","attempt":2,"latency_seconds":0.5,"tags":["a"]}"#.into(),
        };
        let r = record(&l);
        assert_eq!(r.severity_number, SeverityNumber::Warn as i32);
        assert_eq!(r.severity_text, "WARNING");
        assert_eq!(r.trace_id.len(), 16);
        assert_eq!(r.span_id, 0x00f067aa0ba902b7u64.to_be_bytes().to_vec());
        assert_eq!(r.event_name, "retry.attempt");
        assert_eq!(
            r.body.unwrap().value,
            Some(any_value::Value::StringValue("503".into()))
        );
        let keys: Vec<&str> = r.attributes.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(keys, ["event.name", "attempt", "latency_seconds", "tags"]);
        assert_eq!(
            r.attributes[1].value.as_ref().unwrap().value,
            Some(any_value::Value::IntValue(2))
        );
    }
}
