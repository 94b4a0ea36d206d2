//! A fixed-size, lock-free latency distribution for percentiles: log-linear buckets (8 per power
//! of two) over nanoseconds, so any quantile is within 6.25% of the true value, in 4 KB per sketch.

use std::sync::atomic::{AtomicU64, Ordering};

const SUB: u32 = 3; // 2^3 = 8 sub-buckets per power of two
const BUCKETS: usize = (64 - SUB as usize + 1) * 8;

pub struct QuantileSketch {
    counts: Box<[AtomicU64]>,
}

impl Default for QuantileSketch {
    fn default() -> Self {
        Self::new()
    }
}

#[inline]
fn index(v: u64) -> usize {
    if v < 8 {
        return v as usize;
    }
    let e = 63 - v.leading_zeros(); // >= 3
    let sub = (v >> (e - SUB)) & 7;
    ((e - SUB + 1) * 8) as usize + sub as usize
}

/// The middle of bucket `i`, the estimate reported for any value in it.
fn estimate(i: usize) -> f64 {
    if i < 8 {
        return i as f64;
    }
    let e = (i / 8) as u32 + SUB - 1;
    let sub = (i % 8) as u64;
    let lower = (8 + sub) << (e - SUB);
    let width = 1u64 << (e - SUB);
    lower as f64 + (width as f64 - 1.0) / 2.0
}

impl QuantileSketch {
    pub fn new() -> Self {
        Self {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    #[inline]
    pub fn record(&self, nanos: u64) {
        self.counts[index(nanos)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// The `q` quantile (0 < q <= 1) in nanoseconds, or `None` when empty. Several quantiles from
    /// one read: `quantiles(&[0.5, 0.95, 0.99])`.
    pub fn quantiles(&self, qs: &[f64]) -> Vec<Option<f64>> {
        Self::merged_quantiles(&[self], qs)
    }

    /// The quantiles of several sketches taken together, as if every value had been recorded in
    /// one (a windowed estimate reads its current and previous window this way).
    pub fn merged_quantiles(parts: &[&QuantileSketch], qs: &[f64]) -> Vec<Option<f64>> {
        let counts: Vec<u64> = (0..BUCKETS)
            .map(|i| {
                parts
                    .iter()
                    .map(|p| p.counts[i].load(Ordering::Relaxed))
                    .sum()
            })
            .collect();
        let n: u64 = counts.iter().sum();
        qs.iter()
            .map(|&q| {
                if n == 0 {
                    return None;
                }
                let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).max(1);
                let mut acc = 0u64;
                counts.iter().enumerate().find_map(|(i, &c)| {
                    acc += c;
                    (acc >= rank).then(|| estimate(i))
                })
            })
            .collect()
    }

    pub fn reset(&self) {
        for c in self.counts.iter() {
            c.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_lands_within_its_bucket_error() {
        for v in (0..20_000u64).chain([1 << 20, 123_456_789, u64::MAX / 3, u64::MAX]) {
            let i = index(v);
            assert!(i < BUCKETS, "{v}");
            let est = estimate(i);
            let err = (est - v as f64).abs() / (v as f64).max(1.0);
            assert!(err <= 0.0625, "v={v} est={est} err={err}");
        }
    }

    #[test]
    fn quantiles_of_a_known_spread() {
        let s = QuantileSketch::new();
        for ms in 1..=100u64 {
            s.record(ms * 1_000_000);
        }
        let q = s.quantiles(&[0.5, 0.95, 0.99, 1.0]);
        for (got, want) in q.iter().zip([50e6, 95e6, 99e6, 100e6]) {
            let got = got.unwrap();
            assert!((got - want).abs() / want <= 0.0625, "got {got} want {want}");
        }
        assert_eq!(QuantileSketch::new().quantiles(&[0.5]), vec![None]);
    }
}
