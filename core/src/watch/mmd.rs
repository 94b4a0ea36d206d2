//! Maximum mean discrepancy between two samples of vectors, with a Gaussian kernel whose bandwidth is
//! the median pairwise distance, and a permutation p-value: how often a random split of the pooled
//! sample differs at least as much. Stops early once the p-value is clearly large (Besag-Clifford),
//! so a check on an unchanged stream costs a fraction of the permutations.

use crate::random::Random;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MmdResult {
    /// Biased (V-statistic) squared MMD.
    pub mmd2: f64,
    pub p_value: f64,
    pub permutations_run: u32,
}

/// `x` and `y` are rows of `dim` floats, concatenated.
pub fn mmd_test(
    x: &[f32],
    y: &[f32],
    dim: usize,
    permutations: u32,
    rng: &Random,
    scratch: &mut Vec<f32>,
) -> MmdResult {
    let (nx, ny) = (x.len() / dim, y.len() / dim);
    let n = nx + ny;
    if nx < 2 || ny < 2 {
        return MmdResult {
            mmd2: 0.0,
            p_value: 1.0,
            permutations_run: 0,
        };
    }
    let row = |i: usize| -> &[f32] {
        if i < nx {
            &x[i * dim..(i + 1) * dim]
        } else {
            &y[(i - nx) * dim..(i - nx + 1) * dim]
        }
    };
    // Squared distances into the scratch matrix, then the median as the bandwidth.
    scratch.clear();
    scratch.resize(n * n, 0.0);
    let mut upper = Vec::with_capacity(n * (n - 1) / 2);
    for i in 0..n {
        let a = row(i);
        for j in (i + 1)..n {
            let b = row(j);
            let d: f32 = a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum();
            scratch[i * n + j] = d;
            upper.push(d);
        }
    }
    let mid = upper.len() / 2;
    let (_, m, _) = upper.select_nth_unstable_by(mid, f32::total_cmp);
    let bw = m.max(1e-12);
    for i in 0..n {
        scratch[i * n + i] = 1.0;
        for j in (i + 1)..n {
            let k = (-scratch[i * n + j] / bw).exp();
            scratch[i * n + j] = k;
            scratch[j * n + i] = k;
        }
    }
    let k = &scratch[..];
    let total: f64 = k.iter().map(|v| *v as f64).sum();
    let stat = |group: &[bool]| -> f64 {
        let (mut sx, mut sy) = (0.0f64, 0.0f64);
        for i in 0..n {
            let gi = group[i];
            let r = &k[i * n..(i + 1) * n];
            let mut acc = 0.0f32;
            for (j, v) in r.iter().enumerate() {
                if group[j] == gi {
                    acc += v;
                }
            }
            if gi {
                sy += acc as f64;
            } else {
                sx += acc as f64;
            }
        }
        let sxy = (total - sx - sy) / 2.0;
        sx / (nx * nx) as f64 + sy / (ny * ny) as f64 - 2.0 * sxy / (nx * ny) as f64
    };
    let mut group: Vec<bool> = (0..n).map(|i| i >= nx).collect();
    let observed = stat(&group);
    // Stop once this many permutations reached the observed value: p is then at least h/(run+1).
    const EARLY: u32 = 10;
    let mut at_least = 0u32;
    let mut run = 0u32;
    while run < permutations {
        // Fisher-Yates on the labels.
        for i in (1..n).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            group.swap(i, j);
        }
        run += 1;
        if stat(&group) >= observed {
            at_least += 1;
            if at_least >= EARLY {
                break;
            }
        }
    }
    MmdResult {
        mmd2: observed,
        p_value: (at_least as f64 + 1.0) / (run as f64 + 1.0),
        permutations_run: run,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(rng: &Random, n: usize, dim: usize, shift: f32) -> Vec<f32> {
        (0..n * dim)
            .map(|i| (rng.next_f64() as f32 - 0.5) + if i % dim == 0 { shift } else { 0.0 })
            .collect()
    }

    #[test]
    fn same_distribution_gives_large_p_and_a_shift_gives_small_p() {
        let rng = Random::seeded(3);
        let mut scratch = Vec::new();
        let a = sample(&rng, 60, 8, 0.0);
        let b = sample(&rng, 40, 8, 0.0);
        let r = mmd_test(&a, &b, 8, 200, &rng, &mut scratch);
        assert!(r.p_value > 0.05, "{r:?}");
        assert!(
            r.permutations_run < 200,
            "stops early under the null: {r:?}"
        );
        let c = sample(&rng, 40, 8, 0.8);
        let r = mmd_test(&a, &c, 8, 200, &rng, &mut scratch);
        assert!(r.p_value < 0.01, "{r:?}");
        assert_eq!(r.permutations_run, 200);
    }
}
