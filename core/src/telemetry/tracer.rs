//! The tracer: mints ids and start times when a span starts, and when it ends decides (sampler),
//! masks (redactor) and records it into the bounded read-back ring. Starting a span is a clock read
//! and two id draws; ending one is one allocation for the record and one lock-free push.

use crate::clock::ClockRef;
use crate::striped::StripedCounter;
use crate::telemetry::context::ContextRef;
use crate::telemetry::ids::{new_span_id, next_u64s, RequestId, SpanId, TraceId, TraceParent};
use crate::telemetry::redact::Redactor;
use crate::telemetry::ring_buffer::{BoundedRing, Overflow};
use crate::telemetry::sampler::Sampler;
use crate::telemetry::span::{keys, AttrValue, Attributes, SpanRecord, SpanRole, Status};
use crate::telemetry::wall_anchor::{system_unix_nanos, WallAnchor, DEFAULT_REANCHOR_NANOS};
use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// What a started span carries until it ends; children start from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanStart {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent_span_id: Option<SpanId>,
    pub request_id: RequestId,
    /// The head sampling decision of the trace.
    pub sampled: bool,
    /// Monotonic clock time at start.
    pub start_nanos: u64,
}

impl SpanStart {
    pub fn traceparent(&self) -> TraceParent {
        TraceParent {
            trace_id: self.trace_id,
            span_id: self.span_id,
            sampled: self.sampled,
        }
    }
}

pub const DEFAULT_RECENT_CAPACITY: usize = 2048;
pub const DEFAULT_CONTENT_MAX_CHARS: usize = 4096;

pub struct Tracer {
    clock: ClockRef,
    /// Maps monotonic readings to Unix-epoch nanoseconds; re-anchored to the wall clock once a
    /// second for the system clock (a manual clock keeps the offset fixed, so tests are exact).
    wall: WallAnchor,
    pub sampler: Sampler,
    redactor: ArcSwap<Redactor>,
    recent: BoundedRing<Arc<SpanRecord>>,
    capture_content: AtomicBool,
    content_max_chars: AtomicUsize,
    started: StripedCounter,
    ended: StripedCounter,
    unsampled: StripedCounter,
}

impl Default for Tracer {
    fn default() -> Self {
        Self::new(ClockRef::System, DEFAULT_RECENT_CAPACITY)
    }
}

impl Tracer {
    pub fn new(clock: ClockRef, recent_capacity: usize) -> Self {
        let every = match clock {
            ClockRef::System => DEFAULT_REANCHOR_NANOS,
            _ => 0,
        };
        let wall = WallAnchor::new(clock.now_nanos(), system_unix_nanos(), every);
        Self {
            clock,
            wall,
            sampler: Sampler::default(),
            redactor: ArcSwap::from_pointee(Redactor::default()),
            recent: BoundedRing::new(recent_capacity, Overflow::Overwrite),
            capture_content: AtomicBool::new(false),
            content_max_chars: AtomicUsize::new(DEFAULT_CONTENT_MAX_CHARS),
            started: StripedCounter::new(),
            ended: StripedCounter::new(),
            unsampled: StripedCounter::new(),
        }
    }

    /// The tracer's monotonic clock now (span start times are on it).
    #[inline]
    pub fn now_nanos(&self) -> u64 {
        self.clock.now_nanos()
    }

    #[inline]
    pub fn unix_nanos(&self, mono: u64) -> u64 {
        self.wall
            .unix_nanos(mono, || (self.clock.now_nanos(), system_unix_nanos()))
    }

    /// Starts a span under `parent`, or a new trace (new trace id, request id, head decision).
    #[inline]
    pub fn start(&self, parent: Option<&SpanStart>) -> SpanStart {
        self.started.inc();
        let start_nanos = self.clock.now_nanos();
        match parent {
            Some(p) => SpanStart {
                trace_id: p.trace_id,
                span_id: new_span_id(),
                parent_span_id: Some(p.span_id),
                request_id: p.request_id,
                sampled: p.sampled,
                start_nanos,
            },
            None => {
                // The draws new_trace_id, new_span_id and the request id would make, in one go.
                let [t_hi, t_lo, span, r_a, r_b] = next_u64s::<5>();
                let trace_id = TraceId(((t_hi as u128) << 64) | t_lo as u128);
                SpanStart {
                    trace_id,
                    span_id: SpanId(span),
                    parent_span_id: None,
                    // Stamped from the tracer's clock (wall time via the anchored offset), not a
                    // second clock read.
                    request_id: RequestId::from_parts(
                        self.unix_nanos(start_nanos) / 1_000_000,
                        (r_a >> 48) as u16,
                        r_b,
                    ),
                    sampled: self.sampler.head(trace_id),
                    start_nanos,
                }
            }
        }
    }

