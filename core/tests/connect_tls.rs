//! TLS for every outbound connection, against local HTTPS receivers with a CA the test makes:
//! OTLP traces, logs and metrics over HTTPS with headers and gzip (decoded as a collector would),
//! mutual TLS, a CA that does not verify (a clear error, counted, reported once), and the Slack,
//! PagerDuty and templated alert receivers, whose payloads are checked against their documented
//! shapes, resolve included.

mod tls_server;

use ferrule_core::net::{FailureKind, HttpTarget, TlsFiles};
use ferrule_core::telemetry::log_event::{Level, LogEvent};
use ferrule_core::telemetry::log_sink::LogSink;
use ferrule_core::telemetry::otlp::{OtlpConfig, OtlpPusher};
use ferrule_core::telemetry::pipeline::{Pipeline, Settings};
use ferrule_core::telemetry::span::{SpanRole, Status};
use ferrule_core::watch::alert::Alert;
use ferrule_core::watch::alert_sink::AlertSink;
use ferrule_core::watch::event::Severity;
use ferrule_core::watch::notification::{Kind, Notification};
use ferrule_core::watch::receivers::Template;
use ferrule_core::watch::webhook::{Body, WebhookConfig, WebhookSink};
use ferrule_core::{ClockRef, Registry};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tls_server::{start, Pki, Request};

const WAIT: Duration = Duration::from_secs(10);

fn tls(pki: &Pki, client: bool) -> TlsFiles {
    TlsFiles {
        ca_file: Some(pki.ca.clone()),
        client_cert_file: client.then(|| pki.client_cert.clone()),
        client_key_file: client.then(|| pki.client_key.clone()),
    }
}

fn collect_lines() -> (LogSink, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let l2 = lines.clone();
    (
        LogSink::Callback(Arc::new(move |_, s| {
            l2.lock().unwrap().push(s.to_string());
            Ok(())
        })),
        lines,
    )
}

#[test]
fn traces_and_logs_reach_an_https_collector_with_headers_and_gzip() {
    let pki = Pki::new("otlp");
    let (url, rx, _) = start(&pki, false, 200);
    let (sink, _) = collect_lines();
    let p = Pipeline::new(ClockRef::System, 16, 256, sink);
    p.configure(Settings {
        service_name: Some("checkout".into()),
        otlp_endpoint: Some(Some(url.clone())),
        otlp_headers: Some(vec![("x-api-key".into(), "s3cret".into())]),
        otlp_compression: Some(ferrule_core::net::Compression::Gzip),
        otlp_tls: Some(tls(&pki, false)),
        otlp_logs: Some(true),
        ..Default::default()
    })
    .unwrap();
    let call = p.tracer.start(None);
    let attempt = p.tracer.start(Some(&call));
    p.end_span(
        &attempt,
        "attempt".into(),
        SpanRole::Attempt,
        Status::Ok,
        vec![],
        None,
    );
    p.end_span(
        &call,
        "chat gpt-4o".into(),
        SpanRole::Call,
        Status::Ok,
        vec![],
        None,
    );
    let mut ev = LogEvent::new(Level::Warning, "retry.attempt").message("503 from upstream");
    ev.trace_id = Some(call.trace_id);
    ev.span_id = Some(attempt.span_id);
    ev.attempt = Some(2);
    assert!(p.log(&ev));
    assert!(p.flush(WAIT));

    let mut got: Vec<Request> = Vec::new();
    while got.len() < 2 {
        got.push(
            rx.recv_timeout(WAIT)
                .expect("the collector got both signals"),
        );
    }
    got.sort_by(|a, b| a.path.cmp(&b.path));
    let (logs, traces) = (&got[0], &got[1]);
    assert_eq!(traces.path, "/v1/traces");
    assert_eq!(logs.path, "/v1/logs");
    for r in &got {
        assert!(r.gzipped, "{:?}", r.headers);
        assert_eq!(r.header("x-api-key"), Some("s3cret"));
        assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
    }
    let t = ExportTraceServiceRequest::decode(&traces.body[..]).unwrap();
    let spans: Vec<_> = t.resource_spans[0].scope_spans[0].spans.iter().collect();
    assert_eq!(spans.len(), 2);
    let c = spans.iter().find(|s| s.name == "chat gpt-4o").unwrap();
    let a = spans.iter().find(|s| s.name == "attempt").unwrap();
    assert_eq!(a.parent_span_id, c.span_id);
    assert_eq!(c.trace_id, call.trace_id.to_bytes().to_vec());
    let res = t.resource_spans[0].resource.as_ref().unwrap();
    assert!(res
        .attributes
        .iter()
        .any(|kv| kv.key == "service.name" && format!("{:?}", kv.value).contains("checkout")));

    let l = ExportLogsServiceRequest::decode(&logs.body[..]).unwrap();
    let recs = &l.resource_logs[0].scope_logs[0].log_records;
    let r = recs
        .iter()
        .find(|r| r.event_name == "retry.attempt")
        .unwrap();
    assert_eq!(r.severity_text, "WARNING");
    assert_eq!(r.severity_number, 13);
    assert_eq!(r.trace_id, call.trace_id.to_bytes().to_vec());
    assert_eq!(r.span_id, attempt.span_id.to_bytes().to_vec());
    assert!(format!("{:?}", r.body).contains("503 from upstream"));
    assert!(r.attributes.iter().any(|kv| kv.key == "attempt"));
    let st = p.stats();
    assert_eq!(st.exported_spans, 2);
    assert!(st.exported_logs >= 1);
    p.configure(Settings {
        otlp_endpoint: Some(None),
        otlp_logs: Some(false),
        ..Default::default()
    })
    .unwrap();
}

