//! ferrule-core: the resilience primitives and telemetry of ferrule, in plain Rust. The Python and
//! Node bindings only convert; every rule lives here, once. This file is the public API.

pub mod breaker_state;
pub mod call;
pub mod clock;
pub mod error;
pub mod fork_guard;
#[cfg(feature = "mock-server")]
pub mod mock;
pub mod net;
pub mod policy;
pub mod random;
pub mod route;
pub mod store;
pub mod striped;
pub mod telemetry;
#[cfg(feature = "validate")]
pub mod validate;
pub mod watch;

pub use call::{LlmCall, ObserveConfig, Observer, Outcome as CallRecordOutcome, Recorded};
pub use clock::{Clock, ClockRef, ManualClock, SystemClock};
pub use error::{ConfigProblem, Error, Result};
pub use policy::breaker::{
    BreakerConfig, CallError, CircuitBreaker, Outcome, Permit, Reason, Rejected, Snapshot, State,
    Transition,
};
pub use policy::outcome_window::{WindowSpec, WindowTotals};
pub use policy::rate_limit::{
    Algorithm, KeyStats, MultiLimit, MultiStats, MultiStep, RateLimitConfig, RateLimitEvent,
    RateLimitStats, RateLimiter, Reservation, Step,
};
pub use telemetry::counter::{Counter, CounterHandle};
pub use telemetry::exposition::Format as MetricsFormat;
pub use telemetry::gauge::{Gauge, GaugeHandle};
pub use telemetry::histogram::{Exemplar, Histogram, HistogramHandle};
pub use telemetry::http::MetricsServer;
pub use telemetry::otlp::{OtlpConfig, OtlpPusher};
pub use telemetry::profile::{Profiler, SortBy, TemplateRow};
pub use telemetry::registry::Registry;
pub use telemetry::{default_registry, metrics_text};
pub use watch::anomaly::{AnomalyConfig, AnomalyDetector, Direction, Method};
pub use watch::drift::{BaselinePolicy, DriftConfig, DriftDetector};
pub use watch::event::{Event as WatchEvent, EventState, Severity};
pub use watch::predictor::{CallOutcome, ErrorPredictor, FitReport, PastCall, PredictorConfig};
pub use watch::series::SeriesKey;
pub use watch::slo::{AlertKind, BudgetBasis, BurnRule, SliKind, Slo, SloConfig};

/// Runs `f`, turning a panic into an `Err` with the panic message, so no panic unwinds into a host
/// runtime. Every binding entry point that can reach core code goes through this.
///
/// `AssertUnwindSafe` is sound here: core state is atomics whose every single update leaves a valid
/// state, and the few locks recover from poisoning, so nothing is left half-updated by a panic.
pub fn catch_panic<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        p.downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into())
    })
}

pub use policy::backoff::{Backoff, BackoffKind, Jitter};
pub use policy::chaos::{Chaos, ChaosConfig, Fault};
pub use policy::deadline;
pub use policy::pipeline::{Admission, Event, Pipeline, PipelineConfig, PipelineStats};
pub use policy::retry::{
    transient_status, Decision, Failure, GiveUp, RetryConfig, RetryPolicy, RetryState, RetryStats,
    WaitSource,
};
pub use policy::retry_budget::{BudgetConfig, RetryBudget};
pub use policy::retry_hint::{
    parse_duration, parse_http_date, parse_retry_after, parse_rfc3339, HintHeaders,
};
pub use route::endpoint::{EndpointConfig, Health};
pub use route::event::{EventKind as RouteEventKind, RouteEvent};
pub use route::router::{EndpointStats, Router, RouterConfig, RouterStats};
pub use route::strategy::Strategy as RouteStrategy;
pub use store::dead_letter::memory::MemoryDeadLetterStore;
pub use store::dead_letter::queue::{
    DeadLetterConfig, DeadLetterQueue, ReplayCursor, ReplayReport,
};
pub use store::dead_letter::sqlite::SqliteDeadLetterStore;
pub use store::dead_letter::{
    Capacity as DeadLetterCapacity, DeadLetter, DeadLetterStore, NewDeadLetter, OnFull, Pushed,
};
pub use watch::alert::Alert;
pub use watch::alert_router::{
    AlertRouter, Escalation, InhibitRule, Route, RouterConfig as AlertRouterConfig,
};
pub use watch::dead_mans_switch::DeadMansSwitch;
pub use watch::notification::Notification;
pub use watch::synthetic_probe::{ProbeConfig, ProbeResult, SyntheticProbe};
