//! OTLP push: the JSON a collector receives, and what happens when the collector fails.

use ferrule_core::telemetry::otlp::{encode, OtlpConfig, OtlpPusher};
use ferrule_core::telemetry::snapshot::snapshot;
use ferrule_core::Registry;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

/// A one-shot fake collector: answers `status` to each POST and hands over (path, headers, body).
fn collector(
    status: u16,
    requests: usize,
) -> (String, mpsc::Receiver<(String, Vec<String>, Value)>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in l.incoming().take(requests) {
            let mut s = conn.unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let path = line.split_whitespace().nth(1).unwrap().to_string();
            let mut headers = Vec::new();
            let mut len = 0;
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                let h = h.trim_end().to_string();
                if h.is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                headers.push(h);
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            write!(
                s,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            let _ = tx.send((path, headers, serde_json::from_slice(&body).unwrap()));
        }
    });
    (url, rx)
}

fn registry() -> &'static Registry {
    let r: &'static Registry = Box::leak(Box::new(Registry::new()));
    r.counter("app_calls_total", "Calls.", &["model"])
        .unwrap()
        .labels(&["gpt-4o"])
        .unwrap()
        .add(5);
    let h = r
        .histogram(
            "gen_ai_client_operation_duration_seconds",
            "d",
            &["gen_ai_request_model", "error_type"],
            &[0.1, 1.0],
        )
        .unwrap()
        .labels(&["gpt-4o", ""])
        .unwrap();
    h.observe(0.05);
    h.observe_with_exemplar(0.5, &[("trace_id", "4BF92F3577B34DA6A3CE929D0E0E4736")]);
    h.observe(3.0);
    r.gauge("app_depth", "Depth.", &[])
        .unwrap()
        .handle()
        .unwrap()
        .set(2.5);
    r
}

fn metric<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no metric {name} in {body}"))
}

#[test]
fn the_encoding_is_an_otlp_export_request_with_genai_names() {
    let body: Value = serde_json::from_str(&encode(&snapshot(registry()), "svc", 1, 2)).unwrap();
    let res = &body["resourceMetrics"][0]["resource"]["attributes"][0];
    assert_eq!(
        (res["key"].as_str(), res["value"]["stringValue"].as_str()),
        (Some("service.name"), Some("svc"))
    );
    let c = metric(&body, "app_calls");
    assert_eq!(c["sum"]["isMonotonic"], true);
    assert_eq!(c["sum"]["aggregationTemporality"], 2);
    let p = &c["sum"]["dataPoints"][0];
    assert_eq!(p["asDouble"], 5.0);
    assert_eq!(p["attributes"][0]["key"], "model");
    assert_eq!(
        (p["startTimeUnixNano"].as_str(), p["timeUnixNano"].as_str()),
        (Some("1"), Some("2"))
    );
    let h = metric(&body, "gen_ai.client.operation.duration");
    assert_eq!(h["unit"], "s");
    let p = &h["histogram"]["dataPoints"][0];
    // error.type is empty on a success, so the attribute is absent.
    assert_eq!(p["attributes"].as_array().unwrap().len(), 1);
    assert_eq!(p["attributes"][0]["key"], "gen_ai.request.model");
    assert_eq!(p["count"], "3");
    assert_eq!(p["sum"], 3.55);
    assert_eq!(p["bucketCounts"], serde_json::json!(["1", "1", "1"]));
    assert_eq!(p["explicitBounds"], serde_json::json!([0.1, 1.0]));
    assert_eq!(
        p["exemplars"][0]["traceId"],
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(p["exemplars"][0]["asDouble"], 0.5);
    assert_eq!(
        metric(&body, "app_depth")["gauge"]["dataPoints"][0]["asDouble"],
        2.5
    );
}

#[test]
fn the_pusher_posts_to_v1_metrics_with_headers_and_once_more_on_stop() {
    let (url, rx) = collector(200, 2);
    let mut cfg = OtlpConfig::new(Some(&url)).unwrap();
    cfg.interval = Duration::from_secs(3600); // only push_now and stop push here
    cfg.headers = vec![("Authorization".into(), "Bearer t".into())];
    let mut p = OtlpPusher::start(registry(), cfg).unwrap();
    assert!(p.push_now());
    let (path, headers, body) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(path, "/v1/metrics");
    assert!(headers
        .iter()
        .any(|h| h == "Content-Type: application/json"));
    assert!(headers.iter().any(|h| h == "Authorization: Bearer t"));
    assert_eq!(
        metric(&body, "app_calls")["sum"]["dataPoints"][0]["asDouble"],
        5.0
    );
    p.stop();
    assert!(
        rx.recv_timeout(Duration::from_secs(10)).is_ok(),
        "a final push on stop"
    );
    assert_eq!((p.pushes(), p.failures()), (2, 0));
}

#[test]
fn a_failing_collector_is_counted_not_raised() {
    let (url, rx) = collector(503, 1);
    let mut cfg = OtlpConfig::new(Some(&format!("{url}/custom/path"))).unwrap();
    cfg.interval = Duration::from_secs(3600);
    let p = OtlpPusher::start(registry(), cfg).unwrap();
    assert!(!p.push_now());
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap().0,
        "/custom/path"
    );
    assert_eq!(p.failures(), 1);
    let text = ferrule_core::metrics_text(ferrule_core::MetricsFormat::Prometheus);
    assert!(
        text.contains("ferrule_telemetry_dropped_total{kind=\"otlp_export\"}"),
        "{text}"
    );
}

#[test]
fn bad_endpoints_fail_at_construction() {
    let e = OtlpConfig::new(Some("https://api.vendor.example"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("endpoint=\"https://api.vendor.example\"") && e.contains("http://"),
        "{e}"
    );
    assert!(OtlpConfig::new(Some("http://")).is_err());
    let mut c = OtlpConfig::new(Some("http://127.0.0.1:4318")).unwrap();
    c.interval = Duration::from_millis(1);
    assert!(c
        .validate()
        .unwrap_err()
        .to_string()
        .contains("interval_seconds"));
}
