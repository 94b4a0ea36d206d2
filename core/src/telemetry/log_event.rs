//! The one JSON event schema for every ferrule event (retries, trips, fallbacks, drops, validation
//! failures): time, level, event, service, trace/span/request/session ids, model, attempt, latency,
//! tokens, cost, error, then event-specific fields. Absent values are omitted, never `null`.

use crate::telemetry::context::ContextRef;
use crate::telemetry::ids::{RequestId, SpanId, TraceId};
use crate::telemetry::redact::Redactor;
use std::borrow::Cow;
use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
    /// Python `logging` level numbers.
    pub fn number(self) -> u8 {
        match self {
            Level::Debug => 10,
            Level::Info => 20,
            Level::Warning => 30,
            Level::Error => 40,
        }
    }
    pub fn parse(s: &str) -> Option<Level> {
        // Case-insensitive without lowercasing into a new string: this runs on every event.
        let is = |w: &str| s.eq_ignore_ascii_case(w);
        Some(if is("warning") || is("warn") {
            Level::Warning
        } else if is("info") {
            Level::Info
        } else if is("error") {
            Level::Error
        } else if is("debug") {
            Level::Debug
        } else {
            return None;
        })
    }
    pub const ALLOWED: &'static str = "one of debug, info, warning, error";
}

/// An event-specific field value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

#[derive(Debug, Clone, Default)]
pub struct LogEvent {
    pub level: Option<Level>,
    /// A dotted event name: `retry.attempt`, `breaker.transition`, `fallback.used`, `telemetry.drop`.
    pub event: Cow<'static, str>,
    pub message: Option<String>,
    pub trace_id: Option<TraceId>,
    pub span_id: Option<SpanId>,
    pub request_id: Option<RequestId>,
    pub context: Option<ContextRef>,
    pub model: Option<String>,
    pub attempt: Option<u32>,
    pub latency_seconds: Option<f64>,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cost_usd: Option<f64>,
    pub error_type: Option<String>,
    pub error_message: Option<String>,
    pub fields: Vec<(String, FieldValue)>,
}

impl LogEvent {
    pub fn new(level: Level, event: impl Into<Cow<'static, str>>) -> Self {
        LogEvent {
            level: Some(level),
            event: event.into(),
            ..Default::default()
        }
    }
    pub fn level(&self) -> Level {
        self.level.unwrap_or(Level::Info)
    }
    pub fn message(mut self, m: impl Into<String>) -> Self {
        self.message = Some(m.into());
        self
    }
    pub fn field(mut self, k: impl Into<String>, v: FieldValue) -> Self {
        self.fields.push((k.into(), v));
        self
    }

    /// Writes everything after the time (`"level":...`) as JSON object members, masking every
    /// string that could carry user data. The caller prefixes the time and closes the object, so
    /// this part doubles as the key for rate-limiting identical events.
    pub fn write_body(&self, out: &mut String, service: &str, redactor: &Redactor) {
        member_str(out, "level", self.level().as_str());
        member_str(out, "event", &self.event);
        member_str(out, "service", service);
        if let Some(m) = &self.message {
            member_str(out, "message", &redactor.redact(m));
        }
        if let Some(t) = self.trace_id {
            let _ = write!(out, ",\"trace_id\":\"{t}\"");
        }
        if let Some(s) = self.span_id {
            let _ = write!(out, ",\"span_id\":\"{s}\"");
        }
        if let Some(r) = self.request_id {
            let _ = write!(out, ",\"request_id\":\"{r}\"");
        }
        if let Some(c) = &self.context {
            member_str(out, "session_id", &redactor.redact(&c.session_id));
            if let Some(u) = &c.user_id {
                member_str(out, "user_id", &redactor.redact(u));
            }
            if !c.tags.is_empty() {
                out.push_str(",\"tags\":[");
                for (i, t) in c.tags.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    string(out, t);
                }
                out.push(']');
            }
        }
        if let Some(m) = &self.model {
            member_str(out, "model", &redactor.redact(m));
        }
        if let Some(a) = self.attempt {
            let _ = write!(out, ",\"attempt\":{a}");
        }
        if let Some(l) = self.latency_seconds {
            member_f64(out, "latency_seconds", l);
        }
        if let Some(t) = self.input_tokens {
            let _ = write!(out, ",\"input_tokens\":{t}");
        }
        if let Some(t) = self.output_tokens {
            let _ = write!(out, ",\"output_tokens\":{t}");
        }
        if let Some(c) = self.cost_usd {
            member_f64(out, "cost_usd", c);
        }
        if self.error_type.is_some() || self.error_message.is_some() {
            out.push_str(",\"error\":{");
            let mut first = true;
            if let Some(t) = &self.error_type {
                out.push_str("\"type\":");
                string(out, &redactor.redact(t));
                first = false;
            }
            if let Some(m) = &self.error_message {
                if !first {
                    out.push(',');
                }
                out.push_str("\"message\":");
                string(out, &redactor.redact(m));
            }
            out.push('}');
        }
        for (k, v) in &self.fields {
            // A field named like a member this line already has (`time`, `level`, `message`...)
            // would make a second key of that name in one JSON object, which readers resolve
            // differently: it is written as `field.<name>` instead.
            let renamed;
            let k = if self.writes_member(k) {
                renamed = format!("field.{k}");
                &renamed
            } else {
                k
            };
            match v {
                FieldValue::Str(s) => member_str(out, k, &redactor.redact(s)),
                FieldValue::Int(i) => {
                    out.push(',');
                    string(out, k);
                    let _ = write!(out, ":{i}");
                }
                FieldValue::Float(f) => member_f64(out, k, *f),
                FieldValue::Bool(b) => {
                    out.push(',');
                    string(out, k);
                    let _ = write!(out, ":{b}");
                }
            }
        }
    }
}

