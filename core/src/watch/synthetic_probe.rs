//! Synthetic probe scheduling: when the next run is due (every `every`, with jitter), that a run
//! never overlaps the previous one (a still-running probe skips its turn, counted), how a result is
//! judged (timeout, failure) and what it feeds: the probe's own counters (tagged synthetic, never
//! the user's SLOs or metrics), an optional dead man's switch (beaten on success) and an alert after
//! `failures_to_alert` consecutive failures, resolved by the next success. The host runs the probe
//! function (a thread, the event loop, a JS timer) and asks this file what to do.

use super::dead_mans_switch::DeadMansSwitch;
use super::event::{Event, EventState, Severity};
use crate::clock::ClockRef;
use crate::error::{check, Error, Result};
use crate::random::Random;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

const C: &str = "SyntheticProbe";
pub const EVENT: &str = "probe.failed";

#[derive(Debug, Clone, PartialEq)]
pub struct ProbeConfig {
    pub name: String,
    pub every_nanos: u64,
    pub timeout_nanos: u64,
    /// Each interval is `every * (1 ± jitter)`, in [0, 1).
    pub jitter: f64,
    pub failures_to_alert: u32,
    pub severity: Severity,
    pub seed: Option<u64>,
}

impl ProbeConfig {
    pub fn new(name: impl Into<String>, every_nanos: u64, timeout_nanos: u64) -> Self {
        Self {
            name: name.into(),
            every_nanos,
            timeout_nanos,
            jitter: 0.1,
            failures_to_alert: 2,
            severity: Severity::Critical,
            seed: None,
        }
    }

    pub fn validate(&self) -> Result<()> {
        if self.name.is_empty() {
            return Err(Error::out_of_range(C, "name", "\"\"", "a non-empty name"));
        }
        if self.every_nanos < 10_000_000 {
            return Err(Error::out_of_range(
                C,
                "every_seconds",
                self.every_nanos as f64 / 1e9,
                ">= 0.01",
            ));
        }
        if self.timeout_nanos == 0 || self.timeout_nanos > self.every_nanos {
            return Err(Error::out_of_range(
                C,
                "timeout_seconds",
                self.timeout_nanos as f64 / 1e9,
                format!("(0, every_seconds={}]", self.every_nanos as f64 / 1e9),
            ));
        }
        if !(0.0..1.0).contains(&self.jitter) || !self.jitter.is_finite() {
            return Err(Error::out_of_range(C, "jitter", self.jitter, "[0, 1)"));
        }
        check::int(
            C,
            "failures_to_alert",
            self.failures_to_alert as i128,
            1,
            1000,
        )?;
        Ok(())
    }
}

/// How one run ended, as the host saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeResult {
    Ok,
    /// Raised, or `expect` said no.
    Failed,
    TimedOut,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProbeStats {
    pub runs: u64,
    pub ok: u64,
    pub failed: u64,
    pub timed_out: u64,
    /// Turns skipped because the previous run was still going.
    pub skipped_overlap: u64,
    pub consecutive_failures: u64,
    pub last_latency_seconds: f64,
    pub last_error: String,
    pub firing: bool,
}

pub struct SyntheticProbe {
    cfg: ProbeConfig,
    next_due: AtomicU64,
    running: AtomicBool,
    started_at: AtomicU64,
    rng: Random,
    clock: ClockRef,
    deadman: Option<Arc<DeadMansSwitch>>,
    key: String,
    labels: Vec<(String, String)>,
    // Results arrive once per probe interval (seconds apart); a lock keeps the stats coherent.
    stats: Mutex<ProbeStats>,
    skipped: AtomicU64,
}

impl SyntheticProbe {
    /// The first run is due right away (plus jitter), so a broken endpoint shows up at start.
    pub fn new(
        cfg: ProbeConfig,
        deadman: Option<Arc<DeadMansSwitch>>,
        clock: impl Into<ClockRef>,
    ) -> Result<Self> {
        cfg.validate()?;
        let clock = clock.into();
        let rng = match cfg.seed {
            Some(s) => Random::seeded(s),
            None => Random::from_entropy(),
        };
        let labels = vec![
            ("probe".to_string(), cfg.name.clone()),
            ("synthetic".to_string(), "true".to_string()),
        ];
        let p = Self {
            key: Event::key(EVENT, &cfg.name, &labels),
            labels,
            next_due: AtomicU64::new(0),
            running: AtomicBool::new(false),
            started_at: AtomicU64::new(0),
            rng,
            deadman,
            stats: Mutex::new(ProbeStats::default()),
            skipped: AtomicU64::new(0),
            cfg,
            clock: clock.clone(),
        };
        let now = clock.now_nanos();
        p.next_due.store(now + p.jittered(0), Ordering::Release);
        Ok(p)
    }

    pub fn config(&self) -> &ProbeConfig {
        &self.cfg
    }

    pub fn now_nanos(&self) -> u64 {
        self.clock.now_nanos()
    }

    pub fn deadman(&self) -> Option<&Arc<DeadMansSwitch>> {
        self.deadman.as_ref()
    }

    /// `base` plus `every * jitter * u`, u uniform in [-1, 1); never negative.
    fn jittered(&self, base: u64) -> u64 {
        if self.cfg.jitter == 0.0 {
            return base;
        }
        let u = self.rng.next_f64() * 2.0 - 1.0;
        let d = self.cfg.every_nanos as f64 * self.cfg.jitter * u;
        (base as f64 + d).max(0.0) as u64
    }

