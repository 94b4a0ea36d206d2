//! Multi-region failover: regions in priority order, one active. When the active region has no
//! healthy endpoint left (breakers open, ejected, cooling down, probes failed), traffic moves to the
//! best healthy region. Failback is hysteretic: a higher-priority region takes traffic back only after
//! it has been healthy for `failback_seconds` without a single failure (trickle probes and half-open
//! probes keep testing it meanwhile), so traffic does not flap between regions.
//!
//! Each switch also measures itself, for capacity planning: the recovery time of a failover (from
//! the first failure of the outage in the region left to the first success in the region entered),
//! how long the standby had sat idle before it took over, and how long traffic stayed away before
//! it failed back.

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
    /// The first failure since this region last succeeded (0: its last call succeeded).
    failing_since: AtomicU64,
    /// When it last served a call successfully (ms resolution; 0: never).
    last_served: AtomicU64,
}

impl Region {
    pub(crate) fn new(name: String, priority: i64) -> Self {
        Self {
            name,
            priority,
            members: Vec::new(),
            up_since: AtomicU64::new(0),
            last_probe: AtomicU64::new(0),
            failing_since: AtomicU64::new(0),
            last_served: AtomicU64::new(0),
        }
    }
}

/// What a region switch measured (nanoseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Switched {
    /// Failover: how long the region entered had served nothing (`None`: never served here).
    pub standby_idle: Option<u64>,
    /// Failback: how long traffic stayed on the standby.
    pub away: Option<u64>,
}

/// A failover's recovery: traffic flows again, on `to`, `rto` after the outage began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    pub from: usize,
    pub to: usize,
    pub rto: u64,
}

/// `last_served` is refreshed at most once per this long, so successes on many threads do not all
/// write one cache line.
const SERVED_RESOLUTION: u64 = 1_000_000;

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
    /// A failover waiting for its first success: when the outage began (0: none pending).
    rto_from: AtomicU64,
    /// The regions of that failover: `from << 32 | to`.
    rto_regions: AtomicU64,
    /// When traffic last failed over (0: never), for the failback's time away.
    failed_over_at: AtomicU64,
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
            rto_from: AtomicU64::new(0),
            rto_regions: AtomicU64::new(0),
            failed_over_at: AtomicU64::new(0),
        }
    }

    #[inline]
    pub fn active(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }

    /// Moves traffic from `from` to `to` at `now`; `Some` (what the switch measured) for the one
    /// caller that made the switch.
    pub(crate) fn switch(
        &self,
        from: usize,
        to: usize,
        failback: bool,
        now: u64,
    ) -> Option<Switched> {
        if from == to
            || self
                .active
                .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return None;
        }
        // The region left behind must prove itself afresh before it gets traffic back.
        self.regions[from].up_since.store(0, Ordering::Relaxed);
        let now = now.max(1);
        if failback {
            self.failbacks.fetch_add(1, Ordering::Relaxed);
            // A failback's own recovery is not a failover's: no RTO pending across it.
            self.rto_from.store(0, Ordering::Relaxed);
            let at = self.failed_over_at.swap(0, Ordering::AcqRel);
            return Some(Switched {
                standby_idle: None,
                away: (at != 0).then(|| now.saturating_sub(at)),
            });
        }
        self.failovers.fetch_add(1, Ordering::Relaxed);
        // The outage began at the region's first failure since it last succeeded; without one (it
        // was emptied by cooldowns or breakers opened elsewhere), at the switch.
        let began = match self.regions[from].failing_since.load(Ordering::Relaxed) {
            0 => now,
            t => t.min(now),
        };
        self.rto_regions
            .store(((from as u64) << 32) | to as u64, Ordering::Relaxed);
        self.rto_from.store(began, Ordering::Release);
        // Time away counts from the first failover of a chain (primary -> secondary -> tertiary).
        let _ = self
            .failed_over_at
            .compare_exchange(0, now, Ordering::AcqRel, Ordering::Relaxed);
        let served = self.regions[to].last_served.load(Ordering::Relaxed);
        Some(Switched {
            standby_idle: (served != 0).then(|| now.saturating_sub(served)),
            away: None,
        })
    }

    /// A call succeeded in region `r` at `now`: ends its failure run, notes that it serves, and
    /// completes a pending failover's recovery when `r` is the region failed over to. Loads only,
    /// unless something changed.
    #[inline]
    pub(crate) fn served(&self, r: usize, now: u64) -> Option<Recovered> {
        let reg = &self.regions[r];
        if reg.failing_since.load(Ordering::Relaxed) != 0 {
            reg.failing_since.store(0, Ordering::Relaxed);
        }
        if now.saturating_sub(reg.last_served.load(Ordering::Relaxed)) >= SERVED_RESOLUTION {
            reg.last_served.store(now.max(1), Ordering::Relaxed);
        }
        if self.rto_from.load(Ordering::Acquire) == 0 {
            return None;
        }
        let regions = self.rto_regions.load(Ordering::Relaxed);
        let (from, to) = ((regions >> 32) as usize, (regions & 0xffff_ffff) as usize);
        if to != r {
            return None;
        }
        let began = self.rto_from.swap(0, Ordering::AcqRel);
        (began != 0).then(|| Recovered {
            from,
            to,
            rto: now.saturating_sub(began),
        })
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

    /// A failure in region `r` at `now`: a recovering region starts its stable period over, and
    /// the first failure after a success marks when an outage may have begun.
    #[inline]
    pub(crate) fn failed(&self, r: usize, now: u64) {
        let reg = &self.regions[r];
        if reg.up_since.load(Ordering::Relaxed) != 0 {
            reg.up_since.store(0, Ordering::Relaxed);
        }
        if reg.failing_since.load(Ordering::Relaxed) == 0 {
            let _ = reg.failing_since.compare_exchange(
                0,
                now.max(1),
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
        }
    }

    /// When the outage of the pending failover began (`None`: no failover waits for its first
    /// success).
    pub(crate) fn outage_began(&self) -> Option<u64> {
        match self.rto_from.load(Ordering::Acquire) {
            0 => None,
            t => Some(t),
        }
    }

    /// When region `r` was first seen healthy in its current recovery (0: not recovering).
    pub fn up_since(&self, r: usize) -> u64 {
        self.regions[r].up_since.load(Ordering::Relaxed)
    }
}
