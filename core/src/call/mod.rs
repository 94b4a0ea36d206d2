//! The call record: one finished LLM call, as every integration reports it, and the one function
//! that sends it everywhere it belongs (metrics, cost, prompt profile, inference log, watchers).
//! See `docs/call-record.md`.

pub mod chunk_times;
pub mod fingerprint;
pub mod inference;
pub mod normalize;
pub mod observe;
pub mod outcome;
pub mod read;
pub mod record;

pub use chunk_times::ChunkTimes;
pub use fingerprint::Message;
pub use observe::{DeadLetterAlert, DriftObserve, ObserveConfig, Observer, OutageConfig};
pub use outcome::{ErrorInfo, Outcome};
pub use record::{elapsed, record, span_attributes, LlmCall, Parameters, Recorded, Tokens};
