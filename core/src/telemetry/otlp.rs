//! OTLP metrics push: every `interval`, the registry is encoded as an OTLP/HTTP JSON
//! `ExportMetricsServiceRequest` and POSTed to a collector from one background thread (and once
//! more on stop, so short scripts export too). GenAI families go out under their OpenTelemetry
//! names (`gen_ai.client.operation.duration`, attributes `gen_ai.request.model`, ...). Plain
//! `http://` only: a collector sidecar or agent on the host, not TLS to a vendor.

use super::builtin;
use super::desc::Kind;
use super::histogram::HistogramSnapshot;
use super::registry::Registry;
use super::snapshot::{snapshot, FamilySnapshot, Points};
use crate::error::{check, Error, Result};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
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
}

impl OtlpConfig {
    /// `endpoint`, else `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` (used as is), else
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` (plus `/v1/metrics`), as the OpenTelemetry SDKs read them.
    pub fn new(endpoint: Option<&str>) -> Result<Self> {
        let endpoint = match endpoint {
            Some(e) => e.to_string(),
            None => std::env::var("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
                .or_else(|_| std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT"))
                .map_err(|_| {
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
            timeout: Duration::from_secs(5),
            service_name: "ferrule".into(),
            headers: Vec::new(),
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
        for (k, v) in &self.headers {
            if k.is_empty() || k.contains([':', '\r', '\n']) || v.contains(['\r', '\n']) {
                return Err(Error::out_of_range(
                    C,
                    "headers",
                    format!("{k:?}"),
                    "header names without ':' and values without line breaks",
                ));
            }
        }
        Ok(())
    }

    /// (host:port, path) of the endpoint.
    fn target(&self) -> Result<(String, String)> {
        let rest = self.endpoint.strip_prefix("http://").ok_or_else(|| {
            Error::out_of_range(
                C,
                "endpoint",
                format!("{:?}", self.endpoint),
                "an http:// URL of an OTLP/HTTP collector (https is not supported; use a local collector)",
            )
        })?;
        let (hostport, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if hostport.is_empty() {
            return Err(Error::out_of_range(
                C,
                "endpoint",
                format!("{:?}", self.endpoint),
                "http://host:port",
            ));
        }
        let hostport = if hostport.contains(':') && !hostport.ends_with(']') {
            hostport.to_string()
        } else {
            format!("{hostport}:4318")
        };
        let path = if path.is_empty() || path == "/" {
            "/v1/metrics".to_string()
        } else {
            path.to_string()
        };
        Ok((hostport, path))
    }
}

fn unix_nanos() -> u64 {
    // Wall-clock time, because OTLP timestamps are Unix time; no decision depends on it.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_f64(out: &mut String, v: f64) {
    if v.is_finite() {
        let _ = write!(out, "{v:?}");
    } else if v.is_nan() {
        out.push_str("\"NaN\"");
    } else if v > 0.0 {
        out.push_str("\"Infinity\"");
    } else {
        out.push_str("\"-Infinity\"");
    }
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

/// Writes `"field":[{"key":..,"value":{"stringValue":..}},..]`.
fn attributes(out: &mut String, field: &str, names: &[String], values: &[String]) {
    out.push('"');
    out.push_str(field);
    out.push_str("\":[");
    let mut first = true;
    for (n, v) in names.iter().zip(values) {
        if v.is_empty() {
            continue; // an absent attribute (error.type on a success), as in Prometheus
        }
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str("{\"key\":");
        json_str(out, otel_attr(n));
        out.push_str(",\"value\":{\"stringValue\":");
        json_str(out, v);
        out.push_str("}}");
    }
    out.push(']');
}

fn histogram_point(out: &mut String, s: &HistogramSnapshot, now: u64) {
    let _ = write!(out, ",\"count\":\"{}\",\"sum\":", s.count);
    json_f64(out, s.sum);
    out.push_str(",\"bucketCounts\":[");
    let mut prev = 0u64;
    for (i, c) in s.cumulative.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "\"{}\"", c.saturating_sub(prev));
        prev = *c;
    }
    out.push_str("],\"explicitBounds\":[");
    for (i, b) in s.bounds.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_f64(out, *b);
    }
    out.push_str("],\"exemplars\":[");
    let mut first = true;
    for e in s.exemplars.iter().flatten() {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str("{\"asDouble\":");
        json_f64(out, e.value);
        let _ = write!(out, ",\"timeUnixNano\":\"{now}\"");
        let mut attrs = Vec::new();
        for (k, v) in &e.labels {
            if k == "trace_id" && v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
                out.push_str(",\"traceId\":");
                json_str(out, &v.to_ascii_lowercase());
            } else if k == "span_id" && v.len() == 16 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
                out.push_str(",\"spanId\":");
                json_str(out, &v.to_ascii_lowercase());
            } else {
                attrs.push((k.clone(), v.clone()));
            }
        }
        let (names, values): (Vec<String>, Vec<String>) = attrs.into_iter().unzip();
        out.push(',');
        attributes(out, "filteredAttributes", &names, &values);
        out.push('}');
    }
    out.push(']');
}

/// Encodes families as an OTLP/HTTP JSON `ExportMetricsServiceRequest`. Counters are cumulative
/// monotonic sums since `start`; gauges are gauges; histograms are cumulative explicit-bucket
/// histograms with exemplars.
pub fn encode(fams: &[FamilySnapshot], service_name: &str, start: u64, now: u64) -> String {
    let mut out = String::with_capacity(8192);
    out.push_str("{\"resourceMetrics\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":");
    json_str(&mut out, service_name);
    out.push_str("}},{\"key\":\"telemetry.sdk.name\",\"value\":{\"stringValue\":\"ferrule\"}}]},\"scopeMetrics\":[{\"scope\":{\"name\":\"ferrule\",\"version\":");
    json_str(&mut out, env!("CARGO_PKG_VERSION"));
    out.push_str("},\"metrics\":[");
    let mut first_metric = true;
    for f in fams {
        let d = &*f.desc;
        let empty = match &f.points {
            Points::Scalars(r) => r.is_empty(),
            Points::Histograms(r) => r.is_empty(),
        };
        if empty {
            continue;
        }
        if !first_metric {
            out.push(',');
        }
        first_metric = false;
        let (name, unit) = otel_name(&d.name);
        out.push_str("{\"name\":");
        json_str(&mut out, name);
        out.push_str(",\"description\":");
        json_str(&mut out, &d.help);
        out.push_str(",\"unit\":");
        json_str(&mut out, unit);
        match (&f.points, d.kind) {
            (Points::Scalars(rows), kind) => {
                if kind == Kind::Counter {
                    out.push_str(",\"sum\":{\"aggregationTemporality\":2,\"isMonotonic\":true,\"dataPoints\":[");
                } else {
                    out.push_str(",\"gauge\":{\"dataPoints\":[");
                }
                for (i, (k, v)) in rows.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push('{');
                    attributes(&mut out, "attributes", &d.label_names, k);
                    let _ = write!(out, ",\"startTimeUnixNano\":\"{start}\",\"timeUnixNano\":\"{now}\",\"asDouble\":");
                    json_f64(&mut out, v.value());
                    out.push('}');
                }
                out.push_str("]}}");
            }
            (Points::Histograms(rows), _) => {
                out.push_str(",\"histogram\":{\"aggregationTemporality\":2,\"dataPoints\":[");
                for (i, (k, s)) in rows.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push('{');
                    attributes(&mut out, "attributes", &d.label_names, k);
                    let _ = write!(
                        out,
                        ",\"startTimeUnixNano\":\"{start}\",\"timeUnixNano\":\"{now}\""
                    );
                    histogram_point(&mut out, s, now);
                    out.push('}');
                }
                out.push_str("]}}");
            }
        }
    }
    out.push_str("]}]}]}");
    out
}

/// POSTs one export; `Ok(status)` for a 2xx answer.
fn post(cfg: &OtlpConfig, body: &str) -> std::result::Result<u16, String> {
    let (hostport, path) = cfg.target().map_err(|e| e.to_string())?;
    let addr = hostport
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {hostport}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve {hostport}"))?;
    let mut s = TcpStream::connect_timeout(&addr, cfg.timeout)
        .map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(cfg.timeout))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(cfg.timeout))
        .map_err(|e| e.to_string())?;
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {hostport}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\nUser-Agent: ferrule/{}\r\n",
        body.len(),
        env!("CARGO_PKG_VERSION")
    );
    for (k, v) in &cfg.headers {
        let _ = write!(head, "{k}: {v}\r\n");
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    s.write_all(body.as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let mut resp = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !resp.windows(2).any(|w| w == b"\r\n") && resp.len() < 8192 {
        let n = s.read(&mut chunk).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            break;
        }
        resp.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&resp);
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            format!(
                "no HTTP status in answer {:?}",
                line.lines().next().unwrap_or("")
            )
        })?;
    if (200..300).contains(&status) {
        Ok(status)
    } else {
        Err(format!("collector answered {status}"))
    }
}

struct Shared {
    cfg: OtlpConfig,
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
        );
        match post(&self.cfg, &body) {
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
        let shared = Arc::new(Shared {
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
