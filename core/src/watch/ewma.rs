//! EWMA control chart: a slow exponentially weighted mean and variance are the baseline, a fast EWMA
//! of the values is the statistic, and the score is how many of the chart's standard deviations
//! (`sd * sqrt(lambda / (2 - lambda))`) it sits from the baseline. Averaging makes a shift of one
//! standard deviation visible within a few values, where a per-point z-score would miss it. The
//! baseline forgets by time (`baseline_seconds`), not by count, so a busy series does not absorb a
//! regression within seconds and a quiet one still adapts. Five numbers per series.

use crate::error::{check, Result};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EwmaConfig {
    /// Time constant of the baseline mean and variance: a value `dt` after the previous one weighs
    /// `1 - exp(-dt / baseline_seconds)`.
    pub baseline_seconds: f64,
    /// Weight of a new value in the chart statistic (fast).
    pub lambda: f64,
    /// Values absorbed before any judgement.
    pub warm_up: u32,
    /// Values are clipped to the baseline mean ± this many standard deviations before they update
    /// it, so one huge outlier cannot blow the variance up.
    pub clip_sigmas: f64,
    /// Dead band, as a fraction of the baseline mean: the part of a shift smaller than this is not
    /// scored. 0 scores every shift by its size in standard deviations; `observe()` sets 0.25, since
    /// a latency or token count a few percent above a very steady baseline (the noise of a busy host
    /// on a fast call) is not worth an alert, however many standard deviations it is.
    pub min_relative_shift: f64,
}

impl Default for EwmaConfig {
    fn default() -> Self {
        Self {
            baseline_seconds: 1800.0,
            lambda: 0.25,
            warm_up: 30,
            clip_sigmas: 4.0,
            min_relative_shift: 0.0,
        }
    }
}

impl EwmaConfig {
    pub fn validate(&self, c: &'static str) -> Result<()> {
        check::finite_positive(c, "baseline_seconds", self.baseline_seconds)?;
        check::rate(c, "lambda", self.lambda)?;
        check::int_range(c, "warm_up", self.warm_up as u64, 2, 1_000_000)?;
        check::finite_positive(c, "clip_sigmas", self.clip_sigmas)?;
        if !(0.0..1.0).contains(&self.min_relative_shift) {
            return Err(crate::error::Error::out_of_range(
                c,
                "min_relative_shift",
                self.min_relative_shift,
                "[0, 1)",
            ));
        }
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
    last_nanos: u64,
}

impl Ewma {
    /// Scores `x` (seen at `at_nanos`) against the baseline as it was before `x`, then absorbs `x`.
    /// `None` in warm-up.
    pub fn score(&mut self, cfg: &EwmaConfig, x: f64, at_nanos: u64) -> Option<f64> {
        let dt = at_nanos.saturating_sub(self.last_nanos) as f64 / 1e9;
        self.last_nanos = self.last_nanos.max(at_nanos);
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
        let shift = self.chart - self.mean;
        let band = cfg.min_relative_shift * self.mean.abs();
        let shift = shift.signum() * (shift.abs() - band).max(0.0);
        let z = shift / (sd * (cfg.lambda / (2.0 - cfg.lambda)).sqrt());
        let lim = cfg.clip_sigmas * sd;
        let xc = x.clamp(self.mean - lim, self.mean + lim);
        let d = xc - self.mean;
        let alpha = -(-dt / cfg.baseline_seconds).exp_m1();
        self.mean += alpha * d;
        self.var = (1.0 - alpha) * (self.var + alpha * d * d);
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
        let mut t = 0u64;
        let mut next = || {
            t += 1_000_000_000;
            t
        };
        // Alternating 9/11: mean 10, sd 1.
        for i in 0..cfg.warm_up {
            assert_eq!(
                e.score(&cfg, if i % 2 == 0 { 9.0 } else { 11.0 }, next()),
                None
            );
        }
        assert!((e.mean() - 10.0).abs() < 1e-9);
        assert!((e.sd() - 1.0).abs() < 0.02);
        for i in 0..20 {
            let z = e
                .score(&cfg, if i % 2 == 0 { 9.0 } else { 11.0 }, next())
                .unwrap();
            assert!(z.abs() < 2.0, "in control: {z}");
        }
        let mut first = None;
        for i in 0..20 {
            let z = e.score(&cfg, 12.0, next()).unwrap();
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
    fn one_outlier_barely_moves_the_baseline_and_it_forgets_by_time() {
        let cfg = EwmaConfig::default();
        let mut e = Ewma::default();
        for i in 0..100u64 {
            e.score(&cfg, 10.0 + (i % 3) as f64, i * 1_000_000_000);
        }
        let (m, s) = (e.mean(), e.sd());
        e.score(&cfg, 1e9, 100 * 1_000_000_000);
        let w = 1.0 - (-1.0f64 / cfg.baseline_seconds).exp();
        assert!((e.mean() - m).abs() <= w * cfg.clip_sigmas * s + 1e-9);
        // A thousand values at the same instant carry no time, so they do not move the baseline;
        // one value a whole time constant later moves it by 1 - 1/e of the (clipped) gap.
        let m = e.mean();
        for _ in 0..1000 {
            e.score(&cfg, m + s, 100 * 1_000_000_000);
        }
        assert!((e.mean() - m).abs() < 1e-12);
        let t = 100 * 1_000_000_000 + (cfg.baseline_seconds * 1e9) as u64;
        e.score(&cfg, m + s, t);
        assert!(((e.mean() - m) / s - (1.0 - (-1.0f64).exp())).abs() < 1e-6);
    }

    #[test]
    fn a_dead_band_ignores_small_relative_shifts_of_a_steady_series_but_not_large_ones() {
        // 1.00/1.02 alternating: sd 0.01, so a 10% rise is ten sigmas.
        let steady = |e: &mut Ewma, cfg: &EwmaConfig, from: u64, n: u64, level: f64| {
            (from..from + n)
                .filter_map(|i| {
                    let x = level + if i % 2 == 0 { 0.0 } else { 0.02 };
                    e.score(cfg, x, i * 1_000_000_000)
                })
                .fold(0.0f64, f64::max)
        };
        let plain = EwmaConfig::default();
        let banded = EwmaConfig {
            min_relative_shift: 0.25,
            ..plain
        };
        for (cfg, small_fires) in [(plain, true), (banded, false)] {
            let mut e = Ewma::default();
            steady(&mut e, &cfg, 0, 60, 1.0);
            let mut after = e.clone();
            let z_small = steady(&mut e, &cfg, 60, 20, 1.10);
            assert_eq!(z_small > 3.0, small_fires, "10% rise: z {z_small}");
            let z_large = steady(&mut after, &cfg, 60, 20, 2.0);
            assert!(z_large > 3.0, "doubling: z {z_large}");
        }
        assert!(EwmaConfig {
            min_relative_shift: 1.5,
            ..plain
        }
        .validate("t")
        .is_err());
    }
}
