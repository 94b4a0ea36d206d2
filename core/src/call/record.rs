//! The record of one finished LLM call, and `record`, the one place it goes: GenAI metrics and
//! cost, the time-to-first-chunk histogram, the prompt profile (under the explicit template or the
//! prompt's fingerprint), the inference log, and every watcher `observe()` installed. A host (an
//! OpenAI/LangChain wrapper, a provider integration, a user's own function) reads what only it can
//! read (the SDK's response, the prompt, the error) into these fields and makes one crossing; a new
//! provider or a stream only fills more fields.

use super::chunk_times::{ChunkTimes, TIME_PER_CHUNK_BUCKETS};
use super::fingerprint::{self, Message};
use super::inference;
use super::observe;
use super::outcome::{ErrorInfo, Outcome};
use crate::telemetry::builtin::{self, DURATION_BUCKETS};
use crate::telemetry::context::CallContext;
use crate::telemetry::histogram::Histogram;
use crate::telemetry::profile;
use crate::telemetry::span::{AttrValue, Attributes};
use crate::telemetry::tracer::SpanStart;
use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Attribute and metric names of the OpenTelemetry GenAI and server conventions the record fills.
pub mod keys {
    pub use crate::telemetry::span::keys::{OUTCOME, RESPONSE_ID, RESPONSE_MODEL, SERVER_ADDRESS};
    pub const FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
    pub const INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
    pub const OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
    pub const CACHE_READ_TOKENS: &str = "gen_ai.usage.cache_read.input_tokens";
    pub const CACHE_CREATION_TOKENS: &str = "gen_ai.usage.cache_creation.input_tokens";
    pub const TEMPERATURE: &str = "gen_ai.request.temperature";
    pub const TOP_P: &str = "gen_ai.request.top_p";
    pub const TOP_K: &str = "gen_ai.request.top_k";
    pub const MAX_TOKENS: &str = "gen_ai.request.max_tokens";
    pub const SEED: &str = "gen_ai.request.seed";
    pub const CHOICE_COUNT: &str = "gen_ai.request.choice.count";
    pub const FREQUENCY_PENALTY: &str = "gen_ai.request.frequency_penalty";
    pub const PRESENCE_PENALTY: &str = "gen_ai.request.presence_penalty";
    pub const SERVER_PORT: &str = "server.port";
    /// Seconds from the request to the first streamed chunk, on a streamed call's span.
    pub const TIME_TO_FIRST_CHUNK: &str = "gen_ai.response.time_to_first_chunk";
    /// Reasoning tokens have no GenAI attribute yet: ferrule's own name.
    pub const REASONING_TOKENS: &str = "ferrule.usage.reasoning_tokens";
    pub const ATTEMPTS: &str = "ferrule.attempts";
    pub const TEMPLATE: &str = "ferrule.prompt.template";
    /// `gen_ai.client.operation.time_to_first_chunk`, Prometheus-named.
    pub const TTFT_METRIC: &str = "gen_ai_client_operation_time_to_first_chunk_seconds";
    /// `gen_ai.client.operation.time_per_output_chunk`, Prometheus-named.
    pub const TIME_PER_CHUNK_METRIC: &str = "gen_ai_client_operation_time_per_output_chunk_seconds";
}

/// Token counts as the provider reported them; `None` where it did not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    pub input: Option<u64>,
    pub output: Option<u64>,
    /// Input tokens served from the provider's prompt cache (OpenAI `cached_tokens`, Anthropic
    /// `cache_read_input_tokens`).
    pub cache_read: Option<u64>,
    /// Input tokens written to the prompt cache (Anthropic `cache_creation_input_tokens`).
    pub cache_creation: Option<u64>,
    /// Output tokens spent reasoning (OpenAI `reasoning_tokens`).
    pub reasoning: Option<u64>,
}

