//! One way for the bindings to describe an HTTP alert receiver: a kind (`webhook`,
//! `alertmanager`, `slack`, `pagerduty`, `json_webhook`) and a target that is either a URL or a
//! JSON object with `url`, `headers`, `ca_file`, `client_cert_file`, `client_key_file`, and per
//! kind `routing_key` + `source` (PagerDuty; `url` defaults to the Events API v2 endpoint) or
//! `template` (the templated webhook). Both bindings pass this through, so the rules and their
//! error messages exist once.

use super::receivers::{Template, PAGERDUTY_URL};
use super::webhook::{Body, WebhookConfig, WebhookSink};
use crate::error::{Error, Result};
use serde_json::Value;

const C: &str = "AlertRouter";

pub const KINDS: [&str; 5] = [
    "webhook",
    "alertmanager",
    "slack",
    "pagerduty",
    "json_webhook",
];

fn field<'a>(spec: &'a Value, key: &str) -> Option<&'a str> {
    spec.get(key).and_then(Value::as_str)
}

/// A sink for `kind` from `target`; `base` carries the router-wide retry/timeout settings.
pub fn build(name: &str, kind: &str, target: &str, base: &WebhookConfig) -> Result<WebhookSink> {
    let spec: Value = if target.trim_start().starts_with('{') {
        serde_json::from_str(target).map_err(|e| {
            Error::out_of_range(
                C,
                "sinks",
                target.to_string(),
                format!("a URL or a JSON object ({e})"),
            )
        })?
    } else {
        serde_json::json!({ "url": target })
    };
    let mut cfg = base.clone();
    cfg.url = match (field(&spec, "url"), kind) {
        (Some(u), "alertmanager") => format!("{}/api/v2/alerts", u.trim_end_matches('/')),
        (Some(u), _) => u.to_string(),
        (None, "pagerduty") => PAGERDUTY_URL.to_string(),
        (None, _) => {
            return Err(Error::out_of_range(
                C,
                "url",
                "None",
                "an http:// or https:// URL",
            ))
        }
    };
    if let Some(h) = spec.get("headers").and_then(Value::as_object) {
        cfg.headers = h
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().map_or_else(|| v.to_string(), str::to_string),
                )
            })
            .collect();
    }
    cfg.tls.ca_file = field(&spec, "ca_file").map(Into::into);
    cfg.tls.client_cert_file = field(&spec, "client_cert_file").map(Into::into);
    cfg.tls.client_key_file = field(&spec, "client_key_file").map(Into::into);
    let body = match kind {
        "webhook" => Body::Json,
        "alertmanager" => Body::Alertmanager,
        "slack" => Body::Slack,
        "pagerduty" => Body::PagerDuty {
            routing_key: field(&spec, "routing_key").unwrap_or("").to_string(),
            source: field(&spec, "source")
                .map(str::to_string)
                .unwrap_or_else(default_source),
        },
        "json_webhook" => {
            let text = match spec.get("template") {
                Some(Value::String(s)) => s.clone(),
                Some(v @ Value::Object(_)) | Some(v @ Value::Array(_)) => v.to_string(),
                _ => {
                    return Err(Error::out_of_range(
                        C,
                        "template",
                        "None",
                        "a JSON object (or its text) with {{placeholders}}",
                    ))
                }
            };
            Body::Template(
                Template::parse(&text)
                    .map_err(|why| Error::out_of_range(C, "template", text.clone(), why))?,
            )
        }
        k => {
            return Err(Error::out_of_range(
                C,
                "sinks",
                format!("{k:?}"),
                format!("one of {}", KINDS.join(", ")),
            ))
        }
    };
    WebhookSink::new(name, cfg, body)
}

/// `service.name@host`, what PagerDuty shows as the incident's source.
fn default_source() -> String {
    let service = crate::telemetry::pipeline::Pipeline::global().service_name();
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| {
        std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "localhost".into())
    });
    format!("{service}@{host}")
}
