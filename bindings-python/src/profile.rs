//! The prompt profile and GenAI call recording for Python: `record_llm_call`, `set_price`,
//! `profile_rows`. The report object (`ferrule.profile()`) is built in `ferrule/profile.py`.

use crate::error::{guard, to_py};
use ferrule_core::telemetry::{price, profile};
use ferrule_core::{LlmCall, SortBy};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::time::Duration;

fn tokens(py: Python<'_>, param: &'static str, v: Option<i64>) -> PyResult<Option<u64>> {
    v.map(|n| {
        ferrule_core::error::check::int("record_llm_call", param, n as i128, 0, u64::MAX >> 1)
            .map_err(|e| to_py(py, e))
    })
    .transpose()
}

/// Records a finished GenAI call through the core's call record (`gen_ai_client_operation_duration_seconds`,
/// `gen_ai_client_token_usage`, `ferrule_cost_usd_total`, the prompt profile, the inference log and
/// `observe()`'s watchers). Returns its cost.
#[pyfunction]
#[pyo3(signature = (*, model, duration_seconds, input_tokens=None, output_tokens=None,
    operation="chat", provider="openai", error_type=None, template=None, template_text=None,
    trace_id=None, synthetic=false))]
#[allow(clippy::too_many_arguments)]
pub fn record_llm_call(
    py: Python<'_>,
    #[pyo3(from_py_with = crate::arg::value::<&str>)] model: &str,
    #[pyo3(from_py_with = crate::arg::value::<f64>)] duration_seconds: f64,
    #[pyo3(from_py_with = crate::arg::optional::<i64>)] input_tokens: Option<i64>,
    #[pyo3(from_py_with = crate::arg::optional::<i64>)] output_tokens: Option<i64>,
    #[pyo3(from_py_with = crate::arg::value::<&str>)] operation: &str,
    #[pyo3(from_py_with = crate::arg::value::<&str>)] provider: &str,
    #[pyo3(from_py_with = crate::arg::optional::<&str>)] error_type: Option<&str>,
    #[pyo3(from_py_with = crate::arg::optional::<&str>)] template: Option<&str>,
    #[pyo3(from_py_with = crate::arg::optional::<&str>)] template_text: Option<&str>,
    #[pyo3(from_py_with = crate::arg::optional::<&str>)] trace_id: Option<&str>,
    #[pyo3(from_py_with = crate::arg::value::<bool>)] synthetic: bool,
) -> PyResult<f64> {
    ferrule_core::error::check::finite_non_negative(
        "record_llm_call",
        "duration_seconds",
        duration_seconds,
    )
    .map_err(|e| to_py(py, e))?;
    let (input_tokens, output_tokens) = (
        tokens(py, "input_tokens", input_tokens)?,
        tokens(py, "output_tokens", output_tokens)?,
    );
    let key = (template.is_some() || template_text.is_some())
        .then(|| profile::template_key(template, template_text));
    let error = error_type.map(|t| ferrule_core::call::ErrorInfo {
        type_name: t,
        ..Default::default()
    });
    guard(py, || {
        let call = LlmCall {
            operation,
            provider,
            request_model: model,
            duration: Duration::from_secs_f64(duration_seconds),
            tokens: ferrule_core::call::Tokens {
                input: input_tokens,
                output: output_tokens,
                ..Default::default()
            },
            error,
            template: key.as_deref(),
            synthetic,
            trace_id,
            ..Default::default()
        };
        ferrule_core::call::record(&call).cost_usd
    })
}

/// Sets the price of a model (and of the model names it prefixes), in US dollars per million tokens.
#[pyfunction]
pub fn set_price(
    py: Python<'_>,
    model: &str,
    input_per_million: f64,
    output_per_million: f64,
) -> PyResult<()> {
    price::global()
        .set(model, input_per_million, output_per_million)
        .map_err(|e| to_py(py, e))
}

/// The price table as `{model: (input_per_million, output_per_million)}`.
#[pyfunction]
pub fn prices<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (m, p) in price::global().entries() {
        d.set_item(m, (p.input_per_million, p.output_per_million))?;
    }
    Ok(d)
}

/// The profile key of a template: its name, or a stable hash of its text.
#[pyfunction]
#[pyo3(signature = (name=None, text=None))]
pub fn template_key(name: Option<&str>, text: Option<&str>) -> String {
    profile::template_key(name, text)
}

/// Profile rows sorted by `by` (cost, latency, tokens, calls, errors), the first `n` if given.
#[pyfunction]
#[pyo3(signature = (by="cost", n=None))]
pub fn profile_rows<'py>(
    py: Python<'py>,
    by: &str,
    #[pyo3(from_py_with = crate::arg::optional::<i64>)] n: Option<i64>,
) -> PyResult<Vec<Bound<'py, PyDict>>> {
    let by = SortBy::parse(by).map_err(|e| to_py(py, e))?;
    let n = n
        .map(|n| {
            ferrule_core::error::check::int("profile.top", "n", n as i128, 0, u32::MAX as u64)
                .map_err(|e| to_py(py, e))
        })
        .transpose()?;
    let rows = guard(py, || match n {
        Some(n) => profile::global().top(n as usize, by),
        None => profile::global().rows(by),
    })?;
    rows.into_iter()
        .map(|r| {
            let d = PyDict::new(py);
            d.set_item("template", r.template)?;
            d.set_item("calls", r.calls)?;
            d.set_item("errors", r.errors)?;
            d.set_item("error_rate", r.error_rate)?;
            d.set_item("input_tokens", r.input_tokens)?;
            d.set_item("output_tokens", r.output_tokens)?;
            d.set_item("mean_latency_seconds", r.mean_latency_seconds)?;
            d.set_item("p50_seconds", r.p50_seconds)?;
            d.set_item("p95_seconds", r.p95_seconds)?;
            d.set_item("p99_seconds", r.p99_seconds)?;
            d.set_item("cost_usd", r.cost_usd)?;
            Ok(d)
        })
        .collect()
}

/// Forgets every template in the profile.
#[pyfunction]
pub fn profile_reset(py: Python<'_>) -> PyResult<()> {
    guard(py, || profile::global().reset())
}