#[test]
fn metrics_push_over_https_with_headers_and_gzip() {
    let pki = Pki::new("metrics");
    let (url, rx, _) = start(&pki, false, 200);
    let r: &'static Registry = Box::leak(Box::new(Registry::new()));
    r.counter("app_calls_total", "Calls.", &["model"])
        .unwrap()
        .labels(&["gpt-4o"])
        .unwrap()
        .add(5);
    let mut cfg = OtlpConfig::new(Some(&url)).unwrap();
    cfg.headers = vec![("authorization".into(), "Bearer t0k".into())];
    cfg.compression = ferrule_core::net::Compression::Gzip;
    cfg.tls = tls(&pki, false);
    let mut pusher = OtlpPusher::start(r, cfg).unwrap();
    assert!(pusher.push_now());
    let req = rx.recv_timeout(WAIT).unwrap();
    assert_eq!(req.path, "/v1/metrics");
    assert!(req.gzipped);
    assert_eq!(req.header("authorization"), Some("Bearer t0k"));
    let m = ExportMetricsServiceRequest::decode(&req.body[..]).unwrap();
    let names: Vec<&str> = m.resource_metrics[0].scope_metrics[0]
        .metrics
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert!(names.contains(&"app_calls"), "{names:?}");
    pusher.stop();
}

#[test]
fn mutual_tls_needs_the_client_certificate() {
    let pki = Pki::new("mtls");
    let (url, rx, failed) = start(&pki, true, 200);
    let mut with = HttpTarget::new(format!("{url}/v1/traces"));
    with.tls = tls(&pki, true);
    let client = with.client().unwrap();
    assert_eq!(with.post(&client, "application/x-protobuf", b"x"), Ok(200));
    assert_eq!(rx.recv_timeout(WAIT).unwrap().body, b"x");

    let mut without = HttpTarget::new(format!("{url}/v1/traces"));
    without.tls = tls(&pki, false);
    let client = without.client().unwrap();
    let f = without
        .post(&client, "application/x-protobuf", b"x")
        .unwrap_err();
    assert!(
        matches!(f.kind, FailureKind::Tls | FailureKind::Network),
        "{f:?}"
    );
    assert!(!f.kind.retryable() || f.kind == FailureKind::Network);
    // The server saw a handshake without a certificate and refused it.
    assert!(failed.recv_timeout(WAIT).is_ok());
    assert!(rx.try_recv().is_err());
}

