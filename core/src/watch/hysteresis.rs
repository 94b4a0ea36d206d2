//! Hysteresis for a noisy yes/no signal: fire only when at least `fire_count` of the last `window`
//! judgements were anomalous and that has held for `min_duration`, resolve only when at most
//! `resolve_count` of them are. One outlier never fires; one normal value never resolves.
//! The last `window` judgements are the bits of one `u64`, so the state is 24 bytes.

use crate::error::{check, Error, Result};
use crate::watch::event::EventState;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HysteresisConfig {
    /// Judgements remembered, 1..=64.
    pub window: u32,
    /// Fire when at least this many of the remembered judgements are anomalous.
    pub fire_count: u32,
    /// Resolve when at most this many are (must be below `fire_count`).
    pub resolve_count: u32,
    /// The fire condition must hold this long (clock time) before firing.
    pub min_duration_nanos: u64,
}

impl Default for HysteresisConfig {
    fn default() -> Self {
        Self {
            window: 10,
            fire_count: 5,
            resolve_count: 1,
            min_duration_nanos: 0,
        }
    }
}

impl HysteresisConfig {
    pub fn validate(&self, c: &'static str) -> Result<()> {
        check::int_range(c, "hysteresis_window", self.window as u64, 1, 64)?;
        check::int_range(
            c,
            "fire_count",
            self.fire_count as u64,
            1,
            self.window as u64,
        )?;
        if self.resolve_count >= self.fire_count {
            return Err(Error::conflict(
                c,
                "resolve_count",
                self.resolve_count,
                format!("must be below fire_count={}", self.fire_count),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Default)]
pub struct Hysteresis {
    bits: u64,
    pending_since: Option<u64>,
    firing: bool,
}

impl Hysteresis {
    pub fn firing(&self) -> bool {
        self.firing
    }

    /// Anomalous judgements among the remembered ones.
    pub fn count(&self) -> u32 {
        self.bits.count_ones()
    }

    /// Feeds one judgement; returns a state change when there is one.
    pub fn update(
        &mut self,
        cfg: &HysteresisConfig,
        anomalous: bool,
        at_nanos: u64,
    ) -> Option<EventState> {
        let mask = if cfg.window >= 64 {
            u64::MAX
        } else {
            (1u64 << cfg.window) - 1
        };
        self.bits = ((self.bits << 1) | anomalous as u64) & mask;
        let n = self.bits.count_ones();
        if self.firing {
            if n <= cfg.resolve_count {
                self.firing = false;
                self.pending_since = None;
                return Some(EventState::Resolved);
            }
            return None;
        }
        if n >= cfg.fire_count {
            let since = *self.pending_since.get_or_insert(at_nanos);
            if at_nanos.saturating_sub(since) >= cfg.min_duration_nanos {
                self.firing = true;
                return Some(EventState::Firing);
            }
        } else {
            self.pending_since = None;
        }
        None
    }

    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn one_outlier_never_fires_and_one_normal_never_resolves() {
        let cfg = HysteresisConfig {
            window: 5,
            fire_count: 3,
            resolve_count: 0,
            min_duration_nanos: 0,
        };
        let mut h = Hysteresis::default();
        for i in 0..50 {
            assert_eq!(h.update(&cfg, i % 10 == 0, i * S), None);
        }
        assert_eq!(h.update(&cfg, true, 60 * S), None);
        assert_eq!(h.update(&cfg, true, 61 * S), None);
        assert_eq!(h.update(&cfg, true, 62 * S), Some(EventState::Firing));
        assert_eq!(h.update(&cfg, false, 63 * S), None);
        for t in 64..67 {
            assert_eq!(
                h.update(&cfg, false, t * S),
                None,
                "still 1+ anomalous in window"
            );
        }
        assert_eq!(h.update(&cfg, false, 67 * S), Some(EventState::Resolved));
        assert!(!h.firing());
    }

    #[test]
    fn min_duration_delays_firing_and_a_break_restarts_it() {
        let cfg = HysteresisConfig {
            window: 2,
            fire_count: 2,
            resolve_count: 0,
            min_duration_nanos: 60 * S,
        };
        let mut h = Hysteresis::default();
        h.update(&cfg, true, 0);
        assert_eq!(
            h.update(&cfg, true, 10 * S),
            None,
            "condition starts at 10s"
        );
        assert_eq!(h.update(&cfg, true, 69 * S), None);
        assert_eq!(h.update(&cfg, false, 70 * S), None, "break");
        h.update(&cfg, true, 71 * S);
        assert_eq!(h.update(&cfg, true, 72 * S), None, "restarts at 72s");
        assert_eq!(h.update(&cfg, true, 132 * S), Some(EventState::Firing));
    }

    #[test]
    fn config_is_checked() {
        let bad = HysteresisConfig {
            window: 65,
            ..Default::default()
        };
        assert!(bad
            .validate("X")
            .unwrap_err()
            .to_string()
            .contains("hysteresis_window=65"));
        let bad = HysteresisConfig {
            resolve_count: 5,
            ..Default::default()
        };
        assert!(bad
            .validate("X")
            .unwrap_err()
            .to_string()
            .contains("resolve_count=5"));
    }
}
