//! Which spans are kept: a head decision per trace (a ratio of trace ids, inherited by every child
//! so a kept trace is whole) plus tail rules that keep errors and slow spans whatever the head said.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{check, Result};
use crate::telemetry::ids::TraceId;

pub struct Sampler {
    /// The ratio as a threshold on the low 64 bits of the trace id (u64::MAX = keep all).
    threshold: AtomicU64,
    /// Spans at least this long are kept (0 = no slow rule).
    slow_ns: AtomicU64,
}

impl Default for Sampler {
    fn default() -> Self {
        Self::new(1.0, None).expect("defaults are valid")
    }
}

impl Sampler {
    pub fn new(ratio: f64, slow_seconds: Option<f64>) -> Result<Self> {
        let s = Sampler {
            threshold: AtomicU64::new(u64::MAX),
            slow_ns: AtomicU64::new(0),
        };
        s.set_ratio(ratio)?;
        s.set_slow_seconds(slow_seconds)?;
        Ok(s)
    }

    pub fn set_ratio(&self, ratio: f64) -> Result<()> {
        if !(ratio.is_finite() && (0.0..=1.0).contains(&ratio)) {
            return Err(crate::Error::out_of_range(
                "configure",
                "sample_ratio",
                ratio,
                "[0, 1]",
            ));
        }
        let t = if ratio >= 1.0 {
            u64::MAX
        } else {
            (ratio * u64::MAX as f64) as u64
        };
        self.threshold.store(t, Ordering::Relaxed);
        Ok(())
    }

    pub fn ratio(&self) -> f64 {
        self.threshold.load(Ordering::Relaxed) as f64 / u64::MAX as f64
    }

    pub fn set_slow_seconds(&self, s: Option<f64>) -> Result<()> {
        let ns = match s {
            None => 0,
            Some(v) => (check::finite_positive("configure", "slow_span_seconds", v)? * 1e9) as u64,
        };
        self.slow_ns.store(ns, Ordering::Relaxed);
        Ok(())
    }

    /// The head decision for a new trace: deterministic in the trace id, as W3C samplers do, so a
    /// trace continued elsewhere with the same ratio gets the same answer.
    #[inline]
    pub fn head(&self, trace: TraceId) -> bool {
        let t = self.threshold.load(Ordering::Relaxed);
        t == u64::MAX || (trace.0 as u64) < t
    }

    /// The final decision when a span ends.
    #[inline]
    pub fn keep(&self, head_sampled: bool, error: bool, duration_ns: u64) -> bool {
        if head_sampled || error {
            return true;
        }
        let slow = self.slow_ns.load(Ordering::Relaxed);
        slow != 0 && duration_ns >= slow
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::ids::new_trace_id;

    #[test]
    fn ratio_keeps_about_that_share_and_tail_rules_override() {
        let s = Sampler::new(0.25, Some(2.0)).unwrap();
        let kept = (0..40_000).filter(|_| s.head(new_trace_id())).count();
        assert!((9_000..11_000).contains(&kept), "{kept}");
        assert!(s.keep(false, true, 0));
        assert!(s.keep(false, false, 2_000_000_000));
        assert!(!s.keep(false, false, 1_999_999_999));
        let none = Sampler::new(0.0, None).unwrap();
        assert!(!none.head(new_trace_id()));
        assert!(!none.keep(false, false, u64::MAX));
        assert!(Sampler::new(1.5, None)
            .err()
            .unwrap()
            .to_string()
            .contains("sample_ratio=1.5"));
    }
}