    /// Starts a span continuing a trace received in a `traceparent` header.
    pub fn start_remote(&self, parent: &TraceParent) -> SpanStart {
        let mut s = self.start(None);
        s.trace_id = parent.trace_id;
        s.parent_span_id = Some(parent.span_id);
        s.sampled = parent.sampled;
        s
    }

    /// Ends a span: masks its string attributes, applies the tail rules and records it. Returns the
    /// record when it was kept (for the exporter), `None` when sampled out (counted).
    pub fn end(
        &self,
        start: &SpanStart,
        name: String,
        role: SpanRole,
        status: Status,
        mut attributes: Attributes,
        context: Option<ContextRef>,
    ) -> Option<Arc<SpanRecord>> {
        self.ended.inc();
        let end_nanos = self.clock.now_nanos().max(start.start_nanos);
        if !self.sampler.keep(
            start.sampled,
            status.is_error(),
            end_nanos - start.start_nanos,
        ) {
            self.unsampled.inc();
            return None;
        }
        let redactor = self.redactor.load();
        for (k, v) in attributes.iter_mut() {
            if let AttrValue::Str(s) = v {
                if carries_no_content(k) {
                    continue;
                }
                if let std::borrow::Cow::Owned(m) = redactor.redact(s) {
                    *s = m;
                }
            }
        }
        let status = match status {
            Status::Error(msg) => Status::Error(redactor.redact(&msg).into_owned()),
            s => s,
        };
        let start_unix_ns = self.unix_nanos(start.start_nanos);
        let rec = Arc::new(SpanRecord {
            name,
            trace_id: start.trace_id,
            span_id: start.span_id,
            parent_span_id: start.parent_span_id,
            request_id: start.request_id,
            role,
            // The end is the start plus the monotonic duration, so a re-anchor between the two
            // never changes a span's length.
            start_unix_ns,
            end_unix_ns: start_unix_ns + end_nanos.saturating_sub(start.start_nanos),
            status,
            attributes,
            context,
        });
        self.recent.push(rec.clone());
        Some(rec)
    }

    /// Prompt or response text to attach to a span: `None` unless content capture is on; masked,
    /// then cut to the configured number of characters.
    pub fn content(&self, text: &str) -> Option<String> {
        if !self.capture_content.load(Ordering::Relaxed) {
            return None;
        }
        Some(self.masked_content(text))
    }

    /// Text masked and cut as `content` does, whatever the global capture setting: for a caller
    /// that opted in itself (`wrap_openai(client, capture_content=True)`).
    pub fn masked_content(&self, text: &str) -> String {
        let max = self.content_max_chars.load(Ordering::Relaxed);
        let masked = self.redactor.load().redact(text).into_owned();
        match masked.char_indices().nth(max) {
            Some((cut, _)) => format!("{}…[truncated]", &masked[..cut]),
            None => masked,
        }
    }

    /// The GenAI span name: `{operation} {model}`, or whichever of the two is present.
    pub fn genai_name(operation: Option<&str>, model: Option<&str>) -> Option<String> {
        match (operation, model) {
            (Some(o), Some(m)) => {
                // Not `format!`: its machinery cost more than the rest of starting a span.
                let mut n = String::with_capacity(o.len() + 1 + m.len());
                n.push_str(o);
                n.push(' ');
                n.push_str(m);
                Some(n)
            }
            (Some(o), None) => Some(o.to_string()),
            (None, Some(m)) => Some(m.to_string()),
            (None, None) => None,
        }
    }

