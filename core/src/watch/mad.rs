//! Robust median/MAD detector: the last `window` values of a series are kept in a fixed ring, and a
//! value scores `(x - median) / (1.4826 * MAD)`, a z-score that a burst of outliers (up to half the
//! window) cannot drag. Memory is the ring: `8 * window` bytes, fixed at construction.

use crate::error::{check, Result};
use crate::watch::ewma::sd_floor;

pub const MAX_MAD_WINDOW: u32 = 256;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MadConfig {
    /// Values kept (the baseline), 8..=256.
    pub window: u32,
    /// Values absorbed before any judgement (<= window).
    pub warm_up: u32,
}

impl Default for MadConfig {
    fn default() -> Self {
        Self {
            window: 64,
            warm_up: 30,
        }
    }
}

impl MadConfig {
    pub fn validate(&self, c: &'static str) -> Result<()> {
        check::int_range(c, "window", self.window as u64, 8, MAX_MAD_WINDOW as u64)?;
        check::int_range(c, "warm_up", self.warm_up as u64, 2, self.window as u64)?;
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct Mad {
    ring: Box<[f64]>,
    len: usize,
    pos: usize,
    median: f64,
    scale: f64,
}

impl Mad {
    pub fn new(cfg: &MadConfig) -> Self {
        Self {
            ring: vec![0.0; cfg.window as usize].into_boxed_slice(),
            len: 0,
            pos: 0,
            median: 0.0,
            scale: 0.0,
        }
    }

    /// Scores `x` against the values before it, then keeps it. `None` in warm-up.
    pub fn score(&mut self, cfg: &MadConfig, x: f64) -> Option<f64> {
        let z = if self.len >= cfg.warm_up as usize {
            let mut buf = [0.0f64; MAX_MAD_WINDOW as usize];
            let vals = &mut buf[..self.len];
            vals.copy_from_slice(&self.ring[..self.len]);
            let med = median(vals);
            let mut abs_sum = 0.0;
            for v in vals.iter_mut() {
                *v = (*v - med).abs();
                abs_sum += *v;
            }
            let mad = median(vals);
            // MAD is 0 when over half the values are equal (token counts often are); then the mean
            // absolute deviation, and below it a floor, keep the scale meaningful.
            let spread = if mad > 0.0 {
                1.4826 * mad
            } else {
                1.2533 * abs_sum / self.len as f64
            };
            let scale = spread.max(sd_floor(med));
            self.median = med;
            self.scale = scale;
            Some((x - med) / scale)
        } else {
            None
        };
        self.ring[self.pos] = x;
        self.pos = (self.pos + 1) % self.ring.len();
        self.len = (self.len + 1).min(self.ring.len());
        z
    }

    pub fn median(&self) -> f64 {
        self.median
    }

    pub fn scale(&self) -> f64 {
        self.scale
    }

    pub fn heap_bytes(&self) -> usize {
        self.ring.len() * std::mem::size_of::<f64>()
    }
}

fn median(v: &mut [f64]) -> f64 {
    let n = v.len();
    let mid = n / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    let m = *m;
    if n % 2 == 1 {
        m
    } else {
        let lo = v[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo + m) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn robust_to_a_burst_of_outliers_in_the_baseline() {
        let cfg = MadConfig::default();
        let mut m = Mad::new(&cfg);
        for i in 0..60 {
            let x = if i % 10 == 0 {
                1e6
            } else {
                100.0 + (i % 7) as f64
            };
            m.score(&cfg, x);
        }
        let z = m.score(&cfg, 103.0).unwrap();
        assert!(z.abs() < 1.0, "normal value stays normal: {z}");
        let z = m.score(&cfg, 130.0).unwrap();
        assert!(z > 3.5, "a real outlier stands out: {z}");
    }

    #[test]
    fn constant_series_uses_the_floor() {
        let cfg = MadConfig::default();
        let mut m = Mad::new(&cfg);
        for _ in 0..40 {
            m.score(&cfg, 50.0);
        }
        let z = m.score(&cfg, 50.2).unwrap();
        assert!(z < 1.0, "0.4% change is not anomalous: {z}");
        assert!(m.score(&cfg, 100.0).unwrap() > 50.0);
    }
}
