//! OTLP metrics push: every `interval`, the registry is read once (the same snapshot the
//! Prometheus exposition encodes, so nothing is recorded twice) into the `opentelemetry-proto`
//! `ExportMetricsServiceRequest` and POSTed as OTLP/HTTP protobuf, the encoding and HTTP client
//! (reqwest, blocking) that the `opentelemetry-otlp` span exporter uses, from one background
//! thread (and once more on stop, so short scripts export too). The SDK's `MetricExporter` only
//! takes `ResourceMetrics` built by its own instruments (their fields are crate-private), which
//! would mean recording every sample twice; building the protocol message directly avoids that.
//! GenAI families go out under their OpenTelemetry names (`gen_ai.client.operation.duration`,
//! attributes `gen_ai.request.model`, ...). `https://` endpoints, headers, gzip and certificates
//! go through `net::post`, configured like every OpenTelemetry SDK (`OTEL_EXPORTER_OTLP_METRICS_*`).

use super::builtin;
use super::desc::Kind;
use super::histogram::Exemplar;
use super::histogram::HistogramSnapshot;
use super::registry::Registry;
use super::snapshot::{snapshot, FamilySnapshot, Points};
use crate::error::{check, Error, Result};
use crate::net::{Compression, Failure, HttpTarget, OtlpSignal, OtlpTarget, TlsFiles};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1 as proto;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const C: &str = "push_metrics";

#[derive(Debug, Clone, PartialEq)]
pub struct OtlpConfig {
    /// `http://host:port` (then `/v1/metrics` is used) or `http://host:port/full/path`.
    pub endpoint: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub service_name: String,
    /// Extra request headers (e.g. an auth token for the collector).
    pub headers: Vec<(String, String)>,
    pub compression: Compression,
    pub tls: TlsFiles,
}

impl OtlpConfig {
    /// `endpoint`, else `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` (used as is), else
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` (plus `/v1/metrics`), as the OpenTelemetry SDKs read them;
    /// headers, compression, timeout and certificates from the same variables (per-signal first).
    pub fn new(endpoint: Option<&str>) -> Result<Self> {
        let (env, problems) = OtlpTarget::from_env(OtlpSignal::Metrics);
        for p in problems {
            log::warn!("ferrule OTLP metrics: {p}");
        }
        let endpoint = match endpoint {
            Some(e) => e.to_string(),
            None => env.url.clone().ok_or_else(|| {
                Error::conflict(
                    C,
                    "endpoint",
                    "None",
                    "pass an endpoint or set OTEL_EXPORTER_OTLP_ENDPOINT",
                )
            })?,
        };
        let c = Self {
            endpoint,
            interval: Duration::from_secs(10),
            timeout: env.timeout.unwrap_or(Duration::from_secs(5)),
            service_name: "ferrule".into(),
            headers: env.headers,
            compression: env.compression,
            tls: env.tls,
        };
        c.target()?;
        Ok(c)
    }

    pub fn validate(&self) -> Result<()> {
        self.target()?;
        let iv = check::finite_positive(C, "interval_seconds", self.interval.as_secs_f64())?;
        if !(0.1..=86_400.0).contains(&iv) {
            return Err(Error::out_of_range(
                C,
                "interval_seconds",
                iv,
                "[0.1, 86400]",
            ));
        }
        let t = self.timeout.as_secs_f64();
        if !(0.001..=300.0).contains(&t) {
            return Err(Error::out_of_range(C, "timeout_seconds", t, "[0.001, 300]"));
        }
        self.http_target()
            .check()
            .map_err(|(param, value, allowed)| {
                let param = if param == "url" { "endpoint" } else { param };
                Error::out_of_range(C, param, value, allowed)
            })
    }

    /// The POST target: the full URL, headers, compression, timeout, certificates.
    pub fn http_target(&self) -> HttpTarget {
        HttpTarget {
            url: self.url(),
            headers: self.headers.clone(),
            compression: self.compression,
            timeout: self.timeout,
            tls: self.tls.clone(),
        }
    }

    /// The full URL exports are POSTed to.
    pub fn url(&self) -> String {
        match self.target() {
            Ok((scheme, hostport, path)) => format!("{scheme}://{hostport}{path}"),
            Err(_) => self.endpoint.clone(),
        }
    }

    /// (scheme, host:port, path) of the endpoint.
    fn target(&self) -> Result<(&'static str, String, String)> {
        let (scheme, rest) = if let Some(r) = self.endpoint.strip_prefix("https://") {
            ("https", r)
        } else if let Some(r) = self.endpoint.strip_prefix("http://") {
            ("http", r)
        } else {
            return Err(Error::out_of_range(
                C,
                "endpoint",
                format!("{:?}", self.endpoint),
                "an http:// or https:// URL of an OTLP/HTTP collector",
            ));
        };
        let (hostport, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if hostport.is_empty() {
            return Err(Error::out_of_range(
                C,
                "endpoint",
                format!("{:?}", self.endpoint),
                "http(s)://host:port",
            ));
        }
        let hostport = if hostport.contains(':') && !hostport.ends_with(']') {
            hostport.to_string()
        } else if scheme == "https" {
            // A hosted backend behind TLS listens on 443 (`https://api.honeycomb.io`).
            hostport.to_string()
        } else {
            format!("{hostport}:4318")
        };
        let path = if path.is_empty() || path == "/" {
            "/v1/metrics".to_string()
        } else {
            path.to_string()
        };
        Ok((scheme, hostport, path))
    }
}

