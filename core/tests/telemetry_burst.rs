//! A 10-million-event burst through the whole telemetry pipeline (spans to the read-back ring and
//! the export queue of a failing exporter; log events through the rate limiter to a sink): memory
//! stays flat and every event is accounted for exactly (kept + dropped == sent). About a minute of
//! CPU in the test profile (ferrule-core at opt-level 1), so a plain `cargo test` skips them and
//! `make test-rust` runs them from the same build: `cargo test --workspace --test telemetry_burst
//! -- --ignored` (a --release run would compile the whole crate graph once more for two tests).

use ferrule_core::telemetry::log_event::{FieldValue, Level, LogEvent};
use ferrule_core::telemetry::log_sink::LogSink;
use ferrule_core::telemetry::pipeline::{Pipeline, Settings};
use ferrule_core::telemetry::span::{SpanRole, Status};
use ferrule_core::ClockRef;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const N: u64 = 10_000_000;
const THREADS: u64 = 2;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|pages| pages * 4)
        .unwrap_or(0)
}

/// Runs `per_thread(thread, i)` N times over THREADS threads; returns the RSS growth in KiB
/// between a warmed-up point (the first 1% of the burst) and the end.
fn burst(f: impl Fn(u64) + Send + Sync + 'static) -> u64 {
    let f = Arc::new(f);
    for i in 0..N / 100 {
        f(i);
    }
    let before = rss_kib();
    let hs: Vec<_> = (0..THREADS)
        .map(|t| {
            let f = f.clone();
            std::thread::spawn(move || {
                for i in 0..(N - N / 100) / THREADS {
                    f(t * N + i);
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    rss_kib().saturating_sub(before)
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "10M events, a minute of CPU: make test-rust runs them with --ignored"
)]
fn ten_million_spans_through_the_pipeline_are_all_accounted_for() {
    // Export to a port nothing listens on: the worker keeps failing and retrying, so the queue
    // fills and the rest is dropped at the door, without a caller ever waiting.
    let p = Pipeline::new(ClockRef::System, 2048, 8192, LogSink::Null);
    p.configure(Settings {
        otlp_endpoint: Some(Some("http://127.0.0.1:9".into())),
        sample_ratio: Some(1.0),
        ..Default::default()
    })
    .unwrap();
    let p2 = p.clone();
    let grew = burst(move |_| {
        let s = p2.tracer.start(None);
        p2.end_span(&s, "burst".into(), SpanRole::Call, Status::Ok, vec![], None);
    });
    // Stopping the worker makes it take one last look at the queue, so the counts settle.
    p.configure(Settings {
        otlp_endpoint: Some(None),
        ..Default::default()
    })
    .unwrap();
    let st = p.stats();
    let sent = (N / 100) + (N - N / 100) / THREADS * THREADS;
    assert_eq!(st.tracer.ended, sent);
    assert_eq!(st.tracer.recent_len, 2048);
    assert_eq!(st.tracer.recent_len + st.tracer.recent_evicted, sent);
    assert!(st.export_dropped > 0 && st.export_queued <= 8192);
    assert_eq!(
        st.export_dropped + st.export_queued + st.export_failed_spans + st.exported_spans,
        sent,
        "{st:?}"
    );
    // 10M span records held anywhere would be gigabytes; only the fixed slots exist.
    assert!(grew < 32 * 1024, "rss grew {grew} KiB");
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "10M events, a minute of CPU: make test-rust runs them with --ignored"
)]
fn ten_million_log_events_are_emitted_suppressed_or_filtered_never_lost() {
    let lines = Arc::new(AtomicU64::new(0));
    let l2 = lines.clone();
    let p = Pipeline::new(
        ClockRef::System,
        16,
        16,
        LogSink::Callback(Arc::new(move |_, _| {
            l2.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })),
    );
    p.configure(Settings {
        otlp_endpoint: Some(None),
        log_level: Some(Level::Info),
        log_dedup_seconds: Some(60.0),
        ..Default::default()
    })
    .unwrap();
    let p2 = p.clone();
    // A debug event in every 10 (below the level), and 1000 distinct warnings repeating: the
    // first of each passes, the repeats are rate-limited and counted.
    let grew = burst(move |i| {
        let level = if i % 10 == 0 {
            Level::Debug
        } else {
            Level::Warning
        };
        p2.emit(
            &LogEvent::new(level, "retry.attempt")
                .message("retrying for bob@example.com")
                .field("attempt", FieldValue::Int((i % 1000) as i64)),
        );
    });
    let st = p.stats().logger;
    let sent = (N / 100) + (N - N / 100) / THREADS * THREADS;
    assert_eq!(st.emitted, lines.load(Ordering::Relaxed));
    assert_eq!(st.emitted + st.suppressed + st.below_level, sent, "{st:?}");
    assert!(st.emitted >= 900 && st.suppressed > 8_000_000, "{st:?}");
    assert!(grew < 32 * 1024, "rss grew {grew} KiB");
}