/// The request parameters kept with a call (never the prompt: that is content).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Parameters {
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<f64>,
    /// `max_tokens`, `max_completion_tokens` or `max_output_tokens`, whichever the request used.
    pub max_tokens: Option<u64>,
    pub seed: Option<i64>,
    /// `n`: choices asked for.
    pub choice_count: Option<u64>,
    pub frequency_penalty: Option<f64>,
    pub presence_penalty: Option<f64>,
    pub stream: bool,
}

impl Parameters {
    fn is_empty(&self) -> bool {
        *self == Parameters::default()
    }

    /// The parameters as a JSON object text, keys sorted (the inference log's `parameters` column).
    pub fn to_json(&self) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        let mut parts: Vec<(&str, String)> = Vec::with_capacity(9);
        let f = |v: f64| {
            if v.is_finite() {
                format!("{v}")
            } else {
                "null".into()
            }
        };
        if let Some(v) = self.frequency_penalty {
            parts.push(("frequency_penalty", f(v)));
        }
        if let Some(v) = self.max_tokens {
            parts.push(("max_tokens", v.to_string()));
        }
        if let Some(v) = self.choice_count {
            parts.push(("n", v.to_string()));
        }
        if let Some(v) = self.presence_penalty {
            parts.push(("presence_penalty", f(v)));
        }
        if let Some(v) = self.seed {
            parts.push(("seed", v.to_string()));
        }
        if self.stream {
            parts.push(("stream", "true".into()));
        }
        if let Some(v) = self.temperature {
            parts.push(("temperature", f(v)));
        }
        if let Some(v) = self.top_k {
            parts.push(("top_k", f(v)));
        }
        if let Some(v) = self.top_p {
            parts.push(("top_p", f(v)));
        }
        let body: Vec<String> = parts
            .into_iter()
            .map(|(k, v)| format!("\"{k}\": {v}"))
            .collect();
        Some(format!("{{{}}}", body.join(", ")))
    }
}

/// One finished LLM call, as the host saw it. Everything is optional but the operation, the
/// provider and the duration; `Default` fills the rest with "not reported".
#[derive(Debug, Clone, Default)]
pub struct LlmCall<'a> {
    /// `gen_ai.provider.name`: `openai`, `anthropic`, `aws.bedrock`, ...
    pub provider: &'a str,
    /// `gen_ai.operation.name`: `chat`, `embeddings`, `responses`, `text_completion`, ...
    pub operation: &'a str,
    /// The model the caller asked for.
    pub request_model: &'a str,
    /// The model that answered (a fallback may have asked another); it prices the call.
    pub response_model: Option<&'a str>,
    /// The explicit template name (`ferrule.prompt("triage")`, `metadata`, a LangChain prompt's
    /// name). Without one, `messages` are fingerprinted.
    pub template: Option<&'a str>,
    /// The prompt's messages, for the fingerprint (masked into a shape, never stored).
    pub messages: Vec<Message<'a>>,
    pub tokens: Tokens,
    pub parameters: Parameters,
    pub duration: Duration,
    pub time_to_first_chunk: Option<Duration>,
    /// A stream's gaps between chunks (`gen_ai.client.operation.time_per_output_chunk`).
    pub chunk_times: Option<&'a ChunkTimes>,
    pub error: Option<ErrorInfo<'a>>,
    /// A fallback answered instead of the primary.
    pub fell_back: bool,
    /// Attempts made (1 for a call that was never retried).
    pub attempts: Option<u32>,
    /// `gen_ai.response.id`.
    pub response_id: Option<&'a str>,
    /// `gen_ai.response.finish_reasons`, one per choice.
    pub finish_reasons: Vec<&'a str>,
    pub server_address: Option<&'a str>,
    pub server_port: Option<u16>,
    /// A synthetic probe's call: counted apart, never in the user's series.
    pub synthetic: bool,
    /// Prompt and answer text for the inference log, when content capture is on (masked there).
    pub input_text: Option<&'a str>,
    pub output_text: Option<&'a str>,
    /// The call's span, for the inference log's ids and the duration exemplar.
    pub span: Option<SpanStart>,
    pub context: Option<&'a CallContext>,
    /// The trace id for the duration exemplar when there is no `span`.
    pub trace_id: Option<&'a str>,
}

