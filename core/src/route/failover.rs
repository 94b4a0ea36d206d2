//! Multi-region failover: regions in priority order, one active. When the active region has no
//! healthy endpoint left (breakers open, ejected, cooling down, probes failed), traffic moves to the
//! best healthy region. Failback is hysteretic: a higher-priority region takes traffic back only after
//! it has been healthy for `failback_seconds` without a single failure (trickle probes and half-open
//! probes keep testing it meanwhile), so traffic does not flap between regions.

use crate::error::{check, Result};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

const C: &str = "Router";

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FailoverConfig {
    /// How long a recovered higher-priority region must stay healthy before traffic moves back.
    pub failback_seconds: f64,
    /// While a region is recovering, one request per this interval goes to it as a probe.
    pub probe_interval_seconds: f64,
}

impl Default for FailoverConfig {
    fn default() -> Self {
        Self {
            failback_seconds: 30.0,
            probe_interval_seconds: 5.0,
        }
    }
}

impl FailoverConfig {
    pub fn validate(&self) -> Result<()> {
        check::finite_non_negative(C, "failback_seconds", self.failback_seconds)?;
        check::finite_positive(C, "probe_interval_seconds", self.probe_interval_seconds)?;
        Ok(())
    }
}

pub struct Region {
    pub name: String,
    pub priority: i64,
    /// Endpoint indices.
    pub members: Vec<usize>,
    /// When it was last seen healthy after being out (0: not healthy now, or never out).
    up_since: AtomicU64,
    last_probe: AtomicU64,
}

impl Region {
    pub(crate) fn new(name: String, priority: i64) -> Self {
        Self {
            name,
            priority,
            members: Vec::new(),
            up_since: AtomicU64::new(0),
            last_probe: AtomicU64::new(0),
        }
    }
}

/// What a recovering region should get on this pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// Stable long enough: move traffic back.
    FailBack,
    /// Still within the stable period: send this request as a trickle probe.
    Probe,
    Wait,
}

pub struct Regions {
    pub regions: Vec<Region>,
    active: AtomicUsize,
    failback_nanos: u64,
    probe_nanos: u64,
    pub(crate) failovers: AtomicU64,
    pub(crate) failbacks: AtomicU64,
}

impl Regions {
    /// `regions` must already be sorted in priority order.
    pub(crate) fn new(regions: Vec<Region>, cfg: &FailoverConfig) -> Self {
        Self {
            regions,
            active: AtomicUsize::new(0),
            failback_nanos: (cfg.failback_seconds * 1e9) as u64,
            probe_nanos: ((cfg.probe_interval_seconds * 1e9) as u64).max(1),
            failovers: AtomicU64::new(0),
            failbacks: AtomicU64::new(0),
        }
    }

    #[inline]
    pub fn active(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }

    /// Moves traffic from `from` to `to`; true for the one caller that made the switch.
    pub(crate) fn switch(&self, from: usize, to: usize, failback: bool) -> bool {
        if from == to
            || self
                .active
                .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return false;
        }
        if failback {
            self.failbacks.fetch_add(1, Ordering::Relaxed);
        } else {
            self.failovers.fetch_add(1, Ordering::Relaxed);
        }
        // The region left behind must prove itself afresh before it gets traffic back.
        self.regions[from].up_since.store(0, Ordering::Relaxed);
        true
    }

    /// A higher-priority region `r` was found healthy (`healthy`) at `now`: should it take traffic?
    pub(crate) fn recovery(&self, r: usize, healthy: bool, now: u64) -> Recovery {
        let reg = &self.regions[r];
        if !healthy {
            reg.up_since.store(0, Ordering::Relaxed);
            return Recovery::Wait;
        }
        let since = match reg
            .up_since
            .compare_exchange(0, now, Ordering::AcqRel, Ordering::Relaxed)
        {
            Ok(_) => now,
            Err(s) => s,
        };
        if now.saturating_sub(since) >= self.failback_nanos {
            return Recovery::FailBack;
        }
        let last = reg.last_probe.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= self.probe_nanos
            && reg
                .last_probe
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            return Recovery::Probe;
        }
        Recovery::Wait
    }

    /// A failure in region `r`: a recovering region starts its stable period over.
    #[inline]
    pub(crate) fn failed(&self, r: usize) {
        let u = &self.regions[r].up_since;
        if u.load(Ordering::Relaxed) != 0 {
            u.store(0, Ordering::Relaxed);
        }
    }

    /// When region `r` was first seen healthy in its current recovery (0: not recovering).
    pub fn up_since(&self, r: usize) -> u64 {
        self.regions[r].up_since.load(Ordering::Relaxed)
    }
}
