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

/// Eight accumulators so the compiler can vectorise a float sum (it may not reorder one).
#[inline]
fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            let d = x[l] - y[l];
            acc[l] += d * d;
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        s += (x - y) * (x - y);
    }
    s
}

/// `a . b`, or the sum of `a` when `b` is `None`; vectorisable like `sq_dist`.
#[inline]
fn dot(a: &[f32], b: Option<&[f32]>) -> f32 {
    let mut acc = [0.0f32; 8];
    let ca = a.chunks_exact(8);
    let ra = ca.remainder();
    let mut s = 0.0f32;
    match b {
        Some(b) => {
            let cb = b.chunks_exact(8);
            let rb = cb.remainder();
            for (x, y) in ca.zip(cb) {
                for l in 0..8 {
                    acc[l] += x[l] * y[l];
                }
            }
            for (x, y) in ra.iter().zip(rb) {
                s += x * y;
            }
        }
        None => {
            for x in ca {
                for l in 0..8 {
                    acc[l] += x[l];
                }
            }
            s += ra.iter().sum::<f32>();
        }
    }
    s + acc.iter().sum::<f32>()
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
            let d = sq_dist(a, row(j));
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
    let row_sums: Vec<f64> = (0..n)
        .map(|i| dot(&k[i * n..(i + 1) * n], None) as f64)
        .collect();
    let total: f64 = row_sums.iter().sum();
    // With g the 0/1 membership of y, the within-y sum is the sum over y rows of (row . g) and the
    // within-x sum the sum over x rows of (row sum - row . g): one dot product per row.
    let mut g = vec![0.0f32; n];
    let stat = |group: &[bool], g: &mut [f32]| -> f64 {
        for (gj, b) in g.iter_mut().zip(group) {
            *gj = *b as u8 as f32;
        }
        let (mut sx, mut sy) = (0.0f64, 0.0f64);
        for i in 0..n {
            let in_y = dot(&k[i * n..(i + 1) * n], Some(g)) as f64;
            if group[i] {
                sy += in_y;
            } else {
                sx += row_sums[i] - in_y;
            }
        }
        let sxy = (total - sx - sy) / 2.0;
        sx / (nx * nx) as f64 + sy / (ny * ny) as f64 - 2.0 * sxy / (nx * ny) as f64
    };
    let mut group: Vec<bool> = (0..n).map(|i| i >= nx).collect();
    let observed = stat(&group, &mut g);
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
        if stat(&group, &mut g) >= observed {
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
