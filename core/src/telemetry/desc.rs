//! What a metric family is (name, help, kind, label names) and the naming rules every family obeys:
//! Prometheus-legal names, no reserved labels, and no high-cardinality ids (trace, session, request)
//! as labels: those ride on spans, logs and exemplars, never on series.

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// Label names refused on any metric: each value would make its own series, without bound.
pub const HIGH_CARDINALITY_LABELS: &[&str] = &[
    "trace_id",
    "span_id",
    "session_id",
    "request_id",
    "conversation_id",
    "user_id",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desc {
    /// The family name as exported (for counters, without the `_total` suffix samples carry).
    pub name: String,
    pub help: String,
    pub kind: Kind,
    pub label_names: Box<[String]>,
}

fn is_name(s: &str, colon: bool) -> bool {
    let mut chars = s.chars();
    let ok_first = |c: char| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':');
    match chars.next() {
        Some(c) if ok_first(c) => chars.all(|c| ok_first(c) || c.is_ascii_digit()),
        _ => false,
    }
}

impl Desc {
    pub fn new(
        component: &'static str,
        name: &str,
        help: &str,
        kind: Kind,
        labels: &[&str],
    ) -> Result<Self> {
        if !is_name(name, true) {
            return Err(Error::out_of_range(
                component,
                "name",
                format!("{name:?}"),
                "a Prometheus metric name: [a-zA-Z_:][a-zA-Z0-9_:]*",
            ));
        }
        let base = match kind {
            Kind::Counter => name.strip_suffix("_total").unwrap_or(name),
            _ => name,
        };
        if base.is_empty() {
            return Err(Error::out_of_range(
                component,
                "name",
                format!("{name:?}"),
                "a name before _total",
            ));
        }
        if help.trim().is_empty() {
            return Err(Error::conflict(
                component,
                "help",
                format!("{help:?}"),
                "a metric needs a HELP description (Prometheus lints a metric without one)",
            ));
        }
        let mut seen: Vec<&str> = Vec::with_capacity(labels.len());
        for &l in labels {
            if !is_name(l, false) || l.starts_with("__") {
                return Err(Error::out_of_range(
                    component,
                    "labels",
                    format!("{l:?}"),
                    "label names matching [a-zA-Z_][a-zA-Z0-9_]*, not starting with __",
                ));
            }
            if l == "le" || l == "quantile" {
                return Err(Error::conflict(
                    component,
                    "labels",
                    format!("{l:?}"),
                    "le and quantile are reserved by the exposition format",
                ));
            }
            if HIGH_CARDINALITY_LABELS.contains(&l) {
                return Err(Error::conflict(
                    component,
                    "labels",
                    format!("{l:?}"),
                    "ids of traces, sessions, requests and users never become labels (one series each); attach them as exemplars or span attributes",
                ));
            }
            if seen.contains(&l) {
                return Err(Error::conflict(
                    component,
                    "labels",
                    format!("{l:?}"),
                    "label names must be unique",
                ));
            }
            seen.push(l);
        }
        if labels.len() > 16 {
            return Err(Error::out_of_range(
                component,
                "labels",
                labels.len(),
                "at most 16 label names",
            ));
        }
        Ok(Self {
            name: base.to_string(),
            help: help.to_string(),
            kind,
            label_names: labels.iter().map(|s| s.to_string()).collect(),
        })
    }
}
