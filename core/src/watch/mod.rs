//! Watchers: they turn the calls ferrule sees into early warnings, in-process and in bounded memory.
//! Each is fed explicitly (`record`, `observe`) and returns the events it caused; the host hands
//! those to its callback and, once alerting lands, to the alert router.

pub mod anomaly;
pub mod buckets;
pub mod drift;
pub mod embed;
pub mod event;
pub mod ewma;
pub mod fast_burn;
pub mod hysteresis;
pub mod logistic;
pub mod mad;
pub mod mmd;
pub mod predictor;
pub mod psi;
pub mod series;
pub mod slo;
