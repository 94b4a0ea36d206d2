//! A pull sink: notifications wait in a bounded queue until the host drains them on its own thread
//! (Node's event loop calls `drain` from a timer, so no JS function is called from a Rust thread).
//! A full queue drops the oldest notification, counts it and logs a warning.

use super::alert_sink::AlertSink;
use super::notification::Notification;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

pub struct QueueSink {
    name: String,
    cap: usize,
    // A lock, not a lock-free queue: it is touched once per notification (a handful a minute by
    // design) and by the host's drain timer, never on a call's path.
    q: Mutex<VecDeque<Notification>>,
    dropped: AtomicU64,
}

impl QueueSink {
    pub fn new(name: impl Into<String>, cap: usize) -> Self {
        Self {
            name: name.into(),
            cap: cap.max(1),
            q: Mutex::new(VecDeque::new()),
            dropped: AtomicU64::new(0),
        }
    }

    pub fn drain(&self) -> Vec<Notification> {
        let mut q = self.q.lock().unwrap_or_else(|p| p.into_inner());
        q.drain(..).collect()
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl AlertSink for QueueSink {
    fn name(&self) -> &str {
        &self.name
    }
    fn deliver(&self, n: &Notification) {
        let mut q = self.q.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() >= self.cap {
            q.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
            log::warn!(target: "ferrule.alert", "alert queue {:?} full ({}): oldest notification dropped", self.name, self.cap);
        }
        q.push_back(n.clone());
    }
}