impl LlmCall<'_> {
    /// The model the call is priced and counted under: the one that answered, else the one asked.
    pub fn model(&self) -> &str {
        match self.response_model {
            Some(m) if !m.is_empty() => m,
            _ => self.request_model,
        }
    }

    pub fn outcome(&self) -> Outcome {
        Outcome::classify(self.error.as_ref(), self.fell_back)
    }

    /// The call's template key: the explicit name, else the fingerprint's name, else
    /// `profile::UNNAMED`.
    pub fn template_key(&self) -> Cow<'_, str> {
        if let Some(t) = self.template {
            return Cow::Borrowed(t);
        }
        match fingerprint::template_name(&self.messages) {
            Some(n) => Cow::Owned(n.to_string()),
            None => Cow::Borrowed(profile::UNNAMED),
        }
    }
}

/// Time since `span` started, on the tracer's clock: a call's duration when the host measured none.
pub fn elapsed(span: &SpanStart) -> Duration {
    let now = crate::telemetry::pipeline::Pipeline::global()
        .tracer
        .now_nanos();
    Duration::from_nanos(now.saturating_sub(span.start_nanos))
}

/// What `record` decided, for the host to put on its span or return.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub cost_usd: f64,
    pub outcome: Outcome,
    pub template: Arc<str>,
}

fn ttft_histogram() -> Option<&'static Histogram> {
    static H: OnceLock<Option<Histogram>> = OnceLock::new();
    H.get_or_init(|| {
        crate::telemetry::registry::global()
            .histogram(
                keys::TTFT_METRIC,
                "Time from the request to the first streamed chunk (gen_ai.client.operation.time_to_first_chunk).",
                &["gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model"],
                &DURATION_BUCKETS,
            )
            .map_err(|e| log::warn!(target: "ferrule.call", "cannot declare {}: {e}", keys::TTFT_METRIC))
            .ok()
    })
    .as_ref()
}

fn time_per_chunk_histogram() -> Option<&'static Histogram> {
    static H: OnceLock<Option<Histogram>> = OnceLock::new();
    H.get_or_init(|| {
        crate::telemetry::registry::global()
            .histogram(
                keys::TIME_PER_CHUNK_METRIC,
                "Time before each streamed chunk after the first (gen_ai.client.operation.time_per_output_chunk).",
                &["gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model"],
                &TIME_PER_CHUNK_BUCKETS,
            )
            .map_err(|e| log::warn!(target: "ferrule.call", "cannot declare {}: {e}", keys::TIME_PER_CHUNK_METRIC))
            .ok()
    })
    .as_ref()
}

/// Records one finished call everywhere it belongs. Never fails: a sink that cannot take the
/// record counts and logs its own drop.
pub fn record(c: &LlmCall<'_>) -> Recorded {
    let outcome = c.outcome();
    let template: Arc<str> = match c.template {
        Some(t) => Arc::from(t),
        None => {
            fingerprint::template_name(&c.messages).unwrap_or_else(|| Arc::from(profile::UNNAMED))
        }
    };
    let model = c.model();
    let trace_hex = match (c.trace_id, c.span) {
        (Some(t), _) => Some(t.to_string()),
        (None, Some(s)) => Some(s.trace_id.to_string()),
        (None, None) => None,
    };
    let sample = builtin::LlmCall {
        operation: c.operation,
        provider: c.provider,
        model,
        duration: c.duration,
        input_tokens: c.tokens.input,
        output_tokens: c.tokens.output,
        cache_read_tokens: c.tokens.cache_read,
        cache_creation_tokens: c.tokens.cache_creation,
        error_type: c.error.as_ref().map(|e| e.type_name),
        template: Some(&template),
        trace_id: trace_hex.as_deref(),
    };
    if c.synthetic {
        let cost = crate::watch::synthetic_traffic::llm_call(&sample);
        return Recorded {
            cost_usd: cost,
            outcome,
            template,
        };
    }
    let cost = builtin::llm_call(&sample);
    if let (Some(t), Some(h)) = (c.time_to_first_chunk, ttft_histogram()) {
        if let Ok(h) = h.labels(&[c.operation, c.provider, c.request_model]) {
            h.observe(t.as_secs_f64());
        }
    }
    if let Some(t) = c.chunk_times.filter(|t| t.count() > 0) {
        if let Some(h) = time_per_chunk_histogram() {
            if let Ok(h) = h.labels(&[c.operation, c.provider, c.request_model]) {
                h.observe_counts(t.counts(), t.sum());
            }
        }
    }
    let recorded = Recorded {
        cost_usd: cost,
        outcome,
        template,
    };
    inference::write(c, &recorded);
    observe::feed(c, &recorded);
    recorded
}