    /// Nanoseconds until the next run is due at `now` (0 = due). While a run is going, the time
    /// until its timeout ends it.
    pub fn due_in_at(&self, now: u64) -> u64 {
        if self.running.load(Ordering::Acquire) {
            let end = self.started_at.load(Ordering::Acquire) + self.cfg.timeout_nanos;
            return end.saturating_sub(now).max(1_000_000);
        }
        self.next_due.load(Ordering::Acquire).saturating_sub(now)
    }

    /// Claims the next run if it is due and none is running. A due turn that finds a run still
    /// going is skipped (counted once per turn) and the schedule moves on: never two at once, and
    /// no burst of catch-up runs after a slow one.
    pub fn try_start_at(&self, now: u64) -> bool {
        if now < self.next_due.load(Ordering::Acquire) {
            return false;
        }
        if self
            .running
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            self.skipped.fetch_add(1, Ordering::Relaxed);
            let next = self.jittered(now + self.cfg.every_nanos);
            self.next_due.store(next, Ordering::Release);
            return false;
        }
        self.started_at.store(now, Ordering::Release);
        let next = self.jittered(now + self.cfg.every_nanos);
        self.next_due.store(next, Ordering::Release);
        true
    }

    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }

    /// Records the end of the claimed run; returns (and publishes) the alert events it caused.
    /// A run longer than `timeout` counts as timed out whatever the host reported.
    pub fn finish_at(&self, now: u64, result: ProbeResult, error: &str) -> Vec<Event> {
        if !self.running.swap(false, Ordering::AcqRel) {
            return Vec::new(); // not claimed: nothing to record
        }
        let took = now.saturating_sub(self.started_at.load(Ordering::Acquire));
        let result = if took > self.cfg.timeout_nanos && result == ProbeResult::Ok {
            ProbeResult::TimedOut
        } else {
            result
        };
        let mut events = Vec::new();
        let fire;
        let resolve;
        let consecutive;
        {
            let mut s = self.stats.lock().unwrap_or_else(|p| p.into_inner());
            s.runs += 1;
            s.last_latency_seconds = took as f64 / 1e9;
            match result {
                ProbeResult::Ok => {
                    s.ok += 1;
                    s.consecutive_failures = 0;
                    s.last_error.clear();
                }
                ProbeResult::Failed | ProbeResult::TimedOut => {
                    if result == ProbeResult::Failed {
                        s.failed += 1;
                    } else {
                        s.timed_out += 1;
                    }
                    s.consecutive_failures += 1;
                    s.last_error = if result == ProbeResult::TimedOut {
                        format!("timed out after {:.3} s", took as f64 / 1e9)
                    } else {
                        error.chars().take(500).collect()
                    };
                }
            }
            consecutive = s.consecutive_failures;
            fire = !s.firing && consecutive >= self.cfg.failures_to_alert as u64;
            resolve = s.firing && result == ProbeResult::Ok;
            if fire {
                s.firing = true;
            }
            if resolve {
                s.firing = false;
            }
            if fire {
                events.push(self.event(EventState::Firing, now, consecutive, &s.last_error));
            }
            if resolve {
                events.push(self.event(EventState::Resolved, now, 0, ""));
            }
        }
        if result == ProbeResult::Ok {
            if let Some(d) = &self.deadman {
                d.beat_at(now);
            }
        }
        super::alert_router::publish(&events);
        events
    }

    pub fn stats(&self) -> ProbeStats {
        let mut s = self.stats.lock().unwrap_or_else(|p| p.into_inner()).clone();
        s.skipped_overlap = self.skipped.load(Ordering::Relaxed);
        s
    }

    fn event(&self, state: EventState, now: u64, failures: u64, error: &str) -> Event {
        Event {
            name: EVENT,
            source: self.cfg.name.clone(),
            severity: self.cfg.severity,
            state,
            labels: self.labels.clone(),
            dedup_key: self.key.clone(),
            value: failures as f64,
            threshold: self.cfg.failures_to_alert as f64,
            message: match state {
                EventState::Firing => format!(
                    "synthetic probe {:?} failed {failures} times in a row: {error}",
                    self.cfg.name
                ),
                EventState::Resolved => format!("synthetic probe {:?} passes again", self.cfg.name),
            },
            at_nanos: now,
        }
    }
}

/// Read at scrape time, in the probe's own families (never the user's call metrics).
impl crate::telemetry::collector::Collect for SyntheticProbe {
    fn collect(&self, sink: &mut crate::telemetry::collector::Sink) {
        let s = self.stats();
        let n = self.cfg.name.as_str();
        sink.sample("ferrule_probe_runs", &[n, "ok"], s.ok as f64);
        sink.sample("ferrule_probe_runs", &[n, "failed"], s.failed as f64);
        sink.sample("ferrule_probe_runs", &[n, "timeout"], s.timed_out as f64);
        sink.sample(
            "ferrule_probe_runs",
            &[n, "skipped_overlap"],
            s.skipped_overlap as f64,
        );
        sink.sample(
            "ferrule_probe_latency_seconds",
            &[n],
            s.last_latency_seconds,
        );
        sink.sample("ferrule_probe_up", &[n], if s.firing { 0.0 } else { 1.0 });
    }
}
