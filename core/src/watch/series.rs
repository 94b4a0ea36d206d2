//! A bounded map from a series' labels (model, prompt template) to its watcher state. At most
//! `max_series` series exist; values for a new series beyond that go to one shared `other` series and
//! are counted, so a label explosion costs a counter, not memory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

pub const OTHER: &str = "other";

/// The labels that tell one series from another within a watcher.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SeriesKey {
    pub model: String,
    pub template: String,
}

impl SeriesKey {
    pub fn new(model: impl Into<String>, template: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            template: template.into(),
        }
    }

    pub fn other() -> Self {
        Self::new(OTHER, OTHER)
    }

    pub fn heap_bytes(&self) -> usize {
        self.model.capacity() + self.template.capacity()
    }
}

/// What a series costs beyond its inline size, for the memory bound.
pub trait HeapSize {
    fn heap_bytes(&self) -> usize;
}

/// The outcome of finding a series.
pub struct Found<T> {
    pub state: Arc<Mutex<T>>,
    pub key: SeriesKey,
    /// True on the first value that went to `other` because the map was full.
    pub first_overflow: bool,
}

pub struct SeriesMap<T> {
    // A lock, not atomics: a series is created once and then only looked up, so the write lock is
    // taken once per new series (off the steady-state path) and lookups share the read lock.
    map: RwLock<HashMap<SeriesKey, Arc<Mutex<T>>>>,
    max_series: usize,
    overflowed: AtomicU64,
}

impl<T: HeapSize> SeriesMap<T> {
    pub fn new(max_series: usize) -> Self {
        Self {
            map: RwLock::new(HashMap::new()),
            max_series,
            overflowed: AtomicU64::new(0),
        }
    }

    /// The series for `key`, made with `make` if new; `other` when the map is full.
    pub fn get_or_insert(&self, key: &SeriesKey, make: impl FnOnce() -> T) -> Found<T> {
        if let Some(s) = self.map.read().unwrap_or_else(|p| p.into_inner()).get(key) {
            return Found {
                state: s.clone(),
                key: key.clone(),
                first_overflow: false,
            };
        }
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = map.get(key) {
            return Found {
                state: s.clone(),
                key: key.clone(),
                first_overflow: false,
            };
        }
        // One slot is reserved for `other`, so the cap counts it too.
        if map.len() + 1 < self.max_series {
            let s = Arc::new(Mutex::new(make()));
            map.insert(key.clone(), s.clone());
            return Found {
                state: s,
                key: key.clone(),
                first_overflow: false,
            };
        }
        let first = self.overflowed.fetch_add(1, Ordering::Relaxed) == 0;
        let other = SeriesKey::other();
        let s = map
            .entry(other.clone())
            .or_insert_with(|| Arc::new(Mutex::new(make())))
            .clone();
        Found {
            state: s,
            key: other,
            first_overflow: first,
        }
    }

    /// Values sent to `other` because the map was full.
    pub fn overflowed(&self) -> u64 {
        self.overflowed.load(Ordering::Relaxed)
    }

    pub fn len(&self) -> usize {
        self.map.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn max_series(&self) -> usize {
        self.max_series
    }

    /// Visits every series (off the hot path: gauges, summaries).
    pub fn for_each(&self, mut f: impl FnMut(&SeriesKey, &T)) {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        for (k, v) in map.iter() {
            f(k, &v.lock().unwrap_or_else(|p| p.into_inner()));
        }
    }

    /// Bytes held per series: its key, its state inline and on the heap, the map slot and the `Arc`
    /// header. The largest series counts, so `bytes_per_series() * max_series()` bounds the map.
    pub fn bytes_per_series(&self) -> usize {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        let slot = std::mem::size_of::<(SeriesKey, Arc<Mutex<T>>)>() + 1;
        let arc = 2 * std::mem::size_of::<usize>() + std::mem::size_of::<Mutex<T>>();
        map.iter()
            .map(|(k, v)| k.heap_bytes() + v.lock().unwrap_or_else(|p| p.into_inner()).heap_bytes())
            .max()
            .unwrap_or(0)
            + slot
            + arc
    }

    pub fn clear(&self) {
        self.map.write().unwrap_or_else(|p| p.into_inner()).clear();
    }
}
