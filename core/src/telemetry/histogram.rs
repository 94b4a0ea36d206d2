//! Histograms: cumulative-bucket distributions (Prometheus / OpenMetrics shape) in striped atomic
//! cells. An observation is a bucket search and three relaxed atomics on this thread's stripe. A
//! trace id rides along as an OpenMetrics exemplar on the bucket it fell in, never as a label.

use super::builtin;
use super::desc::{Desc, Kind};
use super::label_cap::LabelledSeries;
use super::stripes;
use crate::error::{Error, Result};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// OpenMetrics caps an exemplar's label set at 128 UTF-8 characters (names and values together).
pub const MAX_EXEMPLAR_CHARS: usize = 128;

/// A sample that explains a bucket: the observed value and the ids of the trace it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// Checks a histogram's upper bounds: finite, strictly increasing, 1..=100 of them. `+Inf` is implied.
pub fn check_buckets(component: &'static str, bounds: &[f64]) -> Result<Arc<[f64]>> {
    if bounds.is_empty() || bounds.len() > 100 {
        return Err(Error::out_of_range(
            component,
            "buckets",
            format!("{} bounds", bounds.len()),
            "1 to 100 finite upper bounds",
        ));
    }
    let mut prev = f64::NEG_INFINITY;
    for &b in bounds {
        if !b.is_finite() || b <= prev {
            return Err(Error::out_of_range(
                component,
                "buckets",
                format!("{bounds:?}"),
                "finite upper bounds in strictly increasing order (+Inf is implied)",
            ));
        }
        prev = b;
    }
    Ok(bounds.into())
}

/// One histogram series. Each stripe is `[count, sum bits, bucket 0 .. bucket n (+Inf)]`, padded to
/// whole cache lines so threads on different stripes never share one.
pub struct HistogramCell {
    bounds: Arc<[f64]>,
    stride: usize,
    cells: Box<[AtomicU64]>,
    // Locks, but only `try_lock`ed: an observation never waits; a contended exemplar is dropped
    // and counted in ferrule_telemetry_dropped_total{kind="exemplar"}.
    exemplars: Box<[Mutex<Option<Exemplar>>]>,
}

/// A consistent-enough read of one series (each cell read once; a concurrent observation may land
/// in `count` but not yet in its bucket, which the exposition tolerates by clamping).
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    pub bounds: Arc<[f64]>,
    /// Cumulative counts per bound, then `+Inf` (== `count`).
    pub cumulative: Vec<u64>,
    pub count: u64,
    pub sum: f64,
    pub exemplars: Vec<Option<Exemplar>>,
}

impl HistogramCell {
    pub fn new(bounds: Arc<[f64]>) -> Self {
        let used = bounds.len() + 3;
        let stride = used.div_ceil(16) * 16;
        let n = stripes::count();
        Self {
            stride,
            cells: (0..stride * n).map(|_| AtomicU64::new(0)).collect(),
            exemplars: (0..=bounds.len()).map(|_| Mutex::new(None)).collect(),
            bounds,
        }
    }

    #[inline]
    fn bucket(&self, v: f64) -> usize {
        self.bounds.partition_point(|b| *b < v)
    }

