//! Streaming anomaly detection on one metric (latency, cost, tokens, output length), one series per
//! (model, prompt template): an EWMA chart, a median/MAD score, or the seasonal detector for series
//! sampled minutes apart, judged against a threshold after warm-up, through hysteresis, into
//! firing/resolved events. Memory per series is constant and the series count is capped.

use crate::clock::ClockRef;
use crate::error::{check, Result};
use crate::watch::event::{Event, EventState, Severity};
use crate::watch::ewma::{Ewma, EwmaConfig};
use crate::watch::hysteresis::{Hysteresis, HysteresisConfig};
use crate::watch::mad::{Mad, MadConfig};
use crate::watch::seasonal::{Seasonal, SeasonalConfig};
use crate::watch::series::{HeapSize, SeriesKey, SeriesMap};

const C: &str = "AnomalyDetector";

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    Ewma(EwmaConfig),
    Mad(MadConfig),
    Seasonal(SeasonalConfig),
}

impl Method {
    pub fn as_str(&self) -> &'static str {
        match self {
            Method::Ewma(_) => "ewma",
            Method::Mad(_) => "mad",
            Method::Seasonal(_) => "seasonal",
        }
    }
}

/// Which side of the baseline counts: latency and cost regress upwards, output length either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
    Both,
}

impl Direction {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "up" => Ok(Direction::Up),
            "down" => Ok(Direction::Down),
            "both" => Ok(Direction::Both),
            _ => Err(crate::Error::out_of_range(
                C,
                "direction",
                format!("{s:?}"),
                "\"up\", \"down\", \"both\"",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
            Direction::Both => "both",
        }
    }