impl LogEvent {
    /// Whether the line has a schema member named `k` (so a field of that name would repeat it).
    fn writes_member(&self, k: &str) -> bool {
        let ctx = self.context.as_ref();
        match k {
            "time" | "level" | "event" | "service" | "suppressed" => true,
            "message" => self.message.is_some(),
            "trace_id" => self.trace_id.is_some(),
            "span_id" => self.span_id.is_some(),
            "request_id" => self.request_id.is_some(),
            "session_id" => ctx.is_some(),
            "user_id" => ctx.is_some_and(|c| c.user_id.is_some()),
            "tags" => ctx.is_some_and(|c| !c.tags.is_empty()),
            "model" => self.model.is_some(),
            "attempt" => self.attempt.is_some(),
            "latency_seconds" => self.latency_seconds.is_some(),
            "input_tokens" => self.input_tokens.is_some(),
            "output_tokens" => self.output_tokens.is_some(),
            "cost_usd" => self.cost_usd.is_some(),
            "error" => self.error_type.is_some() || self.error_message.is_some(),
            _ => false,
        }
    }
}

/// The members the logger itself may write; a field of one of these names is renamed when the
/// line has that member.
pub const RESERVED: &[&str] = &[
    "time",
    "level",
    "event",
    "service",
    "message",
    "trace_id",
    "span_id",
    "request_id",
    "session_id",
    "user_id",
    "tags",
    "model",
    "attempt",
    "latency_seconds",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "error",
    "suppressed",
];

fn member_str(out: &mut String, k: &str, v: &str) {
    out.push(',');
    string(out, k);
    out.push(':');
    string(out, v);
}

fn member_f64(out: &mut String, k: &str, v: f64) {
    out.push(',');
    string(out, k);
    if v.is_finite() {
        let _ = write!(out, ":{v}");
    } else {
        out.push_str(":null");
    }
}

