//! The inference log a call record is written to: the one the host opened
//! (`ferrule.inference_log.open`, `inferenceLog.open`), installed here so `record` writes one row
//! per call without the host building it. One atomic load when none is open.

use super::record::{LlmCall, Recorded};
use crate::store::inference_log::{InferenceLog, InferenceRecord};
use crate::telemetry::pipeline::Pipeline;
use arc_swap::ArcSwapOption;
use std::sync::Arc;

static LOG: ArcSwapOption<InferenceLog> = ArcSwapOption::const_empty();

/// Makes `log` the one call records are written to (`None`: stop writing).
pub fn install(log: Option<Arc<InferenceLog>>) {
    LOG.store(log);
}

pub fn installed() -> Option<Arc<InferenceLog>> {
    LOG.load_full()
}

/// Writes `c`'s row when a log is installed. A full queue is counted and logged by the log.
pub(super) fn write(c: &LlmCall<'_>, r: &Recorded) {
    let guard = LOG.load();
    let Some(log) = guard.as_ref() else { return };
    let span = c.span;
    let ctx = c.context;
    let rec = InferenceRecord {
        time_unix_ns: 0,
        request_id: match span {
            Some(s) => s.request_id.to_string(),
            None => crate::telemetry::ids::new_request_id().to_string(),
        },
        trace_id: span.map(|s| s.trace_id.to_string()),
        span_id: span.map(|s| s.span_id.to_string()),
        session_id: ctx.map(|c| c.session_id.clone()),
        user_id: ctx.and_then(|c| c.user_id.clone()),
        model: Some(c.model().to_string()),
        provider: Some(c.provider.to_string()),
        template: (r.template.as_ref() != crate::telemetry::profile::UNNAMED)
            .then(|| r.template.to_string()),
        parameters: c.parameters.to_json(),
        input: c.input_text.map(str::to_string),
        output: c.output_text.map(str::to_string),
        input_tokens: c.tokens.input.map(|n| n.min(i64::MAX as u64) as i64),
        output_tokens: c.tokens.output.map(|n| n.min(i64::MAX as u64) as i64),
        cost_usd: (r.cost_usd > 0.0).then_some(r.cost_usd),
        latency_seconds: Some(c.duration.as_secs_f64()),
        outcome: r.outcome.as_str().to_string(),
        error_type: c.error.as_ref().map(|e| e.type_name.to_string()),
        attempts: c.attempts.map(i64::from),
    };
    let p = Pipeline::global();
    let rec = InferenceLog::prepare(rec, &p.tracer.redactor(), p.tracer.capture_content());
    log.record(rec);
}
