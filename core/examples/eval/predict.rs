//! The error predictor learned from history against online-only learning, on replays of the
//! synthetic traces. The past log is the training traces (other seeds: degradations, quiet days
//! and error spikes) laid end to end, as an inference log would hold them; `fit` learns from it
//! before the replay. The online-only predictor starts from its prior, like a process that never
//! saw an incident. Both then learn online during each replayed trace. A breaker (failure rate 0.5
//! over 50 calls) runs beside; lead time is how long before its first trip the first warning came.
//! Precision is warnings raised after a degradation's onset over all warnings, quiet traces
//! included.

use crate::harness::Size;
use crate::traces::{generate, Kind, MIN};
use ferrule_core::watch::predictor::PastCall;
use ferrule_core::*;

#[derive(Debug, Default)]
pub struct Row {
    pub name: &'static str,
    pub degradations: u32,
    pub tripped: u32,
    pub warned_before_trip: u32,
    /// Minutes from the first warning to the breaker's first trip, per warned trace.
    pub leads: Vec<f64>,
    pub warnings: u32,
    pub true_warnings: u32,
    pub quiet_days: f64,
    pub quiet_warnings: u32,
}

impl Row {
    fn median_lead(&self) -> Option<f64> {
        let mut v = self.leads.clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    }
    fn precision(&self) -> f64 {
        if self.warnings == 0 {
            1.0
        } else {
            self.true_warnings as f64 / self.warnings as f64
        }
    }
}

/// The training traces as one log of past calls, one after another an hour apart.
fn past_log(size: &Size) -> Vec<PastCall> {
    let mut log = Vec::new();
    let mut offset = 0u64;
    for s in 0..size.train_seeds {
        for kind in [Kind::ProviderDegradation, Kind::Quiet, Kind::ErrorSpike] {
            let t = generate(kind, 10_000 + s, size.shape);
            let start = t.calls.first().map_or(0, |c| c.at);
            for c in &t.calls {
                log.push(PastCall {
                    at_nanos: offset + c.at - start,
                    outcome: c.outcome,
                    latency_seconds: c.latency,
                    headroom: Some(c.headroom),
                });
            }
            offset += t.end - start + 60 * MIN;
        }
    }
    log
}

pub fn run(size: &Size) -> (Vec<Row>, u64) {
    let log = past_log(size);
    let cfg = PredictorConfig::new("eval");
    let mut rows = Vec::new();
    for (name, fitted) in [("online only", false), ("fit(past log) + online", true)] {
        let mut row = Row {
            name,
            ..Row::default()
        };
        for kind in [Kind::ProviderDegradation, Kind::Quiet] {
            for seed in 0..size.seeds_per_kind {
                let trace = generate(kind, seed, size.shape);
                let clock = ManualClock::new();
                let p = ErrorPredictor::new(cfg.clone(), clock.clone()).expect("valid");
                if fitted {
                    p.fit(&log, 5).expect("valid epochs");
                }
                let breaker = CircuitBreaker::with_clock(
                    BreakerConfig {
                        name: "eval".into(),
                        failure_rate: Some(0.5),
                        window: WindowSpec::Count(50),
                        min_calls: 20,
                        ..BreakerConfig::default()
                    },
                    clock.clone(),
                )
                .expect("valid");
                let mut first_trip = None;
                let mut warnings = Vec::new();
                for c in &trace.calls {
                    clock.set_nanos(c.at);
                    for e in p.observe_at(c.outcome, c.latency, Some(c.headroom), c.at) {
                        if e.state == EventState::Firing {
                            warnings.push(e.at_nanos);
                        }
                    }
                    if first_trip.is_none() {
                        match breaker.acquire() {
                            Ok((permit, _)) => {
                                let o = if c.outcome == CallOutcome::Ok {
                                    Outcome::Success
                                } else {
                                    Outcome::Failure
                                };
                                if breaker
                                    .record(permit, o)
                                    .is_some_and(|tr| tr.to == State::Open)
                                {
                                    first_trip = Some(c.at);
                                }
                            }
                            Err(_) => first_trip = Some(c.at),
                        }
                    }
                }
                row.warnings += warnings.len() as u32;
                match kind {
                    Kind::Quiet => {
                        row.quiet_warnings += warnings.len() as u32;
                        let start = trace.calls.first().map_or(0, |c| c.at);
                        row.quiet_days += (trace.end - start) as f64 / (1440.0 * MIN as f64);
                    }
                    _ => {
                        row.degradations += 1;
                        let onset = trace.onset.expect("a degradation has an onset");
                        let real: Vec<u64> =
                            warnings.iter().copied().filter(|w| *w >= onset).collect();
                        row.true_warnings += real.len() as u32;
                        row.tripped += first_trip.is_some() as u32;
                        if let (Some(w), Some(trip)) = (real.first(), first_trip) {
                            if *w < trip {
                                row.warned_before_trip += 1;
                                row.leads.push((trip - w) as f64 / MIN as f64);
                            }
                        }
                    }
                }
            }
        }
        rows.push(row);
    }
    (rows, log.len() as u64)
}

pub fn print(rows: &[Row], past_calls: u64) {
    println!(
        "error prediction on replays: learned from a past log of {past_calls} calls vs online only"
    );
    println!(
        "{:<24} {:>18} {:>18} {:>9} {:>9} {:>16}",
        "predictor",
        "warned before trip",
        "median lead (min)",
        "warnings",
        "precision",
        "quiet warns/day"
    );
    for r in rows {
        println!(
            "{:<24} {:>18} {:>18} {:>9} {:>9.3} {:>16.2}",
            r.name,
            format!(
                "{}/{} ({} tripped)",
                r.warned_before_trip, r.degradations, r.tripped
            ),
            r.median_lead()
                .map_or("-".to_string(), |l| format!("{l:.1}")),
            r.warnings,
            r.precision(),
            r.quiet_warnings as f64 / r.quiet_days.max(1e-9)
        );
    }
}
