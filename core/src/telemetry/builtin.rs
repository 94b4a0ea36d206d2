//! ferrule's own metrics, pre-declared in the default registry, and the small typed API every
//! primitive reports through. A primitive that reports per call resolves its handle once at
//! construction (`families().retries.labels(&[name])`) and keeps it; the functions here resolve the
//! label set on each call and suit rare events (transitions, fallbacks, drops).
//!
//! | function                     | series                                                            |
//! |------------------------------|-------------------------------------------------------------------|
//! | `llm_call`                   | `gen_ai_client_operation_duration_seconds`, `gen_ai_client_token_usage`, `ferrule_cost_usd_total`, the prompt profile |
//! | `call(component, name, outcome)` | `ferrule_calls_total{component,name,outcome}`                 |
//! | `error(component, name, type)`   | `ferrule_errors_total{component,name,error_type}`             |
//! | `retry(name)`                | `ferrule_retries_total{name}`                                     |
//! | `retry_budget_denied(name)`  | `ferrule_retry_budget_denials_total{name}`                        |
//! | `breaker_state(name, state)` | `ferrule_breaker_state{name,state}` (1 for the current state)     |
//! | `breaker_transition(name, from, to)` | `ferrule_breaker_transitions_total{name,from,to}`         |
//! | `rejection(component, name, reason)` | `ferrule_rejections_total{component,name,reason}`         |
//! | `rate_limit_wait(name, waited)` | `ferrule_rate_limit_waits_total{name}`, `ferrule_rate_limit_wait_seconds_total{name}` |
//! | `fallback(name, reason)`     | `ferrule_fallbacks_total{name,reason}`                            |
//! | `validation(name, outcome)`  | `ferrule_validations_total{name,outcome}` (`valid`, `repaired`, `invalid`, `reasked`) |
//! | (`validate::stats::Outcomes`) | `ferrule_validation_repairs_total{name,kind}`                    |
//! | `dropped(kind, n)`           | `ferrule_telemetry_dropped_total{kind}`                           |

use super::counter::Counter;
use super::gauge::Gauge;
use super::histogram::Histogram;
use super::price;
use super::profile;
use super::registry::{global, Registry};
use crate::breaker_state::State;
use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// `gen_ai.client.operation.duration` bucket bounds, seconds (OpenTelemetry GenAI conventions).
pub const DURATION_BUCKETS: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
/// `gen_ai.client.token.usage` bucket bounds, tokens (OpenTelemetry GenAI conventions).
pub const TOKEN_BUCKETS: [f64; 14] = [
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];

const GEN_AI_LABELS: [&str; 4] = [
    "gen_ai_operation_name",
    "gen_ai_provider_name",
    "gen_ai_request_model",
    "error_type",
];
const TOKEN_LABELS: [&str; 4] = [
    "gen_ai_operation_name",
    "gen_ai_provider_name",
    "gen_ai_request_model",
    "gen_ai_token_type",
];

/// Every pre-declared family. Fields are public so a primitive can resolve its handles once.
pub struct Builtin {
    pub operation_duration: Histogram,
    pub token_usage: Histogram,
    pub cost: Counter,
    pub calls: Counter,
    pub errors: Counter,
    pub retries: Counter,
    pub retry_budget_denials: Counter,
    pub breaker_state: Gauge,
    pub breaker_transitions: Counter,
    pub breaker_slow_calls: Counter,
    pub rejections: Counter,
    pub rate_limit_waits: Counter,
    pub rate_limit_wait_seconds: Counter,
    pub fallbacks: Counter,
    pub validations: Counter,
    pub validation_repairs: Counter,
    pub dropped: Counter,
}

