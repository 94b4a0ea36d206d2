//! EWMA control chart: a slow exponentially weighted mean and variance are the baseline, a fast EWMA
//! of the values is the statistic, and the score is how many of the chart's standard deviations
//! (`sd * sqrt(lambda / (2 - lambda))`) it sits from the baseline. Averaging makes a shift of one
//! standard deviation visible within a few values, where a per-point z-score would miss it.
//! Four floats and a count per series.

use crate::error::{check, Result};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EwmaConfig {
    /// Weight of a new value in the baseline mean and variance (slow).
    pub alpha: f64,
    /// Weight of a new value in the chart statistic (fast).
    pub lambda: f64,
    /// Values absorbed before any judgement.
    pub warm_up: u32,
    /// Values are clipped to the baseline mean ± this many standard deviations before they update
    /// it, so one huge outlier cannot blow the variance up.
    pub clip_sigmas: f64,
}

impl Default for EwmaConfig {
    fn default() -> Self {
        Self {
            alpha: 0.02,
            lambda: 0.25,
            warm_up: 30,
            clip_sigmas: 4.0,
        }
    }
}

impl EwmaConfig {
    pub fn validate(&self, c: &'static str) -> Result<()> {
        check::rate(c, "alpha", self.alpha)?;
        check::rate(c, "lambda", self.lambda)?;
        check::int_range(c, "warm_up", self.warm_up as u64, 2, 1_000_000)?;
        check::finite_positive(c, "clip_sigmas", self.clip_sigmas)?;
        Ok(())
    }
}

/// The spread below which a series counts as constant: 1% of its level. Without it a series that
/// never varied would call a 0.1% change infinitely anomalous.
pub(crate) fn sd_floor(level: f64) -> f64 {
    (0.01 * level.abs()).max(1e-12)
}

#[derive(Debug, Clone, Default)]
pub struct Ewma {
    n: u32,
    mean: f64,
    var: f64,
    chart: f64,
}

impl Ewma {
    /// Scores `x` against the baseline as it was before `x`, then absorbs `x`. `None` in warm-up.
    pub fn score(&mut self, cfg: &EwmaConfig, x: f64) -> Option<f64> {
        if self.n < cfg.warm_up {
            // Exact running mean and variance while warming up (weight 1/n), then exponential.
            self.n += 1;
            let d = x - self.mean;
            self.mean += d / self.n as f64;
            self.var += (d * (x - self.mean) - self.var) / self.n as f64;
            self.chart = self.mean;
            return None;
        }
        let sd = self.var.sqrt().max(sd_floor(self.mean));
        self.chart = cfg.lambda * x + (1.0 - cfg.lambda) * self.chart;
        let z = (self.chart - self.mean) / (sd * (cfg.lambda / (2.0 - cfg.lambda)).sqrt());
        let lim = cfg.clip_sigmas * sd;
        let xc = x.clamp(self.mean - lim, self.mean + lim);
        let d = xc - self.mean;
        self.mean += cfg.alpha * d;
        self.var = (1.0 - cfg.alpha) * (self.var + cfg.alpha * d * d);
        Some(z)
    }

    pub fn mean(&self) -> f64 {
        self.mean
    }

    pub fn sd(&self) -> f64 {
        self.var.sqrt()
    }

    pub fn observations(&self) -> u32 {
        self.n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_gives_no_score_then_a_one_sigma_shift_shows_within_a_few_values() {
        let cfg = EwmaConfig::default();
        let mut e = Ewma::default();
        // Alternating 9/11: mean 10, sd 1.
        for i in 0..cfg.warm_up {
            assert_eq!(e.score(&cfg, if i % 2 == 0 { 9.0 } else { 11.0 }), None);
        }
        assert!((e.mean() - 10.0).abs() < 1e-9);
        assert!((e.sd() - 1.0).abs() < 0.02);
        for i in 0..20 {
            let z = e.score(&cfg, if i % 2 == 0 { 9.0 } else { 11.0 }).unwrap();
            assert!(z.abs() < 2.0, "in control: {z}");
        }
        let mut first = None;
        for i in 0..20 {
            let z = e.score(&cfg, 12.0).unwrap();
            if z > 3.0 && first.is_none() {
                first = Some(i);
            }
        }
        assert!(
            first.unwrap() <= 6,
            "two-sigma shift seen after {first:?} values"
        );
    }

    #[test]
    fn one_outlier_barely_moves_the_baseline() {
        let cfg = EwmaConfig::default();
        let mut e = Ewma::default();
        for i in 0..100 {
            e.score(&cfg, 10.0 + (i % 3) as f64);
        }
        let (m, s) = (e.mean(), e.sd());
        e.score(&cfg, 1e9);
        assert!((e.mean() - m).abs() <= cfg.alpha * cfg.clip_sigmas * s + 1e-9);
    }
}
