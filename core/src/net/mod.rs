//! Outbound connections: one TLS setup (rustls on `ring`) and one HTTP POST path shared by every
//! exporter and receiver that leaves the process (OTLP traces, metrics and logs, webhooks, Slack,
//! PagerDuty, Alertmanager), plus the OpenTelemetry `OTEL_EXPORTER_OTLP_*` variables that configure
//! them. Redis reuses the TLS file settings (`tls::TlsFiles`).

pub mod otlp_env;
pub mod post;
pub mod tls;

pub use otlp_env::{OtlpSignal, OtlpTarget};
pub use post::{Compression, Failure, FailureKind, HttpTarget};
pub use tls::TlsFiles;