fn unix_nanos() -> u64 {
    // Wall-clock time, because OTLP timestamps are Unix time; no decision depends on it.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The OpenTelemetry name and unit of a family exported under a Prometheus name.
fn otel_name(name: &str) -> (&str, &str) {
    match name {
        "gen_ai_client_operation_duration_seconds" => ("gen_ai.client.operation.duration", "s"),
        "gen_ai_client_token_usage" => ("gen_ai.client.token.usage", "{token}"),
        n if n.ends_with("_seconds") => (n, "s"),
        n => (n, ""),
    }
}

fn otel_attr(label: &str) -> &str {
    match label {
        "gen_ai_operation_name" => "gen_ai.operation.name",
        "gen_ai_provider_name" => "gen_ai.provider.name",
        "gen_ai_request_model" => "gen_ai.request.model",
        "gen_ai_token_type" => "gen_ai.token.type",
        "error_type" => "error.type",
        l => l,
    }
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

fn attributes(names: &[String], values: &[String]) -> Vec<KeyValue> {
    names
        .iter()
        .zip(values)
        // An empty value is an absent attribute (error.type on a success), as in Prometheus.
        .filter(|(_, v)| !v.is_empty())
        .map(|(n, v)| kv(otel_attr(n), v))
        .collect()
}

fn hex_bytes(s: &str, len: usize) -> Option<Vec<u8>> {
    if s.len() != len * 2 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..len)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect()
}

fn exemplar(e: &Exemplar, now: u64) -> proto::Exemplar {
    let mut out = proto::Exemplar {
        time_unix_nano: now,
        value: Some(proto::exemplar::Value::AsDouble(e.value)),
        ..Default::default()
    };
    for (k, v) in &e.labels {
        match (k.as_str(), hex_bytes(v, 16), hex_bytes(v, 8)) {
            ("trace_id", Some(b), _) => out.trace_id = b,
            ("span_id", _, Some(b)) => out.span_id = b,
            _ => out.filtered_attributes.push(kv(k, v)),
        }
    }
    out
}

fn histogram_point(
    labels: Vec<KeyValue>,
    s: &HistogramSnapshot,
    start: u64,
    now: u64,
) -> proto::HistogramDataPoint {
    let mut prev = 0u64;
    proto::HistogramDataPoint {
        attributes: labels,
        start_time_unix_nano: start,
        time_unix_nano: now,
        count: s.count,
        sum: Some(s.sum),
        // OTLP counts per bucket; the snapshot is cumulative (Prometheus `le`).
        bucket_counts: s
            .cumulative
            .iter()
            .map(|c| {
                let d = c.saturating_sub(prev);
                prev = *c;
                d
            })
            .collect(),
        explicit_bounds: s.bounds.to_vec(),
        exemplars: s
            .exemplars
            .iter()
            .flatten()
            .map(|e| exemplar(e, now))
            .collect(),
        ..Default::default()
    }
}

/// Encodes families as an OTLP `ExportMetricsServiceRequest`. Counters are cumulative monotonic
/// sums since `start`; gauges are gauges; histograms are cumulative explicit-bucket histograms
/// with exemplars (trace and span ids in their own fields).
pub fn encode(
    fams: &[FamilySnapshot],
    service_name: &str,
    start: u64,
    now: u64,
) -> ExportMetricsServiceRequest {
    const CUMULATIVE: i32 = proto::AggregationTemporality::Cumulative as i32;
    let mut metrics = Vec::with_capacity(fams.len());
    for f in fams {
        let d = &*f.desc;
        let (name, unit) = otel_name(&d.name);
        let data = match (&f.points, d.kind) {
            (Points::Scalars(r), _) if r.is_empty() => continue,
            (Points::Histograms(r), _) if r.is_empty() => continue,
            (Points::Scalars(rows), kind) => {
                let points = rows
                    .iter()
                    .map(|(k, v)| proto::NumberDataPoint {
                        attributes: attributes(&d.label_names, k),
                        start_time_unix_nano: start,
                        time_unix_nano: now,
                        value: Some(proto::number_data_point::Value::AsDouble(v.value())),
                        ..Default::default()
                    })
                    .collect();
                if kind == Kind::Counter {
                    proto::metric::Data::Sum(proto::Sum {
                        data_points: points,
                        aggregation_temporality: CUMULATIVE,
                        is_monotonic: true,
                    })
                } else {
                    proto::metric::Data::Gauge(proto::Gauge {
                        data_points: points,
                    })
                }
            }
            (Points::Histograms(rows), _) => proto::metric::Data::Histogram(proto::Histogram {
                data_points: rows
                    .iter()
                    .map(|(k, s)| histogram_point(attributes(&d.label_names, k), s, start, now))
                    .collect(),
                aggregation_temporality: CUMULATIVE,
            }),
        };
        metrics.push(proto::Metric {
            name: name.to_string(),
            description: d.help.clone(),
            unit: unit.to_string(),
            data: Some(data),
            ..Default::default()
        });
    }
    ExportMetricsServiceRequest {
        resource_metrics: vec![proto::ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", service_name),
                    kv("telemetry.sdk.name", "ferrule"),
                ],
                ..Default::default()
            }),
            scope_metrics: vec![proto::ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "ferrule".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// POSTs one export as protobuf; `Ok(status)` for a 2xx answer. A refused connection, a 408, 429
/// or 5xx is retried (up to `ATTEMPTS`, backoff x4) unless the pusher is stopping; a TLS failure
/// is not (a certificate does not fix itself within seconds).
fn post(
    client: &reqwest::blocking::Client,
    target: &HttpTarget,
    body: Vec<u8>,
    stop: &AtomicBool,
) -> std::result::Result<u16, Failure> {
    const ATTEMPTS: u32 = 3;
    let mut backoff = Duration::from_millis(100);
    let mut attempt = 0;
    loop {
        match target.post(client, "application/x-protobuf", &body) {
            Ok(st) => return Ok(st),
            Err(f) => {
                attempt += 1;
                if !f.kind.retryable() || attempt >= ATTEMPTS || stop.load(Ordering::Acquire) {
                    return Err(f);
                }
            }
        }
        std::thread::sleep(backoff);
        backoff *= 4;
    }
}

struct Shared {
    cfg: OtlpConfig,
    target: HttpTarget,
    client: reqwest::blocking::Client,
    start: u64,
    // A lock with a condition variable, but only for the pusher thread's sleep between exports
    // and for waking it (stop, push now); no caller's path touches it.
    wake: Mutex<bool>,
    cv: Condvar,
    stop: AtomicBool,
    pushes: AtomicU64,
    failures: AtomicU64,
    failing: AtomicBool,
}

impl Shared {
    fn push(&self, registry: &Registry) -> bool {
        let body = encode(
            &snapshot(registry),
            &self.cfg.service_name,
            self.start,
            unix_nanos(),
        )
        .encode_to_vec();
        match post(&self.client, &self.target, body, &self.stop) {
            Ok(_) => {
                self.pushes.fetch_add(1, Ordering::Relaxed);
                if self.failing.swap(false, Ordering::Relaxed) {
                    log::warn!("ferrule OTLP push to {} recovered", self.cfg.endpoint);
                }
                true
            }
            Err(e) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                builtin::dropped("otlp_export", 1);
                builtin::error("connect", "otlp_metrics", e.kind.as_str());
                if !self.failing.swap(true, Ordering::Relaxed) {
                    log::warn!(
                        "ferrule OTLP push to {} failed ({e}); the export is dropped and counted in ferrule_telemetry_dropped_total{{kind=\"otlp_export\"}}",
                        self.cfg.endpoint
                    );
                }
                false
            }
        }
    }
}

/// A running periodic push. `stop()` (or drop) pushes once more and joins the thread.
pub struct OtlpPusher {
    shared: Arc<Shared>,
    registry: &'static Registry,
    thread: Option<JoinHandle<()>>,
    /// The process that started the thread (see `MetricsServer`: a forked child has no thread).
    pid: u32,
}

impl OtlpPusher {
    pub fn start(registry: &'static Registry, cfg: OtlpConfig) -> Result<Self> {
        cfg.validate()?;
        let target = cfg.http_target();
        let client = target
            .client()
            .map_err(|e| Error::conflict(C, "endpoint", "http client", e))?;
        let shared = Arc::new(Shared {
            target,
            client,
            cfg,
            start: unix_nanos(),
            wake: Mutex::new(false),
            cv: Condvar::new(),
            stop: AtomicBool::new(false),
            pushes: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            failing: AtomicBool::new(false),
        });
        let s2 = shared.clone();
        let thread = std::thread::Builder::new()
            .name("ferrule-otlp".into())
            .spawn(move || loop {
                let mut woken = s2.wake.lock().unwrap_or_else(|p| p.into_inner());
                if !*woken && !s2.stop.load(Ordering::Acquire) {
                    woken = s2
                        .cv
                        .wait_timeout(woken, s2.cfg.interval)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
                *woken = false;
                drop(woken);
                s2.push(registry);
                if s2.stop.load(Ordering::Acquire) {
                    return;
                }
            })
            .map_err(|e| Error::conflict(C, "endpoint", "thread", e.to_string()))?;
        Ok(Self {
            shared,
            registry,
            thread: Some(thread),
            pid: std::process::id(),
        })
    }

    /// A cloneable handle for exporting now and reading the counters, usable while another
    /// thread stops the pusher.
    pub fn handle(&self) -> OtlpHandle {
        OtlpHandle {
            shared: self.shared.clone(),
            registry: self.registry,
        }
    }

    /// Exports now, on the caller's thread; `true` when the collector accepted it.
    pub fn push_now(&self) -> bool {
        self.shared.push(self.registry)
    }

    /// Exports accepted so far.
    pub fn pushes(&self) -> u64 {
        self.handle().pushes()
    }

    /// Exports that failed (each counted in `ferrule_telemetry_dropped_total{kind="otlp_export"}`).
    pub fn failures(&self) -> u64 {
        self.handle().failures()
    }

    pub fn config(&self) -> &OtlpConfig {
        &self.shared.cfg
    }

    /// Pushing from this process (false in a forked child, which must start its own pusher).
    pub fn is_running(&self) -> bool {
        std::process::id() == self.pid && self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Pushes a final export and joins the thread. Idempotent. In a forked child it only lets go
    /// of the handle (the thread is the parent's; joining it here would wait forever).
    pub fn stop(&mut self) {
        let Some(t) = self.thread.take() else { return };
        if std::process::id() != self.pid {
            std::mem::forget(t);
            return;
        }
        self.shared.stop.store(true, Ordering::Release);
        *self.shared.wake.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.shared.cv.notify_all();
        let _ = t.join();
    }
}

/// See `OtlpPusher::handle`.
#[derive(Clone)]
pub struct OtlpHandle {
    shared: Arc<Shared>,
    registry: &'static Registry,
}

impl OtlpHandle {
    pub fn push_now(&self) -> bool {
        self.shared.push(self.registry)
    }

    pub fn pushes(&self) -> u64 {
        self.shared.pushes.load(Ordering::Relaxed)
    }

    pub fn failures(&self) -> u64 {
        self.shared.failures.load(Ordering::Relaxed)
    }

    pub fn endpoint(&self) -> &str {
        &self.shared.cfg.endpoint
    }
}

impl Drop for OtlpPusher {
    fn drop(&mut self) {
        self.stop();
    }
}