    /// Records `v`. NaN is refused (it would poison the sum forever) and counted as dropped.
    #[inline]
    pub fn observe(&self, v: f64) {
        if v.is_nan() {
            builtin::dropped("nan_observation", 1);
            return;
        }
        let i = self.bucket(v);
        let base = stripes::index() * self.stride;
        let s = &self.cells[base..base + self.stride];
        s[2 + i].fetch_add(1, Ordering::Relaxed);
        let mut cur = s[1].load(Ordering::Relaxed);
        loop {
            let next = (f64::from_bits(cur) + v).to_bits();
            match s[1].compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => break,
                Err(x) => cur = x,
            }
        }
        s[0].fetch_add(1, Ordering::Relaxed);
    }

    /// Adds observations counted elsewhere against the same bounds: `counts[i]` in bucket `i`
    /// (`counts.len()` is the bounds' plus one for +Inf), `sum` their total. Refused (and counted
    /// as dropped) when the counts do not fit these bounds or the sum is not finite.
    pub fn observe_counts(&self, counts: &[u64], sum: f64) {
        let n: u64 = counts.iter().sum();
        if counts.len() != self.bounds.len() + 1 || !sum.is_finite() {
            builtin::dropped("histogram_merge", n.max(1));
            return;
        }
        if n == 0 {
            return;
        }
        let base = stripes::index() * self.stride;
        let s = &self.cells[base..base + self.stride];
        for (i, c) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
            s[2 + i].fetch_add(*c, Ordering::Relaxed);
        }
        let mut cur = s[1].load(Ordering::Relaxed);
        loop {
            let next = (f64::from_bits(cur) + sum).to_bits();
            match s[1].compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => break,
                Err(x) => cur = x,
            }
        }
        s[0].fetch_add(n, Ordering::Relaxed);
    }

    /// Records `v` and keeps `labels` (e.g. `trace_id`) as the exemplar of its bucket.
    pub fn observe_with_exemplar(&self, v: f64, labels: &[(&str, &str)]) {
        self.observe(v);
        if v.is_nan() {
            return;
        }
        let chars: usize = labels
            .iter()
            .map(|(k, v)| k.chars().count() + v.chars().count())
            .sum();
        if chars > MAX_EXEMPLAR_CHARS {
            builtin::dropped("exemplar_too_long", 1);
            return;
        }
        match self.exemplars[self.bucket(v)].try_lock() {
            Ok(mut slot) => {
                *slot = Some(Exemplar {
                    labels: labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    value: v,
                })
            }
            Err(_) => builtin::dropped("exemplar", 1),
        }
    }

    pub fn bounds(&self) -> &[f64] {
        &self.bounds
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        let nb = self.bounds.len() + 1;
        let mut buckets = vec![0u64; nb];
        let (mut count, mut sum) = (0u64, 0.0f64);
        for s in self.cells.chunks(self.stride) {
            count += s[0].load(Ordering::Relaxed);
            sum += f64::from_bits(s[1].load(Ordering::Relaxed));
            for (b, c) in buckets.iter_mut().zip(&s[2..2 + nb]) {
                *b += c.load(Ordering::Relaxed);
            }
        }
        let mut acc = 0u64;
        let cumulative = buckets
            .iter()
            .map(|b| {
                acc += b;
                acc
            })
            .collect::<Vec<_>>();
        // `count` is bumped last, so it can trail the buckets by in-flight observations; the +Inf
        // bucket and count must agree in the exposition, so take the larger for both.
        let count = count.max(acc);
        let mut cumulative = cumulative;
        if let Some(last) = cumulative.last_mut() {
            *last = count;
        }
        HistogramSnapshot {
            bounds: self.bounds.clone(),
            cumulative,
            count,
            sum,
            exemplars: self
                .exemplars
                .iter()
                .map(|m| m.lock().unwrap_or_else(|p| p.into_inner()).clone())
                .collect(),
        }
    }
}

#[derive(Clone)]
pub struct HistogramHandle(Arc<HistogramCell>);

impl HistogramHandle {
    #[inline]
    pub fn observe(&self, v: f64) {
        self.0.observe(v);
    }
    pub fn observe_with_exemplar(&self, v: f64, labels: &[(&str, &str)]) {
        self.0.observe_with_exemplar(v, labels);
    }
    /// See [`HistogramCell::observe_counts`].
    pub fn observe_counts(&self, counts: &[u64], sum: f64) {
        self.0.observe_counts(counts, sum);
    }
    pub fn snapshot(&self) -> HistogramSnapshot {
        self.0.snapshot()
    }
}

#[derive(Clone)]
pub struct Histogram {
    pub(crate) desc: Arc<Desc>,
    pub(crate) bounds: Arc<[f64]>,
    pub(crate) series: Arc<LabelledSeries<HistogramCell>>,
}

impl Histogram {
    pub(crate) fn new(desc: Desc, bounds: Arc<[f64]>, max_series: usize) -> Self {
        debug_assert_eq!(desc.kind, Kind::Histogram);
        let series = Arc::new(LabelledSeries::new(
            &desc.name,
            desc.label_names.clone(),
            max_series,
        ));
        let h = Self {
            desc: Arc::new(desc),
            bounds,
            series,
        };
        if h.desc.label_names.is_empty() {
            let b = h.bounds.clone();
            let _ = h.series.resolve(&[], || HistogramCell::new(b));
        }
        h
    }

    pub fn desc(&self) -> &Desc {
        &self.desc
    }

    pub fn bounds(&self) -> &[f64] {
        &self.bounds
    }

    pub fn labels(&self, values: &[&str]) -> Result<HistogramHandle> {
        let b = self.bounds.clone();
        self.series
            .resolve(values, || HistogramCell::new(b))
            .map(HistogramHandle)
    }

    pub fn handle(&self) -> Result<HistogramHandle> {
        self.labels(&[])
    }

    pub fn series(&self) -> &LabelledSeries<HistogramCell> {
        &self.series
    }
}
