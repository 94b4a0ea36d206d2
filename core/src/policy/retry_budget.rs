//! The adaptive retry budget shared by every call of one policy (tower's `TpsBudget`, gRPC retry
//! throttling): over a sliding window, retries may use at most `ratio` × requests plus
//! `min_per_second` × window. An outage then costs a bounded number of extra calls instead of
//! `attempts` × traffic: no retry storm.
//!
//! Lock-free: the window is a ring of buckets; each bucket is one `AtomicU64` for requests and one
//! for retries, packing the bucket's epoch (high 32 bits) with its count (low 32 bits), so a stale
//! bucket is recognised and recycled with one compare-exchange.

use crate::error::{check, Error, Result};
use crate::striped::StripedCounter;
use std::sync::atomic::{AtomicU64, Ordering};

const C: &str = "RetryBudget";
const BUCKETS: usize = 10;
const COUNT_MASK: u64 = 0xFFFF_FFFF;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetConfig {
    /// Retries allowed per request seen in the window (0.2 = one retry per five requests).
    pub ratio: f64,
    /// Retries always allowed per second, whatever the traffic, so a quiet service can still retry.
    pub min_per_second: f64,
    /// The sliding window the ratio is measured over.
    pub window_seconds: f64,
}

impl Default for BudgetConfig {
    /// tower's defaults: 20% extra load, 10 retries per second, over 10 seconds.
    fn default() -> Self {
        Self {
            ratio: 0.2,
            min_per_second: 10.0,
            window_seconds: 10.0,
        }
    }
}

impl BudgetConfig {
    pub fn validate(&self) -> Result<()> {
        if !(self.ratio.is_finite() && (0.0..=1000.0).contains(&self.ratio)) {
            return Err(Error::out_of_range(
                C,
                "budget_ratio",
                self.ratio,
                "[0, 1000]",
            ));
        }
        if !(self.min_per_second.is_finite() && (0.0..=1e9).contains(&self.min_per_second)) {
            return Err(Error::out_of_range(
                C,
                "min_retries_per_second",
                self.min_per_second,
                "[0, 1e9]",
            ));
        }
        check::finite_positive(C, "budget_window_seconds", self.window_seconds)?;
        if !(0.01..=3600.0).contains(&self.window_seconds) {
            return Err(Error::out_of_range(
                C,
                "budget_window_seconds",
                self.window_seconds,
                "[0.01, 3600]",
            ));
        }
        Ok(())
    }
}

#[derive(Debug)]
pub struct RetryBudget {
    config: BudgetConfig,
    bucket_nanos: u64,
    reserve: f64,
    requests: [AtomicU64; BUCKETS],
    retries: [AtomicU64; BUCKETS],
    denied: StripedCounter,
}

#[inline]
fn epoch_of(w: u64) -> u32 {
    (w >> 32) as u32
}

impl RetryBudget {
    pub fn new(config: BudgetConfig) -> Result<Self> {
        config.validate()?;
        let window_nanos = (config.window_seconds * 1e9) as u64;
        Ok(Self {
            bucket_nanos: (window_nanos / BUCKETS as u64).max(1),
            reserve: config.min_per_second * config.window_seconds,
            config,
            requests: std::array::from_fn(|_| AtomicU64::new(0)),
            retries: std::array::from_fn(|_| AtomicU64::new(0)),
            denied: StripedCounter::new(),
        })
    }

    pub fn config(&self) -> &BudgetConfig {
        &self.config
    }

    #[inline]
    fn epoch(&self, now: u64) -> u32 {
        (now / self.bucket_nanos) as u32
    }

    /// Adds one to the current bucket of `ring`, recycling it if it holds an older epoch.
    #[inline]
    fn bump(ring: &[AtomicU64; BUCKETS], e: u32) {
        let slot = &ring[e as usize % BUCKETS];
        let mut w = slot.load(Ordering::Acquire);
        loop {
            if epoch_of(w) == e {
                // Counts below 2^32 per bucket: a tenth of the window at 4 billion calls would be
                // needed to carry into the epoch bits.
                slot.fetch_add(1, Ordering::AcqRel);
                return;
            }
            match slot.compare_exchange_weak(
                w,
                ((e as u64) << 32) | 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(cur) => w = cur,
            }
        }
    }

    /// The sum over the buckets still inside the window, leaving out bucket `skip`.
    #[inline]
    fn sum(ring: &[AtomicU64; BUCKETS], e: u32, skip: Option<usize>) -> u64 {
        let mut total = 0;
        for (i, slot) in ring.iter().enumerate() {
            if Some(i) == skip {
                continue;
            }
            let w = slot.load(Ordering::Acquire);
            if e.wrapping_sub(epoch_of(w)) < BUCKETS as u32 {
                total += w & COUNT_MASK;
            }
        }
        total
    }

    /// Counts one request (a first attempt). On the hot path: one clock read is the caller's, one
    /// atomic add is ours.
    #[inline]
    pub fn deposit(&self, now: u64) {
        Self::bump(&self.requests, self.epoch(now));
    }

    /// Asks to spend one retry. Exact under concurrency: the check and the spend are one
    /// compare-exchange on the current bucket.
    pub fn try_withdraw(&self, now: u64) -> bool {
        let e = self.epoch(now);
        let idx = e as usize % BUCKETS;
        let allowed = self.reserve + self.config.ratio * Self::sum(&self.requests, e, None) as f64;
        let others = Self::sum(&self.retries, e, Some(idx));
        let slot = &self.retries[idx];
        let mut w = slot.load(Ordering::Acquire);
        loop {
            let cur = if epoch_of(w) == e { w & COUNT_MASK } else { 0 };
            if (others + cur + 1) as f64 > allowed {
                self.denied.inc();
                return false;
            }
            match slot.compare_exchange_weak(
                w,
                ((e as u64) << 32) | (cur + 1),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(next) => w = next,
            }
        }
    }

    /// Retries still allowed now (may be fractional; a retry needs a whole one).
    pub fn available(&self, now: u64) -> f64 {
        let e = self.epoch(now);
        let allowed = self.reserve + self.config.ratio * Self::sum(&self.requests, e, None) as f64;
        (allowed - Self::sum(&self.retries, e, None) as f64).max(0.0)
    }

    /// Requests and retries counted in the window now.
    pub fn window(&self, now: u64) -> (u64, u64) {
        let e = self.epoch(now);
        (
            Self::sum(&self.requests, e, None),
            Self::sum(&self.retries, e, None),
        )
    }

    /// Retries refused since creation.
    pub fn denied(&self) -> u64 {
        self.denied.get()
    }
}
