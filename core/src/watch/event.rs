//! The one event type every watcher emits: a named condition that starts firing or resolves, with a
//! severity, labels and a dedup key, so the alert router can group, route and silence it
//! without knowing which watcher produced it.

use std::fmt;

/// How urgent a condition is. SLO "page" rules emit `Critical`, "ticket" rules `Warning`; `Page`
/// is for what must wake someone (a dead man's switch, an escalation's last level).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warning,
    Critical,
    Page,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
            Severity::Page => "page",
        }
    }

    /// The four alert severities by their own names: `info`, `warning`, `critical`, `page`.
    pub fn parse_alert(
        component: &'static str,
        param: &'static str,
        s: &str,
    ) -> crate::Result<Self> {
        match s {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "critical" => Ok(Severity::Critical),
            "page" => Ok(Severity::Page),
            _ => Err(crate::Error::out_of_range(
                component,
                param,
                format!("{s:?}"),
                "\"info\", \"warning\", \"critical\", \"page\"",
            )),
        }
    }

    pub fn parse(component: &'static str, param: &'static str, s: &str) -> crate::Result<Self> {
        match s {
            "info" => Ok(Severity::Info),
            "warning" | "ticket" => Ok(Severity::Warning),
            "critical" | "page" => Ok(Severity::Critical),
            _ => Err(crate::Error::out_of_range(
                component,
                param,
                format!("{s:?}"),
                "\"info\", \"warning\" (or \"ticket\"), \"critical\" (or \"page\")",
            )),
        }
    }
}

/// Firing starts a condition; resolved ends the one with the same dedup key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventState {
    Firing,
    Resolved,
}

impl EventState {
    pub fn as_str(self) -> &'static str {
        match self {
            EventState::Firing => "firing",
            EventState::Resolved => "resolved",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// What kind of condition: `slo.burn_rate` (page or ticket), `slo.budget_exhausted`,
    /// `anomaly.ewma`, `anomaly.mad`, `drift.output`, `predict.error_rate`.
    pub name: &'static str,
    /// The watcher's own name (the SLO's name, the detector's name).
    pub source: String,
    pub severity: Severity,
    pub state: EventState,
    /// Low-cardinality labels only (metric, model, template, window); never ids.
    pub labels: Vec<(String, String)>,
    /// Same key for the firing and the resolved event of one condition.
    pub dedup_key: String,
    /// The value that crossed the threshold (burn rate, z-score, p-value, probability...).
    pub value: f64,
    pub threshold: f64,
    pub message: String,
    /// Clock time of the observation that changed the state, in nanoseconds.
    pub at_nanos: u64,
}

impl Event {
    /// Builds the dedup key from the name, the source and the label values, in label order.
    pub fn key(name: &str, source: &str, labels: &[(String, String)]) -> String {
        let mut k = String::with_capacity(64);
        k.push_str(name);
        k.push(':');
        k.push_str(source);
        for (_, v) in labels {
            k.push(':');
            k.push_str(v);
        }
        k
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{} {}] {} {}: {}",
            self.severity.as_str(),
            self.state.as_str(),
            self.name,
            self.source,
            self.message
        )
    }
}
