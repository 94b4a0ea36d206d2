//! Hysteresis for a noisy yes/no signal: fire only when at least `fire_count` of the last `window`
//! judgements are anomalous in an episode that began at least `min_duration` ago (an episode ends
//! when at most `resolve_count` are), resolve only when at most `resolve_count` of them are and the
//! last anomalous judgement is at least `resolve_min_nanos` old: hysteresis counted in judgements
//! and measured in time, so a series sampled minutes apart does not resolve and re-fire within one
//! incident. The last `window` judgements are the bits of one `u64`, so the state is 40 bytes.

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
    /// A firing episode resolves only once its last anomalous judgement is this old (clock time).
    pub resolve_min_nanos: u64,
}

impl Default for HysteresisConfig {
    fn default() -> Self {
        Self {
            // Half of the last 32 to fire, at most 4 of them to resolve: smoothed scores (an EWMA,
            // a recent median) come in runs, and a short memory would restart on every run.
            window: 32,
            fire_count: 16,
            resolve_count: 4,
            min_duration_nanos: 60_000_000_000,
            resolve_min_nanos: 0,
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
    last_anomalous: Option<u64>,
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
        if anomalous {
            self.last_anomalous = Some(at_nanos);
        }
        if self.firing {
            let quiet = self
                .last_anomalous
                .is_none_or(|t| at_nanos.saturating_sub(t) >= cfg.resolve_min_nanos);
            if n <= cfg.resolve_count && quiet {
                self.firing = false;
                self.pending_since = None;
                return Some(EventState::Resolved);
            }
            return None;
        }
        // The episode starts when the fire condition first holds and lasts until the count falls to
        // the resolve level, so a noisy but real shift (judged anomalous, say, 60% of the time) is
        // not restarted by every dip below `fire_count`.
        if n <= cfg.resolve_count {
            self.pending_since = None;
        } else if n >= cfg.fire_count {
            let since = *self.pending_since.get_or_insert(at_nanos);
            if at_nanos.saturating_sub(since) >= cfg.min_duration_nanos {
                self.firing = true;
                return Some(EventState::Firing);
            }
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
            resolve_min_nanos: 0,
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
    fn min_duration_delays_firing_a_dip_does_not_restart_it_and_a_break_does() {
        let cfg = HysteresisConfig {
            window: 4,
            fire_count: 3,
            resolve_count: 1,
            min_duration_nanos: 60 * S,
            resolve_min_nanos: 0,
        };
        let mut h = Hysteresis::default();
        h.update(&cfg, true, 0);
        h.update(&cfg, true, S);
        assert_eq!(h.update(&cfg, true, 10 * S), None, "episode starts at 10s");
        // Dips to 2 of 4 (below fire_count, above resolve_count) keep the episode going.
        for (t, a) in [(20, false), (30, false), (40, true), (50, true)] {
            assert_eq!(h.update(&cfg, a, t * S), None);
            assert!(h.count() >= 2);
        }
        assert_eq!(h.update(&cfg, true, 69 * S), None, "3 of 4 but only 59s");
        assert_eq!(h.update(&cfg, true, 70 * S), Some(EventState::Firing));
        // A break down to the resolve level ends an episode that has not fired yet.
        let mut h = Hysteresis::default();
        for t in 0..3 {
            h.update(&cfg, true, t * S);
        }
        for t in 3..6 {
            h.update(&cfg, false, t * S);
        }
        assert_eq!(h.count(), 1, "episode over");
        for t in 6..9 {
            assert_eq!(h.update(&cfg, true, t * S), None);
        }
        assert_eq!(h.update(&cfg, true, 67 * S), None, "restarted at 8s");
        assert_eq!(h.update(&cfg, true, 68 * S), Some(EventState::Firing));
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
            resolve_count: 16,
            ..Default::default()
        };
        assert!(bad
            .validate("X")
            .unwrap_err()
            .to_string()
            .contains("resolve_count=16"));
    }
}
