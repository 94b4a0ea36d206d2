//! A detector for operations series sampled minutes apart (CPU, latency, traffic, error counts):
//! each value gets a robust score (median/MAD of a time-sampled ring) against the recent past and,
//! once a daily profile has been learned, against the same time of day, and keeps the smaller, so a
//! daily peak is not news. The scores, averaged over a few values, are then judged against this
//! series' own history of scores (how surprising is this surprise?, after Numenta's anomaly
//! likelihood) and must beat the largest average seen lately (decaying by time), so a series that is
//! always bursty does not fire on every burst. Memory: two rings and one profile, fixed at
//! construction.

use crate::error::{check, Result};
use crate::watch::ewma::sd_floor;
use crate::watch::mad::{median, MAX_MAD_WINDOW};

pub const MAX_SLOTS: u32 = 96;
pub const MAX_AVERAGE: u32 = 32;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeasonalConfig {
    /// Values kept for the recent baseline, 8..=256.
    pub window: u32,
    /// Values in the ring before any score (<= window).
    pub warm_up: u32,
    /// At most one value enters the rings and the profile per this many seconds (0: every value).
    pub sample_seconds: f64,
    /// The season's length (86400: daily); 0 turns the profile off.
    pub season_seconds: f64,
    /// Time-of-day slots of the profile, 2..=96.
    pub season_slots: u32,
    /// Scores averaged before judging, 1..=32: a shift shows as a run, one value as a blip.
    pub average: u32,
    /// Averaged scores that make the long-run mean and spread a value is judged against.
    pub history: u32,
    /// Averaged scores seen before any judgement.
    pub history_warm_up: u32,
    /// Scores are capped at this, so one wild value cannot dominate the history.
    pub clip: f64,
    /// An averaged score must exceed this share of the largest one seen lately (0: off).
    pub record_ratio: f64,
    /// That largest score halves every this many seconds.
    pub record_half_life_seconds: f64,
}

impl Default for SeasonalConfig {
    fn default() -> Self {
        Self {
            window: 256,
            warm_up: 48,
            sample_seconds: 30.0,
            season_seconds: 86400.0,
            season_slots: 48,
            average: 6,
            history: 1000,
            history_warm_up: 200,
            clip: 20.0,
            record_ratio: 1.0,
            record_half_life_seconds: 3.0 * 86400.0,
        }
    }
}

impl SeasonalConfig {
    pub fn validate(&self, c: &'static str) -> Result<()> {
        check::int_range(c, "window", self.window as u64, 8, MAX_MAD_WINDOW as u64)?;
        check::int_range(c, "warm_up", self.warm_up as u64, 2, self.window as u64)?;
        check::finite_non_negative(c, "sample_seconds", self.sample_seconds)?;
        check::finite_non_negative(c, "season_seconds", self.season_seconds)?;
        check::int_range(
            c,
            "season_slots",
            self.season_slots as u64,
            2,
            MAX_SLOTS as u64,
        )?;
        check::int_range(c, "average", self.average as u64, 1, MAX_AVERAGE as u64)?;
        check::int_range(c, "history", self.history as u64, 2, 1_000_000)?;
        check::int_range(
            c,
            "history_warm_up",
            self.history_warm_up as u64,
            0,
            1_000_000,
        )?;
        check::finite_positive(c, "clip", self.clip)?;
        check::finite_non_negative(c, "record_ratio", self.record_ratio)?;
        check::finite_positive(c, "record_half_life_seconds", self.record_half_life_seconds)?;
        Ok(())
    }
}

/// A ring of the last `cap` values.
#[derive(Debug, Clone)]
struct Ring {
    v: Box<[f64]>,
    len: usize,
    pos: usize,
}

impl Ring {
    fn new(cap: usize) -> Self {
        Self {
            v: vec![0.0; cap].into_boxed_slice(),
            len: 0,
            pos: 0,
        }
    }

    fn push(&mut self, x: f64) {
        self.v[self.pos] = x;
        self.pos = (self.pos + 1) % self.v.len();
        self.len = (self.len + 1).min(self.v.len());
    }

