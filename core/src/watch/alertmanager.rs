//! The Prometheus Alertmanager sink: notifications become `POST /api/v2/alerts` arrays, each alert
//! with its labels (`alertname`, `severity` and the alert's own), a `summary` annotation,
//! `startsAt`, and `endsAt` once resolved, which is how Alertmanager learns of a resolution.
//! Delivery (queue, retries, drops) is the webhook sink's.

use super::alert::Status;
use super::notification::{Kind, Notification};
use super::webhook::{Body, WebhookConfig, WebhookSink};
use crate::error::Result;
use serde_json::{json, Map, Value};

/// A sink posting to the Alertmanager at `base_url` (`http://host:port`).
pub fn sink(name: impl Into<String>, base_url: &str) -> Result<WebhookSink> {
    let url = format!("{}/api/v2/alerts", base_url.trim_end_matches('/'));
    WebhookSink::new(name, WebhookConfig::new(url), Body::Alertmanager)
}

/// Unix seconds as RFC 3339 UTC (`2026-11-30T17:05:00.123Z`).
pub fn rfc3339(unix: f64) -> String {
    let secs = unix.floor() as i64;
    let millis = ((unix - secs as f64) * 1000.0).round().min(999.0) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// The `/api/v2/alerts` body for one notification. `offset` turns clock seconds into Unix seconds.
pub fn encode(n: &Notification, offset: f64) -> String {
    let wall = |nanos: u64| rfc3339(nanos as f64 / 1e9 + offset);
    let mut out: Vec<Value> = Vec::new();
    if let Kind::Digest { held } = n.kind {
        let mut labels = Map::new();
        labels.insert("alertname".into(), json!(n.name));
        labels.insert("severity".into(), json!(n.severity.as_str()));
        for (k, v) in &n.labels {
            labels.insert(k.clone(), json!(v));
        }
        out.push(json!({
            "labels": labels,
            "annotations": {"summary": n.summary, "held": held.to_string()},
            "startsAt": wall(n.at),
            "endsAt": wall(n.at + 60_000_000_000),
        }));
    }
    for a in &n.alerts {
        let mut labels = Map::new();
        labels.insert("alertname".into(), json!(a.name));
        labels.insert("severity".into(), json!(a.severity.as_str()));
        for (k, v) in &a.labels {
            labels.insert(k.clone(), json!(v));
        }
        let mut alert = json!({
            "labels": labels,
            "annotations": {"summary": a.summary, "count": a.count.to_string()},
            "startsAt": wall(a.starts_at),
        });
        if a.status == Status::Resolved {
            alert["endsAt"] = json!(wall(a.ends_at.max(a.starts_at)));
        }
        out.push(alert);
    }
    Value::Array(out).to_string()
}
