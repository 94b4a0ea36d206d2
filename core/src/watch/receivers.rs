//! Bodies for hosted alert receivers, each following its service's documented schema:
//! - Slack incoming webhooks: `{"text": ..., "blocks": [...]}` (`text` is the notification
//!   fallback Slack requires; a header and a section block carry the details).
//! - PagerDuty Events API v2 (`POST https://events.pagerduty.com/v2/enqueue`): one event per
//!   alert, `event_action` `trigger` or `resolve`, `dedup_key` `ferrule-<fingerprint>` so a
//!   resolve closes the incident its trigger opened, `payload` with `summary`, `source`,
//!   `severity` (`critical`, `error`, `warning`, `info`), `timestamp`, `custom_details`.
//! - A templated JSON webhook: the user's JSON with `{{placeholders}}` filled from the
//!   notification (see `Template`).

use super::alert::Status;
use super::alertmanager::rfc3339;
use super::event::Severity;
use super::notification::{Kind, Notification};
use serde_json::{json, Map, Value};

pub const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";

fn emoji(n: &Notification) -> &'static str {
    match (n.status, n.severity) {
        (Status::Resolved, _) => ":white_check_mark:",
        (_, Severity::Page | Severity::Critical) => ":rotating_light:",
        (_, Severity::Warning) => ":warning:",
        _ => ":information_source:",
    }
}

/// The Slack incoming-webhook message for a notification.
pub fn slack(n: &Notification) -> Value {
    let status = match n.status {
        Status::Firing => "FIRING",
        Status::Resolved => "RESOLVED",
    };
    let title = format!("[{status}] {} ({})", n.name, n.severity.as_str());
    let text = format!("{} {title}: {}", emoji(n), n.summary);
    let mut lines: Vec<String> = Vec::new();
    for a in n.alerts.iter().take(20) {
        let labels: Vec<String> = a.labels.iter().map(|(k, v)| format!("`{k}={v}`")).collect();
        lines.push(format!(
            "• *{}* {} {} {}",
            a.name,
            a.status.as_str(),
            a.summary,
            labels.join(" ")
        ));
    }
    if n.alerts.len() > 20 {
        lines.push(format!("… and {} more", n.alerts.len() - 20));
    }
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&title, 150)}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&n.summary, 3000)}}),
    ];
    if !lines.is_empty() {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&lines.join("\n"), 3000)}}));
    }
    blocks.push(
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!(
        "ferrule · route `{}` · {} · count {}", n.route, n.kind.as_str(), n.count)}]}),
    );
    json!({"text": text, "blocks": blocks})
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max - 1).collect();
    t.push('…');
    t
}

fn pd_severity(s: Severity) -> &'static str {
    match s {
        Severity::Page | Severity::Critical => "critical",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

/// PagerDuty Events API v2 events, one per alert of the notification (a digest is one `trigger`
/// keyed by its sink, so repeated digests update one incident). `offset` turns clock seconds into
/// Unix seconds; `source` names this process (`service.name`, host).
pub fn pagerduty(n: &Notification, routing_key: &str, source: &str, offset: f64) -> Vec<Value> {
    let wall = |nanos: u64| rfc3339(nanos as f64 / 1e9 + offset);
    if let Kind::Digest { held } = n.kind {
        return vec![json!({
            "routing_key": routing_key,
            "event_action": "trigger",
            "dedup_key": format!("ferrule-digest-{}", n.sink),
            "client": "ferrule",
            "payload": {
                "summary": truncate(&n.summary, 1024),
                "source": source,
                "severity": "info",
                "timestamp": wall(n.at),
                "component": "ferrule",
                "class": "ferrule.digest",
                "custom_details": {"held": held},
            },
        })];
    }
    n.alerts
        .iter()
        .map(|a| {
            let dedup = format!("ferrule-{}", a.fingerprint);
            if a.status == Status::Resolved {
                return json!({
                    "routing_key": routing_key,
                    "event_action": "resolve",
                    "dedup_key": dedup,
                });
            }
            let mut details = Map::new();
            for (k, v) in &a.labels {
                details.insert(k.clone(), json!(v));
            }
            details.insert("count".into(), json!(a.count));
            details.insert("route".into(), json!(n.route));
            details.insert("notification".into(), json!(n.kind.as_str()));
            let mut payload = json!({
                "summary": truncate(&format!("{}: {}", a.name, a.summary), 1024),
                "source": source,
                "severity": pd_severity(a.severity),
                "timestamp": wall(a.starts_at),
                "class": a.name,
                "custom_details": details,
            });
            if let Some(c) = a.label("component").or_else(|| a.label("name")) {
                payload["component"] = json!(c);
            }
            if let Some(g) = a.label("model") {
                payload["group"] = json!(g);
            }
            json!({
                "routing_key": routing_key,
                "event_action": "trigger",
                "dedup_key": dedup,
                "client": "ferrule",
                "payload": payload,
            })
        })
        .collect()
}

/// A user's JSON body with placeholders. A string that is exactly `"{{path}}"` becomes the
/// value at `path` in the notification's JSON (keeping its type: numbers, objects, the `alerts`
/// array); `{{path}}` inside a longer string is replaced by the value's text. Paths are dotted:
/// `name`, `severity`, `status`, `summary`, `count`, `starts_at`, `kind`, `route`, `group_key`,
/// `labels.<label>`, `alerts`, `alerts.0.summary`. An unknown top-level name fails at
/// construction; a label or index the notification lacks becomes `null` / empty text.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    root: Value,
}

