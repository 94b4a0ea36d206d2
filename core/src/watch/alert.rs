//! The alert: a named condition with a severity, low-cardinality labels, a summary and a dedup
//! fingerprint. Watchers' events, dead man's switches and probes all become alerts, so the router
//! groups, silences and escalates them without knowing where they came from.

use super::event::{Event, EventState, Severity};

/// Firing, or resolved (by its source or by `AlertRouter::resolve`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Firing,
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Firing => "firing",
            Status::Resolved => "resolved",
        }
    }
}

impl From<EventState> for Status {
    fn from(s: EventState) -> Self {
        match s {
            EventState::Firing => Status::Firing,
            EventState::Resolved => Status::Resolved,
        }
    }
}

/// One alert as the router holds it. `labels` are kept sorted by name, so the fingerprint and the
/// group key do not depend on the order a caller wrote them in.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub name: String,
    pub severity: Severity,
    pub labels: Vec<(String, String)>,
    pub summary: String,
    /// Same for every firing and the resolution of one condition.
    pub fingerprint: String,
    pub status: Status,
    /// Clock time the condition started firing, in nanoseconds.
    pub starts_at: u64,
    /// Clock time it resolved (0 while firing).
    pub ends_at: u64,
    /// Raw firings folded into this alert since it started (an alert storm is one alert with a count).
    pub count: u64,
}

impl Alert {
    /// A firing alert; `fingerprint` empty means "derive it from the name and labels".
    pub fn new(
        name: impl Into<String>,
        severity: Severity,
        labels: impl IntoIterator<Item = (String, String)>,
        summary: impl Into<String>,
    ) -> Self {
        let name = name.into();
        let mut labels: Vec<(String, String)> = labels.into_iter().collect();
        labels.sort();
        labels.dedup_by(|a, b| a.0 == b.0);
        let fingerprint = fingerprint(&name, &labels);
        Self {
            name,
            severity,
            labels,
            summary: summary.into(),
            fingerprint,
            status: Status::Firing,
            starts_at: 0,
            ends_at: 0,
            count: 1,
        }
    }

    pub fn with_fingerprint(mut self, fp: impl Into<String>) -> Self {
        let fp = fp.into();
        if !fp.is_empty() {
            self.fingerprint = fp;
        }
        self
    }

    pub fn resolved(mut self) -> Self {
        self.status = Status::Resolved;
        self
    }

    /// A watcher event as an alert: the event's name is the alert name, its source goes in the
    /// `source` label, its dedup key is the fingerprint.
    pub fn from_event(e: &Event) -> Self {
        let mut labels = e.labels.clone();
        if !labels.iter().any(|(k, _)| k == "source") {
            labels.push(("source".into(), e.source.clone()));
        }
        let mut a = Alert::new(e.name, e.severity, labels, e.message.clone())
            .with_fingerprint(e.dedup_key.clone());
        a.status = e.state.into();
        a
    }

    /// The value of label `key`; `alertname` and `severity` are labels too, as in Alertmanager.
    pub fn label(&self, key: &str) -> Option<&str> {
        match key {
            "alertname" => Some(&self.name),
            "severity" => Some(self.severity.as_str()),
            _ => self
                .labels
                .binary_search_by(|(k, _)| k.as_str().cmp(key))
                .ok()
                .map(|i| self.labels[i].1.as_str()),
        }
    }
}

/// `name{k=v,...}` over sorted labels: stable, readable, and what Alertmanager would group on.
pub fn fingerprint(name: &str, sorted_labels: &[(String, String)]) -> String {
    let mut s = String::with_capacity(name.len() + 16 * sorted_labels.len());
    s.push_str(name);
    s.push('{');
    for (i, (k, v)) in sorted_labels.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(k);
        s.push('=');
        s.push_str(v);
    }
    s.push('}');
    s
}
