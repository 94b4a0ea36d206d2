//! Scrape-time collectors: a primitive that already counts for itself (the breaker's striped
//! counters) is read when metrics are exported instead of paying a second increment per call.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

/// Something read at scrape time. Registered with `Registry::add_collector` as a `Weak`, so a
/// dropped primitive simply stops reporting.
pub trait Collect: Send + Sync {
    fn collect(&self, sink: &mut Sink);
}

/// Samples gathered from collectors for one scrape, keyed by family name then label values. Equal
/// label sets are summed (two breakers that share a name export one series, never a duplicate).
#[derive(Default, Debug)]
pub struct Sink {
    pub(crate) samples: HashMap<String, Vec<(Vec<String>, f64)>>,
}

impl Sink {
    /// Adds `value` to the series of `family` (a declared counter or gauge; for counters the name
    /// without `_total`) with `labels` in the family's label order.
    pub fn sample(&mut self, family: &str, labels: &[&str], value: f64) {
        let list = self.samples.entry(family.to_string()).or_default();
        match list
            .iter_mut()
            .find(|(k, _)| k.len() == labels.len() && k.iter().zip(labels).all(|(a, b)| a == b))
        {
            Some((_, v)) => *v += value,
            None => list.push((labels.iter().map(|s| s.to_string()).collect(), value)),
        }
    }

    pub fn get(&self, family: &str, labels: &[&str]) -> Option<f64> {
        self.samples.get(family)?.iter().find_map(|(k, v)| {
            (k.len() == labels.len() && k.iter().zip(labels).all(|(a, b)| a == b)).then_some(*v)
        })
    }
}

/// Exports a primitive held in an `Arc` through the default registry until it is dropped.
pub fn export<T: Collect + 'static>(primitive: &Arc<T>) {
    let weak: Weak<dyn Collect> = Arc::downgrade(primitive) as Weak<dyn Collect>;
    super::registry::global().add_collector(weak);
}
