//! A tiny lock-free pseudo-random source for jitter (SplitMix64 over one atomic word). Not for
//! cryptography; seedable so tests and chaos runs are deterministic.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug)]
pub struct Random {
    state: AtomicU64,
}

impl Random {
    pub fn seeded(seed: u64) -> Self {
        Self {
            state: AtomicU64::new(seed),
        }
    }

    /// Seeded from the clock and the address of a local, so two processes do not share a sequence.
    pub fn from_entropy() -> Self {
        let local = 0u8;
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Self::seeded(t ^ ((&local as *const u8 as u64).rotate_left(32)) ^ std::process::id() as u64)
    }

    #[inline]
    pub fn next_u64(&self) -> u64 {
        let mut z = self
            .state
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    #[inline]
    pub fn next_f64(&self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_sequences_repeat_and_stay_in_unit_interval() {
        let a = Random::seeded(7);
        let b = Random::seeded(7);
        for _ in 0..1000 {
            let x = a.next_f64();
            assert_eq!(x, b.next_f64());
            assert!((0.0..1.0).contains(&x));
        }
    }
}
