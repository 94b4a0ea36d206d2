//! How the router chooses among an endpoint set's healthy members. Each strategy is a few lines over
//! atomics the endpoints already keep, so they share one file and one small enum.
//!
//! - `weighted`: random, in proportion to `weight` (litellm's "simple-shuffle").
//! - `round_robin`: in turn, one shared counter.
//! - `least_outstanding`: fewest calls in flight (litellm's "least-busy"); ties broken at random.
//! - `p2c_ewma`: power of two random choices, the cheaper by peak-EWMA latency × (outstanding + 1)
//!   (Finagle's balancer).
//! - `cost`: the lowest `cost_per_1k_input + cost_per_1k_output`; unpriced endpoints last.
//! - `latency`: the lowest peak-EWMA latency; unmeasured endpoints first, so they get measured.

use super::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::random::Random;
use std::sync::atomic::{AtomicU64, Ordering};

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
    pub(crate) fn choose(
        self,
        cands: &[usize],
        eps: &[Endpoint],
        rng: &Random,
        turn: &AtomicU64,
    ) -> usize {
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
            Strategy::RoundRobin => (turn.fetch_add(1, Ordering::Relaxed) % n as u64) as usize,
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
