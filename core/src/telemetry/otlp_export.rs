//! OTLP/HTTP (protobuf) export of finished spans with the `opentelemetry-otlp` exporter, on one
//! background thread per process: it drains the bounded export queue in batches, retries a failed
//! batch with backoff, counts and reports what it could not deliver, and never blocks a caller
//! (callers only push into the queue, which drops and counts when full).

use crate::striped::StripedCounter;
use crate::telemetry::ring_buffer::BoundedRing;
use crate::telemetry::span::{AttrValue, SpanRecord, SpanRole, Status};
use opentelemetry::trace::{SpanContext, SpanKind, TraceFlags, TraceState};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter as _, SpanLinks};
use opentelemetry_sdk::Resource;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant, UNIX_EPOCH};

pub type SpanQueue = BoundedRing<Arc<SpanRecord>>;
/// How the worker reports a problem (the pipeline turns it into a warning log event).
pub type Warn = Arc<dyn Fn(&'static str, String) + Send + Sync>;

#[derive(Debug, Clone)]
pub struct ExportSettings {
    /// The full URL spans are posted to (`.../v1/traces`).
    pub url: String,
    pub service_name: String,
    pub interval: Duration,
    pub batch_size: usize,
    pub max_attempts: u32,
    pub first_backoff: Duration,
    pub timeout: Duration,
}

impl ExportSettings {
    pub fn new(url: String, service_name: String) -> Self {
        Self {
            url,
            service_name,
            interval: Duration::from_millis(500),
            batch_size: 512,
            max_attempts: 4,
            first_backoff: Duration::from_millis(100),
            timeout: Duration::from_secs(10),
        }
    }
}

/// `OTEL_EXPORTER_OTLP_ENDPOINT` semantics: a base URL to which the signal path is appended.
pub fn traces_url(base: &str) -> String {
    let b = base.trim_end_matches('/');
    if b.ends_with("/v1/traces") {
        b.to_string()
    } else {
        format!("{b}/v1/traces")
    }
}

#[derive(Debug, Default)]
pub struct ExportStats {
    pub exported_spans: StripedCounter,
    pub failed_spans: StripedCounter,
    pub retries: StripedCounter,
    pub batches: StripedCounter,
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
            .spawn(move || run(queue, settings, stats, warn, c))?;
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

fn run(
    queue: Arc<SpanQueue>,
    settings: ExportSettings,
    stats: Arc<ExportStats>,
    warn: Warn,
    control: Arc<Control>,
) {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(settings.url.clone())
        .with_timeout(settings.timeout)
        .build();
    let mut exporter = match exporter {
        Ok(e) => Some(e),
        Err(e) => {
            warn(
                "telemetry.export_failed",
                format!("OTLP exporter for {} could not start: {e}", settings.url),
            );
            None
        }
    };
    if let Some(e) = exporter.as_mut() {
        e.set_resource(
            &Resource::builder_empty()
                .with_service_name(settings.service_name.clone())
                .build(),
        );
    }
    let scope = InstrumentationScope::builder("ferrule")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    let mut reported_drops = queue.lost();
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
            let delivered = match &exporter {
                None => false,
                Some(exp) => send(exp, &batch, &scope, &settings, &stats, &control.stop),
            };
            if delivered {
                stats.exported_spans.add(n);
            } else {
                stats.failed_spans.add(n);
                warn(
                    "telemetry.export_failed",
                    format!(
                        "dropped {n} spans: {} did not accept them (up to {} attempts)",
                        settings.url, settings.max_attempts
                    ),
                );
            }
        }
        let lost = queue.lost();
        if lost > reported_drops {
            warn(
                "telemetry.drop",
                format!(
                    "export queue full: dropped {} spans ({lost} in total)",
                    lost - reported_drops
                ),
            );
            reported_drops = lost;
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

/// One batch, with retries and exponential backoff; true when the receiver accepted it.
fn send(
    exp: &opentelemetry_otlp::SpanExporter,
    batch: &[Arc<SpanRecord>],
    scope: &InstrumentationScope,
    s: &ExportSettings,
    stats: &ExportStats,
    stop: &AtomicBool,
) -> bool {
    let mut backoff = s.first_backoff;
    for attempt in 0..s.max_attempts {
        let data: Vec<SpanData> = batch.iter().map(|r| to_span_data(r, scope)).collect();
        if block_on(exp.export(data)).is_ok() {
            return true;
        }
        // Stopping (reconfigure, shutdown): one attempt per batch, no backoff, so `stop` is prompt.
        if attempt + 1 < s.max_attempts && !stop.load(Ordering::SeqCst) {
            stats.retries.inc();
            thread::sleep(backoff);
            backoff *= 4;
        } else {
            break;
        }
    }
    false
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

/// Drives the exporter's future on this thread. The reqwest blocking client does its I/O inside the
/// first poll, so no async runtime is needed (or wanted: a runtime per process is another thread
/// to restart after fork).
fn block_on<F: Future>(f: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}
