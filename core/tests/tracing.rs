//! Spans on a manual clock: parent/child structure, GenAI names and attributes, context ids,
//! sampling with tail rules, masking of attributes, and buffers that stay bounded under a
//! 10-million-event burst with every loss counted.

use ferrule_core::telemetry::context::CallContext;
use ferrule_core::telemetry::log_sink::LogSink;
use ferrule_core::telemetry::pipeline::{Pipeline, Settings};
use ferrule_core::telemetry::ring_buffer::{BoundedRing, Overflow};
use ferrule_core::telemetry::span::{keys, AttrValue, SpanRole, Status};
use ferrule_core::telemetry::tracer::Tracer;
use ferrule_core::{ClockRef, ManualClock};
use std::sync::Arc;
use std::time::Duration;

fn attr<'a>(
    a: &'a [(std::borrow::Cow<'static, str>, AttrValue)],
    k: &str,
) -> Option<&'a AttrValue> {
    a.iter().find(|(x, _)| x == k).map(|(_, v)| v)
}

#[test]
fn call_with_attempts_and_fallback_forms_one_trace() {
    let clock = ManualClock::new();
    let t = Tracer::new(ClockRef::Manual(clock.clone()), 64);
    let ctx = Arc::new(CallContext::nested(
        None,
        Some("sess-1".into()),
        Some("user-9".into()),
        vec!["beta".into()],
    ));
    let call = t.start(None);
    let a1 = t.start(Some(&call));
    clock.advance(Duration::from_millis(120));
    t.end(
        &a1,
        "attempt 1".into(),
        SpanRole::Attempt,
        Status::Error("HTTP 503 for bob@example.com".into()),
        vec![(keys::ERROR_TYPE.into(), "RateLimitError".into())],
        Some(ctx.clone()),
    )
    .unwrap();
    let fb = t.start(Some(&call));
    clock.advance(Duration::from_millis(80));
    let mut attrs = Tracer::genai_attributes(Some("chat"), Some("gpt-4o-mini"), Some("openai"));
    attrs.push((keys::INPUT_TOKENS.into(), AttrValue::Int(12)));
    attrs.push(("note".into(), "ask jane@example.com".into()));
    t.end(
        &fb,
        "fallback".into(),
        SpanRole::Fallback,
        Status::Ok,
        vec![],
        Some(ctx.clone()),
    );
    let name = Tracer::genai_name(Some("chat"), Some("gpt-4o")).unwrap();
    let root = t
        .end(&call, name, SpanRole::Call, Status::Ok, attrs, Some(ctx))
        .unwrap();

    let spans = t.recent_spans();
    assert_eq!(spans.len(), 3);
    assert_eq!(root.name, "chat gpt-4o");
    assert_eq!(root.parent_span_id, None);
    assert_eq!(root.duration_ns(), 200_000_000);
    for s in &spans[..2] {
        assert_eq!(s.trace_id, root.trace_id);
        assert_eq!(s.parent_span_id, Some(root.span_id));
        assert_eq!(s.request_id, root.request_id);
        assert_ne!(s.span_id, root.span_id);
    }
    assert_eq!(
        spans[0].status,
        Status::Error("HTTP 503 for [EMAIL]".into())
    );
    assert_eq!(spans[0].duration_ns(), 120_000_000);
    let all = root.all_attributes();
    assert_eq!(
        attr(&all, keys::PROVIDER),
        Some(&AttrValue::Str("openai".into()))
    );
    assert_eq!(attr(&all, keys::INPUT_TOKENS), Some(&AttrValue::Int(12)));
    assert_eq!(
        attr(&all, "note"),
        Some(&AttrValue::Str("ask [EMAIL]".into()))
    );
    assert_eq!(
        attr(&all, keys::CONVERSATION),
        Some(&AttrValue::Str("sess-1".into()))
    );
    assert_eq!(
        attr(&all, keys::USER),
        Some(&AttrValue::Str("user-9".into()))
    );
    assert_eq!(
        attr(&all, keys::TAGS),
        Some(&AttrValue::StrList(vec!["beta".into()]))
    );
    assert_eq!(attr(&all, keys::ROLE), Some(&AttrValue::Str("call".into())));
    assert_eq!(call.traceparent().header().len(), 55);
}

#[test]
fn head_sampling_drops_whole_traces_but_tail_rules_keep_errors_and_slow_spans() {
    let clock = ManualClock::new();
    let t = Tracer::new(ClockRef::Manual(clock.clone()), 64);
    t.sampler.set_ratio(0.0).unwrap();
    t.sampler.set_slow_seconds(Some(1.0)).unwrap();
    let s = t.start(None);
    assert!(!s.sampled);
    assert!(t
        .end(
            &s,
            "fast".into(),
            SpanRole::Call,
            Status::Unset,
            vec![],
            None
        )
        .is_none());
    let s = t.start(None);
    assert!(t
        .end(
            &s,
            "err".into(),
            SpanRole::Call,
            Status::Error("x".into()),
            vec![],
            None
        )
        .is_some());
    let s = t.start(None);
    clock.advance_secs(1.0);
    assert!(t
        .end(
            &s,
            "slow".into(),
            SpanRole::Call,
            Status::Unset,
            vec![],
            None
        )
        .is_some());
    assert_eq!(t.stats().unsampled, 1);
    let names: Vec<_> = t.recent_spans().iter().map(|s| s.name.clone()).collect();
    assert_eq!(names, vec!["err", "slow"]);
}