    /// The GenAI attributes for a call span.
    pub fn genai_attributes(
        operation: Option<&str>,
        model: Option<&str>,
        provider: Option<&str>,
    ) -> Attributes {
        let mut a = Attributes::with_capacity(4);
        if let Some(o) = operation {
            a.push((keys::OPERATION.into(), o.into()));
        }
        if let Some(m) = model {
            a.push((keys::MODEL.into(), m.into()));
        }
        if let Some(p) = provider {
            a.push((keys::PROVIDER.into(), p.into()));
        }
        a
    }

    pub fn recent_spans(&self) -> Vec<Arc<SpanRecord>> {
        self.recent.snapshot()
    }

    /// Empties the read-back ring (tests and notebooks start clean).
    pub fn clear_recent(&self) {
        while self.recent.pop().is_some() {}
    }

    pub fn set_redactor(&self, r: Redactor) {
        self.redactor.store(Arc::new(r));
    }
    pub fn redactor(&self) -> arc_swap::Guard<Arc<Redactor>> {
        self.redactor.load()
    }
    pub fn set_capture_content(&self, on: bool) {
        self.capture_content.store(on, Ordering::Relaxed);
    }
    pub fn capture_content(&self) -> bool {
        self.capture_content.load(Ordering::Relaxed)
    }
    pub fn set_content_max_chars(&self, n: usize) {
        self.content_max_chars.store(n, Ordering::Relaxed);
    }

    pub fn stats(&self) -> TracerStats {
        TracerStats {
            started: self.started.get(),
            ended: self.ended.get(),
            unsampled: self.unsampled.get(),
            recent_len: self.recent.len() as u64,
            recent_capacity: self.recent.capacity() as u64,
            recent_evicted: self.recent.lost(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TracerStats {
    pub started: u64,
    pub ended: u64,
    pub unsampled: u64,
    pub recent_len: u64,
    pub recent_capacity: u64,
    pub recent_evicted: u64,
}

/// Attributes the core itself sets whose values are names, not content (the operation, provider,
/// model, role, response id, outcome, policy name, server and error class): the redaction pass
/// skips them. Only keys set from the core's own constants (borrowed) qualify: the same key set
/// by a user through `set_attribute` is masked like any other value.
// A `&Cow`, not a `&str`: whether the key is borrowed (a core constant) is the point.
#[allow(clippy::ptr_arg)]
fn carries_no_content(key: &std::borrow::Cow<'static, str>) -> bool {
    match key {
        std::borrow::Cow::Borrowed(k) => matches!(
            *k,
            keys::OPERATION
                | keys::PROVIDER
                | keys::MODEL
                | keys::ROLE
                | keys::ERROR_TYPE
                | keys::RESPONSE_MODEL
                | keys::RESPONSE_ID
                | keys::OUTCOME
                | keys::SERVER_ADDRESS
                | "ferrule.policy.name"
        ),
        std::borrow::Cow::Owned(_) => false,
    }
}

#[cfg(test)]
mod name_attributes {
    use super::*;
    use std::borrow::Cow;

    #[test]
    fn the_cores_name_valued_attributes_skip_the_mask_and_the_same_keys_set_by_a_user_do_not() {
        let t = Tracer::new(ClockRef::System, 16);
        t.set_redactor(
            Redactor::new(&[("secret".into(), r"SECRET\d+".into())], None).expect("pattern"),
        );
        let start = t.start(None);
        let attrs: Attributes = vec![
            (Cow::Borrowed(keys::MODEL), AttrValue::Str("SECRET1".into())),
            (
                Cow::Owned(keys::PROVIDER.into()),
                AttrValue::Str("SECRET2".into()),
            ),
            (Cow::Borrowed("app.note"), AttrValue::Str("SECRET3".into())),
        ];
        let rec = t
            .end(&start, "s".into(), SpanRole::Call, Status::Ok, attrs, None)
            .expect("sampled");
        let v: Vec<String> = rec
            .attributes
            .iter()
            .map(|(_, v)| match v {
                AttrValue::Str(s) => s.clone(),
                _ => String::new(),
            })
            .collect();
        assert_eq!(v[0], "SECRET1");
        assert!(!v[1].contains("SECRET2"), "{}", v[1]);
        assert!(!v[2].contains("SECRET3"), "{}", v[2]);
    }
}
