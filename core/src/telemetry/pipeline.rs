//! The process-wide telemetry pipeline: one tracer, one logger, one session registry, one export
//! queue and its lazily started OTLP worker, and `configure` as the single entry point for their
//! settings (defaulting from the standard `OTEL_*` environment variables). Hosts call this; it is
//! also the Rust API.

use crate::clock::ClockRef;
use crate::error::{check, Error, Result};
use crate::fork_guard;
use crate::net::otlp_env::signal_url;
use crate::net::{Compression, HttpTarget, OtlpSignal, OtlpTarget, TlsFiles};
use crate::striped::StripedCounter;
use crate::telemetry::context::{CallContext, ContextRef, SessionRegistry};
use crate::telemetry::log_event::{FieldValue, Level, LogEvent};
use crate::telemetry::log_sink::LogSink;
use crate::telemetry::logger::{Logger, LoggerStats};
use crate::telemetry::otlp_export::{
    traces_url, ExportSettings, ExportStats, ExportWorker, SpanQueue,
};
use crate::telemetry::otlp_logs::{ExportedLog, LogQueue};
use crate::telemetry::redact::{RedactCallback, Redactor};
use crate::telemetry::ring_buffer::Overflow;
use crate::telemetry::span::{Attributes, SpanRecord, SpanRole, Status};
use crate::telemetry::tracer::{SpanStart, Tracer, TracerStats, DEFAULT_RECENT_CAPACITY};
use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

const C: &str = "configure";
pub const DEFAULT_EXPORT_CAPACITY: usize = 8192;

/// What `configure(...)` may change; `None` leaves a setting as it is.
#[derive(Default)]
pub struct Settings {
    pub service_name: Option<String>,
    pub sample_ratio: Option<f64>,
    /// `Some(None)` turns the slow-span tail rule off.
    pub slow_span_seconds: Option<Option<f64>>,
    pub capture_content: Option<bool>,
    pub content_max_chars: Option<i128>,
    /// `Some(None)` turns export off.
    pub otlp_endpoint: Option<Option<String>>,
    pub log_sink: Option<LogSink>,
    pub log_level: Option<Level>,
    pub log_dedup_seconds: Option<f64>,
    pub redact_patterns: Option<Vec<(String, String)>>,
    /// `Some(None)` removes the callback.
    pub redact_callback: Option<Option<RedactCallback>>,
    /// Request headers for every OTLP export (an API key); replaces `OTEL_EXPORTER_OTLP_HEADERS`.
    pub otlp_headers: Option<Vec<(String, String)>>,
    /// Replaces `OTEL_EXPORTER_OTLP_COMPRESSION`.
    pub otlp_compression: Option<Compression>,
    /// CA and client certificate files; replace the `OTEL_EXPORTER_OTLP_*CERTIFICATE/KEY` ones.
    pub otlp_tls: Option<TlsFiles>,
    /// Export structured events as OTLP log records too (`OTEL_LOGS_EXPORTER=otlp`).
    pub otlp_logs: Option<bool>,
}

