//! A sequential test (Bernoulli CUSUM) for "the error budget is burning at least `factor` times too
//! fast", updated per call. The multi-window rules need their long window to fill before they can
//! fire (a steady 14.4x burn trips the 1 h rule only after an hour); this test accumulates the
//! log-likelihood ratio of "burning at `factor`x" against "burning at `baseline`x" and fires once it
//! passes `threshold`. With the baseline at the lowest burn that may page (6x), a 14.4x burn pages
//! within minutes at a few calls per second, while any burn at or below the baseline drifts the
//! score down and crosses it about `exp(-threshold)` times per bad call (Wald's bound).

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FastBurn {
    /// Added per bad call: ln(p1 / p0).
    up: f64,
    /// Added per good call: ln((1 - p1) / (1 - p0)), negative.
    down: f64,
    threshold: f64,
    score: f64,
}

impl FastBurn {
    /// `error_budget` is `1 - objective`; `baseline` the burn of the null hypothesis (p0 = baseline *
    /// error_budget, at most 0.98); `factor` the burn to detect (p1 = factor * error_budget, at most
    /// 0.99); `threshold` the log-likelihood ratio to reach.
    pub fn new(error_budget: f64, baseline: f64, factor: f64, threshold: f64) -> Self {
        let p0 = (baseline * error_budget).min(0.98);
        let p1 = (factor * error_budget).min(0.99).max(p0 * (1.0 + 1e-9));
        Self {
            up: (p1 / p0).ln(),
            down: ((1.0 - p1) / (1.0 - p0)).ln(),
            threshold,
            score: 0.0,
        }
    }

    /// Feeds one call; the score is kept in [0, 2 * threshold] so recovery takes bounded time.
    #[inline]
    pub fn update(&mut self, bad: bool) {
        let d = if bad { self.up } else { self.down };
        self.score = (self.score + d).clamp(0.0, 2.0 * self.threshold);
    }

    pub fn score(&self) -> f64 {
        self.score
    }

    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    pub fn above(&self) -> bool {
        self.score >= self.threshold
    }

    /// True once the evidence has drained (back to "healthy").
    pub fn drained(&self) -> bool {
        self.score == 0.0
    }

    pub fn reset(&mut self) {
        self.score = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::Random;

    fn calls_to_fire(rate: f64, seed: u64, max: usize) -> Option<usize> {
        let mut f = FastBurn::new(0.001, 6.0, 14.4, 12.0);
        let r = Random::seeded(seed);
        (1..=max).find(|_| {
            f.update(r.next_f64() < rate);
            f.above()
        })
    }

    #[test]
    fn a_14x_burn_fires_within_a_few_thousand_calls_and_5x_does_not_in_a_million() {
        for seed in 0..20 {
            let n = calls_to_fire(0.0144, seed, 100_000).expect("fires");
            // At 10 calls a second: within 17 minutes, where the 1 h rule needs an hour.
            assert!(n < 10_000, "seed {seed}: {n} calls");
            let n = calls_to_fire(0.1, seed, 100_000).expect("fires");
            assert!(n < 300, "seed {seed}: {n} calls at 100x");
        }
        for seed in 0..3 {
            assert_eq!(
                calls_to_fire(0.005, seed, 1_000_000),
                None,
                "5x, seed {seed}"
            );
            assert_eq!(
                calls_to_fire(0.001, seed, 1_000_000),
                None,
                "1x, seed {seed}"
            );
        }
    }

    #[test]
    fn score_is_bounded_and_drains() {
        let mut f = FastBurn::new(0.001, 6.0, 14.4, 12.0);
        for _ in 0..1000 {
            f.update(true);
        }
        assert_eq!(f.score(), 24.0);
        let mut n = 0;
        while !f.drained() {
            f.update(false);
            n += 1;
        }
        assert!(n < 4000, "{n}");
    }
}
