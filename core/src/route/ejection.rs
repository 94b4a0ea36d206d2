//! Outlier ejection (Envoy's consecutive-errors detector): an endpoint that fails `consecutive_failures`
//! times in a row leaves rotation for `base_seconds` × the number of times it was ejected (capped),
//! then returns by itself. Never more than `max_percent` of a router's endpoints are out at once
//! (at least one may always be), so ejection cannot empty the pool. It reacts within a handful of
//! calls; the endpoint's breaker, judged on a failure rate, handles sustained failure with probes.

use crate::error::{check, Result};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

const C: &str = "Router";

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EjectionConfig {
    /// Failures in a row that eject; 0 turns ejection off.
    pub consecutive_failures: u32,
    pub base_seconds: f64,
    pub max_seconds: f64,
    pub max_percent: f64,
}

impl Default for EjectionConfig {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            base_seconds: 30.0,
            max_seconds: 300.0,
            max_percent: 0.5,
        }
    }
}

impl EjectionConfig {
    pub fn validate(&self) -> Result<()> {
        check::int_range(
            C,
            "eject_after_failures",
            self.consecutive_failures as u64,
            0,
            1_000_000,
        )?;
        check::finite_positive(C, "ejection_seconds", self.base_seconds)?;
        check::finite_positive(C, "max_ejection_seconds", self.max_seconds)?;
        check::rate(C, "max_ejection_percent", self.max_percent)?;
        Ok(())
    }

    /// How many of `n` endpoints may be ejected at once.
    pub fn cap(&self, n: usize) -> usize {
        ((n as f64 * self.max_percent).floor() as usize).max(1)
    }
}

/// One endpoint's ejection state.
#[derive(Debug, Default)]
pub struct Ejection {
    pub(crate) until: AtomicU64,
    run: AtomicU32,
    times: AtomicU32,
}

impl Ejection {
    #[inline]
    pub fn ejected(&self, now: u64) -> bool {
        now < self.until.load(Ordering::Relaxed)
    }

    pub fn remaining(&self, now: u64) -> u64 {
        self.until.load(Ordering::Relaxed).saturating_sub(now)
    }

    /// A success ends the failure run; once an ejection has run out, it also resets the growing
    /// ejection length. Two loads on the hot path, stores only after failures.
    #[inline]
    pub fn on_success(&self, now: u64) {
        if self.run.load(Ordering::Relaxed) != 0 {
            self.run.store(0, Ordering::Relaxed);
        }
        if self.times.load(Ordering::Relaxed) != 0 && now >= self.until.load(Ordering::Relaxed) {
            self.times.store(0, Ordering::Relaxed);
        }
    }

    /// Counts a failure; returns the ejection length when this failure should eject (the caller
    /// checks the router-wide cap and then calls `eject`).
    pub fn on_failure(&self, cfg: &EjectionConfig) -> Option<u64> {
        if cfg.consecutive_failures == 0 {
            return None;
        }
        let run = self.run.fetch_add(1, Ordering::Relaxed) + 1;
        if run < cfg.consecutive_failures {
            return None;
        }
        let times = self.times.load(Ordering::Relaxed) as f64 + 1.0;
        Some(((cfg.base_seconds * times).min(cfg.max_seconds) * 1e9) as u64)
    }

    /// Ejects until `now + nanos`; false when another thread ejected it first.
    pub fn eject(&self, now: u64, nanos: u64) -> bool {
        let cur = self.until.load(Ordering::Relaxed);
        if now < cur {
            return false;
        }
        if self
            .until
            .compare_exchange(cur, now + nanos, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        self.run.store(0, Ordering::Relaxed);
        self.times.fetch_add(1, Ordering::Relaxed);
        true
    }
}
