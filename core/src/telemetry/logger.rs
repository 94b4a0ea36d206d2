//! The structured logger: stamps, masks and serialises a `LogEvent` into one JSON line, rate-limits
//! identical lines, and hands the line to the configured sink. Sink failures are counted and
//! reported on stderr (the one place left to report them), never thrown at the caller.

use crate::clock::ClockRef;
use crate::striped::StripedCounter;
use crate::telemetry::event_limiter::{event_key, EventLimiter, Verdict};
use crate::telemetry::log_event::{write_rfc3339, Level, LogEvent};
use crate::telemetry::log_sink::LogSink;
use crate::telemetry::redact::Redactor;
use arc_swap::ArcSwap;
use std::cell::RefCell;
use std::fmt::Write;
use std::io::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

thread_local! {
    static LINE: RefCell<String> = RefCell::new(String::with_capacity(512));
}

/// The largest line buffer a thread keeps between events.
const KEPT_LINE_CAPACITY: usize = 64 * 1024;

pub const DEFAULT_DEDUP_SECONDS: f64 = 1.0;

pub struct Logger {
    min_level: AtomicU8,
    sink: ArcSwap<LogSink>,
    limiter: EventLimiter,
    emitted: StripedCounter,
    below_level: StripedCounter,
    sink_errors: StripedCounter,
}

impl Logger {
    pub fn new(clock: ClockRef, sink: LogSink, level: Level) -> Self {
        Self {
            min_level: AtomicU8::new(level as u8),
            sink: ArcSwap::from_pointee(sink),
            limiter: EventLimiter::new(clock, (DEFAULT_DEDUP_SECONDS * 1e9) as u64, 4096),
            emitted: StripedCounter::new(),
            below_level: StripedCounter::new(),
            sink_errors: StripedCounter::new(),
        }
    }

    pub fn set_sink(&self, sink: LogSink) {
        self.sink.store(Arc::new(sink));
    }
    pub fn sink(&self) -> arc_swap::Guard<Arc<LogSink>> {
        self.sink.load()
    }
    pub fn set_level(&self, level: Level) {
        self.min_level.store(level as u8, Ordering::Relaxed);
    }
    pub fn set_dedup_seconds(&self, s: f64) {
        self.limiter.set_window_ns((s * 1e9) as u64);
    }

    #[inline]
    /// For hosts that skip building an event below the level: `enabled`, and a skipped event is
    /// counted as filtered like one `emit` filters, so every event is accounted for.
    pub fn admit(&self, level: Level) -> bool {
        if self.enabled(level) {
            return true;
        }
        self.below_level.inc();
        false
    }

    pub fn enabled(&self, level: Level) -> bool {
        level as u8 >= self.min_level.load(Ordering::Relaxed)
    }

    /// Emits `ev`; returns the line written, or `None` when below the level or suppressed.
    pub fn emit(&self, ev: &LogEvent, service: &str, redactor: &Redactor) -> Option<String> {
        self.emit_with(ev, service, redactor, str::to_owned)
    }

    /// `emit` without copying the line out: what the hosts call. True when the line was written.
    pub fn log(&self, ev: &LogEvent, service: &str, redactor: &Redactor) -> bool {
        self.emit_with(ev, service, redactor, |_| ()).is_some()
    }