#[test]
fn a_certificate_from_an_untrusted_ca_is_a_counted_tls_error_reported_once() {
    let pki = Pki::new("wrongca");
    let (url, rx, _) = start(&pki, false, 200);
    // A bad CA path fails at configure, naming the parameter.
    let (sink, lines) = collect_lines();
    let p = Pipeline::new(ClockRef::System, 16, 256, sink);
    let e = p
        .configure(Settings {
            otlp_endpoint: Some(Some(url.clone())),
            otlp_tls: Some(TlsFiles {
                ca_file: Some("/nonexistent/ca.pem".into()),
                ..Default::default()
            }),
            ..Default::default()
        })
        .unwrap_err();
    assert!(e.to_string().contains("ca_file"), "{e}");

    p.configure(Settings {
        otlp_endpoint: Some(Some(url.clone())),
        otlp_tls: Some(TlsFiles {
            ca_file: Some(pki.other_ca.clone()),
            ..Default::default()
        }),
        ..Default::default()
    })
    .unwrap();
    let before = ferrule_core::metrics_text(ferrule_core::MetricsFormat::Prometheus);
    for _ in 0..3 {
        let s = p.tracer.start(None);
        p.end_span(&s, "x".into(), SpanRole::Call, Status::Ok, vec![], None);
        assert!(p.flush(WAIT));
    }
    let st = p.stats();
    assert_eq!(st.export_failed_spans, 3);
    assert_eq!(st.exported_spans, 0);
    // A TLS failure is not retried: a certificate does not fix itself in a second.
    assert_eq!(st.export_retries, 0);
    assert!(rx.try_recv().is_err());
    let warned: Vec<String> = lines
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("telemetry.export_failed"))
        .cloned()
        .collect();
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(
        warned[0].contains("does not verify") && warned[0].contains("UnknownIssuer"),
        "{}",
        warned[0]
    );
    let after = ferrule_core::metrics_text(ferrule_core::MetricsFormat::Prometheus);
    let count = |text: &str, series: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(series))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let tls_series =
        "ferrule_errors_total{component=\"connect\",name=\"otlp_traces\",error_type=\"tls\"}";
    assert_eq!(count(&after, tls_series) - count(&before, tls_series), 3.0);
    let dropped = "ferrule_telemetry_dropped_total{kind=\"otlp_traces\"}";
    assert_eq!(count(&after, dropped) - count(&before, dropped), 3.0);
    p.configure(Settings {
        otlp_endpoint: Some(None),
        ..Default::default()
    })
    .unwrap();
}

fn alert(name: &str, fp: &str, firing: bool) -> Alert {
    let a = Alert::new(
        name,
        Severity::Critical,
        vec![
            ("model".into(), "gpt-4o".into()),
            ("name".into(), "openai".into()),
        ],
        "error rate 35% over 5m",
    )
    .with_fingerprint(fp);
    if firing {
        a
    } else {
        a.resolved()
    }
}

fn notification(alerts: Vec<Alert>) -> Notification {
    let firing = alerts
        .iter()
        .any(|a| a.status == ferrule_core::watch::alert::Status::Firing);
    Notification {
        sink: "s".into(),
        route: "oncall".into(),
        group_key: "g".into(),
        kind: Kind::Group,
        name: alerts[0].name.clone(),
        severity: Severity::Critical,
        labels: vec![("model".into(), "gpt-4o".into())],
        status: if firing {
            ferrule_core::watch::alert::Status::Firing
        } else {
            ferrule_core::watch::alert::Status::Resolved
        },
        summary: alerts[0].summary.clone(),
        starts_at: 1_000_000_000,
        count: 1,
        at: 2_000_000_000,
        alerts,
    }
}

fn https_sink(pki: &Pki, url: &str, body: Body) -> WebhookSink {
    let mut cfg = WebhookConfig::new(url);
    cfg.tls = tls(pki, false);
    cfg.max_attempts = 1;
    WebhookSink::new("receiver", cfg, body).unwrap()
}

