//! One endpoint of a router: its configuration and everything the router knows about it — its own
//! circuit breaker, calls in flight, peak-EWMA latency, a windowed latency sketch for the hedge
//! delay, its smooth-weighted-round-robin state, its cooldown and ejection, and its counters. All
//! atomics.

use super::ejection::Ejection;
use super::latency_window::LatencyWindow;
use super::peak_ewma::PeakEwma;
use crate::error::{check, Result};
use crate::policy::breaker::{CircuitBreaker, State};
use crate::striped::StripedCounter;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};

/// The largest endpoint weight (weights are relative; 1e6 : 1 is already "never the other").
pub const MAX_WEIGHT: f64 = 1e6;
const C: &str = "Endpoint";

#[derive(Debug, Clone, PartialEq)]
pub struct EndpointConfig {
    pub name: String,
    /// Share of traffic under `weighted`; > 0.
    pub weight: f64,
    /// The failover group. `None`: the endpoint's priority level is its group.
    pub region: Option<String>,
    /// Failover order: lower goes first.
    pub priority: i64,
    pub cost_per_1k_input: Option<f64>,
    pub cost_per_1k_output: Option<f64>,
    /// Calls in flight allowed at once; a full endpoint is skipped.
    pub max_concurrency: Option<u32>,
}

impl EndpointConfig {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            weight: 1.0,
            region: None,
            priority: 0,
            cost_per_1k_input: None,
            cost_per_1k_output: None,
            max_concurrency: None,
        }
    }

    pub fn validate(&self) -> Result<()> {
        if self.name.is_empty() {
            return Err(crate::Error::out_of_range(
                C,
                "name",
                "\"\"",
                "a non-empty string",
            ));
        }
        check::finite_positive(C, "weight", self.weight)?;
        // Bounded so a sum of weights stays finite and exact enough for weighted picks: 1e308
        // would make the total infinite and starve every other endpoint.
        if self.weight > MAX_WEIGHT {
            return Err(crate::error::Error::out_of_range(
                C,
                "weight",
                self.weight,
                "a finite number in (0, 1e6]",
            ));
        }
        if let Some(c) = self.cost_per_1k_input {
            check::finite_non_negative(C, "cost_per_1k_input", c)?;
        }
        if let Some(c) = self.cost_per_1k_output {
            check::finite_non_negative(C, "cost_per_1k_output", c)?;
        }
        if let Some(m) = self.max_concurrency {
            check::int_range(C, "max_concurrency", m as u64, 1, u32::MAX as u64 / 2)?;
        }
        Ok(())
    }

    /// Price of 1k input plus 1k output tokens; unpriced sorts last.
    pub fn price_per_1k(&self) -> f64 {
        match (self.cost_per_1k_input, self.cost_per_1k_output) {
            (None, None) => f64::INFINITY,
            (a, b) => a.unwrap_or(0.0) + b.unwrap_or(0.0),
        }
    }

    /// The failover group this endpoint belongs to.
    pub fn region_name(&self) -> String {
        self.region
            .clone()
            .unwrap_or_else(|| format!("priority-{}", self.priority))
    }
}

/// Where an endpoint stands for routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Healthy,
    /// Its breaker's open period is over: the next call is a half-open probe.
    Probe,
    Open,
    Ejected,
    CoolingDown,
    /// At `max_concurrency`.
    Full,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Probe => "probe",
            Health::Open => "open",
            Health::Ejected => "ejected",
            Health::CoolingDown => "cooling_down",
            Health::Full => "full",
        }
    }
}