    fn emit_with<R>(
        &self,
        ev: &LogEvent,
        service: &str,
        redactor: &Redactor,
        out: impl FnOnce(&str) -> R,
    ) -> Option<R> {
        let level = ev.level();
        if !self.enabled(level) {
            self.below_level.inc();
            return None;
        }
        let mut out = Some(out);
        let mut result = None;
        let mut render = |buf: &mut String| {
            result = self.render_and_write(ev, service, redactor, buf, out.take().expect("once"));
        };
        // The line is rendered into a per-thread buffer, so an event allocates nothing once the
        // buffer has grown. A sink that logs through ferrule again on the same thread (a host
        // logging handler), or a thread being torn down, gets a fresh buffer instead.
        let reused = LINE.try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => {
                render(&mut buf);
                if buf.capacity() > KEPT_LINE_CAPACITY {
                    // One huge event must not pin its buffer on this thread for good.
                    *buf = String::with_capacity(512);
                }
                true
            }
            Err(_) => false,
        });
        if !matches!(reused, Ok(true)) {
            render(&mut String::with_capacity(512));
        }
        result
    }

    fn render_and_write<R>(
        &self,
        ev: &LogEvent,
        service: &str,
        redactor: &Redactor,
        line: &mut String,
        out: impl FnOnce(&str) -> R,
    ) -> Option<R> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        line.clear();
        line.push_str("{\"time\":\"");
        write_rfc3339(line, now);
        line.push('"');
        let body_start = line.len();
        ev.write_body(line, service, redactor);
        // Everything but the time identifies "the same event".
        let suppressed = match self
            .limiter
            .check(event_key(&line.as_bytes()[body_start..]))
        {
            Verdict::Suppress => return None,
            Verdict::Emit { suppressed } => suppressed,
        };
        if suppressed > 0 {
            let _ = write!(line, ",\"suppressed\":{suppressed}");
        }
        line.push_str("}\n");
        self.emitted.inc();
        let bare = &line[..line.len() - 1];
        if let Err(e) = self.sink.load().write_with_newline(ev.level(), line) {
            self.sink_errors.inc();
            // The line is lost: counted with every other telemetry drop.
            crate::telemetry::builtin::dropped("log_sink_error", 1);
            let n = self.sink_errors.get();
            if n == 1 || n.is_multiple_of(1000) {
                // Not `eprintln!`, which panics when stderr itself fails (a full or non-blocking
                // pipe, the very case that may have failed the sink).
                let _ = writeln!(
                    std::io::stderr(),
                    "ferrule: log sink failed ({n} failures so far): {e}; line: {bare}"
                );
            }
        }
        Some(out(bare))
    }

    pub fn stats(&self) -> LoggerStats {
        LoggerStats {
            emitted: self.emitted.get(),
            suppressed: self.limiter.suppressed(),
            below_level: self.below_level.get(),
            sink_errors: self.sink_errors.get(),
            dedup_overflow: self.limiter.overflow(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoggerStats {
    pub emitted: u64,
    pub suppressed: u64,
    pub below_level: u64,
    pub sink_errors: u64,
    pub dedup_overflow: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::Mutex;

    #[test]
    fn identical_events_are_rate_limited_with_a_suppressed_count() {
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let l2 = lines.clone();
        let clock = ManualClock::new();
        let logger = Logger::new(
            clock.clone().into(),
            LogSink::Callback(Arc::new(move |_, s| {
                l2.lock().unwrap().push(s.to_string());
                Ok(())
            })),
            Level::Info,
        );
        let r = Redactor::default();
        let ev = LogEvent::new(Level::Warning, "retry.attempt").message("503 from upstream");
        for _ in 0..10 {
            logger.emit(&ev, "svc", &r);
        }
        assert!(logger
            .emit(&LogEvent::new(Level::Debug, "x"), "svc", &r)
            .is_none());
        clock.advance_secs(1.5);
        let last = logger.emit(&ev, "svc", &r).unwrap();
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 2);
        let v: serde_json::Value = serde_json::from_str(&last).unwrap();
        assert_eq!(v["suppressed"], 9);
        assert_eq!(logger.stats().suppressed, 9);
        assert_eq!(logger.stats().below_level, 1);
    }

    #[test]
    fn a_sink_that_logs_again_on_the_same_thread_gets_its_own_buffer() {
        // A host logging handler may emit a ferrule event while ferrule writes one: the nested
        // event renders into a fresh buffer, and both lines arrive whole.
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let inner: Arc<std::sync::OnceLock<Arc<Logger>>> = Arc::new(std::sync::OnceLock::new());
        let (l2, i2) = (lines.clone(), inner.clone());
        let logger = Arc::new(Logger::new(
            ClockRef::System,
            LogSink::Callback(Arc::new(move |_, s| {
                l2.lock().unwrap().push(s.to_string());
                if s.contains("\"outer\"") {
                    let ev = LogEvent::new(Level::Info, "inner").message("from the sink");
                    assert!(i2.get().unwrap().log(&ev, "svc", &Redactor::default()));
                }
                Ok(())
            })),
            Level::Info,
        ));
        let _ = inner.set(logger.clone());
        let ev = LogEvent::new(Level::Info, "outer").message("mail a@b.io");
        let line = logger.emit(&ev, "svc", &Redactor::default()).unwrap();
        {
            let lines = lines.lock().unwrap();
            assert_eq!(lines.len(), 2);
            assert_eq!(lines[0], line);
            for l in lines.iter() {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                assert!(v["time"].as_str().unwrap().ends_with('Z'));
            }
            assert!(lines[0].contains("[EMAIL]") && lines[1].contains("\"inner\""));
        }
        // A huge event is written whole, and its buffer is not kept.
        let big = "y".repeat(200_000);
        let line = logger
            .emit(
                &LogEvent::new(Level::Info, "big").message(big.clone()),
                "svc",
                &Redactor::default(),
            )
            .unwrap();
        assert!(line.contains(&big));
        assert!(LINE.with(|b| b.borrow().capacity()) <= KEPT_LINE_CAPACITY);
        // Later events on this thread reuse the buffer and are not disturbed by what it held.
        let short = logger
            .emit(
                &LogEvent::new(Level::Info, "x"),
                "svc",
                &Redactor::default(),
            )
            .unwrap();
        assert!(
            short.ends_with("\"event\":\"x\",\"service\":\"svc\"}"),
            "{short}"
        );
    }

    #[test]
    fn failing_sink_is_counted_not_thrown() {
        let logger = Logger::new(
            ClockRef::System,
            LogSink::Callback(Arc::new(|_, _| Err("host gone".into()))),
            Level::Info,
        );
        let line = logger.emit(
            &LogEvent::new(Level::Error, "x"),
            "svc",
            &Redactor::default(),
        );
        assert!(line.is_some());
        assert_eq!(logger.stats().sink_errors, 1);
    }
}
