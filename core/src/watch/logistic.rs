//! Online logistic regression with feature scaling: each feature is standardised by a running mean
//! and variance (so a share in [0, 1] and a log latency ratio weigh alike), then one gradient step per
//! labelled example, with L2 shrinkage and a weight on the rare positive class. Fixed size: no
//! allocation after construction.

/// Standardised features are clipped here, so one wild value cannot swing the model.
const CLIP: f64 = 8.0;

#[derive(Debug, Clone, PartialEq)]
pub struct OnlineLogistic<const F: usize> {
    /// Weights on standardised features, then the bias.
    w: [f64; F],
    bias: f64,
    mean: [f64; F],
    var: [f64; F],
    seen: u64,
    learning_rate: f64,
    l2: f64,
    positive_weight: f64,
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl<const F: usize> OnlineLogistic<F> {
    /// Starts at probability `prior` for every input, until examples teach it otherwise.
    pub fn new(prior: f64, learning_rate: f64, l2: f64, positive_weight: f64) -> Self {
        Self {
            w: [0.0; F],
            bias: (prior / (1.0 - prior)).ln(),
            mean: [0.0; F],
            var: [1.0; F],
            seen: 0,
            learning_rate,
            l2,
            positive_weight,
        }
    }

    // Indexing several parallel arrays by feature reads clearer than zipped iterators.
    #[allow(clippy::needless_range_loop)]
    fn scaled(&self, x: &[f64; F]) -> [f64; F] {
        let mut z = [0.0; F];
        for i in 0..F {
            let sd = self.var[i].sqrt().max(1e-6);
            z[i] = ((x[i] - self.mean[i]) / sd).clamp(-CLIP, CLIP);
        }
        z
    }

    pub fn predict(&self, x: &[f64; F]) -> f64 {
        let z = self.scaled(x);
        sigmoid(self.bias + z.iter().zip(&self.w).map(|(a, b)| a * b).sum::<f64>())
    }

    /// Updates the scaler with `x`, then takes one gradient step towards `label`.
    #[allow(clippy::needless_range_loop)]
    pub fn train(&mut self, x: &[f64; F], label: bool) {
        self.seen += 1;
        // Exact running moments for the first thousand examples, then exponential, so the scale
        // follows a service whose normal changes.
        let a = (1.0 / self.seen as f64).max(1e-3);
        for i in 0..F {
            let d = x[i] - self.mean[i];
            self.mean[i] += a * d;
            self.var[i] = if self.seen == 1 {
                0.0
            } else {
                (1.0 - a) * (self.var[i] + a * d * d)
            };
        }
        let z = self.scaled(x);
        let p = self.predict(x);
        let y = label as u8 as f64;
        let g = (p - y) * if label { self.positive_weight } else { 1.0 };
        for i in 0..F {
            self.w[i] -= self.learning_rate * (g * z[i] + self.l2 * self.w[i]);
        }
        self.bias -= self.learning_rate * g;
    }

    pub fn examples(&self) -> u64 {
        self.seen
    }

    /// Weights, bias, feature means and variances, to save a trained model or start from one.
    pub fn export(&self) -> Vec<f64> {
        let mut v = Vec::with_capacity(3 * F + 2);
        v.extend_from_slice(&self.w);
        v.push(self.bias);
        v.extend_from_slice(&self.mean);
        v.extend_from_slice(&self.var);
        v.push(self.seen as f64);
        v
    }

    /// The inverse of `export`; `None` when the length or a value is wrong.
    pub fn import(&mut self, v: &[f64]) -> Option<()> {
        if v.len() != 3 * F + 2 || v.iter().any(|x| !x.is_finite()) {
            return None;
        }
        if v[2 * F + 1..3 * F + 1].iter().any(|x| *x < 0.0) || v[3 * F + 1] < 0.0 {
            return None;
        }
        self.w.copy_from_slice(&v[..F]);
        self.bias = v[F];
        self.mean.copy_from_slice(&v[F + 1..2 * F + 1]);
        self.var.copy_from_slice(&v[2 * F + 1..3 * F + 1]);
        self.seen = v[3 * F + 1] as u64;
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::Random;

    #[test]
    fn learns_a_separable_rule_and_round_trips() {
        let mut m = OnlineLogistic::<2>::new(0.01, 0.05, 1e-4, 3.0);
        assert!(
            (m.predict(&[5.0, 5.0]) - 0.01).abs() < 1e-9,
            "starts at the prior"
        );
        let r = Random::seeded(1);
        for _ in 0..20_000 {
            let x = [r.next_f64(), r.next_f64() * 100.0];
            // Positive when the first feature is high; the second is noise on another scale.
            m.train(&x, x[0] > 0.8);
        }
        assert!(m.predict(&[0.95, 50.0]) > 0.8);
        assert!(m.predict(&[0.2, 50.0]) < 0.05);
        let mut n = OnlineLogistic::<2>::new(0.5, 0.05, 1e-4, 3.0);
        n.import(&m.export()).unwrap();
        assert_eq!(n.predict(&[0.9, 10.0]), m.predict(&[0.9, 10.0]));
        assert!(n.import(&[1.0; 3]).is_none());
    }
}