/// Whether any byte of `s` must be escaped in a JSON string (a control byte, `"` or `\\`),
/// eight bytes per step: most strings have none and are copied whole.
fn needs_escape(s: &[u8]) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // Exact "some byte is zero" / "some byte is below n (n <= 128)" tests on a word.
    let has_zero = |x: u64| x.wrapping_sub(LO) & !x & HI != 0;
    let has_below_0x20 = |x: u64| x.wrapping_sub(LO * 0x20) & !x & HI != 0;
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        let x = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        if has_below_0x20(x)
            || has_zero(x ^ (LO * b'"' as u64))
            || has_zero(x ^ (LO * b'\\' as u64))
        {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// A JSON string literal.
pub fn string(out: &mut String, s: &str) {
    out.push('"');
    if !needs_escape(s.as_bytes()) {
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0..=0x1f => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{b:04x}");
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// RFC 3339 UTC with milliseconds, from Unix nanoseconds (civil-from-days, no time-zone database).
pub fn rfc3339(unix_ns: u64) -> String {
    let mut s = String::with_capacity(24);
    write_rfc3339(&mut s, unix_ns);
    s
}

/// `rfc3339` appended to `out` digit by digit: every log line starts with it, and the formatting
/// machinery cost more than the rest of the time stamp.
pub fn write_rfc3339(out: &mut String, unix_ns: u64) {
    let secs = unix_ns / 1_000_000_000;
    let ms = (unix_ns / 1_000_000) % 1000;
    let days = (secs / 86_400) as i64;
    let sod = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    if !(0..=9999).contains(&y) {
        // Outside four-digit years (never from a real clock): the general formatter.
        let _ = write!(
            out,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
            sod / 3600,
            (sod / 60) % 60,
            sod % 60
        );
        return;
    }
    let digits = |out: &mut String, v: u64, width: u32| {
        for i in (0..width).rev() {
            out.push((b'0' + ((v / 10u64.pow(i)) % 10) as u8) as char);
        }
    };
    digits(out, y as u64, 4);
    out.push('-');
    digits(out, m as u64, 2);
    out.push('-');
    digits(out, d as u64, 2);
    out.push('T');
    digits(out, sod / 3600, 2);
    out.push(':');
    digits(out, (sod / 60) % 60, 2);
    out.push(':');
    digits(out, sod % 60, 2);
    out.push('.');
    digits(out, ms, 3);
    out.push('Z');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_format() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(1_709_251_199_123_000_000),
            "2024-02-29T23:59:59.123Z"
        );
        assert_eq!(
            rfc3339(4_102_444_800_007_000_000),
            "2100-01-01T00:00:00.007Z"
        );
        assert_eq!(rfc3339(951_782_400_999_999_999), "2000-02-29T00:00:00.999Z");
        for l in ["warn", "WARNING", "Info", "debug", "ERROR"] {
            assert!(Level::parse(l).is_some(), "{l}");
        }
        assert_eq!(Level::parse("warn"), Some(Level::Warning));
        assert_eq!(Level::parse("Error"), Some(Level::Error));
        assert!(Level::parse("fatal").is_none() && Level::parse("").is_none());
    }

    #[test]
    fn strings_escape_exactly_what_json_needs() {
        let esc = |s: &str| {
            let mut o = String::new();
            string(&mut o, s);
            o
        };
        assert_eq!(
            esc("plain text, no escapes at all"),
            "\"plain text, no escapes at all\""
        );
        assert_eq!(esc("a\"b"), "\"a\\\"b\"");
        assert_eq!(esc("tab\there and\\there"), "\"tab\\there and\\\\there\"");
        assert_eq!(esc("bell\u{7}"), "\"bell\\u0007\"");
        assert_eq!(
            esc("é ünïcode ✓ 0x7f:\u{7f}"),
            "\"é ünïcode ✓ 0x7f:\u{7f}\""
        );
        // Every byte position of a word, and the tail, for each escaped byte.
        for pos in 0..19 {
            for (b, want) in [
                ('"', "\\\""),
                ('\\', "\\\\"),
                ('\n', "\\n"),
                ('\u{1f}', "\\u001f"),
            ] {
                let mut s = "x".repeat(19);
                s.replace_range(pos..pos + 1, &b.to_string());
                let got = esc(&s);
                let v: String = serde_json::from_str(&got).unwrap();
                assert_eq!(v, s);
                assert!(got.contains(want), "{got}");
            }
        }
    }

    #[test]
    fn body_is_valid_json_masks_and_omits_absent_fields() {
        let ev = LogEvent::new(Level::Warning, "retry.attempt")
            .message("retrying for bob@example.com")
            .field("breaker", FieldValue::Str("b\"1\n".into()))
            .field("n", FieldValue::Int(3));
        let mut s = String::from("{\"time\":\"t\"");
        ev.write_body(&mut s, "svc", &Redactor::default());
        s.push('}');
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["level"], "warning");
        assert_eq!(v["message"], "retrying for [EMAIL]");
        assert_eq!(v["breaker"], "b\"1\n");
        assert_eq!(v["n"], 3);
        assert!(v.get("model").is_none());
        assert!(v.get("error").is_none());
    }
}
