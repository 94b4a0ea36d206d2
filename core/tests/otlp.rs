//! OTLP push: the protobuf a collector receives (decoded with `opentelemetry-proto`), retries,
//! and what happens when the collector fails.

use ferrule_core::telemetry::otlp::{encode, OtlpConfig, OtlpPusher};
use ferrule_core::telemetry::snapshot::snapshot;
use ferrule_core::Registry;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point, Metric};
use prost::Message;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

type Request = (String, Vec<String>, ExportMetricsServiceRequest);

/// A fake collector: answers `statuses[i]` to the i-th POST and hands over (path, headers,
/// decoded body).
fn collector(statuses: &[u16]) -> (String, mpsc::Receiver<Request>) {
    let statuses = statuses.to_vec();
    let requests = statuses.len();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for (conn, status) in l.incoming().take(requests).zip(statuses) {
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
            let decoded = ExportMetricsServiceRequest::decode(&body[..]).unwrap();
            let _ = tx.send((path, headers, decoded));
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

fn metric<'a>(body: &'a ExportMetricsServiceRequest, name: &str) -> &'a Metric {
    body.resource_metrics[0].scope_metrics[0]
        .metrics
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no metric {name} in {body:?}"))
}

fn double(v: &Option<number_data_point::Value>) -> f64 {
    match v {
        Some(number_data_point::Value::AsDouble(d)) => *d,
        other => panic!("not a double: {other:?}"),
    }
}

fn counter_value(body: &ExportMetricsServiceRequest, name: &str) -> f64 {
    match &metric(body, name).data {
        Some(Data::Sum(s)) => double(&s.data_points[0].value),
        other => panic!("{name} is not a sum: {other:?}"),
    }
}

#[test]
fn the_encoding_is_an_otlp_export_request_with_genai_names() {
    // Through the wire format and back, as a collector reads it.
    let bytes = encode(&snapshot(registry()), "svc", 1, 2).encode_to_vec();
    let body = ExportMetricsServiceRequest::decode(&bytes[..]).unwrap();
    let rm = &body.resource_metrics[0];
    let res = &rm.resource.as_ref().unwrap().attributes[0];
    assert_eq!(res.key, "service.name");
    assert_eq!(
        res.value.as_ref().unwrap().value,
        Some(Any::StringValue("svc".into()))
    );
    let Some(Data::Sum(c)) = &metric(&body, "app_calls").data else {
        panic!("app_calls is not a sum")
    };
    assert!(c.is_monotonic);
    assert_eq!(c.aggregation_temporality, 2, "cumulative");
    let p = &c.data_points[0];
    assert_eq!(double(&p.value), 5.0);
    assert_eq!(p.attributes[0].key, "model");
    assert_eq!((p.start_time_unix_nano, p.time_unix_nano), (1, 2));
    let h = metric(&body, "gen_ai.client.operation.duration");
    assert_eq!(h.unit, "s");
    let Some(Data::Histogram(h)) = &h.data else {
        panic!("not a histogram")
    };
    let p = &h.data_points[0];
    // error.type is empty on a success, so the attribute is absent.
    assert_eq!(p.attributes.len(), 1);
    assert_eq!(p.attributes[0].key, "gen_ai.request.model");
    assert_eq!(p.count, 3);
    assert_eq!(p.sum, Some(3.55));
    assert_eq!(p.bucket_counts, vec![1, 1, 1]);
    assert_eq!(p.explicit_bounds, vec![0.1, 1.0]);
    assert_eq!(
        p.exemplars[0].trace_id,
        vec![
            0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e,
            0x47, 0x36
        ]
    );
    assert!(p.exemplars[0].filtered_attributes.is_empty());
    let Some(Data::Gauge(g)) = &metric(&body, "app_depth").data else {
        panic!("app_depth is not a gauge")
    };
    assert_eq!(double(&g.data_points[0].value), 2.5);
}

#[test]
fn the_pusher_posts_to_v1_metrics_with_headers_and_once_more_on_stop() {
    let (url, rx) = collector(&[200, 200]);
    let mut cfg = OtlpConfig::new(Some(&url)).unwrap();
    cfg.interval = Duration::from_secs(3600); // only push_now and stop push here
    cfg.headers = vec![("Authorization".into(), "Bearer t".into())];
    let mut p = OtlpPusher::start(registry(), cfg).unwrap();
    assert!(p.push_now());
    let (path, headers, body) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(path, "/v1/metrics");
    assert!(headers
        .iter()
        .any(|h| h.eq_ignore_ascii_case("content-type: application/x-protobuf")));
    assert!(headers
        .iter()
        .any(|h| h.eq_ignore_ascii_case("authorization: Bearer t")));
    assert_eq!(counter_value(&body, "app_calls"), 5.0);
    p.stop();
    assert!(
        rx.recv_timeout(Duration::from_secs(10)).is_ok(),
        "a final push on stop"
    );
    assert_eq!((p.pushes(), p.failures()), (2, 0));
}

#[test]
fn a_failing_collector_is_counted_not_raised() {
    let (url, rx) = collector(&[400]);
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
fn an_overloaded_collector_is_retried_and_the_export_lands() {
    let (url, rx) = collector(&[503, 429, 200]);
    let mut cfg = OtlpConfig::new(Some(&url)).unwrap();
    cfg.interval = Duration::from_secs(3600);
    let p = OtlpPusher::start(registry(), cfg).unwrap();
    assert!(p.push_now());
    let bodies: Vec<Request> = (0..3)
        .map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap())
        .collect();
    assert!(bodies
        .iter()
        .all(|b| counter_value(&b.2, "app_calls") == 5.0));
    assert_eq!((p.pushes(), p.failures()), (1, 0));
}

#[test]
fn bad_endpoints_fail_at_construction() {
    // https:// is a hosted backend (TLS, port 443 by default); other schemes are refused.
    let c = OtlpConfig::new(Some("https://api.vendor.example")).unwrap();
    assert_eq!(c.url(), "https://api.vendor.example/v1/metrics");
    let e = OtlpConfig::new(Some("grpc://collector:4317"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("endpoint=\"grpc://collector:4317\"") && e.contains("https://"),
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
