//! Core watcher events as plain JS objects (times in ms).

use ferrule_core::watch::event::Event;
use napi_derive::napi;
use std::collections::HashMap;

#[napi(object)]
pub struct WatchEventObject {
    pub name: String,
    pub source: String,
    pub severity: String,
    pub state: String,
    pub labels: HashMap<String, String>,
    pub dedup_key: String,
    pub value: f64,
    pub threshold: f64,
    pub message: String,
    pub at_ms: f64,
}

impl From<Event> for WatchEventObject {
    fn from(e: Event) -> Self {
        Self {
            name: e.name.into(),
            source: e.source,
            severity: e.severity.as_str().into(),
            state: e.state.as_str().into(),
            labels: e.labels.into_iter().collect(),
            dedup_key: e.dedup_key,
            value: e.value,
            threshold: e.threshold,
            message: e.message,
            at_ms: e.at_nanos as f64 / 1e6,
        }
    }
}

/// `None` when there are none, so the common case creates no array. Events also go to the
/// installed alert router (the core's `publish`), so `onAlert` sees every watcher.
#[inline]
pub fn list(events: Vec<Event>) -> Option<Vec<WatchEventObject>> {
    if events.is_empty() {
        None
    } else {
        ferrule_core::watch::alert_router::publish(&events);
        Some(events.into_iter().map(Into::into).collect())
    }
}
