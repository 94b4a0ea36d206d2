//! Durable stores: the inference log (issue 5).

pub mod inference_log;
