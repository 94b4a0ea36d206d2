//! Population stability index between a baseline and a current sample of a scalar (output length,
//! token count): bins at the baseline's quantiles, `sum((c - b) * ln(c / b))` over bin shares.
//! Rule of thumb: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 a real shift.

/// PSI over `bins` quantile bins of `baseline`. Empty bins get a half count so the log stays finite.
pub fn psi(baseline: &[f64], current: &[f64], bins: usize, scratch: &mut Vec<f64>) -> f64 {
    if baseline.len() < 2 || current.is_empty() || bins < 2 {
        return 0.0;
    }
    scratch.clear();
    scratch.extend(baseline.iter().copied().filter(|v| v.is_finite()));
    if scratch.len() < 2 {
        return 0.0;
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
        return 0.0;
    }
    let (tb, tc) = (scratch.len() as f64 + 0.5 * nb as f64, nc + 0.5 * nb as f64);
    b.iter()
        .zip(&c)
        .map(|(bb, cc)| {
            let (pb, pc) = ((bb + 0.5) / tb, (cc + 0.5) / tc);
            (pc - pb) * (pc / pb).ln()
        })
        .sum()
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
}
