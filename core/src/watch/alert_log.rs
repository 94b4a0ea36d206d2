//! The structured-log sink: a firing notification is a warning, a resolution or digest is info,
//! through the `log` facade the telemetry logger already bridges.

use super::alert::Status;
use super::alert_sink::AlertSink;
use super::notification::{Kind, Notification};

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
            (_, Kind::Digest { .. }) | (Status::Resolved, _) => log::Level::Info,
            (Status::Firing, _) => log::Level::Warn,
        };
        let labels: Vec<String> = n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        log::log!(
            target: "ferrule.alert",
            level,
            "alert {} [{} {} {}] count={} labels={{{}}}: {}",
            n.name,
            n.severity.as_str(),
            n.status.as_str(),
            n.kind.as_str(),
            n.count,
            labels.join(","),
            n.summary
        );
    }
}
