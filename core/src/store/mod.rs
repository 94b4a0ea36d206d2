//! Durable stores: the inference log.

pub mod dead_letter;
pub mod inference_log;
#[cfg(feature = "redis")]
pub mod redis_backend;
#[cfg(feature = "redis")]
pub mod redis_topology;
