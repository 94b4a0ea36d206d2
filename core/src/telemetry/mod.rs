//! Telemetry: the lock-free metrics registry (counters, gauges, histograms with capped label sets),
//! its Prometheus / OpenMetrics exposition, scrape endpoint and OTLP push, ferrule's own built-in metrics, and
//! the prompt performance profile with its model price table.

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