const TOP: [&str; 12] = [
    "name",
    "severity",
    "labels",
    "status",
    "summary",
    "starts_at",
    "count",
    "kind",
    "sink",
    "route",
    "group_key",
    "alerts",
];

impl Template {
    /// `Err(why)` for text that is not JSON or a placeholder that names no notification field.
    pub fn parse(text: &str) -> Result<Self, String> {
        let root: Value =
            serde_json::from_str(text).map_err(|e| format!("the template is not JSON ({e})"))?;
        let mut bad = None;
        visit_strings(&root, &mut |s| {
            for p in placeholders(s) {
                let top = p.split('.').next().unwrap_or("");
                if !TOP.contains(&top) && bad.is_none() {
                    bad = Some(p.to_string());
                }
            }
        });
        match bad {
            Some(p) => Err(format!(
                "placeholder {{{{{p}}}}} names no notification field (allowed: {})",
                TOP.join(", ")
            )),
            None => Ok(Self { root }),
        }
    }

    pub fn render(&self, n: &Value) -> Value {
        fill(&self.root, n)
    }
}

fn placeholders(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("{{") {
        let Some(j) = rest[i + 2..].find("}}") else {
            break;
        };
        out.push(rest[i + 2..i + 2 + j].trim());
        rest = &rest[i + 2 + j + 2..];
    }
    out
}

fn visit_strings(v: &Value, f: &mut impl FnMut(&str)) {
    match v {
        Value::String(s) => f(s),
        Value::Array(a) => a.iter().for_each(|x| visit_strings(x, f)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            f(k);
            visit_strings(x, f)
        }),
        _ => {}
    }
}

fn lookup<'a>(n: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(n, |cur, seg| match cur {
        Value::Object(o) => o.get(seg),
        Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn fill_str(s: &str, n: &Value) -> Value {
    let t = s.trim();
    if t.starts_with("{{")
        && t.ends_with("}}")
        && placeholders(t).len() == 1
        && t.matches("{{").count() == 1
    {
        return lookup(n, t[2..t.len() - 2].trim())
            .cloned()
            .unwrap_or(Value::Null);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("{{") {
        let Some(j) = rest[i + 2..].find("}}") else {
            break;
        };
        out.push_str(&rest[..i]);
        out.push_str(&text(lookup(n, rest[i + 2..i + 2 + j].trim())));
        rest = &rest[i + 2 + j + 2..];
    }
    out.push_str(rest);
    Value::String(out)
}

fn fill(v: &Value, n: &Value) -> Value {
    match v {
        Value::String(s) => fill_str(s, n),
        Value::Array(a) => Value::Array(a.iter().map(|x| fill(x, n)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (text(Some(&fill_str(k, n))), fill(x, n)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_keeps_types_for_whole_placeholders_and_text_inside_strings() {
        let t = Template::parse(
            r#"{"title": "{{name}} is {{status}}", "n": "{{count}}", "model": "{{labels.model}}",
                "all": "{{alerts}}", "first": "{{alerts.0.summary}}", "missing": "{{labels.nope}}"}"#,
        )
        .unwrap();
        let n = json!({"name": "slo_burn", "status": "firing", "count": 3,
                       "labels": {"model": "gpt-4o"}, "alerts": [{"summary": "fast burn"}]});
        let out = t.render(&n);
        assert_eq!(out["title"], "slo_burn is firing");
        assert_eq!(out["n"], 3);
        assert_eq!(out["model"], "gpt-4o");
        assert_eq!(out["all"], json!([{"summary": "fast burn"}]));
        assert_eq!(out["first"], "fast burn");
        assert_eq!(out["missing"], Value::Null);
    }

    #[test]
    fn template_rejects_unknown_fields_and_non_json() {
        assert!(Template::parse("{\"a\": \"{{nmae}}\"}")
            .unwrap_err()
            .contains("nmae"));
        assert!(Template::parse("{nope").is_err());
    }
}
