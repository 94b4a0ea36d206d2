//! The metric registry: families by name, plus scrape-time collectors. Registering is idempotent
//! for an identical declaration (re-running a notebook cell is fine) and refuses a conflicting one.
//! `global()` is the process-wide default that ferrule's own metrics live in.

use super::collector::{Collect, Sink};
use super::counter::Counter;
use super::desc::{Desc, Kind};
use super::gauge::Gauge;
use super::histogram::{check_buckets, Histogram};
use super::label_cap::DEFAULT_MAX_SERIES;
use crate::error::{check, Error, Result};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, RwLock, Weak};

#[derive(Clone)]
pub enum Family {
    Counter(Counter),
    Gauge(Gauge),
    Histogram(Histogram),
}

impl Family {
    pub fn desc(&self) -> &Desc {
        match self {
            Family::Counter(c) => &c.desc,
            Family::Gauge(g) => &g.desc,
            Family::Histogram(h) => &h.desc,
        }
    }

    /// Label sets folded into the `other` series because the family hit its cap.
    pub fn overflowed(&self) -> u64 {
        match self {
            Family::Counter(c) => c.series.overflowed(),
            Family::Gauge(g) => g.series.overflowed(),
            Family::Histogram(h) => h.series.overflowed(),
        }
    }
}

pub struct Registry {
    // A lock, but taken only to declare a family (at start-up) and to scrape; never per sample.
    families: RwLock<Vec<Family>>,
    // A lock, but taken only to add a collector and to scrape.
    collectors: Mutex<Vec<Weak<dyn Collect>>>,
    default_max_series: AtomicUsize,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

/// The process-wide registry. Prefer `telemetry::default_registry()`, which also declares
/// ferrule's own metrics.
pub fn global() -> &'static Registry {
    static GLOBAL: OnceLock<Registry> = OnceLock::new();
    GLOBAL.get_or_init(Registry::new)
}

fn max_series(component: &'static str, n: usize) -> Result<usize> {
    check::int_range(component, "max_series", n as u64, 1, 1_000_000).map(|n| n as usize)
}

impl Registry {
    pub fn new() -> Self {
        Self {
            families: RwLock::new(Vec::new()),
            collectors: Mutex::new(Vec::new()),
            default_max_series: AtomicUsize::new(DEFAULT_MAX_SERIES),
        }
    }

    /// The series cap for families declared from now on without their own `max_series`.
    pub fn set_default_max_series(&self, n: usize) -> Result<()> {
        self.default_max_series
            .store(max_series("Registry", n)?, Ordering::Relaxed);
        Ok(())
    }

    pub fn default_max_series(&self) -> usize {
        self.default_max_series.load(Ordering::Relaxed)
    }

    fn declare(
        &self,
        desc: Desc,
        component: &'static str,
        make: impl FnOnce(Desc) -> Family,
        same: impl Fn(&Family) -> bool,
    ) -> Result<Family> {
        let mut fams = self.families.write().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = fams.iter().find(|f| f.desc().name == desc.name) {
            let d = f.desc();
            if d.kind == desc.kind && d.label_names == desc.label_names && same(f) {
                return Ok(f.clone());
            }
            return Err(Error::conflict(
                component,
                "name",
                format!("{:?}", desc.name),
                format!(
                    "already registered as a {} with labels ({})",
                    d.kind.as_str(),
                    d.label_names.join(", ")
                ),
            ));
        }
        let f = make(desc);
        fams.push(f.clone());
        Ok(f)
    }

    pub fn counter(&self, name: &str, help: &str, labels: &[&str]) -> Result<Counter> {
        self.counter_with(name, help, labels, None)
    }

    pub fn counter_with(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        max: Option<usize>,
    ) -> Result<Counter> {
        const C: &str = "Counter";
        let desc = Desc::new(C, name, help, Kind::Counter, labels)?;
        let cap = max_series(C, max.unwrap_or(self.default_max_series()))?;
        match self.declare(desc, C, |d| Family::Counter(Counter::new(d, cap)), |_| true)? {
            Family::Counter(c) => Ok(c),
            _ => unreachable!("declare checked the kind"),
        }
    }

    pub fn gauge(&self, name: &str, help: &str, labels: &[&str]) -> Result<Gauge> {
        self.gauge_with(name, help, labels, None)
    }

    pub fn gauge_with(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        max: Option<usize>,
    ) -> Result<Gauge> {
        const C: &str = "Gauge";
        let desc = Desc::new(C, name, help, Kind::Gauge, labels)?;
        let cap = max_series(C, max.unwrap_or(self.default_max_series()))?;
        match self.declare(desc, C, |d| Family::Gauge(Gauge::new(d, cap)), |_| true)? {
            Family::Gauge(g) => Ok(g),
            _ => unreachable!("declare checked the kind"),
        }
    }

    pub fn histogram(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        buckets: &[f64],
    ) -> Result<Histogram> {
        self.histogram_with(name, help, labels, buckets, None)
    }

    pub fn histogram_with(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        buckets: &[f64],
        max: Option<usize>,
    ) -> Result<Histogram> {
        const C: &str = "Histogram";
        let desc = Desc::new(C, name, help, Kind::Histogram, labels)?;
        let bounds = check_buckets(C, buckets)?;
        let cap = max_series(C, max.unwrap_or(self.default_max_series()))?;
        let b2 = bounds.clone();
        match self.declare(
            desc,
            C,
            |d| Family::Histogram(Histogram::new(d, bounds, cap)),
            |f| matches!(f, Family::Histogram(h) if *h.bounds == *b2),
        )? {
            Family::Histogram(h) => Ok(h),
            _ => unreachable!("declare checked the kind"),
        }
    }

    /// Reads `c` at every scrape until it is dropped.
    pub fn add_collector(&self, c: Weak<dyn Collect>) {
        let mut cs = self.collectors.lock().unwrap_or_else(|p| p.into_inner());
        cs.retain(|w| w.strong_count() > 0);
        cs.push(c);
    }

    /// Runs every live collector (dropping dead ones).
    pub fn collect(&self) -> Sink {
        let live: Vec<_> = {
            let mut cs = self.collectors.lock().unwrap_or_else(|p| p.into_inner());
            cs.retain(|w| w.strong_count() > 0);
            cs.iter().filter_map(Weak::upgrade).collect()
        };
        // Collectors run outside the lock, so one may register another without deadlock.
        let mut sink = Sink::default();
        for c in live {
            c.collect(&mut sink);
        }
        sink
    }

    /// Every family, in declaration order.
    pub fn families(&self) -> Vec<Family> {
        self.families
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn family(&self, name: &str) -> Option<Family> {
        let base = name.strip_suffix("_total").unwrap_or(name);
        self.families
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|f| {
                f.desc().name == name || (f.desc().kind == Kind::Counter && f.desc().name == base)
            })
            .cloned()
    }
}