    fn exceeds(self, z: f64, threshold: f64) -> bool {
        match self {
            Direction::Up => z > threshold,
            Direction::Down => z < -threshold,
            Direction::Both => z.abs() > threshold,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyConfig {
    pub name: String,
    /// The metric watched, a label on every event (`latency_seconds`, `cost_usd`, ...).
    pub metric: String,
    pub method: Method,
    pub direction: Direction,
    /// Score beyond which one value is anomalous.
    pub threshold: f64,
    pub hysteresis: HysteresisConfig,
    pub severity: Severity,
    pub max_series: u32,
}

impl AnomalyConfig {
    pub fn new(name: impl Into<String>, metric: impl Into<String>, method: Method) -> Self {
        let threshold = match method {
            Method::Ewma(_) => 3.0,
            Method::Mad(_) => 3.5,
            // Robust standard deviations of the averaged score (lone spikes have their own bar).
            Method::Seasonal(_) => 4.0,
        };
        let (direction, hysteresis) = match method {
            // Operations series break either way (a CPU or a traffic drop is news too). The score
            // is already averaged and judged against the series' history, so one anomalous value
            // fires; the episode ends after 12 quiet values and at least an hour without one.
            Method::Seasonal(_) => (
                Direction::Both,
                HysteresisConfig {
                    window: 12,
                    fire_count: 1,
                    resolve_count: 0,
                    min_duration_nanos: 0,
                    resolve_min_nanos: 3_600_000_000_000,
                },
            ),
            _ => (Direction::Up, HysteresisConfig::default()),
        };
        Self {
            name: name.into(),
            metric: metric.into(),
            method,
            direction,
            threshold,
            hysteresis,
            severity: Severity::Warning,
            max_series: 1000,
        }
    }

    pub fn validate(&self) -> Result<()> {
        match &self.method {
            Method::Ewma(c) => c.validate(C)?,
            Method::Mad(c) => c.validate(C)?,
            Method::Seasonal(c) => c.validate(C)?,
        }
        check::finite_positive(C, "threshold", self.threshold)?;
        self.hysteresis.validate(C)?;
        check::int_range(C, "max_series", self.max_series as u64, 2, 1_000_000)?;
        Ok(())
    }
}

#[derive(Debug, Clone)]
enum Stat {
    Ewma(Ewma),
    Mad(Mad),
    Seasonal(Box<Seasonal>),
}

/// One series' state.
#[derive(Debug, Clone)]
pub struct SeriesState {
    stat: Stat,
    hysteresis: Hysteresis,
    last_score: Option<f64>,
    observations: u64,
    fired: u64,
}

impl HeapSize for SeriesState {
    fn heap_bytes(&self) -> usize {
        match &self.stat {
            Stat::Ewma(_) => 0,
            Stat::Mad(m) => m.heap_bytes(),
            Stat::Seasonal(m) => std::mem::size_of::<Seasonal>() + m.heap_bytes(),
        }
    }
}

/// What a gauge or a summary shows for one series.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSnapshot {
    pub key: SeriesKey,
    pub baseline: f64,
    pub spread: f64,
    pub last_score: Option<f64>,
    pub firing: bool,
    pub observations: u64,
    pub fired: u64,
}

pub struct AnomalyDetector {
    cfg: AnomalyConfig,
    clock: ClockRef,
    series: SeriesMap<SeriesState>,
    non_finite: std::sync::atomic::AtomicU64,
}

impl AnomalyDetector {
    pub fn new(cfg: AnomalyConfig, clock: impl Into<ClockRef>) -> Result<Self> {
        cfg.validate()?;
        Ok(Self {
            series: SeriesMap::new(cfg.max_series as usize),
            cfg,
            clock: clock.into(),
            non_finite: std::sync::atomic::AtomicU64::new(0),
        })
    }

    pub fn config(&self) -> &AnomalyConfig {
        &self.cfg
    }

    fn fresh(&self) -> SeriesState {
        SeriesState {
            stat: match &self.cfg.method {
                Method::Ewma(_) => Stat::Ewma(Ewma::default()),
                Method::Mad(c) => Stat::Mad(Mad::new(c)),
                Method::Seasonal(c) => Stat::Seasonal(Box::new(Seasonal::new(c))),
            },
            hysteresis: Hysteresis::default(),
            last_score: None,
            observations: 0,
            fired: 0,
        }
    }

    /// Observes one value now.
    pub fn observe(&self, key: &SeriesKey, value: f64) -> Vec<Event> {
        self.observe_at(key, value, self.clock.now_nanos())
    }

    /// Observes one value at clock time `at_nanos`. Non-finite values are not judged (they are
    /// counted as observations and skipped). Returns the events this value caused.
    pub fn observe_at(&self, key: &SeriesKey, value: f64, at_nanos: u64) -> Vec<Event> {
        let found = self.series.get_or_insert(key, || self.fresh());
        let mut events = Vec::new();
        if found.first_overflow {
            events.push(self.overflow_event(key, at_nanos));
        }
        let mut s = found.state.lock().unwrap_or_else(|p| p.into_inner());
        s.observations += 1;
        if !value.is_finite() {
            self.non_finite
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return events;
        }
        let score = match (&mut s.stat, &self.cfg.method) {
            (Stat::Ewma(e), Method::Ewma(c)) => e.score(c, value, at_nanos),
            (Stat::Mad(m), Method::Mad(c)) => m.score(c, value, at_nanos),
            (Stat::Seasonal(m), Method::Seasonal(c)) => {
                m.score(c, value, at_nanos, self.cfg.threshold)
            }
            _ => unreachable!("a series is made for its detector's method"),
        };
        let Some(z) = score else { return events };
        s.last_score = Some(z);
        let anomalous = self.cfg.direction.exceeds(z, self.cfg.threshold);
        if let Some(state) = s
            .hysteresis
            .update(&self.cfg.hysteresis, anomalous, at_nanos)
        {
            if state == EventState::Firing {
                s.fired += 1;
            }
            let count = s.hysteresis.count();
            events.push(self.event(&found.key, state, z, count, at_nanos));
        }
        events
    }

    fn labels(&self, key: &SeriesKey) -> Vec<(String, String)> {
        vec![
            ("metric".into(), self.cfg.metric.clone()),
            ("model".into(), key.model.clone()),
            ("template".into(), key.template.clone()),
        ]
    }

    fn event(
        &self,
        key: &SeriesKey,
        state: EventState,
        z: f64,
        count: u32,
        at_nanos: u64,
    ) -> Event {
        let name = match self.cfg.method {
            Method::Ewma(_) => "anomaly.ewma",
            Method::Mad(_) => "anomaly.mad",
            Method::Seasonal(_) => "anomaly.seasonal",
        };
        let labels = self.labels(key);
        let message = match state {
            EventState::Firing => format!(
                "{} of {}/{} is anomalous: {} of the last {} scores beyond {} ({}), latest {:.2}",
                self.cfg.metric,
                key.model,
                key.template,
                count,
                self.cfg.hysteresis.window,
                self.cfg.threshold,
                self.cfg.direction.as_str(),
                z
            ),
            EventState::Resolved => format!(
                "{} of {}/{} is back within {}",
                self.cfg.metric, key.model, key.template, self.cfg.threshold
            ),
        };
        Event {
            name,
            dedup_key: Event::key(name, &self.cfg.name, &labels),
            source: self.cfg.name.clone(),
            severity: self.cfg.severity,
            state,
            labels,
            value: z,
            threshold: self.cfg.threshold,
            message,
            at_nanos,
        }
    }

    fn overflow_event(&self, key: &SeriesKey, at_nanos: u64) -> Event {
        let labels = vec![("metric".into(), self.cfg.metric.clone())];
        Event {
            name: "watch.series_overflow",
            dedup_key: Event::key("watch.series_overflow", &self.cfg.name, &labels),
            source: self.cfg.name.clone(),
            severity: Severity::Warning,
            state: EventState::Firing,
            labels,
            value: self.cfg.max_series as f64,
            threshold: self.cfg.max_series as f64,
            message: format!(
                "{}: more than {} series (first dropped: {}/{}); new series share 'other'",
                self.cfg.name, self.cfg.max_series, key.model, key.template
            ),
            at_nanos,
        }
    }

    pub fn snapshot(&self) -> Vec<SeriesSnapshot> {
        let mut out = Vec::new();
        self.series.for_each(|k, s| {
            let (baseline, spread) = match &s.stat {
                Stat::Ewma(e) => (e.mean(), e.sd()),
                Stat::Mad(m) => (m.median(), m.scale()),
                Stat::Seasonal(m) => (m.median(), m.scale()),
            };
            out.push(SeriesSnapshot {
                key: k.clone(),
                baseline,
                spread,
                last_score: s.last_score,
                firing: s.hysteresis.firing(),
                observations: s.observations,
                fired: s.fired,
            });
        });
        out.sort_by(|a, b| (&a.key.model, &a.key.template).cmp(&(&b.key.model, &b.key.template)));
        out
    }

    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// NaN or infinite values, counted and not judged.
    pub fn non_finite(&self) -> u64 {
        self.non_finite.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Values routed to `other` because `max_series` was reached.
    pub fn overflowed(&self) -> u64 {
        self.series.overflowed()
    }

    pub fn bytes_per_series(&self) -> usize {
        self.series.bytes_per_series()
    }

    pub fn reset(&self) {
        self.series.clear();
    }
}
