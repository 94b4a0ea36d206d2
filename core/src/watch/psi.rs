//! Population stability index between a baseline and a current sample of a scalar (output length,
//! token count): bins at the baseline's quantiles, `sum((c - b) * ln(c / b))` over bin shares.
//! Rule of thumb: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 a real shift.

/// PSI of `current` against `baseline`, and what sampling noise alone reaches with probability
/// `alpha` at these sample sizes: PSI is close to `(1/n + 1/m) * chi2(bins - 1)` when nothing
/// changed, so a small window can show PSI 0.3 by chance; judging against both avoids that.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Psi {
    pub value: f64,
    pub noise: f64,
}

/// The `1 - alpha` quantile of chi-square with `k` degrees of freedom (Wilson-Hilferty).
pub fn chi2_quantile(k: f64, alpha: f64) -> f64 {
    let z = normal_quantile(1.0 - alpha);
    let a = 2.0 / (9.0 * k);
    k * (1.0 - a + z * a.sqrt()).powi(3)
}

/// Acklam's rational approximation of the standard normal quantile (relative error < 1.2e-9); the
/// published constants, kept digit for digit.
#[allow(clippy::excessive_precision)]
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383577518672690e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let p = p.clamp(1e-15, 1.0 - 1e-15);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// PSI over `bins` quantile bins of `baseline`, with its noise level at `alpha`. Empty bins get a
/// half count so the log stays finite.
pub fn psi_test(
    baseline: &[f64],
    current: &[f64],
    bins: usize,
    alpha: f64,
    scratch: &mut Vec<f64>,
) -> Psi {
    let n = baseline.iter().filter(|v| v.is_finite()).count();
    let m = current.iter().filter(|v| v.is_finite()).count();
    let (value, used) = psi_bins(baseline, current, bins, scratch);
    let noise = if used < 2 || n == 0 || m == 0 {
        f64::INFINITY
    } else {
        (1.0 / n as f64 + 1.0 / m as f64) * chi2_quantile(used as f64 - 1.0, alpha)
    };
    Psi { value, noise }
}

/// PSI over `bins` quantile bins of `baseline`.
pub fn psi(baseline: &[f64], current: &[f64], bins: usize, scratch: &mut Vec<f64>) -> f64 {
    psi_bins(baseline, current, bins, scratch).0
}

/// PSI and the number of bins actually used (equal quantiles merge bins).
fn psi_bins(
    baseline: &[f64],
    current: &[f64],
    bins: usize,
    scratch: &mut Vec<f64>,
) -> (f64, usize) {
    if baseline.len() < 2 || current.is_empty() || bins < 2 {
        return (0.0, 0);
    }
    scratch.clear();
    scratch.extend(baseline.iter().copied().filter(|v| v.is_finite()));
    if scratch.len() < 2 {
        return (0.0, 0);
    }
    scratch.sort_by(f64::total_cmp);
    // Upper edges at the baseline's quantiles, deduplicated (many equal values make fewer bins).
    let mut edges: Vec<f64> = (1..bins)
        .map(|i| scratch[(i * scratch.len() / bins).min(scratch.len() - 1)])
        .collect();
    edges.dedup();
    let nb = edges.len() + 1;
    let bin = |v: f64| edges.partition_point(|e| *e < v);
    let mut b = vec![0.0f64; nb];
    let mut c = vec![0.0f64; nb];
    for v in scratch.iter() {
        b[bin(*v)] += 1.0;
    }
    let mut nc = 0.0;
    for v in current.iter().filter(|v| v.is_finite()) {
        c[bin(*v)] += 1.0;
        nc += 1.0;
    }
    if nc == 0.0 {
        return (0.0, nb);
    }
    let (tb, tc) = (scratch.len() as f64 + 0.5 * nb as f64, nc + 0.5 * nb as f64);
    let v = b
        .iter()
        .zip(&c)
        .map(|(bb, cc)| {
            let (pb, pc) = ((bb + 0.5) / tb, (cc + 0.5) / tc);
            (pc - pb) * (pc / pb).ln()
        })
        .sum();
    (v, nb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_is_small_and_a_doubling_is_large() {
        let base: Vec<f64> = (0..400).map(|i| 100.0 + (i * 37 % 50) as f64).collect();
        let same: Vec<f64> = (0..100).map(|i| 100.0 + (i * 13 % 50) as f64).collect();
        let doubled: Vec<f64> = same.iter().map(|v| v * 2.0).collect();
        let mut s = Vec::new();
        assert!(psi(&base, &same, 8, &mut s) < 0.1);
        assert!(psi(&base, &doubled, 8, &mut s) > 1.0);
        let constant = vec![5.0; 50];
        assert!(psi(&constant, &constant, 8, &mut s) < 1e-9);
    }

    #[test]
    fn chi2_quantiles_and_noise_level() {
        // Tables: chi2(7) 0.99 -> 18.475, 0.999 -> 24.322; chi2(1) 0.95 -> 3.841.
        assert!((chi2_quantile(7.0, 0.01) - 18.475).abs() < 0.2);
        assert!((chi2_quantile(7.0, 0.001) - 24.322).abs() < 0.3);
        assert!((chi2_quantile(1.0, 0.05) - 3.841).abs() < 0.1);
        let base: Vec<f64> = (0..200).map(|i| (i * 37 % 101) as f64).collect();
        let cur: Vec<f64> = (0..100).map(|i| (i * 13 % 101) as f64).collect();
        let p = psi_test(&base, &cur, 8, 0.001, &mut Vec::new());
        assert!((p.noise - 0.015 * chi2_quantile(7.0, 0.001)).abs() < 1e-9);
        assert!(p.value < p.noise);
    }
}
