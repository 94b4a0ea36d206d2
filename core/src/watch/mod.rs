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
pub mod seasonal;
pub mod series;
pub mod slo;
pub mod slo_rules;
// alerting, escalation, dead man's switch, synthetic monitoring
pub mod alert;
pub mod alert_log;
pub mod alert_queue;
pub mod alert_router;
pub mod alert_sink;
pub mod alertmanager;
pub mod dead_mans_switch;
pub mod gauges;
pub mod notification;
pub mod notify_cap;
pub mod receiver_spec;
pub mod receivers;
pub mod runtime;
pub mod synthetic_probe;
pub mod synthetic_traffic;
pub mod webhook;
