//! Resilience policies: each decides, the host executes.

pub mod breaker;
pub mod outcome_window;
pub mod rate_limit;
