//! Hedging (tower's `Hedge`): when an attempt has run longer than its endpoint's p95 latency (over its
//! recent latency window, `route::latency_window`), the host sends a second request to another
//! endpoint and takes the first success. Hedges are budgeted: at most `max_ratio` of requests may be
//! hedged, so a slow provider never doubles the traffic. `Router::hedge` makes the decision.

use crate::error::{check, Result};

const C: &str = "Router";

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HedgeConfig {
    /// The latency quantile to wait for before hedging, in (0, 1].
    pub quantile: f64,
    /// Successful calls an endpoint needs before its quantile is trusted; no hedging before.
    pub min_samples: u64,
    /// Hedges allowed per request, in (0, 1].
    pub max_ratio: f64,
    /// Never hedge sooner than this.
    pub min_delay_seconds: f64,
}

impl Default for HedgeConfig {
    fn default() -> Self {
        Self {
            quantile: 0.95,
            min_samples: 20,
            max_ratio: 0.1,
            min_delay_seconds: 0.0,
        }
    }
}

impl HedgeConfig {
    pub fn validate(&self) -> Result<()> {
        check::rate(C, "hedge_quantile", self.quantile)?;
        check::int_range(C, "hedge_min_samples", self.min_samples, 1, 1_000_000_000)?;
        check::rate(C, "hedge_max_ratio", self.max_ratio)?;
        check::finite_non_negative(C, "hedge_min_delay_seconds", self.min_delay_seconds)?;
        Ok(())
    }

    /// Whether one more hedge fits the budget, given the requests and hedges so far. One hedge is
    /// always allowed so a cold router can hedge its first slow call.
    pub fn within_budget(&self, requests: u64, hedges: u64) -> bool {
        (hedges as f64) < (requests as f64 * self.max_ratio).max(1.0)
    }
}
