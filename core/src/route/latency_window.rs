//! An endpoint's recent latency distribution, for the hedge delay and `latency_p95_seconds`: two
//! quantile sketches, the current window and the one before it, read together. A window closes once
//! it is `window` of clock time old *and* holds `min_samples` values; the older sketch is then
//! cleared and becomes the current one. So the estimate covers the last one to two windows (never
//! fewer than `min_samples` values, however sparse the traffic) and a latency regime change moves
//! it within three windows, where a sketch that only accumulates would be pinned by its history.
//!
//! Lock-free: the window state is one atomic word (start time and which half is current) switched
//! by compare-exchange; the thread that wins the switch clears the new half. A value recorded by
//! another thread in the instant between the switch and the clear may be lost; nothing is corrupted.

use crate::telemetry::quantile_sketch::QuantileSketch;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct LatencyWindow {
    halves: [QuantileSketch; 2],
    /// `(window start nanos << 1) | current half`.
    state: AtomicU64,
    /// Values in the current half.
    current: AtomicU64,
    window_nanos: u64,
    min_samples: u64,
}

impl LatencyWindow {
    pub fn new(window_nanos: u64, min_samples: u64) -> Self {
        Self {
            halves: [QuantileSketch::new(), QuantileSketch::new()],
            state: AtomicU64::new(0),
            current: AtomicU64::new(0),
            window_nanos: window_nanos.max(1),
            min_samples: min_samples.max(1),
        }
    }

    /// Records one latency; returns true when this call closed a window (cached quantiles are stale).
    #[inline]
    pub fn record(&self, nanos: u64, now: u64) -> bool {
        let s = self.state.load(Ordering::Acquire);
        let mut half = (s & 1) as usize;
        let start = s >> 1;
        let mut rotated = false;
        if now.saturating_sub(start) >= self.window_nanos
            && self.current.load(Ordering::Relaxed) >= self.min_samples
        {
            let next = ((now & (u64::MAX >> 1)) << 1) | (half as u64 ^ 1);
            if self
                .state
                .compare_exchange(s, next, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                half ^= 1;
                self.halves[half].reset();
                self.current.store(0, Ordering::Relaxed);
                rotated = true;
            } else {
                half = (self.state.load(Ordering::Acquire) & 1) as usize;
            }
        }
        self.halves[half].record(nanos);
        self.current.fetch_add(1, Ordering::Relaxed);
        rotated
    }

    /// The `qs` quantiles over the current and the previous window, in nanoseconds.
    pub fn quantiles(&self, qs: &[f64]) -> Vec<Option<f64>> {
        QuantileSketch::merged_quantiles(&[&self.halves[0], &self.halves[1]], qs)
    }

    /// Values the estimate is made of.
    pub fn count(&self) -> u64 {
        self.halves[0].count() + self.halves[1].count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn a_regime_change_moves_the_quantile_and_old_samples_age_out() {
        let w = LatencyWindow::new(10_000 * MS, 20);
        let mut now = 0;
        // A long slow regime (1000 values of 100 ms, one per 100 ms of clock)...
        for _ in 0..1000 {
            now += 100 * MS;
            w.record(100 * MS, now);
        }
        let p95 = w.quantiles(&[0.95])[0].unwrap();
        assert!((p95 - 100e6).abs() < 100e6 * 0.07, "{p95}");
        // ...then 10 ms for three windows: the slow history is gone.
        for _ in 0..3_000 {
            now += 10 * MS;
            w.record(10 * MS, now);
        }
        let p95 = w.quantiles(&[0.95])[0].unwrap();
        assert!((p95 - 10e6).abs() < 10e6 * 0.07, "{p95}");
    }

    #[test]
    fn sparse_traffic_keeps_at_least_min_samples() {
        let w = LatencyWindow::new(MS, 20);
        // One value an hour: a window never closes with fewer than 20 values in it.
        for k in 1..=50u64 {
            w.record(k, k * 3_600_000 * MS);
            assert!(w.count() >= k.min(20), "{k}: {}", w.count());
        }
    }
}