pub struct Endpoint {
    pub config: EndpointConfig,
    pub(crate) region: usize,
    pub(crate) breaker: CircuitBreaker,
    outstanding: AtomicU32,
    pub(crate) latency: PeakEwma,
    pub(crate) window: LatencyWindow,
    measured: AtomicU64,
    /// `weight` in millionths, for smooth weighted round robin (exact for up to six decimals).
    pub(crate) rr_weight: i64,
    /// nginx's `current_weight`: raised by `rr_weight` each pick it competes in, lowered by the
    /// total when it wins.
    pub(crate) rr_current: AtomicI64,
    /// The hedge quantile, refreshed every 16 measurements (a sketch read scans ~500 buckets).
    hedge_delay: AtomicU64,
    pub(crate) cooldown_until: AtomicU64,
    pub(crate) ejection: Ejection,
    pub(crate) requests: StripedCounter,
    pub(crate) successes: StripedCounter,
    pub(crate) errors: StripedCounter,
    pub(crate) released: StripedCounter,
    pub(crate) ejections: AtomicU64,
    pub(crate) cooldowns: AtomicU64,
    pub(crate) hedges: AtomicU64,
    pub(crate) probes: AtomicU64,
}

impl Endpoint {
    pub(crate) fn new(
        config: EndpointConfig,
        region: usize,
        breaker: CircuitBreaker,
        tau_nanos: u64,
        window_nanos: u64,
        window_min_samples: u64,
    ) -> Self {
        let rr_weight = (config.weight * 1e6)
            .round()
            .clamp(1.0, (1u64 << 40) as f64) as i64;
        Self {
            rr_weight,
            rr_current: AtomicI64::new(0),
            config,
            region,
            breaker,
            outstanding: AtomicU32::new(0),
            latency: PeakEwma::new(tau_nanos),
            window: LatencyWindow::new(window_nanos, window_min_samples),
            measured: AtomicU64::new(0),
            hedge_delay: AtomicU64::new(0),
            cooldown_until: AtomicU64::new(0),
            ejection: Ejection::default(),
            requests: StripedCounter::new(),
            successes: StripedCounter::new(),
            errors: StripedCounter::new(),
            released: StripedCounter::new(),
            ejections: AtomicU64::new(0),
            cooldowns: AtomicU64::new(0),
            hedges: AtomicU64::new(0),
            probes: AtomicU64::new(0),
        }
    }

    #[inline]
    pub fn outstanding(&self) -> u32 {
        self.outstanding.load(Ordering::Relaxed)
    }

    #[inline]
    pub fn health(&self, now: u64) -> Health {
        if now < self.cooldown_until.load(Ordering::Relaxed) {
            return Health::CoolingDown;
        }
        match self.breaker.state() {
            State::Open => return Health::Open,
            State::HalfOpen => return Health::Probe,
            State::Closed => {}
        }
        if self.ejection.ejected(now) {
            return Health::Ejected;
        }
        if let Some(m) = self.config.max_concurrency {
            if self.outstanding() >= m {
                return Health::Full;
            }
        }
        Health::Healthy
    }

    /// Takes a slot in flight; false when `max_concurrency` is reached.
    #[inline]
    pub(crate) fn enter(&self) -> bool {
        match self.config.max_concurrency {
            None => {
                self.outstanding.fetch_add(1, Ordering::Relaxed);
                true
            }
            Some(m) => self
                .outstanding
                .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |o| {
                    (o < m).then_some(o + 1)
                })
                .is_ok(),
        }
    }

    #[inline]
    pub(crate) fn leave(&self) {
        self.outstanding.fetch_sub(1, Ordering::Relaxed);
    }

    /// Records a successful call's duration.
    #[inline]
    pub(crate) fn measure(&self, nanos: u64, now: u64, quantile: Option<f64>) {
        self.latency.observe(nanos as f64, now);
        let rotated = self.window.record(nanos, now);
        let n = self.measured.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(q) = quantile {
            if rotated || n % 16 == 1 || n < 16 {
                if let Some(Some(v)) = self.window.quantiles(&[q]).first() {
                    self.hedge_delay.store(*v as u64, Ordering::Relaxed);
                }
            }
        }
    }

    pub fn measured(&self) -> u64 {
        self.measured.load(Ordering::Relaxed)
    }

    /// The cached hedge quantile over the recent latency window, in nanoseconds (0 before any
    /// measurement); refreshed every 16 measurements and whenever a window closes.
    pub fn hedge_quantile_nanos(&self) -> u64 {
        self.hedge_delay.load(Ordering::Relaxed)
    }
}
