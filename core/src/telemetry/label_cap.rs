//! A family's label sets, each resolved once to a shared cell, under a cap on how many series a
//! family may grow. Past the cap every new label set lands in one `other` series (all label values
//! `"other"`) and the overflow is counted and logged, so a bad label can never explode a scrape.

use crate::error::{Error, Result};
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// The default cap on series per metric family.
pub const DEFAULT_MAX_SERIES: usize = 1000;
/// The label value of the overflow series.
pub const OTHER: &str = "other";

struct Entries<M> {
    /// Hash of the label values -> indices into `list` (collisions compared in full).
    index: HashMap<u64, Vec<usize>>,
    list: Vec<(Box<[String]>, Arc<M>)>,
    other: Option<Arc<M>>,
}

pub struct LabelledSeries<M> {
    metric: String,
    label_names: Box<[String]>,
    max_series: usize,
    // A lock, but only to resolve a label set to a handle (callers keep the handle and then touch
    // only the cell's atomics) and to list series at scrape time.
    entries: RwLock<Entries<M>>,
    overflowed: AtomicU64,
    warned: AtomicBool,
}

fn key_hash(values: &[&str]) -> u64 {
    let mut h = DefaultHasher::new();
    for v in values {
        v.hash(&mut h);
    }
    h.finish()
}

impl<M> LabelledSeries<M> {
    pub fn new(metric: &str, label_names: Box<[String]>, max_series: usize) -> Self {
        Self {
            metric: metric.to_string(),
            label_names,
            max_series,
            entries: RwLock::new(Entries {
                index: HashMap::new(),
                list: Vec::new(),
                other: None,
            }),
            overflowed: AtomicU64::new(0),
            warned: AtomicBool::new(false),
        }
    }

    pub fn label_names(&self) -> &[String] {
        &self.label_names
    }

    pub fn max_series(&self) -> usize {
        self.max_series
    }

    /// Label sets that arrived after the cap and were folded into the `other` series.
    pub fn overflowed(&self) -> u64 {
        self.overflowed.load(Ordering::Relaxed)
    }

    fn find(e: &Entries<M>, h: u64, values: &[&str]) -> Option<Arc<M>> {
        e.index.get(&h)?.iter().find_map(|&i| {
            let (k, m) = &e.list[i];
            (k.len() == values.len() && k.iter().zip(values).all(|(a, b)| a == b))
                .then(|| m.clone())
        })
    }

    /// The cell for these label values (in label-name order), made with `make` on first sight.
    pub fn resolve(&self, values: &[&str], make: impl FnOnce() -> M) -> Result<Arc<M>> {
        if values.len() != self.label_names.len() {
            return Err(Error::conflict(
                "Metric",
                "labels",
                format!("{} values for {}", values.len(), self.metric),
                format!(
                    "exactly {} values, for ({})",
                    self.label_names.len(),
                    self.label_names.join(", ")
                ),
            ));
        }
        let h = key_hash(values);
        {
            let e = self.entries.read().unwrap_or_else(|p| p.into_inner());
            if let Some(m) = Self::find(&e, h, values) {
                return Ok(m);
            }
        }
        let mut e = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = Self::find(&e, h, values) {
            return Ok(m);
        }
        if e.list.len() >= self.max_series {
            self.overflowed.fetch_add(1, Ordering::Relaxed);
            let other = e.other.get_or_insert_with(|| Arc::new(make())).clone();
            drop(e);
            // Logged after the lock is released: a logger may block (a Python handler waits for
            // the GIL), and no lock of ours is held across it.
            if !self.warned.swap(true, Ordering::Relaxed) {
                log::warn!(
                    "ferrule metric {}: more than {} label sets; new ones are folded into the \"other\" series (counted in ferrule_metric_series_overflow_total)",
                    self.metric,
                    self.max_series
                );
            }
            return Ok(other);
        }
        let m = Arc::new(make());
        let i = e.list.len();
        e.list
            .push((values.iter().map(|s| s.to_string()).collect(), m.clone()));
        e.index.entry(h).or_default().push(i);
        Ok(m)
    }

    /// Every series with its label values, in first-seen order, the `other` series last.
    pub fn for_each(&self, mut f: impl FnMut(&[String], &M)) {
        let e = self.entries.read().unwrap_or_else(|p| p.into_inner());
        for (k, m) in &e.list {
            f(k, m);
        }
        if let Some(m) = &e.other {
            let other: Vec<String> = self.label_names.iter().map(|_| OTHER.to_string()).collect();
            f(&other, m);
        }
    }

    pub fn len(&self) -> usize {
        let e = self.entries.read().unwrap_or_else(|p| p.into_inner());
        e.list.len() + e.other.is_some() as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