impl Builtin {
    fn declare(r: &Registry) -> crate::Result<Self> {
        Ok(Self {
            operation_duration: r.histogram(
                "gen_ai_client_operation_duration_seconds",
                "GenAI operation duration (gen_ai.client.operation.duration).",
                &GEN_AI_LABELS,
                &DURATION_BUCKETS,
            )?,
            token_usage: r.histogram(
                "gen_ai_client_token_usage",
                "Tokens used per GenAI operation, by gen_ai.token.type (gen_ai.client.token.usage).",
                &TOKEN_LABELS,
                &TOKEN_BUCKETS,
            )?,
            cost: r.counter(
                "ferrule_cost_usd_total",
                "Cost of GenAI calls in US dollars, from the model price table.",
                &["gen_ai_provider_name", "gen_ai_request_model"],
            )?,
            calls: r.counter(
                "ferrule_calls_total",
                "Calls through a ferrule primitive, by outcome.",
                &["component", "name", "outcome"],
            )?,
            errors: r.counter(
                "ferrule_errors_total",
                "Errors seen by a ferrule primitive, by error type.",
                &["component", "name", "error_type"],
            )?,
            retries: r.counter(
                "ferrule_retries_total",
                "Retry attempts scheduled.",
                &["name"],
            )?,
            retry_budget_denials: r.counter(
                "ferrule_retry_budget_denials_total",
                "Retries refused because the retry budget was spent.",
                &["name"],
            )?,
            breaker_state: r.gauge(
                "ferrule_breaker_state",
                "Circuit breaker state: 1 for the current state, 0 for the others.",
                &["name", "state"],
            )?,
            breaker_transitions: r.counter(
                "ferrule_breaker_transitions_total",
                "Circuit breaker state transitions.",
                &["name", "from", "to"],
            )?,
            breaker_slow_calls: r.counter(
                "ferrule_breaker_slow_calls_total",
                "Calls a circuit breaker judged slow.",
                &["name"],
            )?,
            rejections: r.counter(
                "ferrule_rejections_total",
                "Calls refused before they started (breaker open, rate limited, bulkhead full).",
                &["component", "name", "reason"],
            )?,
            rate_limit_waits: r.counter(
                "ferrule_rate_limit_waits_total",
                "Calls a rate limiter made wait.",
                &["name"],
            )?,
            rate_limit_wait_seconds: r.counter(
                "ferrule_rate_limit_wait_seconds_total",
                "Time calls spent waiting on a rate limiter.",
                &["name"],
            )?,
            fallbacks: r.counter(
                "ferrule_fallbacks_total",
                "Fallbacks taken.",
                &["name", "reason"],
            )?,
            validations: r.counter(
                "ferrule_validations_total",
                "Response validation outcomes (valid, repaired, invalid, reasked).",
                &["name", "outcome"],
            )?,
            validation_repairs: r.counter(
                "ferrule_validation_repairs_total",
                "Repairs applied to model output before validation, by kind.",
                &["name", "kind"],
            )?,
            dropped: r.counter(
                "ferrule_telemetry_dropped_total",
                "Telemetry ferrule dropped instead of blocking a caller, by kind.",
                &["kind"],
            )?,
        })
    }
}

/// ferrule's families in the default registry, declared on first use.
pub fn families() -> &'static Builtin {
    static B: OnceLock<Builtin> = OnceLock::new();
    B.get_or_init(|| Builtin::declare(global()).expect("built-in metric declarations are valid"))
}

/// Resolves and applies; a label-count mismatch is a bug in ferrule, caught by the tests.
macro_rules! on {
    ($fam:expr, $labels:expr, $h:ident => $body:expr) => {
        match $fam.labels($labels) {
            Ok($h) => $body,
            Err(e) => debug_assert!(false, "built-in metric label mismatch: {e}"),
        }
    };
}

pub fn call(component: &str, name: &str, outcome: &str) {
    on!(families().calls, &[component, name, outcome], h => h.inc());
}

pub fn error(component: &str, name: &str, error_type: &str) {
    on!(families().errors, &[component, name, error_type], h => h.inc());
}

pub fn retry(name: &str) {
    on!(families().retries, &[name], h => h.inc());
}

pub fn retry_budget_denied(name: &str) {
    on!(families().retry_budget_denials, &[name], h => h.inc());
}

/// Sets the breaker's state gauge: 1 on `state`, 0 on the other two.
pub fn breaker_state(name: &str, state: State) {
    for s in State::ALL {
        on!(families().breaker_state, &[name, s.as_str()], h => h.set((s == state) as u8 as f64));
    }
}

/// Counts a transition and moves the state gauge.
pub fn breaker_transition(name: &str, from: State, to: State) {
    on!(families().breaker_transitions, &[name, from.as_str(), to.as_str()], h => h.inc());
    breaker_state(name, to);
}