    /// (median, robust spread) of the ring; the spread is 1.4826 MAD, or the mean absolute
    /// deviation when over half the values are equal, never below the floor of `level`.
    fn centre_spread(&self, level: Option<f64>) -> (f64, f64) {
        let mut buf = [0.0f64; MAX_MAD_WINDOW as usize];
        let vals = &mut buf[..self.len];
        vals.copy_from_slice(&self.v[..self.len]);
        let med = median(vals);
        let mut abs_sum = 0.0;
        for v in vals.iter_mut() {
            *v = (*v - med).abs();
            abs_sum += *v;
        }
        let mad = median(vals);
        let spread = if mad > 0.0 {
            1.4826 * mad
        } else {
            1.2533 * abs_sum / self.len as f64
        };
        (med, spread.max(sd_floor(level.unwrap_or(med))))
    }
}

#[derive(Debug, Clone)]
pub struct Seasonal {
    values: Ring,
    residuals: Ring,
    /// Per time-of-day slot: an exponentially weighted level, the seasons (days) that shaped it,
    /// and the last season it saw (plus one; 0: never).
    profile: Box<[(f64, u32, u64)]>,
    recent_scores: [f64; MAX_AVERAGE as usize],
    recent_len: usize,
    recent_pos: usize,
    judged: u64,
    mean: f64,
    var: f64,
    record: f64,
    last_nanos: Option<u64>,
    last_sample: Option<u64>,
    median: f64,
    scale: f64,
}

/// Weight of a new sample in its profile slot.
const PROFILE_WEIGHT: f64 = 0.3;

impl Seasonal {
    pub fn new(cfg: &SeasonalConfig) -> Self {
        Self {
            values: Ring::new(cfg.window as usize),
            residuals: Ring::new(cfg.window as usize),
            profile: vec![(0.0, 0, 0); cfg.season_slots as usize].into_boxed_slice(),
            recent_scores: [0.0; MAX_AVERAGE as usize],
            recent_len: 0,
            recent_pos: 0,
            judged: 0,
            mean: 0.0,
            var: 1.0,
            record: 0.0,
            last_nanos: None,
            last_sample: None,
            median: 0.0,
            scale: 0.0,
        }
    }

    /// (slot, season number) of `at_nanos`.
    fn slot(cfg: &SeasonalConfig, at_nanos: u64) -> Option<(usize, u64)> {
        if cfg.season_seconds <= 0.0 {
            return None;
        }
        let season = ((cfg.season_seconds * 1e9) as u64).max(1);
        let phase = (at_nanos % season) as f64 / season as f64;
        let slot = ((phase * cfg.season_slots as f64) as usize).min(cfg.season_slots as usize - 1);
        Some((slot, at_nanos / season))
    }

    /// A profile slot is trusted once two seasons (days) have passed through it.
    const READY_SEASONS: u32 = 2;

