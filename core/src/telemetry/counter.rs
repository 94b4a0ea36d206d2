//! Counters: monotonic totals in striped atomic cells. A label set resolves once to a
//! `CounterHandle`; incrementing a handle is one relaxed `fetch_add` on this thread's stripe.

use super::desc::{Desc, Kind};
use super::float_cell::FloatCell;
use super::label_cap::LabelledSeries;
use super::stripes;
use crate::error::{Error, Result};
use crossbeam_utils::CachePadded;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One counter series. Whole increments go to striped integer cells; fractional ones (cost in
/// dollars) to one float cell, which is contended only by fractional adds.
pub struct CounterCell {
    whole: Box<[CachePadded<AtomicU64>]>,
    fraction: FloatCell,
}

impl Default for CounterCell {
    fn default() -> Self {
        Self::new()
    }
}

impl CounterCell {
    pub fn new() -> Self {
        Self {
            whole: (0..stripes::count())
                .map(|_| CachePadded::new(AtomicU64::new(0)))
                .collect(),
            fraction: FloatCell::new(0.0),
        }
    }

    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    #[inline]
    pub fn add(&self, n: u64) {
        // `index()` is below `count()`, the length of `whole`.
        self.whole[stripes::index()].fetch_add(n, Ordering::Relaxed);
    }

    /// Adds a non-negative finite amount; whole amounts take the striped path.
    pub fn add_f64(&self, v: f64) -> Result<()> {
        if !(v.is_finite() && v >= 0.0) {
            return Err(Error::out_of_range(
                "Counter",
                "amount",
                v,
                "a finite number >= 0 (counters only go up)",
            ));
        }
        if v.fract() == 0.0 && v < 9.0e15 {
            self.add(v as u64);
        } else {
            self.fraction.add(v);
        }
        Ok(())
    }

    /// The whole part, exact.
    pub fn whole(&self) -> u64 {
        self.whole
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }

    pub fn fraction(&self) -> f64 {
        self.fraction.get()
    }

    pub fn get(&self) -> f64 {
        self.whole() as f64 + self.fraction()
    }
}

/// A cheap handle on one series: clone it, keep it, call `inc` on the hot path.
#[derive(Clone)]
pub struct CounterHandle(Arc<CounterCell>);

impl CounterHandle {
    #[inline]
    pub fn inc(&self) {
        self.0.inc();
    }
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.add(n);
    }
    pub fn add_f64(&self, v: f64) -> Result<()> {
        self.0.add_f64(v)
    }
    pub fn get(&self) -> f64 {
        self.0.get()
    }
    pub fn cell(&self) -> &CounterCell {
        &self.0
    }
}

/// A counter family.
#[derive(Clone)]
pub struct Counter {
    pub(crate) desc: Arc<Desc>,
    pub(crate) series: Arc<LabelledSeries<CounterCell>>,
}

impl Counter {
    pub(crate) fn new(desc: Desc, max_series: usize) -> Self {
        debug_assert_eq!(desc.kind, Kind::Counter);
        let series = Arc::new(LabelledSeries::new(
            &desc.name,
            desc.label_names.clone(),
            max_series,
        ));
        let c = Self {
            desc: Arc::new(desc),
            series,
        };
        if c.desc.label_names.is_empty() {
            // An unlabelled counter exports 0 from the start, as prometheus_client does.
            let _ = c.series.resolve(&[], CounterCell::new);
        }
        c
    }

    pub fn desc(&self) -> &Desc {
        &self.desc
    }

    /// The series for these label values, in the order the label names were declared.
    pub fn labels(&self, values: &[&str]) -> Result<CounterHandle> {
        self.series
            .resolve(values, CounterCell::new)
            .map(CounterHandle)
    }

    /// The series of an unlabelled counter.
    pub fn handle(&self) -> Result<CounterHandle> {
        self.labels(&[])
    }

    pub fn series(&self) -> &LabelledSeries<CounterCell> {
        &self.series
    }
}
