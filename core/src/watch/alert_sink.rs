//! Where notifications go. A sink must never block the router for long: the callback sink runs the
//! user's function (hosts keep theirs short or hand off), the webhook and Alertmanager sinks only
//! enqueue for their delivery thread.

use super::notification::Notification;

pub trait AlertSink: Send + Sync {
    fn name(&self) -> &str;
    fn deliver(&self, n: &Notification);
}

/// Calls a function with every notification routed to it.
pub struct CallbackSink {
    name: String,
    f: Box<dyn Fn(&Notification) + Send + Sync>,
}

impl CallbackSink {
    pub fn new(name: impl Into<String>, f: impl Fn(&Notification) + Send + Sync + 'static) -> Self {
        Self {
            name: name.into(),
            f: Box::new(f),
        }
    }
}

impl AlertSink for CallbackSink {
    fn name(&self) -> &str {
        &self.name
    }
    fn deliver(&self, n: &Notification) {
        (self.f)(n)
    }
}

/// What a removed sink leaves behind: delivers nothing, under a name no live sink can have.
pub struct RemovedSink {
    name: String,
}

impl RemovedSink {
    pub fn new(was: &str) -> Self {
        Self {
            name: format!("{was} (removed)"),
        }
    }
}

impl AlertSink for RemovedSink {
    fn name(&self) -> &str {
        &self.name
    }
    fn deliver(&self, _n: &Notification) {}
}