/// The span attributes the record adds to the call's GenAI span (the span's name, operation,
/// provider and request model were set when it started).
pub fn span_attributes(c: &LlmCall<'_>, r: &Recorded, out: &mut Attributes) {
    let mut put = |k: &'static str, v: AttrValue| {
        out.retain(|(key, _)| key != k);
        out.push((Cow::Borrowed(k), v));
    };
    let int = |v: u64| AttrValue::Int(v.min(i64::MAX as u64) as i64);
    if let Some(m) = c.response_model.filter(|m| !m.is_empty()) {
        put(keys::RESPONSE_MODEL, m.into());
    }
    if let Some(id) = c.response_id.filter(|m| !m.is_empty()) {
        put(keys::RESPONSE_ID, id.into());
    }
    if !c.finish_reasons.is_empty() {
        put(
            keys::FINISH_REASONS,
            AttrValue::StrList(c.finish_reasons.iter().map(|s| s.to_string()).collect()),
        );
    }
    let t = &c.tokens;
    for (k, v) in [
        (keys::INPUT_TOKENS, t.input),
        (keys::OUTPUT_TOKENS, t.output),
        (keys::CACHE_READ_TOKENS, t.cache_read),
        (keys::CACHE_CREATION_TOKENS, t.cache_creation),
        (keys::REASONING_TOKENS, t.reasoning),
    ] {
        if let Some(v) = v {
            put(k, int(v));
        }
    }
    let p = &c.parameters;
    for (k, v) in [
        (keys::TEMPERATURE, p.temperature),
        (keys::TOP_P, p.top_p),
        (keys::TOP_K, p.top_k),
        (keys::FREQUENCY_PENALTY, p.frequency_penalty),
        (keys::PRESENCE_PENALTY, p.presence_penalty),
    ] {
        if let Some(v) = v {
            put(k, AttrValue::Float(v));
        }
    }
    if let Some(v) = p.max_tokens {
        put(keys::MAX_TOKENS, int(v));
    }
    if let Some(v) = p.seed {
        put(keys::SEED, AttrValue::Int(v));
    }
    if let Some(v) = p.choice_count.filter(|&n| n != 1) {
        put(keys::CHOICE_COUNT, int(v));
    }
    if let Some(a) = c.server_address {
        put(keys::SERVER_ADDRESS, a.into());
    }
    if let Some(port) = c.server_port {
        put(keys::SERVER_PORT, AttrValue::Int(port as i64));
    }
    if let Some(t) = c.time_to_first_chunk {
        put(keys::TIME_TO_FIRST_CHUNK, AttrValue::Float(t.as_secs_f64()));
    }
    if let Some(n) = c.attempts {
        put(keys::ATTEMPTS, AttrValue::Int(n as i64));
    }
    if r.template.as_ref() != profile::UNNAMED {
        put(keys::TEMPLATE, AttrValue::Str(r.template.to_string()));
    }
    put(keys::OUTCOME, AttrValue::Str(r.outcome.as_str().into()));
}
