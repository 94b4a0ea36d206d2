//! A local OpenAI- and Anthropic-compatible server with deterministic fault injection, for users' own tests and for
//! ferrule's demo and test suites. Loopback only by default; runs on background threads.

mod anthropic;
mod faults;
mod http1;
mod openai;
mod server;
mod stream_faults;
mod tools;

pub use faults::{FaultKind, FaultPlan, FaultRule};
pub use server::{MockConfig, MockServer, RecordedRequest, ServerStats};
