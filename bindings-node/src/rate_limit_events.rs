//! Where a Node limiter's lost-state events (a key evicted while still limited, dropped extra units)
//! wait for the host. The core reports them during a call on the JS thread; that call's answer
//! flags them, and the host drains them into `process.emitWarning`, so none is silent.

use ferrule_core::{RateLimitEvent, RateLimiter};
use napi_derive::napi;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Events held between two drains; beyond it they are counted and reported as one line.
const CAPACITY: usize = 64;

/// A warning for `process.emitWarning`.
#[napi(object)]
pub struct RateLimitWarning {
    /// `evicted_active` or `dropped_units`; the host makes the warning code from it.
    pub kind: String,
    pub message: String,
    pub count: f64,
}

#[derive(Default)]
pub(crate) struct EventQueue {
    pending: AtomicBool,
    // A lock, but taken only when an event happens (rare) and when the host drains after a flag.
    queue: Mutex<Vec<RateLimitWarning>>,
    overflow: AtomicU64,
}

impl EventQueue {
    fn push(&self, e: &RateLimitEvent, limiter: &str) {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() < CAPACITY {
            q.push(RateLimitWarning {
                kind: e.kind().into(),
                // The core speaks its own names; Node's option is `maxKeys`.
                message: e.message(limiter).replace("(max_keys)", "(maxKeys)"),
                count: e.count() as f64,
            });
        } else {
            self.overflow.fetch_add(1, Ordering::Relaxed);
        }
        self.pending.store(true, Ordering::Release);
    }

    /// One load: whether the host has warnings to drain.
    #[inline]
    pub(crate) fn pending(&self) -> bool {
        self.pending.load(Ordering::Relaxed)
    }

    pub(crate) fn take(&self, limiter: &str) -> Vec<RateLimitWarning> {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        self.pending.store(false, Ordering::Release);
        let mut out = std::mem::take(&mut *q);
        let lost = self.overflow.swap(0, Ordering::Relaxed);
        if lost > 0 {
            out.push(RateLimitWarning {
                kind: "warnings_dropped".into(),
                message: format!(
                    "rate limiter '{limiter}': {lost} more warnings were dropped (over {CAPACITY} between drains)"
                ),
                count: lost as f64,
            });
        }
        out
    }
}

/// A core limiter with its event queue: what the native object and its fast function share.
pub(crate) struct LimiterHandle {
    pub(crate) limiter: Arc<RateLimiter>,
    pub(crate) events: Arc<EventQueue>,
}

impl LimiterHandle {
    pub(crate) fn new(limiter: RateLimiter) -> Self {
        let events = Arc::new(EventQueue::default());
        let (queue, name) = (events.clone(), limiter.name().to_string());
        limiter.on_event(move |e| queue.push(e, &name));
        let limiter = Arc::new(limiter);
        ferrule_core::telemetry::collector::export(&limiter);
        Self { limiter, events }
    }
}

impl Deref for LimiterHandle {
    type Target = RateLimiter;
    fn deref(&self) -> &RateLimiter {
        &self.limiter
    }
}
