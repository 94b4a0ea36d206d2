//! OTLP/HTTP (protobuf) export of finished spans and, when asked, structured log records, on one
//! background thread per process: it drains the bounded export queues in batches, encodes them with
//! `opentelemetry-proto`, POSTs them through `net::post` (TLS, headers, gzip), retries a failed
//! batch with backoff, counts and reports what it could not deliver (once per outage), and never
//! blocks a caller (callers only push into the queues, which drop and count when full).

use crate::net::{FailureKind, HttpTarget};
use crate::striped::StripedCounter;
use crate::telemetry::builtin;
use crate::telemetry::otlp_logs::{self, ExportedLog, LogQueue};
use crate::telemetry::ring_buffer::BoundedRing;
use crate::telemetry::span::{AttrValue, SpanRecord, SpanRole, Status};
use opentelemetry::trace::{SpanContext, SpanKind, TraceFlags, TraceState};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use opentelemetry_sdk::Resource;
use prost::Message as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant, UNIX_EPOCH};

pub type SpanQueue = BoundedRing<Arc<SpanRecord>>;
/// How the worker reports a problem (the pipeline turns it into a warning log event).
pub type Warn = Arc<dyn Fn(&'static str, String) + Send + Sync>;

#[derive(Debug, Clone)]
pub struct ExportSettings {
    /// Where spans go (`.../v1/traces`); `None` when only logs are exported.
    pub traces: Option<HttpTarget>,
    /// Where log records go (`.../v1/logs`); `None`: logs are not exported.
    pub logs: Option<HttpTarget>,
    pub service_name: String,
    pub interval: Duration,
    pub batch_size: usize,
    pub max_attempts: u32,
    pub first_backoff: Duration,
}

impl ExportSettings {
    pub fn new(traces: Option<HttpTarget>, logs: Option<HttpTarget>, service_name: String) -> Self {
        Self {
            traces,
            logs,
            service_name,
            interval: Duration::from_millis(500),
            batch_size: 512,
            max_attempts: 4,
            first_backoff: Duration::from_millis(100),
        }
    }
}

/// `OTEL_EXPORTER_OTLP_ENDPOINT` semantics: a base URL to which the signal path is appended.
pub fn traces_url(base: &str) -> String {
    crate::net::otlp_env::signal_url(base, crate::net::OtlpSignal::Traces)
}

#[derive(Debug, Default)]
pub struct ExportStats {
    pub exported_spans: StripedCounter,
    pub failed_spans: StripedCounter,
    pub retries: StripedCounter,
    pub batches: StripedCounter,
    pub exported_logs: StripedCounter,
    pub failed_logs: StripedCounter,
}

struct Control {
    stop: AtomicBool,
    flush_requested: AtomicU64,
    // A lock + condvar only for `flush()`, which callers use at shutdown or in tests, never per call.
    flush_done: Mutex<u64>,
    flushed: Condvar,
}

pub struct ExportWorker {
    control: Arc<Control>,
    thread: Thread,
    handle: Mutex<Option<JoinHandle<()>>>,
}

impl ExportWorker {
    pub fn spawn(
        queue: Arc<SpanQueue>,
        logs: Arc<LogQueue>,
        settings: ExportSettings,
        stats: Arc<ExportStats>,
        warn: Warn,
    ) -> std::io::Result<Self> {
        let control = Arc::new(Control {
            stop: AtomicBool::new(false),
            flush_requested: AtomicU64::new(0),
            flush_done: Mutex::new(0),
            flushed: Condvar::new(),
        });
        let c = control.clone();
        let handle = thread::Builder::new()
            .name("ferrule-otlp".into())
            .spawn(move || run(queue, logs, settings, stats, warn, c))?;
        Ok(Self {
            control,
            thread: handle.thread().clone(),
            handle: Mutex::new(Some(handle)),
        })
    }

    /// Asks the worker to export everything queued now and waits up to `timeout`; true if done.
    pub fn flush(&self, timeout: Duration) -> bool {
        let want = self.control.flush_requested.fetch_add(1, Ordering::SeqCst) + 1;
        self.thread.unpark();
        let deadline = Instant::now() + timeout;
        let mut done = self
            .control
            .flush_done
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        while *done < want {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            done = self
                .control
                .flushed
                .wait_timeout(done, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }

    /// Stops after a last drain; waits for the thread.
    pub fn stop(&self) {
        self.control.stop.store(true, Ordering::SeqCst);
        self.thread.unpark();
        if let Some(h) = self.handle.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = h.join();
        }
    }
}

/// One signal's destination: its target, its client (built once), and whether it is failing now,
/// so a failure is reported once per outage and a recovery once.
struct Channel {
    /// `otlp_traces` / `otlp_logs`: the `name` label of `ferrule_errors_total{component="connect"}`
    /// and the `kind` of `ferrule_telemetry_dropped_total`.
    name: &'static str,
    target: HttpTarget,
    client: Option<reqwest::blocking::Client>,
    failing: bool,
}

impl Channel {
    fn new(name: &'static str, target: HttpTarget, warn: &Warn) -> Self {
        let client = match target.client() {
            Ok(c) => Some(c),
            Err(e) => {
                builtin::error("connect", name, "tls");
                warn(
                    "telemetry.export_failed",
                    format!("OTLP exporter for {} could not start: {e}", target.url),
                );
                None
            }
        };
        Self {
            name,
            target,
            client,
            failing: false,
        }
    }

    /// POSTs one encoded batch with retries and backoff; true when the receiver accepted it.
    fn send(
        &mut self,
        body: &[u8],
        what: &str,
        s: &ExportSettings,
        stats: &ExportStats,
        stop: &AtomicBool,
        warn: &Warn,
    ) -> bool {
        let Some(client) = &self.client else {
            return false;
        };
        let mut backoff = s.first_backoff;
        let mut last = None;
        for attempt in 0..s.max_attempts {
            match self.target.post(client, "application/x-protobuf", body) {
                Ok(_) => {
                    if self.failing {
                        self.failing = false;
                        warn(
                            "telemetry.export_recovered",
                            format!("OTLP export to {} works again", self.target.url),
                        );
                    }
                    return true;
                }
                Err(f) => {
                    let retry = f.kind.retryable();
                    last = Some(f);
                    // Stopping (reconfigure, shutdown): one attempt per batch, no backoff, so
                    // `stop` is prompt. A TLS failure is not retried: it will not fix itself.
                    if !retry || attempt + 1 >= s.max_attempts || stop.load(Ordering::SeqCst) {
                        break;
                    }
                    stats.retries.inc();
                    thread::sleep(backoff);
                    backoff *= 4;
                }
            }
        }
        if let Some(f) = last {
            builtin::error("connect", self.name, f.kind.as_str());
            if !self.failing {
                self.failing = true;
                let attempts = if f.kind == FailureKind::Tls {
                    1
                } else {
                    s.max_attempts
                };
                warn(
                    "telemetry.export_failed",
                    format!(
                        "dropped {what}: {f} (after up to {attempts} attempts); further failures are counted in ferrule_telemetry_dropped_total{{kind=\"{}\"}} until it recovers",
                        self.name
                    ),
                );
            }
        }
        false
    }
}

fn run(
    queue: Arc<SpanQueue>,
    logs: Arc<LogQueue>,
    settings: ExportSettings,
    stats: Arc<ExportStats>,
    warn: Warn,
    control: Arc<Control>,
) {
    let mut traces = settings
        .traces
        .clone()
        .map(|t| Channel::new("otlp_traces", t, &warn));
    let mut log_channel = settings
        .logs
        .clone()
        .map(|t| Channel::new("otlp_logs", t, &warn));
    let resource = ResourceAttributesWithSchema::from(
        &Resource::builder_empty()
            .with_service_name(settings.service_name.clone())
            .with_attribute(KeyValue::new("telemetry.sdk.name", "ferrule"))
            .build(),
    );
    let scope = InstrumentationScope::builder("ferrule")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    let mut reported_drops = queue.lost();
    let mut reported_log_drops = logs.lost();
    loop {
        let stopping = control.stop.load(Ordering::SeqCst);
        let flush_target = control.flush_requested.load(Ordering::SeqCst);
        loop {
            let batch = queue.drain(settings.batch_size);
            if batch.is_empty() {
                break;
            }
            let n = batch.len() as u64;
            stats.batches.inc();
            let delivered = match traces.as_mut() {
                None => false,
                Some(ch) => {
                    let data: Vec<SpanData> =
                        batch.iter().map(|r| to_span_data(r, &scope)).collect();
                    let body = ExportTraceServiceRequest {
                        resource_spans: group_spans_by_resource_and_scope(data, &resource),
                    }
                    .encode_to_vec();
                    ch.send(
                        &body,
                        &format!("{n} spans"),
                        &settings,
                        &stats,
                        &control.stop,
                        &warn,
                    )
                }
            };
            if delivered {
                stats.exported_spans.add(n);
            } else {
                stats.failed_spans.add(n);
                builtin::dropped("otlp_traces", n);
            }
        }
        loop {
            let batch: Vec<ExportedLog> = logs.drain(settings.batch_size);
            if batch.is_empty() {
                break;
            }
            let n = batch.len() as u64;
            let delivered = match log_channel.as_mut() {
                None => false,
                Some(ch) => {
                    let body = otlp_logs::encode(&batch, &settings.service_name).encode_to_vec();
                    ch.send(
                        &body,
                        &format!("{n} log records"),
                        &settings,
                        &stats,
                        &control.stop,
                        &warn,
                    )
                }
            };
            if delivered {
                stats.exported_logs.add(n);
            } else {
                stats.failed_logs.add(n);
                builtin::dropped("otlp_logs", n);
            }
        }
        let lost = queue.lost();
        if lost > reported_drops {
            builtin::dropped("span_queue_full", lost - reported_drops);
            warn(
                "telemetry.drop",
                format!(
                    "export queue full: dropped {} spans ({lost} in total)",
                    lost - reported_drops
                ),
            );
            reported_drops = lost;
        }
        let lost = logs.lost();
        if lost > reported_log_drops {
            builtin::dropped("log_queue_full", lost - reported_log_drops);
            warn(
                "telemetry.drop",
                format!(
                    "log export queue full: dropped {} log records ({lost} in total)",
                    lost - reported_log_drops
                ),
            );
            reported_log_drops = lost;
        }
        {
            let mut done = control.flush_done.lock().unwrap_or_else(|p| p.into_inner());
            if *done < flush_target {
                *done = flush_target;
                control.flushed.notify_all();
            }
        }
        if stopping {
            return;
        }
        if control.flush_requested.load(Ordering::SeqCst) == flush_target {
            thread::park_timeout(settings.interval);
        }
    }
}

fn to_value(v: &AttrValue) -> Value {
    match v {
        AttrValue::Str(s) => Value::String(s.clone().into()),
        AttrValue::Int(i) => Value::I64(*i),
        AttrValue::Float(f) => Value::F64(*f),
        AttrValue::Bool(b) => Value::Bool(*b),
        AttrValue::StrList(l) => Value::Array(Array::String(
            l.iter().map(|s| StringValue::from(s.clone())).collect(),
        )),
    }
}

pub fn to_span_data(r: &SpanRecord, scope: &InstrumentationScope) -> SpanData {
    SpanData {
        span_context: SpanContext::new(
            opentelemetry::trace::TraceId::from_bytes(r.trace_id.to_bytes()),
            opentelemetry::trace::SpanId::from_bytes(r.span_id.to_bytes()),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: r
            .parent_span_id
            .map(|p| opentelemetry::trace::SpanId::from_bytes(p.to_bytes()))
            .unwrap_or(opentelemetry::trace::SpanId::INVALID),
        parent_span_is_remote: false,
        span_kind: if r.role == SpanRole::Call {
            SpanKind::Client
        } else {
            SpanKind::Internal
        },
        name: r.name.clone().into(),
        start_time: UNIX_EPOCH + Duration::from_nanos(r.start_unix_ns),
        end_time: UNIX_EPOCH + Duration::from_nanos(r.end_unix_ns),
        attributes: r
            .all_attributes()
            .iter()
            .map(|(k, v)| KeyValue::new(k.to_string(), to_value(v)))
            .collect(),
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: match &r.status {
            Status::Unset => opentelemetry::trace::Status::Unset,
            Status::Ok => opentelemetry::trace::Status::Ok,
            Status::Error(m) => opentelemetry::trace::Status::error(m.clone()),
        },
        instrumentation_scope: scope.clone(),
    }
}
