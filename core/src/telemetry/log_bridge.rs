//! The `log` crate's records, from the core's own `log::warn!` calls and from its dependencies
//! (rustls, reqwest, rusqlite, redis), routed into ferrule's logger. So they are masked by the
//! redactor, rate-limited and counted like every other ferrule event, and reach the sink the host
//! configured (Python `logging`, a callback, a file) instead of going around it.
//!
//! Each record becomes the event `log.<level>` with the record's text as `message` and its target
//! (`ferrule.alert`, `rustls::client::hs`) as the `target` field. Debug and trace records are not
//! forwarded: they are for a developer's own logger, which wins if the host installed one first.

use crate::telemetry::log_event::{FieldValue, Level, LogEvent};
use crate::telemetry::pipeline::Pipeline;
use std::cell::Cell;

thread_local! {
    /// Set while a record is being written, so a sink that itself logs through `log` (a host
    /// logging handler, a dependency inside the OTLP exporter) cannot recurse without end.
    static IN_BRIDGE: Cell<bool> = const { Cell::new(false) };
}

/// The bridge; install it once per process with `install`.
pub struct Bridge;

static BRIDGE: Bridge = Bridge;

/// The most verbose level forwarded.
pub const MAX_LEVEL: log::LevelFilter = log::LevelFilter::Info;

impl Bridge {
    /// The ferrule level of a `log` level, or `None` for levels not forwarded.
    pub fn level(l: log::Level) -> Option<Level> {
        match l {
            log::Level::Error => Some(Level::Error),
            log::Level::Warn => Some(Level::Warning),
            log::Level::Info => Some(Level::Info),
            log::Level::Debug | log::Level::Trace => None,
        }
    }

    /// The event a record becomes (not yet masked: `Pipeline::emit` does that).
    pub fn event(record: &log::Record<'_>) -> Option<LogEvent> {
        let level = Self::level(record.level())?;
        let name = match level {
            Level::Error => "log.error",
            Level::Warning => "log.warning",
            _ => "log.info",
        };
        Some(
            LogEvent::new(level, name)
                .message(record.args().to_string())
                .field("target", FieldValue::Str(record.target().to_string())),
        )
    }
}

impl log::Log for Bridge {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        Self::level(metadata.level()).is_some()
    }

    fn log(&self, record: &log::Record<'_>) {
        let Some(ev) = Self::event(record) else {
            return;
        };
        // A thread being torn down has no thread-locals left; its record is dropped.
        let _ = IN_BRIDGE.try_with(|busy| {
            if busy.replace(true) {
                return;
            }
            Pipeline::global().emit(&ev);
            busy.set(false);
        });
    }

    fn flush(&self) {}
}

/// Makes the bridge the process's `log` logger. False when the host installed another logger
/// first: that one then receives the records, as the host asked.
pub fn install() -> bool {
    if log::set_logger(&BRIDGE).is_ok() {
        log::set_max_level(MAX_LEVEL);
        true
    } else {
        false
    }
}