pub fn rejection(component: &str, name: &str, reason: &str) {
    on!(families().rejections, &[component, name, reason], h => h.inc());
}

pub fn rate_limit_wait(name: &str, waited: Duration) {
    let b = families();
    on!(b.rate_limit_waits, &[name], h => h.inc());
    on!(b.rate_limit_wait_seconds, &[name], h => {
        let _ = h.add_f64(waited.as_secs_f64());
    });
}

pub fn fallback(name: &str, reason: &str) {
    on!(families().fallbacks, &[name, reason], h => h.inc());
}

pub fn validation(name: &str, outcome: &str) {
    on!(families().validations, &[name, outcome], h => h.inc());
}

/// Counts telemetry dropped rather than blocking a caller.
pub fn dropped(kind: &str, n: u64) {
    on!(families().dropped, &[kind], h => h.add(n));
}

/// One finished GenAI call, as the host saw it.
#[derive(Debug, Clone, Default)]
pub struct LlmCall<'a> {
    /// `gen_ai.operation.name`: `chat`, `embeddings`, `text_completion`, ...
    pub operation: &'a str,
    /// `gen_ai.provider.name`: `openai`, `anthropic`, ...
    pub provider: &'a str,
    pub model: &'a str,
    pub duration: Duration,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    /// Prompt-cache reads and writes (priced apart when the provider bills them apart).
    pub cache_read_tokens: Option<u64>,
    pub cache_creation_tokens: Option<u64>,
    /// `error.type` when the call failed.
    pub error_type: Option<&'a str>,
    /// The prompt template's profile key (see `profile::template_key`); `None` profiles it as
    /// `profile::UNNAMED`.
    pub template: Option<&'a str>,
    /// Rides as an exemplar on the duration bucket, never as a label.
    pub trace_id: Option<&'a str>,
}

/// Records a GenAI call: duration and token histograms, cost, and the prompt profile. Returns the
/// cost in dollars (0 when the model has no price; that is counted as
/// `ferrule_telemetry_dropped_total{kind="unpriced_model"}` and logged once per model).
pub fn llm_call(c: &LlmCall<'_>) -> f64 {
    let b = families();
    let err = c.error_type.unwrap_or("");
    let secs = c.duration.as_secs_f64();
    on!(b.operation_duration, &[c.operation, c.provider, c.model, err], h => match c.trace_id {
        Some(t) => h.observe_with_exemplar(secs, &[("trace_id", t)]),
        None => h.observe(secs),
    });
    for (kind, n) in [("input", c.input_tokens), ("output", c.output_tokens)] {
        if let Some(n) = n {
            on!(b.token_usage, &[c.operation, c.provider, c.model, kind], h => h.observe(n as f64));
        }
    }
    let (input, output) = (c.input_tokens.unwrap_or(0), c.output_tokens.unwrap_or(0));
    let cost = match price::global().call_cost(
        c.provider,
        c.model,
        input,
        output,
        c.cache_read_tokens.unwrap_or(0),
        c.cache_creation_tokens.unwrap_or(0),
    ) {
        Some(cost) => cost,
        None => {
            if input + output > 0 {
                unpriced(c.model);
            }
            0.0
        }
    };
    if cost > 0.0 {
        on!(b.cost, &[c.provider, c.model], h => {
            let _ = h.add_f64(cost);
        });
    }
    profile::global().record(&profile::Sample {
        template: c.template.unwrap_or(profile::UNNAMED),
        input_tokens: input,
        output_tokens: output,
        latency_nanos: c.duration.as_nanos().min(u64::MAX as u128) as u64,
        error: c.error_type.is_some(),
        cost_usd: cost,
    });
    cost
}

fn unpriced(model: &str) {
    dropped("unpriced_model", 1);
    static WARNED: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    // A lock, but only on the rare path of a model missing from the price table, and released
    // before logging (a logger may block).
    let first = {
        let mut seen = WARNED
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        seen.len() < 1000 && seen.insert(model.to_string())
    };
    if first {
        log::warn!(
            "ferrule: no price for model {model:?}; its cost counts as 0 (set one with set_price)"
        );
    }
}