#[test]
fn slack_messages_follow_the_incoming_webhook_shape() {
    let pki = Pki::new("slack");
    let (url, rx, _) = start(&pki, false, 200);
    let sink = https_sink(&pki, &format!("{url}/services/T000/B000/XXXX"), Body::Slack);
    sink.deliver(&notification(vec![alert("llm_error_rate", "fp1", true)]));
    sink.deliver(&notification(vec![alert("llm_error_rate", "fp1", false)]));
    assert!(sink.flush(WAIT));
    let fire = rx.recv_timeout(WAIT).unwrap();
    let resolve = rx.recv_timeout(WAIT).unwrap();
    assert_eq!(fire.path, "/services/T000/B000/XXXX");
    assert_eq!(fire.header("content-type"), Some("application/json"));
    let v = fire.json();
    // `text` is required (the notification fallback); blocks are header/section/context.
    assert!(v["text"]
        .as_str()
        .unwrap()
        .contains("[FIRING] llm_error_rate"));
    let blocks = v["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["type"], "plain_text");
    for b in blocks {
        assert!(["header", "section", "context"].contains(&b["type"].as_str().unwrap()));
        if b["type"] == "section" {
            assert_eq!(b["text"]["type"], "mrkdwn");
            assert!(b["text"]["text"].as_str().unwrap().len() <= 3000);
        }
    }
    assert!(resolve.json()["text"]
        .as_str()
        .unwrap()
        .contains("[RESOLVED]"));
    assert_eq!(sink.stats().delivered, 2);
}

#[test]
fn pagerduty_events_trigger_and_resolve_with_one_dedup_key() {
    let pki = Pki::new("pagerduty");
    let (url, rx, _) = start(&pki, false, 202);
    let key = "R0UT1NGKEY0123456789ABCDEFGHIJKL";
    let sink = https_sink(
        &pki,
        &format!("{url}/v2/enqueue"),
        Body::PagerDuty {
            routing_key: key.into(),
            source: "checkout@host-1".into(),
        },
    );
    // A group of two alerts is two events; the resolve of one closes its own incident.
    sink.deliver(&notification(vec![
        alert("llm_error_rate", "fp-a", true),
        alert("llm_latency", "fp-b", true),
    ]));
    sink.deliver(&notification(vec![alert("llm_error_rate", "fp-a", false)]));
    assert!(sink.flush(WAIT));
    let got: Vec<serde_json::Value> = (0..3)
        .map(|_| rx.recv_timeout(WAIT).unwrap().json())
        .collect();
    for e in &got {
        assert_eq!(e["routing_key"], key);
        assert!(["trigger", "resolve"].contains(&e["event_action"].as_str().unwrap()));
    }
    let t = &got[0];
    assert_eq!(t["event_action"], "trigger");
    assert_eq!(t["dedup_key"], "ferrule-fp-a");
    let p = &t["payload"];
    assert!(p["summary"]
        .as_str()
        .unwrap()
        .starts_with("llm_error_rate: "));
    assert_eq!(p["source"], "checkout@host-1");
    assert_eq!(p["severity"], "critical");
    assert!(p["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(p["component"], "openai");
    assert_eq!(p["group"], "gpt-4o");
    assert_eq!(p["custom_details"]["model"], "gpt-4o");
    assert_eq!(got[1]["dedup_key"], "ferrule-fp-b");
    let r = &got[2];
    assert_eq!(r["event_action"], "resolve");
    assert_eq!(r["dedup_key"], "ferrule-fp-a");
    assert!(r.get("payload").is_none());
    assert_eq!(sink.stats().delivered, 3);
    // A blank routing key fails at construction.
    let mut cfg = WebhookConfig::new(format!("{url}/v2/enqueue"));
    cfg.tls = tls(&pki, false);
    assert!(WebhookSink::new(
        "pd",
        cfg,
        Body::PagerDuty {
            routing_key: " ".into(),
            source: "x".into()
        }
    )
    .is_err());
}

#[test]
fn templated_webhook_over_https_and_an_untrusted_receiver_fails_counted() {
    let pki = Pki::new("template");
    let (url, rx, _) = start(&pki, false, 200);
    let t = Template::parse(
        r#"{"title": "{{name}} {{status}}", "severity": "{{severity}}", "alerts": "{{alerts}}", "model": "{{labels.model}}"}"#,
    )
    .unwrap();
    let sink = https_sink(&pki, &format!("{url}/hook"), Body::Template(t));
    sink.deliver(&notification(vec![alert("llm_error_rate", "fp1", true)]));
    assert!(sink.flush(WAIT));
    let v = rx.recv_timeout(WAIT).unwrap().json();
    assert_eq!(v["title"], "llm_error_rate firing");
    assert_eq!(v["severity"], "critical");
    assert_eq!(v["model"], "gpt-4o");
    assert_eq!(v["alerts"][0]["fingerprint"], "fp1");

    let mut cfg = WebhookConfig::new(format!("{url}/hook"));
    cfg.tls.ca_file = Some(pki.other_ca.clone());
    cfg.max_attempts = 3;
    let bad = WebhookSink::new("bad", cfg, Body::Json).unwrap();
    bad.deliver(&notification(vec![alert("x", "fp", true)]));
    assert!(bad.flush(WAIT));
    let s = bad.stats();
    assert_eq!((s.delivered, s.failed, s.retries), (0, 1, 0));
    assert!(rx.try_recv().is_err());
}
