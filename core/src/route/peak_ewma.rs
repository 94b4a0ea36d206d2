//! Finagle's peak-EWMA latency: a sample above the average replaces it at once (a slow endpoint is
//! penalised immediately), a sample below decays it in over `tau` of clock time. One f64 in an
//! atomic word, updated by compare-exchange; the stamp is a second word, so two racing updates may
//! weigh one sample slightly off, never corrupt the value.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug)]
pub struct PeakEwma {
    bits: AtomicU64,
    stamp: AtomicU64,
    tau_nanos: f64,
}

impl PeakEwma {
    pub fn new(tau_nanos: u64) -> Self {
        Self {
            bits: AtomicU64::new(0f64.to_bits()),
            stamp: AtomicU64::new(0),
            tau_nanos: tau_nanos.max(1) as f64,
        }
    }

    /// The average in nanoseconds; 0 until the first sample.
    #[inline]
    pub fn get(&self) -> f64 {
        f64::from_bits(self.bits.load(Ordering::Relaxed))
    }

    pub fn observe(&self, sample_nanos: f64, now: u64) {
        let last = self.stamp.swap(now, Ordering::Relaxed);
        let dt = now.saturating_sub(last) as f64;
        let w = (-dt / self.tau_nanos).exp();
        let _ = self
            .bits
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                let cur = f64::from_bits(b);
                let next = if last == 0 || sample_nanos > cur {
                    sample_nanos
                } else {
                    cur * w + sample_nanos * (1.0 - w)
                };
                Some(next.to_bits())
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_jump_and_lows_decay_over_tau() {
        let e = PeakEwma::new(10_000_000_000);
        e.observe(100.0, 1_000);
        assert_eq!(e.get(), 100.0);
        e.observe(500.0, 2_000);
        assert_eq!(e.get(), 500.0);
        // One tau later a sample of 100 pulls it about 63% of the way down.
        e.observe(100.0, 2_000 + 10_000_000_000);
        let v = e.get();
        assert!(
            (v - (500.0 * (-1f64).exp() + 100.0 * (1.0 - (-1f64).exp()))).abs() < 1e-6,
            "{v}"
        );
    }
}
