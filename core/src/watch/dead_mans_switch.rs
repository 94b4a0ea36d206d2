//! The dead man's switch: if no beat arrives within `within`, an alert fires (silence is a failure
//! too); the next beat resolves it. `beat()` is two atomics on the caller's path; the check runs
//! in `tick_at(now)`, which the background runtime calls and tests drive on a manual clock.

use super::event::{Event, EventState, Severity};
use crate::clock::ClockRef;
use crate::error::{Error, Result};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

const C: &str = "DeadMansSwitch";
pub const EVENT: &str = "deadman.missed";

pub struct DeadMansSwitch {
    name: String,
    within: u64,
    severity: Severity,
    last_beat: AtomicU64,
    firing: AtomicBool,
    beats: AtomicU64,
    fired: AtomicU64,
    clock: ClockRef,
    key: String,
    labels: Vec<(String, String)>,
}

impl DeadMansSwitch {
    /// Armed at construction: the first beat is due within `within_nanos` of now.
    pub fn new(
        name: impl Into<String>,
        within_nanos: u64,
        severity: Severity,
        clock: impl Into<ClockRef>,
    ) -> Result<Arc<Self>> {
        let name = name.into();
        if name.is_empty() {
            return Err(Error::out_of_range(C, "name", "\"\"", "a non-empty name"));
        }
        // Up to MAX_SECONDS: a host converting a huge value saturates to u64::MAX nanoseconds,
        // which must be refused, not kept as "about 584 years".
        if !(1_000_000..=(crate::error::check::MAX_SECONDS * 1e9) as u64).contains(&within_nanos) {
            return Err(Error::out_of_range(
                C,
                "within_seconds",
                within_nanos as f64 / 1e9,
                "a number of seconds in [0.001, 1e9]",
            ));
        }
        let clock = clock.into();
        let system = matches!(clock, ClockRef::System);
        let labels = vec![("switch".to_string(), name.clone())];
        let s = Arc::new(Self {
            key: super::event::Event::key(EVENT, &name, &labels),
            labels,
            last_beat: AtomicU64::new(clock.now_nanos()),
            name,
            within: within_nanos,
            severity,
            firing: AtomicBool::new(false),
            beats: AtomicU64::new(0),
            fired: AtomicU64::new(0),
            clock,
        });
        if system {
            super::runtime::register(
                Arc::downgrade(&s) as std::sync::Weak<dyn super::runtime::Tick>
            );
        }
        Ok(s)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn within_nanos(&self) -> u64 {
        self.within
    }

    pub fn severity(&self) -> Severity {
        self.severity
    }

    pub fn dedup_key(&self) -> &str {
        &self.key
    }

    /// A sign of life. Returns the resolution event when the switch was firing (also published to
    /// the installed router).
    #[inline]
    pub fn beat_at(&self, now: u64) -> Option<Event> {
        self.last_beat.fetch_max(now, Ordering::AcqRel);
        self.beats.fetch_add(1, Ordering::Relaxed);
        if !self.firing.load(Ordering::Acquire) {
            return None;
        }
        if self.firing.swap(false, Ordering::AcqRel) {
            let e = self.event(EventState::Resolved, now, 0);
            super::alert_router::publish(std::slice::from_ref(&e));
            return Some(e);
        }
        None
    }

    #[inline]
    pub fn beat(&self) -> Option<Event> {
        self.beat_at(self.clock.now_nanos())
    }

    /// Fires once when the last beat is older than `within`; the event is also published.
    pub fn tick_at(&self, now: u64) -> Option<Event> {
        let last = self.last_beat.load(Ordering::Acquire);
        let silent = now.saturating_sub(last);
        if silent < self.within || self.firing.load(Ordering::Acquire) {
            return None;
        }
        if self
            .firing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return None;
        }
        self.fired.fetch_add(1, Ordering::Relaxed);
        let e = self.event(EventState::Firing, now, silent);
        super::alert_router::publish(std::slice::from_ref(&e));
        Some(e)
    }

    pub fn is_firing(&self) -> bool {
        self.firing.load(Ordering::Acquire)
    }

    /// Seconds since the last beat (or since construction).
    pub fn silent_seconds(&self) -> f64 {
        self.clock
            .now_nanos()
            .saturating_sub(self.last_beat.load(Ordering::Acquire)) as f64
            / 1e9
    }

    pub fn beats(&self) -> u64 {
        self.beats.load(Ordering::Relaxed)
    }

    pub fn times_fired(&self) -> u64 {
        self.fired.load(Ordering::Relaxed)
    }

    fn event(&self, state: EventState, now: u64, silent: u64) -> Event {
        let within = self.within as f64 / 1e9;
        Event {
            name: EVENT,
            source: self.name.clone(),
            severity: self.severity,
            state,
            labels: self.labels.clone(),
            dedup_key: self.key.clone(),
            value: silent as f64 / 1e9,
            threshold: within,
            message: match state {
                EventState::Firing => format!(
                    "dead man's switch {:?}: no beat for {:.1} s (expected within {within} s)",
                    self.name,
                    silent as f64 / 1e9
                ),
                EventState::Resolved => {
                    format!("dead man's switch {:?}: beating again", self.name)
                }
            },
            at_nanos: now,
        }
    }
}

impl std::fmt::Debug for DeadMansSwitch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadMansSwitch")
            .field("name", &self.name)
            .field("within_nanos", &self.within)
            .field("firing", &self.is_firing())
            .finish()
    }
}

impl super::runtime::Tick for DeadMansSwitch {
    fn tick(&self) {
        self.tick_at(self.clock.now_nanos());
    }
}

/// Read at scrape time: seconds since the last beat and whether the switch fires.
impl crate::telemetry::collector::Collect for DeadMansSwitch {
    fn collect(&self, sink: &mut crate::telemetry::collector::Sink) {
        sink.sample(
            "ferrule_deadman_silent_seconds",
            &[&self.name],
            self.silent_seconds(),
        );
        sink.sample(
            "ferrule_deadman_firing",
            &[&self.name],
            if self.is_firing() { 1.0 } else { 0.0 },
        );
    }
}
