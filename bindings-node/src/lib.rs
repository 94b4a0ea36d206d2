//! ferrule-node: the napi binding of ferrule-core. It converts JavaScript values to core types, calls
//! the core and converts back; the rules live in the core, the calling of user functions in the JS
//! host layer (`bindings-node/index.js`). This native module is private: only the host layer loads it.

mod breaker;
mod call_record;
mod chaos;
mod clock;
mod dead_letter;
mod error;
mod fast_call;
mod fast_policy;
mod inference_log;
mod limits;
mod metrics;
mod metrics_fast;
mod metrics_push;
mod mock;
mod observe;
mod partial_json;
mod policy;
mod profile;
mod rate_limit;
mod rate_limit_events;
mod rate_limit_fast_call;
mod raw_fn;
mod redact_callback;
mod redis_backend;
mod router;
mod router_fast_call;
mod telemetry;
mod validate;
mod validate_fast_call;
mod watch;

pub use breaker::{create_breaker, NativeBreaker};
pub use call_record::{
    record_call, server_of_url, CallRecordOptions, NativeCallStream, RecordedCall, ServerAddress,
};
pub use chaos::{create_chaos, NativeChaos};
pub use clock::NativeManualClock;
pub use dead_letter::{create_dead_letter_queue, NativeDeadLetterQueue, NativeReplayCursor};
pub use fast_call::fast_calls;
pub use fast_policy::policy_fast_calls;
pub use inference_log::{
    new_request_id, open_inference_log, use_inference_log, InferenceLogStats, InferenceRecordInput,
    NativeInferenceLog,
};
pub use limits::{NativeLimits, NativeLimitsBuilder, NativeReservation};
pub use metrics::{
    create_counter, create_gauge, create_histogram, metrics_text, serve_metrics, NativeCounter,
    NativeCounterChild, NativeGauge, NativeGaugeChild, NativeHistogram, NativeHistogramChild,
    NativeMetricsServer,
};
pub use metrics_fast::{counter_inc_fn, histogram_observe_fn};
pub use metrics_push::{push_metrics, NativeMetricsPusher};
pub use mock::{create_mock_server, NativeMockServer};
pub use observe::{observe, observe_check, observe_dead_letters, observing, ObserveOptions};
pub use policy::{
    create_policy, hint_header_names, retry_hint_ms, transient_statuses, NativePolicy,
};
pub use profile::{profile_reset, profile_rows, record_llm_call, set_price};
pub use rate_limit::{create_rate_limiter, NativeRateLimiter};
pub use rate_limit_fast_call::rate_limiter_fast_call;
pub use redact_callback::stage_redact_callback;
pub use telemetry::{
    clear_recent_spans, configure_telemetry, emit_event, flush_telemetry, recent_spans_json,
    redact, take_log_lines, telemetry_stats, NativeContext, NativeSpan, TelemetryOptions,
};
pub use validate::{
    create_json_repairer, create_json_validator, validation_stats_json, NativeJsonRepairer,
    NativeJsonValidator,
};
pub use watch::anomaly::{create_anomaly, NativeAnomaly};
pub use watch::drift::{create_drift, NativeDrift};
pub use watch::predictor::{create_predictor, NativePredictor};
pub use watch::slo::{create_slo, NativeSlo};

/// Panics on purpose, so the node tests can check that a Rust panic reaches JS as an exception and
/// never as a crash. Only on the private native module; the public API does not expose it.
#[napi_derive::napi(catch_unwind)]
pub fn panic_for_test() {
    panic!("deliberate panic for the panic-safety test");
}
pub use router::{create_router, NativeRouter};

/// At load: `log` records (core warnings such as a dropped alert, and dependencies' warnings) go
/// through ferrule's logger, so they are masked and counted and reach the configured sink. A Rust
/// logger installed first wins.
#[napi_derive::module_init]
fn install_log_bridge() {
    ferrule_core::telemetry::log_bridge::install();
}
