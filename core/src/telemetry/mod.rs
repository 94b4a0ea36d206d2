//! Telemetry. Metrics: the lock-free registry (counters, gauges, histograms with capped label sets),
//! Prometheus / OpenMetrics exposition, scrape endpoint, OTLP push, ferrule's built-in metrics and the
//! prompt profile. Traces and logs: ids and context, spans, sampling, bounded rings, OTLP export,
//! structured log events and sinks, redaction.

pub mod builtin;
pub mod collector;
pub mod counter;
pub mod desc;
pub mod exposition;
pub mod float_cell;
pub mod gauge;
pub mod histogram;
pub mod http;
pub mod label_cap;
pub mod otlp;
pub mod price;
pub mod profile;
pub mod quantile_sketch;
pub mod registry;
pub mod snapshot;
pub mod stripes;

/// The process-wide registry with ferrule's own metrics declared in it.
pub fn default_registry() -> &'static registry::Registry {
    let _ = builtin::families();
    registry::global()
}

/// The default registry as Prometheus text 0.0.4 or OpenMetrics 1.0.
pub fn metrics_text(format: exposition::Format) -> String {
    exposition::render(default_registry(), format)
}

pub mod context;
pub mod event_limiter;
pub mod ids;
pub mod log_bridge;
pub mod log_event;
pub mod log_sink;
pub mod logger;
pub mod otlp_export;
pub mod otlp_logs;
pub mod pipeline;
pub mod redact;
pub mod ring_buffer;
pub mod sampler;
pub mod span;
pub mod tracer;
pub mod wall_anchor;
