//! Multi-model load balancing and multi-region failover. The router decides which endpoint takes
//! an attempt (lock-free, on the clock trait); the host calls the endpoint and reports back.

pub mod collect;
pub mod cooldown;
pub mod ejection;
pub mod endpoint;
pub mod event;
pub mod failover;
#[cfg(feature = "redis")]
pub mod health_sync;
pub mod hedge;
pub mod latency_window;
pub mod peak_ewma;
pub mod router;
pub mod strategy;