impl Settings {
    /// Defaults from `OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER`(+`_ARG`),
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_LOG_LEVEL` and
    /// `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`. Unusable values are returned as
    /// problems (to be logged), not applied.
    pub fn from_env() -> (Settings, Vec<String>) {
        Self::from_vars(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
    }

    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> (Settings, Vec<String>) {
        let mut s = Settings::default();
        let mut problems = Vec::new();
        s.service_name = get("OTEL_SERVICE_NAME");
        match get("OTEL_TRACES_SAMPLER").as_deref() {
            None => {}
            Some("always_on" | "parentbased_always_on") => s.sample_ratio = Some(1.0),
            Some("always_off" | "parentbased_always_off") => s.sample_ratio = Some(0.0),
            Some("traceidratio" | "parentbased_traceidratio") => {
                match get("OTEL_TRACES_SAMPLER_ARG").map(|a| a.trim().parse::<f64>()) {
                    None => s.sample_ratio = Some(1.0),
                    Some(Ok(r)) if (0.0..=1.0).contains(&r) => s.sample_ratio = Some(r),
                    Some(_) => problems.push(
                        "OTEL_TRACES_SAMPLER_ARG is not a number in [0, 1]; sampling all".into(),
                    ),
                }
            }
            Some(other) => problems.push(format!(
                "OTEL_TRACES_SAMPLER={other} is not supported; allowed: always_on, always_off, traceidratio, parentbased_*"
            )),
        }
        if let Some(u) = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            s.otlp_endpoint = Some(Some(u));
        } else if let Some(u) = get("OTEL_EXPORTER_OTLP_ENDPOINT") {
            s.otlp_endpoint = Some(Some(traces_url(&u)));
        }
        if let Some(e) = get("OTEL_LOGS_EXPORTER") {
            s.otlp_logs = Some(e.split(',').any(|x| x.trim() == "otlp"));
        }
        if let Some(l) = get("OTEL_LOG_LEVEL") {
            match Level::parse(&l) {
                Some(l) => s.log_level = Some(l),
                None => problems.push(format!("OTEL_LOG_LEVEL={l} is not {}", Level::ALLOWED)),
            }
        }
        if let Some(v) = get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT") {
            s.capture_content = Some(v.trim().eq_ignore_ascii_case("true"));
        }
        (s, problems)
    }
}

pub struct Pipeline {
    pub tracer: Tracer,
    pub logger: Logger,
    pub sessions: SessionRegistry,
    service_name: ArcSwap<String>,
    export_queue: Arc<SpanQueue>,
    export_stats: Arc<ExportStats>,
    exporting: AtomicBool,
    export_url: ArcSwap<Option<String>>,
    /// What `configure` said about export, kept so a later call changing one setting keeps the rest.
    /// A lock taken by `configure` and by the worker's start only.
    export_config: Mutex<ExportConfig>,
    log_queue: Arc<LogQueue>,
    exporting_logs: AtomicBool,
    /// Fork generation + 1 of the running worker; 0 when none runs.
    worker_generation: AtomicU64,
    // A lock: taken to start, stop or restart the worker (configure, first export, after fork),
    // never on the span path once the worker runs.
    worker: Mutex<Option<ExportWorker>>,
    self_ref: Weak<Pipeline>,
    fork_discarded: StripedCounter,
    session_conflicts_reported: StripedCounter,
}

impl Pipeline {
    pub fn new(
        clock: ClockRef,
        recent_capacity: usize,
        export_capacity: usize,
        sink: LogSink,
    ) -> Arc<Self> {
        Arc::new_cyclic(|w| Pipeline {
            tracer: Tracer::new(clock.clone(), recent_capacity),
            logger: Logger::new(clock, sink, Level::Info),
            sessions: SessionRegistry::new(100_000),
            service_name: ArcSwap::from_pointee("unknown_service".to_string()),
            export_queue: Arc::new(SpanQueue::new(export_capacity, Overflow::DropNewest)),
            export_stats: Arc::new(ExportStats::default()),
            exporting: AtomicBool::new(false),
            export_url: ArcSwap::from_pointee(None),
            export_config: Mutex::new(ExportConfig::default()),
            log_queue: Arc::new(LogQueue::new(export_capacity, Overflow::DropNewest)),
            exporting_logs: AtomicBool::new(false),
            worker_generation: AtomicU64::new(0),
            worker: Mutex::new(None),
            self_ref: w.clone(),
            fork_discarded: StripedCounter::new(),
            session_conflicts_reported: StripedCounter::new(),
        })
    }

    /// The process-wide pipeline, configured from the environment on first use.
    pub fn global() -> &'static Arc<Pipeline> {
        static G: OnceLock<Arc<Pipeline>> = OnceLock::new();
        if let Some(p) = G.get() {
            return p;
        }
        // The first use builds the redactor and reads the environment (milliseconds); a fork in
        // that window would leave the child's copy of this `OnceLock` initialising forever, so
        // the fork waits for it (see `fork_guard::quiesce`).
        let _q = fork_guard::quiesce();
        G.get_or_init(|| {
            let p = Pipeline::new(
                ClockRef::System,
                DEFAULT_RECENT_CAPACITY,
                DEFAULT_EXPORT_CAPACITY,
                LogSink::Stderr,
            );
            let (s, problems) = Settings::from_env();
            if let Err(e) = p.configure(s) {
                p.warn("telemetry.config_ignored", e.to_string());
            }
            for m in problems {
                p.warn("telemetry.config_ignored", m);
            }
            p
        })
    }

    /// Applies `s`: every value is validated before any is applied, so a bad call changes nothing.
    pub fn configure(&self, s: Settings) -> Result<()> {
        if let Some(r) = s.sample_ratio {
            if !(r.is_finite() && (0.0..=1.0).contains(&r)) {
                return Err(Error::out_of_range(C, "sample_ratio", r, "[0, 1]"));
            }
        }
        if let Some(Some(v)) = s.slow_span_seconds {
            check::finite_positive(C, "slow_span_seconds", v)?;
        }
        let content_max = s
            .content_max_chars
            .map(|n| check::int(C, "content_max_chars", n, 1, 100_000_000))
            .transpose()?;
        if let Some(d) = s.log_dedup_seconds {
            check::finite_non_negative(C, "log_dedup_seconds", d)?;
        }
        if let Some(Some(u)) = &s.otlp_endpoint {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(Error::out_of_range(
                    C,
                    "otlp_endpoint",
                    u,
                    "an http:// or https:// URL",
                ));
            }
        }
        // Explicit connection settings are checked now (a wrong path fails here, naming it);
        // the environment's are reported as warnings when the exporter starts.
        let mut probe = HttpTarget::new("https://collector");
        if let Some(h) = &s.otlp_headers {
            probe.headers = h.clone();
        }
        if let Some(t) = &s.otlp_tls {
            probe.tls = t.clone();
        }
        if let Err((param, value, allowed)) = probe.check() {
            let param = if param == "headers" {
                "otlp_headers"
            } else {
                param
            };
            return Err(Error::out_of_range(C, param, value, allowed));
        }
        let redactor = if s.redact_patterns.is_some() || s.redact_callback.is_some() {
            let current = self.tracer.redactor();
            // Setting only the callback keeps the patterns in force.
            let patterns = s
                .redact_patterns
                .clone()
                .unwrap_or_else(|| current.user_patterns().to_vec());
            let cb = match s.redact_callback.clone() {
                Some(cb) => cb,
                None if current.has_callback() => {
                    return Err(Error::conflict(
                        C,
                        "redact_patterns",
                        "[...]",
                        "pass redact_callback again (or None) when replacing patterns",
                    ))
                }
                None => None,
            };
            Some(Redactor::new(&patterns, cb)?)
        } else {
            None
        };
        // All valid: apply.
        if let Some(n) = s.service_name {
            self.service_name.store(Arc::new(n));
        }
        if let Some(r) = s.sample_ratio {
            self.tracer.sampler.set_ratio(r)?;
        }
        if let Some(v) = s.slow_span_seconds {
            self.tracer.sampler.set_slow_seconds(v)?;
        }
        if let Some(c) = s.capture_content {
            self.tracer.set_capture_content(c);
        }
        if let Some(n) = content_max {
            self.tracer.set_content_max_chars(n as usize);
        }
        if let Some(r) = redactor {
            self.tracer.set_redactor(r);
        }
        if let Some(sink) = s.log_sink {
            self.logger.set_sink(sink);
        }
        if let Some(l) = s.log_level {
            self.logger.set_level(l);
        }
        if let Some(d) = s.log_dedup_seconds {
            self.logger.set_dedup_seconds(d);
        }
        let export_changed = s.otlp_endpoint.is_some()
            || s.otlp_headers.is_some()
            || s.otlp_compression.is_some()
            || s.otlp_tls.is_some()
            || s.otlp_logs.is_some();
        if export_changed {
            self.stop_worker();
            let mut ec = self.export_config.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(ep) = s.otlp_endpoint {
                ec.endpoint = ep.map(|u| traces_url(&u));
            }
            if let Some(h) = s.otlp_headers {
                ec.headers = Some(h);
            }
            if let Some(c) = s.otlp_compression {
                ec.compression = Some(c);
            }
            if let Some(t) = s.otlp_tls {
                ec.tls = Some(t);
            }
            if let Some(l) = s.otlp_logs {
                ec.logs = l;
            }
            let (traces, logs) = ec.plan(|sig| OtlpTarget::from_env(sig).0);
            self.exporting.store(traces.is_some(), Ordering::SeqCst);
            self.exporting_logs.store(logs.is_some(), Ordering::SeqCst);
            self.export_url.store(Arc::new(ec.endpoint.clone()));
        }
        Ok(())
    }

    /// Where logs are exported, if they are.
    pub fn logs_export_url(&self) -> Option<String> {
        let ec = self.export_config.lock().unwrap_or_else(|p| p.into_inner());
        ec.plan(|sig| OtlpTarget::from_env(sig).0).1.map(|t| t.url)
    }

    pub fn service_name(&self) -> Arc<String> {
        self.service_name.load_full()
    }

    pub fn export_url(&self) -> Option<String> {
        (**self.export_url.load()).clone()
    }

    /// Ends a span and, when exporting, queues it for the worker (started lazily, restarted in a
    /// forked child). Never blocks: a full queue drops the span and counts it.
    pub fn end_span(
        &self,
        start: &SpanStart,
        name: String,
        role: SpanRole,
        status: Status,
        attributes: Attributes,
        context: Option<ContextRef>,
    ) -> Option<Arc<SpanRecord>> {
        let rec = self
            .tracer
            .end(start, name, role, status, attributes, context)?;
        if self.exporting.load(Ordering::Relaxed) {
            self.ensure_worker();
            self.export_queue.push(rec.clone());
        }
        Some(rec)
    }

    #[inline]
    fn ensure_worker(&self) {
        let g = fork_guard::generation() + 1;
        if self.worker_generation.load(Ordering::Acquire) != g {
            self.start_worker(g);
        }
    }

    /// Queues a written event for OTLP log export (when on). Never blocks: a full queue drops the
    /// record and counts it.
    fn export_log(&self, ev: &LogEvent, line: &str) {
        self.ensure_worker();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        self.log_queue.push(ExportedLog {
            time_unix_ns: now,
            level: ev.level(),
            trace_id: ev.trace_id,
            span_id: ev.span_id,
            line: line.to_string(),
        });
    }

    fn start_worker(&self, generation: u64) {
        let mut w = self.worker.lock().unwrap_or_else(|p| p.into_inner());
        let running = self.worker_generation.load(Ordering::Acquire);
        if running == generation {
            return; // another thread started it while we waited
        }
        if running != 0 {
            // A worker from before a fork: its thread does not exist in this process, so it can
            // neither be stopped nor joined. Forget it, and drop the spans queued before the fork
            // (the parent exports those), counting them.
            if let Some(old) = w.take() {
                std::mem::forget(old);
            }
            let mut n = 0;
            while self.export_queue.pop().is_some() {
                n += 1;
            }
            while self.log_queue.pop().is_some() {
                n += 1;
            }
            self.fork_discarded.add(n);
            crate::telemetry::ids::reseed_thread();
        }
        let (traces, logs) = {
            let ec = self.export_config.lock().unwrap_or_else(|p| p.into_inner());
            ec.plan(|sig| OtlpTarget::from_env(sig).0)
        };
        if traces.is_none() && logs.is_none() {
            return;
        }
        let weak = self.self_ref.clone();
        let warn: crate::telemetry::otlp_export::Warn = Arc::new(move |event, msg| {
            if let Some(p) = weak.upgrade() {
                p.warn(event, msg);
            }
        });
        match ExportWorker::spawn(
            self.export_queue.clone(),
            self.log_queue.clone(),
            ExportSettings::new(traces, logs, (*self.service_name()).clone()),
            self.export_stats.clone(),
            warn,
        ) {
            Ok(worker) => {
                *w = Some(worker);
                self.worker_generation.store(generation, Ordering::Release);
            }
            Err(e) => {
                drop(w);
                self.warn(
                    "telemetry.export_failed",
                    format!("could not start the OTLP export thread: {e}"),
                );
            }
        }
    }

    fn stop_worker(&self) {
        let mut w = self.worker.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(worker) = w.take() {
            if self.worker_generation.load(Ordering::Acquire) == fork_guard::generation() + 1 {
                worker.stop();
            } else {
                std::mem::forget(worker); // from before a fork; see start_worker
            }
        }
        self.worker_generation.store(0, Ordering::Release);
    }

    /// Exports everything queued so far and waits up to `timeout`; true when delivered (or when
    /// export is off and there is nothing to do).
    pub fn flush(&self, timeout: Duration) -> bool {
        let w = self.worker.lock().unwrap_or_else(|p| p.into_inner());
        match w.as_ref() {
            Some(worker) if self.worker_generation.load(Ordering::Acquire) != 0 => {
                worker.flush(timeout)
            }
            _ => self.export_queue.is_empty(),
        }
    }

    /// Emits a structured event through the logger, with the service name and redactor.
    pub fn emit(&self, ev: &LogEvent) -> Option<String> {
        let line = self
            .logger
            .emit(ev, &self.service_name.load(), &self.tracer.redactor());
        if let Some(l) = &line {
            if self.exporting_logs.load(Ordering::Relaxed) {
                self.export_log(ev, l);
            }
        }
        line
    }

    /// `emit` for hosts, which only need to know whether the event was written.
    pub fn log(&self, ev: &LogEvent) -> bool {
        if self.exporting_logs.load(Ordering::Relaxed) {
            return self.emit(ev).is_some();
        }
        self.logger
            .log(ev, &self.service_name.load(), &self.tracer.redactor())
    }

    /// A warning about ferrule itself (drops, export failures, config problems).
    pub fn warn(&self, event: &'static str, message: String) {
        let msg = self
            .tracer
            .redactor()
            .redact_patterns(&message)
            .into_owned();
        let ev = LogEvent::new(Level::Warning, event).message(msg);
        let line = self
            .logger
            .emit(&ev, &self.service_name.load(), &Redactor::default());
        if let Some(l) = line {
            if self.exporting_logs.load(Ordering::Relaxed) {
                self.export_log(&ev, &l);
            }
        }
    }

    /// A warning a host also shows in its own warning channel (Node's `process.emitWarning`): logged
    /// like any event, and its masked message returned only when the logger wrote it (not below the
    /// level, not deduplicated away), so that channel is fed from this logger and never says more.
    pub fn warn_for_host(&self, ev: LogEvent) -> Option<String> {
        let masked = ev
            .message
            .as_deref()
            .map(|m| self.tracer.redactor().redact_patterns(m).into_owned());
        self.emit(&ev)?;
        Some(masked.unwrap_or_else(|| ev.event.to_string()))
    }

    /// Called when a host enters `context(...)`: reports a session id reused by another user.
    pub fn enter_context(&self, ctx: &CallContext) {
        if let Some(c) = self.sessions.check(ctx) {
            self.session_conflicts_reported.inc();
            self.emit(
                &LogEvent::new(Level::Warning, "context.session_conflict")
                    .message(format!(
                        "session id {} was first used by another user",
                        c.session_id
                    ))
                    .field("session_id", FieldValue::Str(c.session_id))
                    .field("first_user_id", FieldValue::Str(c.first_user))
                    .field("user_id", FieldValue::Str(c.new_user)),
            );
        }
    }

    pub fn stats(&self) -> PipelineStats {
        PipelineStats {
            tracer: self.tracer.stats(),
            logger: self.logger.stats(),
            export_queued: self.export_queue.len() as u64,
            export_capacity: self.export_queue.capacity() as u64,
            export_dropped: self.export_queue.lost(),
            exported_spans: self.export_stats.exported_spans.get(),
            export_failed_spans: self.export_stats.failed_spans.get(),
            export_retries: self.export_stats.retries.get(),
            exported_logs: self.export_stats.exported_logs.get(),
            export_failed_logs: self.export_stats.failed_logs.get(),
            export_dropped_logs: self.log_queue.lost(),
            fork_discarded: self.fork_discarded.get(),
            session_conflicts: self.sessions.conflicts(),
            redact_callback_errors: self.tracer.redactor().callback_errors(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelineStats {
    pub tracer: TracerStats,
    pub logger: LoggerStats,
    pub export_queued: u64,
    pub export_capacity: u64,
    pub export_dropped: u64,
    pub exported_spans: u64,
    pub export_failed_spans: u64,
    pub export_retries: u64,
    pub exported_logs: u64,
    pub export_failed_logs: u64,
    pub export_dropped_logs: u64,
    pub fork_discarded: u64,
    pub session_conflicts: u64,
    pub redact_callback_errors: u64,
}

/// The export settings `configure` was given, merged over the environment's per signal.
#[derive(Debug, Clone, Default)]
struct ExportConfig {
    /// The traces URL (`.../v1/traces`).
    endpoint: Option<String>,
    headers: Option<Vec<(String, String)>>,
    compression: Option<Compression>,
    tls: Option<TlsFiles>,
    logs: bool,
}

impl ExportConfig {
    /// (traces, logs) targets. Logs go to `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` (or the general
    /// endpoint's `/v1/logs`), else next to the traces: the same collector's `/v1/logs`.
    fn plan(
        &self,
        env: impl Fn(OtlpSignal) -> OtlpTarget,
    ) -> (Option<HttpTarget>, Option<HttpTarget>) {
        let target = |sig: OtlpSignal, url: String| {
            let e = env(sig);
            let mut t = e.http_target(url, Duration::from_secs(10));
            if let Some(h) = &self.headers {
                t.headers = h.clone();
            }
            if let Some(c) = self.compression {
                t.compression = c;
            }
            if let Some(tls) = &self.tls {
                t.tls = tls.clone();
            }
            t
        };
        let traces = self.endpoint.clone().map(|u| target(OtlpSignal::Traces, u));
        let logs = if self.logs {
            let from_env = env(OtlpSignal::Logs).url;
            let from_traces = self.endpoint.as_ref().map(|u| {
                let base = u.strip_suffix(OtlpSignal::Traces.path()).unwrap_or(u);
                signal_url(base, OtlpSignal::Logs)
            });
            // An explicit traces endpoint (configure) names the collector for both signals.
            from_traces
                .or(from_env)
                .map(|u| target(OtlpSignal::Logs, u))
        } else {
            None
        };
        (traces, logs)
    }
}
