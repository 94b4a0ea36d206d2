//! The private native module `ferrule._ferrule`. The public API is the pure-Python package
//! `ferrule`, which imports from here; this crate only converts between Python and the core.

mod arg;
mod backoff;
mod breaker;
mod call_record;
mod chaos;
mod clock;
mod context;
mod context_vars;
mod dead_letter;
mod emit_call;
mod error;
mod fastcall;
mod gil;
mod inference_log;
mod json_to_python;
mod metrics;
mod metrics_server;
mod mock;
mod observe;
mod otel_hooks;
mod otlp;
mod partial_json;
mod policy;
mod profile;
mod rate_limit;
mod redis_backend;
mod retry_hint;
mod router;
mod schema_snapshot;
mod sleeper;
mod span;
mod span_call;
mod telemetry;
mod validate;
mod watch;
mod wrapped_call;

#[pyo3::pymodule]
mod _ferrule {
    #[pymodule_export]
    use crate::backoff::Backoff;
    #[pymodule_export]
    use crate::breaker::CircuitBreakerCore;
    #[pymodule_export]
    use crate::chaos::ChaosCore;
    #[pymodule_export]
    use crate::clock::ManualClock;
    #[pymodule_export]
    use crate::context::CallContext;
    #[pymodule_export]
    use crate::context_vars::bind_context_vars;
    #[pymodule_export]
    use crate::dead_letter::{DeadLetterQueueCore, ReplayCursorCore};
    #[pymodule_export]
    use crate::inference_log::{use_inference_log, InferenceLogCore};
    #[pymodule_export]
    use crate::metrics::{
        metrics_text, set_default_max_series, Counter, CounterChild, Gauge, GaugeChild, Histogram,
        HistogramChild,
    };
    #[pymodule_export]
    use crate::metrics_server::{serve_metrics, MetricsServer};
    #[pymodule_export]
    use crate::mock::MockServerCore;
    #[pymodule_export]
    use crate::observe::{observe, observe_check, observe_dead_letters, observing};
    #[pymodule_export]
    use crate::otel_hooks::set_otel_hooks;
    #[pymodule_export]
    use crate::otlp::{push_metrics, OtlpPusher};
    #[pymodule_export]
    use crate::partial_json::PartialJsonCore;
    #[pymodule_export]
    use crate::policy::{sync_remaining, PolicyCore, RetryOptions};
    #[pymodule_export]
    use crate::profile::{
        prices, profile_reset, profile_rows, record_llm_call, set_price, template_key,
    };
    #[pymodule_export]
    use crate::rate_limit::{LimitsCore, RateLimiterCore, Reservation};
    #[pymodule_export]
    use crate::redis_backend::RedisBackendCore;
    #[pymodule_export]
    use crate::retry_hint::{hint_header_names, retry_hint, transient_statuses};
    #[pymodule_export]
    use crate::router::RouterCore;
    #[pymodule_export]
    use crate::schema_snapshot::SchemaSnapshot;
    #[pymodule_export]
    use crate::span::Span;
    #[pymodule_export]
    use crate::telemetry::{
        clear_recent_spans, configure, flush, new_request_id, recent_spans, redact, telemetry_stats,
    };
    #[pymodule_export]
    use crate::validate::{repair_json, validation_stats, JsonValidatorCore, Repair};
    #[pymodule_export]
    use crate::watch::alert_router::AlertRouterCore;
    #[pymodule_export]
    use crate::watch::anomaly::AnomalyCore;
    #[pymodule_export]
    use crate::watch::dead_mans_switch::DeadMansSwitchCore;
    #[pymodule_export]
    use crate::watch::drift::DriftCore;
    #[pymodule_export]
    use crate::watch::predictor::PredictorCore;
    #[pymodule_export]
    use crate::watch::slo::SloCore;
    #[pymodule_export]
    use crate::watch::synthetic_probe::SyntheticProbeCore;

    #[pymodule_init]
    fn init(m: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
        use pyo3::types::PyModuleMethods;
        // `log` records (core warnings such as a dropped alert, and dependencies' warnings) go
        // through ferrule's logger, so they are masked and counted and reach the configured sink
        // (by default Python `logging` under "ferrule"). A Rust logger the host installed first wins.
        ferrule_core::telemetry::log_bridge::install();
        // `emit` is a raw fastcall function (with `**fields`, pyo3 would build a dict per call).
        crate::emit_call::add(m)?;
        // `span` likewise, so its keywords are matched by identity.
        crate::span_call::add(m)?;
        // `record_call`: one crossing per finished LLM call, keywords matched by identity.
        crate::call_record::add(m)?;
        // `CallSite` / `WrappedCall`: a wrapped SDK call's spans and record in two crossings.
        crate::wrapped_call::add(m)?;
        m.add("__version__", env!("CARGO_PKG_VERSION"))
    }
}
