//! One finished span: what the ring buffer holds, `recent_spans()` returns and the OTLP exporter
//! sends. Names and attribute keys follow the OpenTelemetry GenAI conventions
//! (`{gen_ai.operation.name} {gen_ai.request.model}`, `gen_ai.provider.name`, `error.type`, ...).

use crate::telemetry::context::ContextRef;
use crate::telemetry::ids::{RequestId, SpanId, TraceId};
use std::borrow::Cow;

/// An attribute value: the OpenTelemetry scalar types plus string arrays (for tags).
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    StrList(Vec<String>),
}

impl From<&str> for AttrValue {
    fn from(s: &str) -> Self {
        AttrValue::Str(s.to_string())
    }
}
impl From<String> for AttrValue {
    fn from(s: String) -> Self {
        AttrValue::Str(s)
    }
}
impl From<i64> for AttrValue {
    fn from(v: i64) -> Self {
        AttrValue::Int(v)
    }
}
impl From<f64> for AttrValue {
    fn from(v: f64) -> Self {
        AttrValue::Float(v)
    }
}
impl From<bool> for AttrValue {
    fn from(v: bool) -> Self {
        AttrValue::Bool(v)
    }
}

pub type Attributes = Vec<(Cow<'static, str>, AttrValue)>;

/// How a span ended. `Unset` is the OpenTelemetry default for a span nobody marked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Status {
    #[default]
    Unset,
    Ok,
    Error(String),
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Unset => "unset",
            Status::Ok => "ok",
            Status::Error(_) => "error",
        }
    }
    pub fn is_error(&self) -> bool {
        matches!(self, Status::Error(_))
    }
}

/// The role of a span inside one call through a policy: the call itself, or one of its children.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpanRole {
    #[default]
    Call,
    Attempt,
    Validation,
    Fallback,
    Internal,
}

impl SpanRole {
    pub fn as_str(self) -> &'static str {
        match self {
            SpanRole::Call => "call",
            SpanRole::Attempt => "attempt",
            SpanRole::Validation => "validation",
            SpanRole::Fallback => "fallback",
            SpanRole::Internal => "internal",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "call" => SpanRole::Call,
            "attempt" => SpanRole::Attempt,
            "validation" => SpanRole::Validation,
            "fallback" => SpanRole::Fallback,
            "internal" => SpanRole::Internal,
            _ => return None,
        })
    }
    pub const ALLOWED: &'static str = "one of call, attempt, validation, fallback, internal";
}

/// Well-known attribute keys, so every producer spells them the same.
pub mod keys {
    pub const OPERATION: &str = "gen_ai.operation.name";
    pub const MODEL: &str = "gen_ai.request.model";
    pub const PROVIDER: &str = "gen_ai.provider.name";
    pub const CONVERSATION: &str = "gen_ai.conversation.id";
    pub const INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
    pub const OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
    pub const INPUT_MESSAGES: &str = "gen_ai.input.messages";
    pub const OUTPUT_MESSAGES: &str = "gen_ai.output.messages";
    pub const ERROR_TYPE: &str = "error.type";
    pub const USER: &str = "user.id";
    pub const TAGS: &str = "ferrule.tags";
    pub const REQUEST_ID: &str = "ferrule.request_id";
    pub const ROLE: &str = "ferrule.span.role";
    // Set by the call record (`call::record::keys` re-exports them); here because the span's end
    // must know them as names that carry no content, and telemetry does not depend on `call`.
    pub const RESPONSE_MODEL: &str = "gen_ai.response.model";
    pub const RESPONSE_ID: &str = "gen_ai.response.id";
    pub const SERVER_ADDRESS: &str = "server.address";
    pub const OUTCOME: &str = "ferrule.outcome";
}

/// A finished span. Times are Unix-epoch nanoseconds (what OpenTelemetry and notebooks expect).
#[derive(Debug, Clone)]
pub struct SpanRecord {
    pub name: String,
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent_span_id: Option<SpanId>,
    pub request_id: RequestId,
    pub role: SpanRole,
    pub start_unix_ns: u64,
    pub end_unix_ns: u64,
    pub status: Status,
    /// Already masked: the redactor ran over every string value when the span ended.
    pub attributes: Attributes,
    pub context: Option<ContextRef>,
}

impl SpanRecord {
    pub fn duration_ns(&self) -> u64 {
        self.end_unix_ns.saturating_sub(self.start_unix_ns)
    }

    /// The attributes plus those derived from the context and role, as readers and exporters see
    /// them. Context ids are attached here rather than copied into every span on the hot path.
    pub fn all_attributes(&self) -> Attributes {
        let mut a = self.attributes.clone();
        a.push((keys::ROLE.into(), AttrValue::Str(self.role.as_str().into())));
        a.push((
            keys::REQUEST_ID.into(),
            AttrValue::Str(self.request_id.to_string()),
        ));
        if let Some(c) = &self.context {
            // The caller's own ids (an email as a user id is common): masked like every other
            // string attribute, with the configured redactor.
            let redactor = crate::telemetry::pipeline::Pipeline::global()
                .tracer
                .redactor();
            a.push((
                keys::CONVERSATION.into(),
                AttrValue::Str(redactor.redact(&c.session_id).into_owned()),
            ));
            if let Some(u) = &c.user_id {
                a.push((
                    keys::USER.into(),
                    AttrValue::Str(redactor.redact(u).into_owned()),
                ));
            }
            if !c.tags.is_empty() {
                a.push((keys::TAGS.into(), AttrValue::StrList(c.tags.clone())));
            }
        }
        a
    }

    pub fn attribute(&self, key: &str) -> Option<&AttrValue> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}
