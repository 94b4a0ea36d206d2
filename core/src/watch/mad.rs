//! Robust median/MAD detector: a baseline ring of past values gives a median and a MAD that a burst
//! of outliers (up to half the ring) cannot drag; the score is the median of the last `recent`
//! values, in standard errors of a median (`1.2533 * 1.4826 * MAD / sqrt(recent)`) from the baseline
//! median. One wild value moves neither the baseline nor the recent median. The ring takes at most one value per `sample_seconds`, so on a busy series it
//! spans minutes, not the last second. Memory is the two rings: `8 * (window + recent)` bytes.

use crate::error::{check, Result};
use crate::watch::ewma::sd_floor;

pub const MAX_MAD_WINDOW: u32 = 256;
pub const MAX_RECENT: u32 = 31;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MadConfig {
    /// Values kept (the baseline), 8..=256.
    pub window: u32,
    /// Values absorbed before any judgement (<= window).
    pub warm_up: u32,
    /// At most one value enters the baseline ring per this many seconds (0: every value).
    pub sample_seconds: f64,
    /// Recent values whose median is judged (1 judges each value alone), odd, 1..=31.
    pub recent: u32,
}

impl Default for MadConfig {
    fn default() -> Self {
        Self {
            window: 64,
            warm_up: 30,
            sample_seconds: 30.0,
            recent: 7,
        }
    }
}

impl MadConfig {
    pub fn validate(&self, c: &'static str) -> Result<()> {
        check::int_range(c, "window", self.window as u64, 8, MAX_MAD_WINDOW as u64)?;
        check::int_range(c, "warm_up", self.warm_up as u64, 2, self.window as u64)?;
        check::finite_non_negative(c, "sample_seconds", self.sample_seconds)?;
        check::int_range(c, "recent", self.recent as u64, 1, MAX_RECENT as u64)?;
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
    last_sample: Option<u64>,
    recent: Box<[f64]>,
    recent_len: usize,
    recent_pos: usize,
}

impl Mad {
    pub fn new(cfg: &MadConfig) -> Self {
        Self {
            ring: vec![0.0; cfg.window as usize].into_boxed_slice(),
            len: 0,
            pos: 0,
            median: 0.0,
            scale: 0.0,
            last_sample: None,
            recent: vec![0.0; cfg.recent as usize].into_boxed_slice(),
            recent_len: 0,
            recent_pos: 0,
        }
    }

    /// Scores the recent median with `x` against the baseline ring, then keeps `x` in the ring if a
    /// sample is due. `None` in warm-up.
    pub fn score(&mut self, cfg: &MadConfig, x: f64, at_nanos: u64) -> Option<f64> {
        self.recent[self.recent_pos] = x;
        self.recent_pos = (self.recent_pos + 1) % self.recent.len();
        self.recent_len = (self.recent_len + 1).min(self.recent.len());
        let z = if self.len >= cfg.warm_up as usize && self.recent_len == self.recent.len() {
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
            let mut r = [0.0f64; MAX_RECENT as usize];
            let r = &mut r[..self.recent.len()];
            r.copy_from_slice(&self.recent);
            let k = r.len() as f64;
            let se = if r.len() == 1 {
                scale
            } else {
                1.2533 * scale / k.sqrt()
            };
            Some((median(r) - med) / se)
        } else {
            None
        };
        let gap = (cfg.sample_seconds * 1e9) as u64;
        if self
            .last_sample
            .is_none_or(|t| at_nanos.saturating_sub(t) >= gap)
        {
            self.last_sample = Some(at_nanos);
            self.ring[self.pos] = x;
            self.pos = (self.pos + 1) % self.ring.len();
            self.len = (self.len + 1).min(self.ring.len());
        }
        z
    }

    pub fn median(&self) -> f64 {
        self.median
    }

    pub fn scale(&self) -> f64 {
        self.scale
    }

    pub fn heap_bytes(&self) -> usize {
        (self.ring.len() + self.recent.len()) * std::mem::size_of::<f64>()
    }
}

pub(crate) fn median(v: &mut [f64]) -> f64 {
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
        let cfg = MadConfig {
            sample_seconds: 0.0,
            recent: 1,
            ..MadConfig::default()
        };
        let mut m = Mad::new(&cfg);
        for i in 0..60 {
            let x = if i % 10 == 0 {
                1e6
            } else {
                100.0 + (i % 7) as f64
            };
            m.score(&cfg, x, i);
        }
        let z = m.score(&cfg, 103.0, 61).unwrap();
        assert!(z.abs() < 1.0, "normal value stays normal: {z}");
        let z = m.score(&cfg, 130.0, 62).unwrap();
        assert!(z > 3.5, "a real outlier stands out: {z}");
    }

    #[test]
    fn the_recent_median_ignores_one_outlier_and_sees_a_modest_shift() {
        let cfg = MadConfig {
            sample_seconds: 0.0,
            ..MadConfig::default()
        };
        let mut m = Mad::new(&cfg);
        let base = |i: u64| 10.0 + ((i * 7919) % 11) as f64 * 0.2 - 1.0; // 9..11, sd ~0.63
        for i in 0..64 {
            m.score(&cfg, base(i), i);
        }
        let z = m.score(&cfg, 1e6, 64).unwrap();
        assert!(z.abs() < 3.5, "one wild value: {z}");
        let mut m = Mad::new(&cfg);
        for i in 0..64 {
            m.score(&cfg, base(i), i);
        }
        // +1 sd: a per-value score of about 1, a recent-median score near 1 * sqrt(7) / 1.25.
        let mut last = 0.0;
        for i in 64..71 {
            last = m.score(&cfg, base(i) + 0.63, i).unwrap();
        }
        assert!(last > 1.5, "{last}");
    }

    #[test]
    fn constant_series_uses_the_floor() {
        let cfg = MadConfig {
            recent: 1,
            ..MadConfig::default()
        };
        let mut m = Mad::new(&cfg);
        for i in 0..40 {
            m.score(&cfg, 50.0, i * 30_000_000_000);
        }
        let z = m.score(&cfg, 50.2, 1_200_000_000_000).unwrap();
        assert!(z < 1.0, "0.4% change is not anomalous: {z}");
        assert!(m.score(&cfg, 100.0, 1_200_000_000_001).unwrap() > 50.0);
    }

    #[test]
    fn the_ring_takes_one_value_per_sample_interval() {
        let cfg = MadConfig {
            warm_up: 8,
            window: 8,
            sample_seconds: 10.0,
            recent: 1,
        };
        let mut m = Mad::new(&cfg);
        // 80 values a second for 8 seconds: only the first enters.
        for i in 0..640u64 {
            assert_eq!(m.score(&cfg, 1.0, i * 12_500_000), None);
        }
        for i in 1..8u64 {
            assert_eq!(m.score(&cfg, 1.0 + i as f64, i * 10_000_000_000), None);
        }
        assert!(
            m.score(&cfg, 4.5, 80_000_000_001).is_some(),
            "eight samples in"
        );
        assert_eq!(m.median(), 4.5);
    }
}
