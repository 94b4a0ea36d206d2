//! The structured-log sink: a firing notification is a warning, a resolution or digest is info,
//! written as one `alert.notification` event through ferrule's own logger, so it lands in the
//! configured log sink (file, stdout, Python `logging`, a callback) as a JSON line, masked.

use super::alert::Status;
use super::alert_sink::AlertSink;
use super::notification::{Kind, Notification};
use crate::telemetry::log_event::{FieldValue, Level, LogEvent};

pub struct LogSink {
    name: String,
}

impl LogSink {
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into() }
    }
}

impl AlertSink for LogSink {
    fn name(&self) -> &str {
        &self.name
    }
    fn deliver(&self, n: &Notification) {
        let level = match (n.status, n.kind) {
            (_, Kind::Digest { .. }) | (Status::Resolved, _) => Level::Info,
            (Status::Firing, _) => Level::Warning,
        };
        let labels: Vec<String> = n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let ev = LogEvent::new(level, "alert.notification")
            .message(n.summary.clone())
            .field("alert", FieldValue::Str(n.name.clone()))
            .field("severity", FieldValue::Str(n.severity.as_str().into()))
            .field("status", FieldValue::Str(n.status.as_str().into()))
            .field("kind", FieldValue::Str(n.kind.as_str().into()))
            .field(
                "count",
                FieldValue::Int(n.count.min(i64::MAX as u64) as i64),
            )
            .field("labels", FieldValue::Str(labels.join(",")))
            .field("route", FieldValue::Str(n.route.clone()));
        crate::telemetry::pipeline::Pipeline::global().emit(&ev);
    }
}