    /// Scores `x` seen at `at_nanos`: how many of its own history's standard deviations the recent
    /// average surprise sits above its usual level; capped below `threshold` when it does not beat
    /// the recent record (so it cannot fire). `None` while warming up.
    pub fn score(
        &mut self,
        cfg: &SeasonalConfig,
        x: f64,
        at_nanos: u64,
        threshold: f64,
    ) -> Option<f64> {
        if let Some(last) = self.last_nanos {
            let dt = at_nanos.saturating_sub(last) as f64 / 1e9;
            self.record *= 0.5f64.powf(dt / cfg.record_half_life_seconds);
        }
        self.last_nanos = Some(self.last_nanos.map_or(at_nanos, |l| l.max(at_nanos)));
        let slot = Self::slot(cfg, at_nanos);
        let mut z = None;
        if self.values.len >= cfg.warm_up as usize {
            let (m, s) = self.values.centre_spread(None);
            self.median = m;
            self.scale = s;
            let mut zz = (x - m) / s;
            if let Some((i, _)) = slot {
                let (level, seasons, _) = self.profile[i];
                if seasons >= Self::READY_SEASONS && self.residuals.len >= cfg.warm_up as usize {
                    let (rm, rs) = self.residuals.centre_spread(Some(m));
                    let zr = (x - level - rm) / rs;
                    if zr.abs() < zz.abs() {
                        zz = zr;
                    }
                }
            }
            z = Some(zz);
        }
        let sample_due = self
            .last_sample
            .is_none_or(|t| at_nanos.saturating_sub(t) >= (cfg.sample_seconds * 1e9) as u64);
        if sample_due {
            self.last_sample = Some(at_nanos);
            self.values.push(x);
            if let Some((i, season)) = slot {
                let (level, seasons, last) = &mut self.profile[i];
                if *last > 0 {
                    if *seasons >= Self::READY_SEASONS {
                        self.residuals.push(x - *level);
                    }
                    *level += PROFILE_WEIGHT * (x - *level);
                } else {
                    *level = x;
                }
                if *last != season + 1 {
                    *last = season + 1;
                    *seasons = seasons.saturating_add(1);
                }
            }
        }
        let z = z?;
        // The direction is judged by the detector on the sign; the history works on magnitudes.
        let s = z.abs().min(cfg.clip);
        let k = cfg.average as usize;
        self.recent_scores[self.recent_pos] = s;
        self.recent_pos = (self.recent_pos + 1) % k;
        self.recent_len = (self.recent_len + 1).min(k);
        let avg =
            self.recent_scores[..self.recent_len].iter().sum::<f64>() / self.recent_len as f64;
        self.judged += 1;
        let sd = self.var.sqrt().max(1e-3);
        let l = (avg - self.mean) / sd;
        let breaks_record = avg > cfg.record_ratio * self.record;
        let ready = self.judged > cfg.history_warm_up as u64;
        let anomalous = ready && l > threshold && breaks_record;
        if self.judged > cfg.history_warm_up as u64 / 2 {
            self.record = self.record.max(avg);
        }
        // The history learns only from values it did not call anomalous, so a long incident does
        // not teach it that incidents are normal.
        if !anomalous {
            let a = 1.0 / (self.judged.min(cfg.history as u64)) as f64;
            let d = avg - self.mean;
            self.mean += a * d;
            self.var = (1.0 - a) * (self.var + a * d * d);
        }
        if !ready {
            return None;
        }
        let l = if breaks_record { l } else { l.min(threshold) };
        Some(l.copysign(if z < 0.0 { -1.0 } else { 1.0 }))
    }

    pub fn median(&self) -> f64 {
        self.median
    }

    pub fn scale(&self) -> f64 {
        self.scale
    }

    pub fn heap_bytes(&self) -> usize {
        (self.values.v.len() + self.residuals.v.len()) * 8 + self.profile.len() * 24
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::Random;

    const MIN5: u64 = 300_000_000_000;

    /// A daily sine (period 288 five-minute samples) with noise.
    fn daily(i: u64, r: &Random) -> f64 {
        let phase = (i % 288) as f64 / 288.0 * std::f64::consts::TAU;
        50.0 + 30.0 * phase.sin() + 2.0 * (r.next_f64() - 0.5)
    }

    #[test]
    fn a_daily_cycle_is_not_news_and_a_jump_beyond_it_is() {
        let cfg = SeasonalConfig::default();
        let mut s = Seasonal::new(&cfg);
        let r = Random::seeded(7);
        let mut worst = 0.0f64;
        for i in 0..288 * 5 {
            if let Some(z) = s.score(&cfg, daily(i, &r), i * MIN5, 6.0) {
                worst = worst.max(z);
            }
        }
        assert!(
            worst <= 6.0,
            "five quiet days never reach the threshold: {worst}"
        );
        let mut first = None;
        for i in 288 * 5..288 * 6 {
            let z = s.score(&cfg, daily(i, &r) + 200.0, i * MIN5, 6.0).unwrap();
            if z > 6.0 && first.is_none() {
                first = Some(i - 288 * 5);
            }
        }
        assert!(
            first.is_some_and(|n| n <= 12),
            "a jump to three times the daily peak is seen within an hour: {first:?}"
        );
    }

    #[test]
    fn a_bursty_series_does_not_fire_on_bursts_like_its_past_ones() {
        let cfg = SeasonalConfig {
            season_seconds: 0.0,
            ..SeasonalConfig::default()
        };
        let mut s = Seasonal::new(&cfg);
        let r = Random::seeded(3);
        let mut fired = 0;
        for i in 0..4000u64 {
            // A burst of 5x every ~8 hours, always the same size.
            let x = if i % 97 < 3 { 500.0 } else { 100.0 } + 10.0 * r.next_f64();
            if s.score(&cfg, x, i * MIN5, 6.0).is_some_and(|z| z > 6.0) && i > 400 {
                fired += 1;
            }
        }
        assert_eq!(fired, 0);
    }
}