#[test]
fn content_is_captured_only_when_opted_in_masked_and_truncated() {
    let t = Tracer::default();
    assert_eq!(t.content("hello"), None);
    t.set_capture_content(true);
    t.set_content_max_chars(12);
    assert_eq!(t.content("mail a@b.io"), Some("mail [EMAIL]".into()));
    assert_eq!(
        t.content("mail a@b.io and more text"),
        Some("mail [EMAIL]…[truncated]".into())
    );
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map(|pages| pages * 4)
        .unwrap_or(0)
}

#[test]
fn ten_million_event_burst_stays_bounded_and_counts_drops() {
    // The export queue (drop newest) and the read-back ring (overwrite oldest), each fed 10M
    // records from 4 threads with no consumer: both stay at capacity, memory stays flat and every
    // loss is counted exactly.
    let clock = ManualClock::new();
    let t = Tracer::new(ClockRef::Manual(clock), 16);
    let s = t.start(None);
    let rec = t
        .end(&s, "burst".into(), SpanRole::Call, Status::Ok, vec![], None)
        .unwrap();
    let export = Arc::new(BoundedRing::new(8192, Overflow::DropNewest));
    let recent = Arc::new(BoundedRing::new(2048, Overflow::Overwrite));
    let before = rss_kib();
    const N: u64 = 10_000_000;
    let hs: Vec<_> = (0..4)
        .map(|_| {
            let (e, r, rec) = (export.clone(), recent.clone(), rec.clone());
            std::thread::spawn(move || {
                for _ in 0..N / 4 {
                    e.push(rec.clone());
                    r.push(rec.clone());
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let after = rss_kib();
    assert_eq!(export.len(), 8192);
    assert_eq!(export.lost(), N - 8192);
    assert_eq!(recent.len(), 2048);
    assert_eq!(recent.lost(), N - 2048);
    assert_eq!(export.pushed() + recent.pushed(), 2 * N);
    // Only the queue slots exist: no per-event growth (10M records would be gigabytes).
    assert!(
        after.saturating_sub(before) < 32 * 1024,
        "rss grew {} KiB",
        after - before
    );
}

#[test]
fn pipeline_burst_with_a_dead_exporter_drops_and_counts_without_blocking() {
    // Export to a port nothing listens on: the worker keeps failing, the queue stays bounded, the
    // callers never wait, and dropped + failed spans account for every span.
    let p = Pipeline::new(ClockRef::System, 16, 256, LogSink::Null);
    p.configure(Settings {
        otlp_endpoint: Some(Some("http://127.0.0.1:9".into())),
        ..Default::default()
    })
    .unwrap();
    let started = std::time::Instant::now();
    const N: u64 = 200_000;
    for _ in 0..N {
        let s = p.tracer.start(None);
        p.end_span(&s, "x".into(), SpanRole::Call, Status::Unset, vec![], None);
    }
    assert!(started.elapsed() < Duration::from_secs(20));
    let st = p.stats();
    assert!(st.export_queued <= 256);
    assert!(st.export_dropped > 0);
    assert_eq!(st.tracer.recent_len, 16);
    assert!(st.export_dropped + st.export_queued + st.export_failed_spans + st.exported_spans <= N);
    p.configure(Settings {
        otlp_endpoint: Some(None),
        ..Default::default()
    })
    .unwrap();
}

#[test]
fn configure_validates_everything_before_applying_anything() {
    let p = Pipeline::new(ClockRef::System, 16, 16, LogSink::Null);
    let e = p
        .configure(Settings {
            service_name: Some("svc".into()),
            sample_ratio: Some(1.5),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "configure: sample_ratio=1.5 is out of range; allowed: [0, 1]"
    );
    assert_eq!(*p.service_name(), "unknown_service");
    assert!(p
        .configure(Settings {
            otlp_endpoint: Some(Some("localhost:4318".into())),
            ..Default::default()
        })
        .unwrap_err()
        .to_string()
        .contains("otlp_endpoint"));
    assert!(p
        .configure(Settings {
            redact_patterns: Some(vec![("x".into(), "(".into())]),
            ..Default::default()
        })
        .is_err());
}

#[test]
fn settings_default_from_otel_environment_variables() {
    let env = |k: &str| -> Option<String> {
        match k {
            "OTEL_SERVICE_NAME" => Some("checkout".into()),
            "OTEL_TRACES_SAMPLER" => Some("parentbased_traceidratio".into()),
            "OTEL_TRACES_SAMPLER_ARG" => Some("0.25".into()),
            "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://collector:4318/".into()),
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT" => Some("True".into()),
            "OTEL_LOG_LEVEL" => Some("loud".into()),
            _ => None,
        }
    };
    let (s, problems) = Settings::from_vars(env);
    assert_eq!(s.service_name.as_deref(), Some("checkout"));
    assert_eq!(s.sample_ratio, Some(0.25));
    assert_eq!(
        s.otlp_endpoint,
        Some(Some("http://collector:4318/v1/traces".into()))
    );
    assert_eq!(s.capture_content, Some(true));
    assert_eq!(problems.len(), 1);
    assert!(problems[0].contains("OTEL_LOG_LEVEL"));
}
