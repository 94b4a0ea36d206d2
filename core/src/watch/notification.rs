//! What the router hands a sink: one notification per group flush (or escalation, or digest),
//! summarised as one alert-like record (`name`, `severity`, `labels`, `status`, `summary`,
//! `starts_at`, `count`) with the alerts it covers attached.

use super::alert::{Alert, Status};
use super::event::Severity;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The group's first notification, or one after a change (new alerts, resolutions).
    Group,
    /// Nothing changed, the group still fires: re-sent after `repeat_interval`.
    Repeat,
    /// Not acknowledged in time: sent to the next level of the route's escalation chain.
    Escalation { level: u32 },
    /// The sink's cap held notifications back; this says how many.
    Digest { held: u64 },
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Group => "group",
            Kind::Repeat => "repeat",
            Kind::Escalation { .. } => "escalation",
            Kind::Digest { .. } => "digest",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub sink: String,
    pub route: String,
    pub group_key: String,
    pub kind: Kind,
    /// The alert name shared by the group (or `ferrule.digest`).
    pub name: String,
    /// The highest severity among the alerts.
    pub severity: Severity,
    /// The labels every alert of the group shares (the group labels).
    pub labels: Vec<(String, String)>,
    /// Firing when any alert in it fires.
    pub status: Status,
    pub summary: String,
    /// Earliest start among the alerts, clock nanoseconds.
    pub starts_at: u64,
    /// Raw firings folded into the notified alerts (or, for a digest, notifications held back).
    pub count: u64,
    /// Clock time the notification was made.
    pub at: u64,
    pub alerts: Vec<Alert>,
}

impl Notification {
    pub(crate) fn from_alerts(
        sink: &str,
        route: &str,
        group_key: &str,
        kind: Kind,
        alerts: Vec<Alert>,
        now: u64,
    ) -> Self {
        let severity = alerts
            .iter()
            .map(|a| a.severity)
            .max()
            .unwrap_or(Severity::Info);
        let status = if alerts.iter().any(|a| a.status == Status::Firing) {
            Status::Firing
        } else {
            Status::Resolved
        };
        let labels = match alerts.split_first() {
            None => Vec::new(),
            Some((first, rest)) => first
                .labels
                .iter()
                .filter(|(k, v)| rest.iter().all(|a| a.label(k) == Some(v.as_str())))
                .cloned()
                .collect(),
        };
        let name = match alerts.split_first() {
            Some((first, rest)) if rest.iter().all(|a| a.name == first.name) => first.name.clone(),
            Some(_) => "ferrule.group".to_string(),
            None => String::new(),
        };
        let firing = alerts.iter().filter(|a| a.status == Status::Firing).count();
        let summary = match (alerts.len(), kind) {
            (1, Kind::Escalation { level }) => {
                format!("escalated to level {level}: {}", alerts[0].summary)
            }
            (1, _) => alerts[0].summary.clone(),
            (n, _) => format!(
                "{n} alerts ({firing} firing, {} resolved): {}",
                n - firing,
                alerts[0].summary
            ),
        };
        Self {
            sink: sink.to_string(),
            route: route.to_string(),
            group_key: group_key.to_string(),
            kind,
            name,
            severity,
            labels,
            status,
            summary,
            starts_at: alerts.iter().map(|a| a.starts_at).min().unwrap_or(now),
            count: alerts.iter().map(|a| a.count).sum(),
            at: now,
            alerts,
        }
    }

    /// Masks every text a caller or a detector may have filled with user data (label values,
    /// summaries, the group key, each alert's fingerprint, which is built from its label values or
    /// given by the caller) with the configured redactor, before any sink (callback,
    /// webhook, Alertmanager, log) sees it.
    pub(crate) fn masked(mut self) -> Self {
        let r = crate::telemetry::pipeline::Pipeline::global()
            .tracer
            .redactor();
        let m = |s: &mut String| {
            if let std::borrow::Cow::Owned(v) = r.redact(s) {
                *s = v;
            }
        };
        for (_, v) in self.labels.iter_mut() {
            m(v);
        }
        m(&mut self.summary);
        m(&mut self.group_key);
        for a in self.alerts.iter_mut() {
            for (_, v) in a.labels.iter_mut() {
                m(v);
            }
            m(&mut a.summary);
            m(&mut a.fingerprint);
        }
        self
    }

    pub(crate) fn digest(sink: &str, held: u64, now: u64) -> Self {
        Self {
            sink: sink.to_string(),
            route: String::new(),
            group_key: String::new(),
            kind: Kind::Digest { held },
            name: "ferrule.digest".into(),
            severity: Severity::Info,
            labels: vec![("sink".into(), sink.to_string())],
            status: Status::Firing,
            summary: format!("{held} notifications held back by the cap on sink {sink:?}"),
            starts_at: now,
            count: held,
            at: now,
            alerts: Vec::new(),
        }
    }

    /// The JSON a webhook receives (and what hosts turn into their dict/object).
    pub fn to_json(&self, wall_offset_secs: f64) -> serde_json::Value {
        let secs = |n: u64| n as f64 / 1e9 + wall_offset_secs;
        let labels = |ls: &[(String, String)]| {
            serde_json::Value::Object(
                ls.iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect(),
            )
        };
        serde_json::json!({
            "name": self.name,
            "severity": self.severity.as_str(),
            "labels": labels(&self.labels),
            "status": self.status.as_str(),
            "summary": self.summary,
            "starts_at": secs(self.starts_at),
            "count": self.count,
            "kind": self.kind.as_str(),
            "sink": self.sink,
            "route": self.route,
            "group_key": self.group_key,
            "alerts": self.alerts.iter().map(|a| serde_json::json!({
                "name": a.name,
                "severity": a.severity.as_str(),
                "labels": labels(&a.labels),
                "status": a.status.as_str(),
                "summary": a.summary,
                "fingerprint": a.fingerprint,
                "starts_at": secs(a.starts_at),
                "count": a.count,
            })).collect::<Vec<_>>(),
        })
    }
}
