//! GenAI call recording and the prompt profile for the JS host layer: `recordLlmCall`, `setPrice`,
//! `profile`. Times cross in milliseconds (`f64`), the Node unit; the core keeps nanoseconds.

use crate::error::{config_error, ConfigError, NodeParam};
use ferrule_core::error::check;
use ferrule_core::telemetry::{price, profile};
use ferrule_core::{LlmCall, SortBy};
use napi::bindgen_prelude::Either;
use napi_derive::napi;
use std::time::Duration;

/// One finished GenAI call, as the host layer normalised it.
#[napi(object)]
pub struct LlmCallOptions {
    pub model: String,
    pub duration_ms: f64,
    pub input_tokens: Option<f64>,
    pub output_tokens: Option<f64>,
    pub operation: Option<String>,
    pub provider: Option<String>,
    pub error_type: Option<String>,
    pub template: Option<String>,
    pub template_text: Option<String>,
    pub trace_id: Option<String>,
    /// Made inside a synthetic probe: counted apart from the user's GenAI series.
    pub synthetic: Option<bool>,
}

fn params(c: &LlmCallOptions) -> [NodeParam; 3] {
    [
        NodeParam {
            core: "duration_seconds",
            node: "durationMs",
            millis: true,
            given: Some(c.duration_ms),
        },
        NodeParam {
            core: "input_tokens",
            node: "inputTokens",
            millis: false,
            given: c.input_tokens,
        },
        NodeParam {
            core: "output_tokens",
            node: "outputTokens",
            millis: false,
            given: c.output_tokens,
        },
    ]
}

fn tokens(param: &'static str, v: Option<f64>) -> ferrule_core::Result<Option<u64>> {
    v.map(|n| {
        let i = if n.fract() == 0.0 && n.is_finite() {
            n as i128
        } else {
            -1
        };
        check::int("recordLlmCall", param, i, 0, 1 << 53)
    })
    .transpose()
}

/// Records the call (duration and token histograms, cost, prompt profile); returns its cost in $.
#[napi(catch_unwind)]
pub fn record_llm_call(call: LlmCallOptions) -> Either<f64, ConfigError> {
    let checked = check::finite_non_negative(
        "recordLlmCall",
        "duration_seconds",
        call.duration_ms / 1000.0,
    )
    .and_then(|_| {
        Ok((
            tokens("input_tokens", call.input_tokens)?,
            tokens("output_tokens", call.output_tokens)?,
        ))
    });
    let (input_tokens, output_tokens) = match checked {
        Ok(t) => t,
        Err(e) => return Either::B(config_error(&e, &params(&call))),
    };
    let key = (call.template.is_some() || call.template_text.is_some())
        .then(|| profile::template_key(call.template.as_deref(), call.template_text.as_deref()));
    let error = call
        .error_type
        .as_deref()
        .map(|t| ferrule_core::call::ErrorInfo {
            type_name: t,
            ..Default::default()
        });
    let c = LlmCall {
        operation: call.operation.as_deref().unwrap_or("chat"),
        provider: call.provider.as_deref().unwrap_or("openai"),
        request_model: &call.model,
        duration: Duration::from_secs_f64(call.duration_ms / 1000.0),
        tokens: ferrule_core::call::Tokens {
            input: input_tokens,
            output: output_tokens,
            ..Default::default()
        },
        error,
        template: key.as_deref(),
        trace_id: call.trace_id.as_deref(),
        synthetic: call.synthetic == Some(true),
        ..Default::default()
    };
    Either::A(ferrule_core::call::record(&c).cost_usd)
}

/// Sets a model's price in US dollars per million input and output tokens.
#[napi(catch_unwind)]
pub fn set_price(
    model: String,
    input_per_million: f64,
    output_per_million: f64,
) -> Option<ConfigError> {
    let p = |core, node, given| NodeParam {
        core,
        node,
        millis: false,
        given: Some(given),
    };
    price::global()
        .set(&model, input_per_million, output_per_million)
        .err()
        .map(|e| {
            let mut ce = config_error(
                &e,
                &[
                    p("input_per_million", "inputPerMillion", input_per_million),
                    p("output_per_million", "outputPerMillion", output_per_million),
                ],
            );
            // The core names the Python spelling of the function; Node's is camelCase.
            ce.message = ce.message.replacen("set_price:", "setPrice:", 1);
            ce
        })
}

/// A row of the prompt profile; times in ms, counts as `f64` (exact below 2^53).
#[napi(object)]
pub struct ProfileRow {
    pub template: String,
    pub calls: f64,
    pub errors: f64,
    pub error_rate: f64,
    pub input_tokens: f64,
    pub output_tokens: f64,
    pub mean_latency_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub cost_usd: f64,
}

/// The profile sorted by `by` (cost, latency, tokens, calls, errors), the first `n` if given.
#[napi(catch_unwind)]
pub fn profile_rows(by: String, n: Option<f64>) -> Either<Vec<ProfileRow>, ConfigError> {
    let by = match SortBy::parse(&by) {
        Ok(b) => b,
        Err(e) => return Either::B(config_error(&e, &[])),
    };
    let rows = match n {
        Some(n) => profile::global().top(if n >= 0.0 { n as usize } else { 0 }, by),
        None => profile::global().rows(by),
    };
    Either::A(
        rows.into_iter()
            .map(|r| ProfileRow {
                calls: r.calls as f64,
                errors: r.errors as f64,
                error_rate: r.error_rate,
                input_tokens: r.input_tokens as f64,
                output_tokens: r.output_tokens as f64,
                mean_latency_ms: r.mean_latency_seconds * 1000.0,
                p50_ms: r.p50_seconds * 1000.0,
                p95_ms: r.p95_seconds * 1000.0,
                p99_ms: r.p99_seconds * 1000.0,
                cost_usd: r.cost_usd,
                template: r.template,
            })
            .collect(),
    )
}

/// Forgets every template recorded so far.
#[napi(catch_unwind)]
pub fn profile_reset() {
    profile::global().reset();
}
