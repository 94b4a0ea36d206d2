//! The rare moments a rate limiter loses state: a key evicted while still limited, extra units that
//! did not fit the bounded state. Each is counted in the stats and also handed to listeners, so the
//! host logs it at warning level: nothing is dropped without a trace.

use std::sync::{Arc, RwLock};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateLimitEvent {
    /// A new key met a map full of keys that were all still limited; `keys` of them were evicted and
    /// start over with a full allowance.
    EvictedActive { keys: u64, max_keys: u64 },
    /// Extra units (a reservation settled above its estimate) that the bounded state could not hold.
    Dropped { units: u64 },
}

impl RateLimitEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            RateLimitEvent::EvictedActive { .. } => "evicted_active",
            RateLimitEvent::Dropped { .. } => "dropped_units",
        }
    }

    pub fn count(&self) -> u64 {
        match self {
            RateLimitEvent::EvictedActive { keys, .. } => *keys,
            RateLimitEvent::Dropped { units } => *units,
        }
    }

    pub fn message(&self, limiter: &str) -> String {
        match self {
            RateLimitEvent::EvictedActive { keys, max_keys } => format!(
                "rate limiter '{limiter}': all {max_keys} keys (max_keys) are still limited; evicted \
                 {keys} closest to idle, which start over with a full allowance"
            ),
            RateLimitEvent::Dropped { units } => format!(
                "rate limiter '{limiter}': {units} extra units did not fit the bounded state and were \
                 not recorded"
            ),
        }
    }
}

type Listener = Arc<dyn Fn(&RateLimitEvent) + Send + Sync>;

/// Listeners of one limiter, shared with its keyed cells.
#[derive(Default, Clone)]
pub(crate) struct Events {
    // A lock, but read only when an event happens (rare) and written when a listener is added.
    listeners: Arc<RwLock<Vec<Listener>>>,
}

impl Events {
    pub(crate) fn add(&self, f: impl Fn(&RateLimitEvent) + Send + Sync + 'static) {
        self.listeners
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::new(f));
    }

    #[cold]
    pub(crate) fn emit(&self, e: RateLimitEvent) {
        let ls = self.listeners.read().unwrap_or_else(|p| p.into_inner());
        for l in ls.iter() {
            l(&e);
        }
    }
}
