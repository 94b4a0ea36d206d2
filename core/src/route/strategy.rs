//! How the router chooses among an endpoint set's healthy members. Each strategy is a few lines over
//! atomics the endpoints already keep, so they share one file and one small enum.
//!
//! - `weighted`: random, in proportion to `weight` (litellm's "simple-shuffle").
//! - `round_robin`: in turn, in proportion to `weight`: nginx's smooth weighted round robin, so
//!   weights {5, 1, 1} give `a a b a c a a` and equal weights a strict rotation.
//! - `least_outstanding`: fewest calls in flight (litellm's "least-busy"); ties broken at random.
//! - `p2c_ewma`: power of two random choices, the cheaper by peak-EWMA latency × (outstanding + 1)
//!   (Finagle's balancer).
//! - `cost`: the lowest `cost_per_1k_input + cost_per_1k_output`; unpriced endpoints last.
//! - `latency`: the lowest peak-EWMA latency; unmeasured endpoints first, so they get measured.

use super::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::random::Random;
use std::sync::atomic::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Strategy {
    Weighted,
    RoundRobin,
    LeastOutstanding,
    P2cEwma,
    Cost,
    Latency,
}

impl Strategy {
    pub const ALL: [Strategy; 6] = [
        Strategy::Weighted,
        Strategy::RoundRobin,
        Strategy::LeastOutstanding,
        Strategy::P2cEwma,
        Strategy::Cost,
        Strategy::Latency,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Weighted => "weighted",
            Strategy::RoundRobin => "round_robin",
            Strategy::LeastOutstanding => "least_outstanding",
            Strategy::P2cEwma => "p2c_ewma",
            Strategy::Cost => "cost",
            Strategy::Latency => "latency",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                Error::out_of_range(
                    "Router",
                    "strategy",
                    format!("{s:?}"),
                    "\"weighted\", \"round_robin\", \"least_outstanding\", \"p2c_ewma\", \"cost\", \"latency\"",
                )
            })
    }

    /// Picks one of `cands` (indices into `eps`, never empty); returns the position in `cands`.
    pub(crate) fn choose(self, cands: &[usize], eps: &[Endpoint], rng: &Random) -> usize {
        let n = cands.len();
        if n == 1 {
            return 0;
        }
        match self {
            Strategy::Weighted => {
                let total: f64 = cands.iter().map(|&i| eps[i].config.weight).sum();
                let mut r = rng.next_f64() * total;
                for (k, &i) in cands.iter().enumerate() {
                    r -= eps[i].config.weight;
                    if r < 0.0 {
                        return k;
                    }
                }
                n - 1
            }
            Strategy::RoundRobin => smooth_weighted(cands, eps),
            Strategy::LeastOutstanding => min_by(cands, rng, |i| eps[i].outstanding() as f64),
            Strategy::P2cEwma => {
                let a = (rng.next_u64() % n as u64) as usize;
                let mut b = (rng.next_u64() % (n as u64 - 1)) as usize;
                if b >= a {
                    b += 1;
                }
                let cost = |k: usize| {
                    let e = &eps[cands[k]];
                    e.latency.get() * (e.outstanding() as f64 + 1.0)
                };
                if cost(b) < cost(a) {
                    b
                } else {
                    a
                }
            }
            Strategy::Cost => min_by(cands, rng, |i| eps[i].config.price_per_1k()),
            Strategy::Latency => min_by(cands, rng, |i| eps[i].latency.get()),
        }
    }
}

/// nginx's smooth weighted round robin (`ngx_http_upstream_get_peer`): each candidate's current
/// weight rises by its weight, the highest (the first on a tie) wins and drops by the candidates'
/// total. While the candidate set holds still, every endpoint's count after any multiple of the total
/// weight matches its weight exactly, and the picks are interleaved rather than bunched. Lock-free:
/// per-endpoint atomics, each pick adds and subtracts whole amounts, so concurrent picks keep the
/// totals exact and can only reorder picks made at the same instant. An endpoint out of the set
/// (unhealthy, already tried) keeps its current weight until it is back, as in nginx.
fn smooth_weighted(cands: &[usize], eps: &[Endpoint]) -> usize {
    let mut total = 0i64;
    let mut best = 0;
    let mut best_current = i64::MIN;
    for (k, &i) in cands.iter().enumerate() {
        let e = &eps[i];
        let current = e.rr_current.fetch_add(e.rr_weight, Ordering::Relaxed) + e.rr_weight;
        total += e.rr_weight;
        if current > best_current {
            best = k;
            best_current = current;
        }
    }
    eps[cands[best]]
        .rr_current
        .fetch_sub(total, Ordering::Relaxed);
    best
}

/// The position of the smallest key, ties broken by a random starting point.
fn min_by(cands: &[usize], rng: &Random, key: impl Fn(usize) -> f64) -> usize {
    let n = cands.len();
    let start = (rng.next_u64() % n as u64) as usize;
    let mut best = start;
    let mut best_key = key(cands[start]);
    for off in 1..n {
        let k = (start + off) % n;
        let v = key(cands[k]);
        if v < best_key {
            best = k;
            best_key = v;
        }
    }
    best
}
