//! Resilience policies: each decides, the host executes.

pub mod backoff;
pub mod breaker;
#[cfg(feature = "redis")]
pub mod breaker_sync;
pub mod chaos;
pub mod deadline;
pub mod outcome_window;
pub mod pipeline;
pub mod rate_limit;
pub mod retry;
pub mod retry_budget;
pub mod retry_hint;
