//! Telemetry: ids and context, spans, sampling, bounded buffers, OTLP export, structured logs and
//! redaction (issue 5); metrics live beside them (issue 6).

pub mod context;
pub mod event_limiter;
pub mod ids;
pub mod log_event;
pub mod log_sink;
pub mod logger;
pub mod otlp_export;
pub mod pipeline;
pub mod redact;
pub mod ring_buffer;
pub mod sampler;
pub mod span;
pub mod tracer;
