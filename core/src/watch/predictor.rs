//! Latent error prediction: calls are folded into fixed intervals; at each interval's end the leading
//! indicators (latency trend, 429 share, rate-limit headroom, timeout share, error-rate level and
//! slope) feed an online logistic regression that gives the probability that some interval in the
//! next `horizon` has an error rate above `error_rate_threshold`. The label for an interval is known
//! `horizon` later, so the model trains itself from a short queue; a warning fires when the
//! probability crosses `warn_probability`, before the breaker trips. `fit` learns the same way from
//! a log of past calls (replayed through fresh intervals, several passes) before online updates.

use crate::clock::ClockRef;
use crate::error::{check, Error, Result};
use crate::watch::event::{Event, EventState, Severity};
use crate::watch::logistic::OnlineLogistic;
use std::collections::VecDeque;
use std::sync::Mutex;

const C: &str = "ErrorPredictor";
pub const FEATURES: usize = 6;
pub const FEATURE_NAMES: [&str; FEATURES] = [
    "latency_trend",
    "rate_limited_share",
    "headroom_deficit",
    "timeout_share",
    "error_rate",
    "error_rate_slope",
];

/// How a call ended, as far as the predictor cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    Ok,
    /// HTTP 429 or a provider's rate-limit error.
    RateLimited,
    Timeout,
    Error,
}

impl CallOutcome {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "ok" => Ok(Self::Ok),
            "rate_limited" | "429" => Ok(Self::RateLimited),
            "timeout" => Ok(Self::Timeout),
            "error" => Ok(Self::Error),
            _ => Err(Error::out_of_range(
                C,
                "outcome",
                format!("{s:?}"),
                "\"ok\", \"rate_limited\" (or \"429\"), \"timeout\", \"error\"",
            )),
        }
    }
}

impl CallOutcome {
    /// The outcome of an inference-log record (`success`, `error`, `timeout`, `rejected`,
    /// `fallback`, `invalid`, with its `error_type`) or a predictor outcome (`ok`, `rate_limited`,
    /// `429`, `timeout`, `error`). An error whose type names a rate limit (`RateLimitError`, `429`,
    /// `rate_limit`) counts as rate-limited. `rejected` calls never reached the provider and are
    /// left out (`None`); `fallback` means the primary failed (an error); `invalid` means the
    /// provider answered (ok).
    pub fn from_record(outcome: &str, error_type: Option<&str>) -> Result<Option<Self>> {
        let rate_limited = error_type.is_some_and(|t| {
            let t = t.to_ascii_lowercase();
            t.contains("ratelimit") || t.contains("rate_limit") || t.contains("429")
        });
        Ok(match outcome {
            "success" | "invalid" => Some(Self::Ok),
            "rejected" => None,
            "fallback" | "error" if rate_limited => Some(Self::RateLimited),
            "fallback" => Some(Self::Error),
            o => match Self::parse(o) {
                Ok(c) => Some(c),
                Err(_) => {
                    return Err(Error::out_of_range(
                        C,
                        "outcome",
                        format!("{o:?}"),
                        "an inference-log outcome (\"success\", \"error\", \"timeout\", \"rejected\", \"fallback\", \"invalid\") or \"ok\", \"rate_limited\", \"429\"",
                    ))
                }
            },
        })
    }
}

/// One past call for `ErrorPredictor::fit`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PastCall {
    /// When the call finished, on the predictor's clock.
    pub at_nanos: u64,
    pub outcome: CallOutcome,
    /// NaN when unknown.
    pub latency_seconds: f64,
    pub headroom: Option<f64>,
}

/// What `fit` learned from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FitReport {
    pub calls: u64,
    /// Intervals the calls fell into (including empty ones between them).
    pub intervals: u64,
    /// Intervals with enough calls and a known label: the examples of one pass.
    pub examples: u64,
    /// Of those, the ones followed by a bad interval within the horizon.
    pub positives: u64,
    pub epochs: u32,
}

/// Rate-limit headroom from `x-ratelimit-remaining-*` and `x-ratelimit-limit-*`: remaining / limit
/// in [0, 1], or `None` when either is missing or the limit is not positive.
pub fn headroom(remaining: Option<f64>, limit: Option<f64>) -> Option<f64> {
    match (remaining, limit) {
        (Some(r), Some(l)) if l > 0.0 && r.is_finite() && l.is_finite() => {
            Some((r / l).clamp(0.0, 1.0))
        }
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PredictorConfig {
    pub name: String,
    pub interval_seconds: f64,
    /// Intervals ahead the prediction covers.
    pub horizon_intervals: u32,
    pub error_rate_threshold: f64,
    pub warn_probability: f64,
    /// A warning resolves when the probability falls below this.
    pub resolve_probability: f64,
    /// Intervals with fewer calls are neither judged nor learned from.
    pub min_calls: u32,
    pub learning_rate: f64,
    pub l2: f64,
    /// Weight of a positive example (they are rare).
    pub positive_weight: f64,
    /// Probability before anything was learned.
    pub prior: f64,
    pub severity: Severity,
}

impl PredictorConfig {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            interval_seconds: 60.0,
            horizon_intervals: 5,
            error_rate_threshold: 0.25,
            warn_probability: 0.7,
            resolve_probability: 0.3,
            min_calls: 5,
            learning_rate: 0.05,
            l2: 1e-4,
            positive_weight: 3.0,
            prior: 0.01,
            severity: Severity::Warning,
        }
    }

    pub fn validate(&self) -> Result<()> {
        if !(self.interval_seconds.is_finite() && (1.0..=3600.0).contains(&self.interval_seconds)) {
            return Err(Error::out_of_range(
                C,
                "interval_seconds",
                self.interval_seconds,
                "[1, 3600]",
            ));
        }
        check::int_range(
            C,
            "horizon_intervals",
            self.horizon_intervals as u64,
            1,
            1440,
        )?;
        check::rate(C, "error_rate_threshold", self.error_rate_threshold)?;
        check::rate(C, "warn_probability", self.warn_probability)?;
        if !(self.resolve_probability.is_finite()
            && self.resolve_probability >= 0.0
            && self.resolve_probability < self.warn_probability)
        {
            return Err(Error::out_of_range(
                C,
                "resolve_probability",
                self.resolve_probability,
                format!("[0, warn_probability={})", self.warn_probability),
            ));
        }
        check::int_range(C, "min_calls", self.min_calls as u64, 1, 1_000_000)?;
        check::rate(C, "learning_rate", self.learning_rate)?;
        check::finite_non_negative(C, "l2", self.l2)?;
        check::finite_positive(C, "positive_weight", self.positive_weight)?;
        if !(self.prior > 0.0 && self.prior < 1.0) {
            return Err(Error::out_of_range(C, "prior", self.prior, "(0, 1)"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Interval {
    calls: u32,
    errors: u32,
    rate_limited: u32,
    timeouts: u32,
    latency_sum: f64,
    latency_n: u32,
    headroom_min: Option<f64>,
}

/// Exponential averages of interval measurements, fast (recent) and slow (normal).
#[derive(Debug, Clone, Copy, Default)]
struct Trends {
    init: bool,
    latency_fast: f64,
    latency_slow: f64,
    rate_limited: f64,
    headroom: f64,
    timeouts: f64,
    error_fast: f64,
    error_slow: f64,
}

const FAST: f64 = 0.5;
const SLOW: f64 = 0.05;

impl Trends {
    fn update(&mut self, iv: &Interval) -> [f64; FEATURES] {
        let n = iv.calls.max(1) as f64;
        let err = iv.errors as f64 / n;
        let rl = iv.rate_limited as f64 / n;
        let to = iv.timeouts as f64 / n;
        let hr = iv.headroom_min.unwrap_or(1.0);
        let lat = if iv.latency_n > 0 {
            iv.latency_sum / iv.latency_n as f64
        } else {
            self.latency_fast
        };
        if !self.init {
            *self = Trends {
                init: true,
                latency_fast: lat,
                latency_slow: lat,
                rate_limited: rl,
                headroom: hr,
                timeouts: to,
                error_fast: err,
                error_slow: err,
            };
        } else {
            let ew = |a: f64, old: f64, new: f64| old + a * (new - old);
            self.latency_fast = ew(FAST, self.latency_fast, lat);
            self.latency_slow = ew(SLOW, self.latency_slow, lat);
            self.rate_limited = ew(FAST, self.rate_limited, rl);
            self.headroom = ew(FAST, self.headroom, hr);
            self.timeouts = ew(FAST, self.timeouts, to);
            self.error_fast = ew(FAST, self.error_fast, err);
            self.error_slow = ew(SLOW, self.error_slow, err);
        }
        let trend = if self.latency_slow > 0.0 && self.latency_fast > 0.0 {
            (self.latency_fast / self.latency_slow).ln()
        } else {
            0.0
        };
        [
            trend,
            self.rate_limited,
            1.0 - self.headroom.clamp(0.0, 1.0),
            self.timeouts,
            self.error_fast,
            self.error_fast - self.error_slow,
        ]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PredictorSnapshot {
    pub name: String,
    pub probability: Option<f64>,
    pub features: Option<[f64; FEATURES]>,
    pub warning: bool,
    pub intervals: u64,
    pub examples: u64,
    pub positives: u64,
    pub warnings: u64,
}

struct State {
    current: Interval,
    current_index: Option<u64>,
    trends: Trends,
    /// Closed intervals whose label is not yet known: features (if judged), calls, errors.
    pending: VecDeque<(Option<[f64; FEATURES]>, u32, u32)>,
    model: OnlineLogistic<FEATURES>,
    probability: Option<f64>,
    features: Option<[f64; FEATURES]>,
    warning: bool,
    intervals: u64,
    positives: u64,
    warnings: u64,
}

impl State {
    fn new(cfg: &PredictorConfig, model: OnlineLogistic<FEATURES>) -> Self {
        State {
            current: Interval::default(),
            current_index: None,
            trends: Trends::default(),
            pending: VecDeque::with_capacity(cfg.horizon_intervals as usize + 1),
            model,
            probability: None,
            features: None,
            warning: false,
            intervals: 0,
            positives: 0,
            warnings: 0,
        }
    }
}

/// Where a closed interval goes: the live predictor trains on its label and may raise an event;
/// `fit` collects (features, label) examples.
enum Sink<'a> {
    Live(&'a mut Vec<Event>),
    Collect(&'a mut Vec<([f64; FEATURES], bool)>),
}

pub struct ErrorPredictor {
    cfg: PredictorConfig,
    clock: ClockRef,
    interval_nanos: u64,
    // A mutex: closing an interval updates the trends, the label queue and the model together. The
    // predictor is fed once per finished call; the section is short except at an interval's end.
    state: Mutex<State>,
}

impl ErrorPredictor {
    pub fn new(cfg: PredictorConfig, clock: impl Into<ClockRef>) -> Result<Self> {
        cfg.validate()?;
        let model = OnlineLogistic::new(cfg.prior, cfg.learning_rate, cfg.l2, cfg.positive_weight);
        Ok(Self {
            interval_nanos: (cfg.interval_seconds * 1e9) as u64,
            state: Mutex::new(State::new(&cfg, model)),
            cfg,
            clock: clock.into(),
        })
    }

    pub fn config(&self) -> &PredictorConfig {
        &self.cfg
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records one call now. `headroom` is `x-ratelimit-remaining / x-ratelimit-limit` when the
    /// provider sent them.
    pub fn observe(
        &self,
        outcome: CallOutcome,
        latency_seconds: f64,
        headroom: Option<f64>,
    ) -> Vec<Event> {
        self.observe_at(outcome, latency_seconds, headroom, self.clock.now_nanos())
    }

    pub fn observe_at(
        &self,
        outcome: CallOutcome,
        latency_seconds: f64,
        headroom: Option<f64>,
        at_nanos: u64,
    ) -> Vec<Event> {
        let mut s = self.lock();
        let mut events = Vec::new();
        self.roll(&mut s, at_nanos, &mut Sink::Live(&mut events));
        Self::add_call(&mut s.current, outcome, latency_seconds, headroom);
        events
    }

    fn add_call(
        iv: &mut Interval,
        outcome: CallOutcome,
        latency_seconds: f64,
        headroom: Option<f64>,
    ) {
        iv.calls += 1;
        if outcome != CallOutcome::Ok {
            iv.errors += 1;
        }
        match outcome {
            CallOutcome::RateLimited => iv.rate_limited += 1,
            CallOutcome::Timeout => iv.timeouts += 1,
            _ => {}
        }
        if latency_seconds.is_finite() && latency_seconds >= 0.0 {
            iv.latency_sum += latency_seconds;
            iv.latency_n += 1;
        }
        if let Some(h) = headroom.filter(|h| h.is_finite()) {
            let h = h.clamp(0.0, 1.0);
            iv.headroom_min = Some(iv.headroom_min.map_or(h, |m| m.min(h)));
        }
    }

    /// Learns from a log of past calls (any order; sorted by time here) before, or between, online
    /// updates: the calls are folded into intervals on a scratch copy of the indicators, each
    /// interval with `min_calls` calls and a full horizon after it becomes one labelled example,
    /// and the model trains on the examples `epochs` times in time order. The live intervals,
    /// indicators, probability and warning are untouched, and no event is raised.
    pub fn fit(&self, calls: &[PastCall], epochs: u32) -> Result<FitReport> {
        check::int_range(C, "epochs", epochs as u64, 1, 1000)?;
        let mut sorted: Vec<&PastCall> = calls.iter().collect();
        sorted.sort_by_key(|c| c.at_nanos);
        let mut scratch = State::new(&self.cfg, OnlineLogistic::new(0.5, 0.0, 0.0, 1.0));
        let mut examples = Vec::new();
        for c in &sorted {
            self.roll(&mut scratch, c.at_nanos, &mut Sink::Collect(&mut examples));
            Self::add_call(
                &mut scratch.current,
                c.outcome,
                c.latency_seconds,
                c.headroom,
            );
        }
        if let Some(idx) = scratch.current_index {
            // Close the last interval; the ones without a full horizon after them stay unlabelled.
            self.roll(
                &mut scratch,
                (idx + 1) * self.interval_nanos,
                &mut Sink::Collect(&mut examples),
            );
        }
        let positives = examples.iter().filter(|(_, l)| *l).count() as u64;
        {
            let mut s = self.lock();
            for _ in 0..epochs {
                for (f, label) in &examples {
                    s.model.train(f, *label);
                }
            }
            s.positives += positives * epochs as u64;
        }
        Ok(FitReport {
            calls: sorted.len() as u64,
            intervals: scratch.intervals,
            examples: examples.len() as u64,
            positives,
            epochs,
        })
    }

    /// Closes the intervals that ended by now (call from a timer when traffic may stop).
    pub fn tick(&self) -> Vec<Event> {
        self.tick_at(self.clock.now_nanos())
    }

    pub fn tick_at(&self, at_nanos: u64) -> Vec<Event> {
        let mut s = self.lock();
        let mut events = Vec::new();
        self.roll(&mut s, at_nanos, &mut Sink::Live(&mut events));
        events
    }

    fn roll(&self, s: &mut State, at_nanos: u64, sink: &mut Sink<'_>) {
        let idx = at_nanos / self.interval_nanos;
        let cur = *s.current_index.get_or_insert(idx);
        if idx <= cur {
            return;
        }
        // Close the current interval and, for a gap, at most a horizon's worth of empty ones (older
        // empty intervals could not label anything still pending).
        let gaps = (idx - cur - 1).min(self.cfg.horizon_intervals as u64 + 1);
        let closed = std::mem::take(&mut s.current);
        self.close(s, closed, cur, sink);
        for g in 0..gaps {
            self.close(s, Interval::default(), cur + 1 + g, sink);
        }
        s.current_index = Some(idx);
    }

    fn close(&self, s: &mut State, iv: Interval, index: u64, sink: &mut Sink<'_>) {
        s.intervals += 1;
        let judged = iv.calls >= self.cfg.min_calls;
        let features = if judged {
            Some(s.trends.update(&iv))
        } else {
            None
        };
        // The newest interval labels the oldest pending one once a full horizon has passed.
        s.pending.push_back((features, iv.calls, iv.errors));
        if s.pending.len() > self.cfg.horizon_intervals as usize {
            let (f, _, _) = s.pending.pop_front().expect("queue is over-full");
            if let Some(f) = f {
                let label = s.pending.iter().any(|(_, calls, errors)| {
                    *calls >= self.cfg.min_calls
                        && *errors as f64 / *calls as f64 >= self.cfg.error_rate_threshold
                });
                match sink {
                    Sink::Live(_) => {
                        s.positives += label as u64;
                        s.model.train(&f, label);
                    }
                    Sink::Collect(examples) => examples.push((f, label)),
                }
            }
        }
        let Some(f) = features else { return };
        let Sink::Live(events) = sink else { return };
        let p = s.model.predict(&f);
        s.probability = Some(p);
        s.features = Some(f);
        let at = (index + 1) * self.interval_nanos;
        if !s.warning && p >= self.cfg.warn_probability {
            s.warning = true;
            s.warnings += 1;
            events.push(self.event(EventState::Firing, p, &f, at));
        } else if s.warning && p < self.cfg.resolve_probability {
            s.warning = false;
            events.push(self.event(EventState::Resolved, p, &f, at));
        }
    }

    /// The probability from the last judged interval.
    pub fn probability(&self) -> Option<f64> {
        self.lock().probability
    }

    /// The trained model, to save and hand to `load` (e.g. from a previous process).
    pub fn export(&self) -> Vec<f64> {
        self.lock().model.export()
    }

    pub fn load(&self, model: &[f64]) -> Result<()> {
        self.lock().model.import(model).ok_or_else(|| {
            Error::out_of_range(
                C,
                "model",
                format!("<{} numbers>", model.len()),
                format!(
                    "{} finite numbers from ErrorPredictor.export()",
                    3 * FEATURES + 2
                ),
            )
        })
    }

    pub fn snapshot(&self) -> PredictorSnapshot {
        let s = self.lock();
        PredictorSnapshot {
            name: self.cfg.name.clone(),
            probability: s.probability,
            features: s.features,
            warning: s.warning,
            intervals: s.intervals,
            examples: s.model.examples(),
            positives: s.positives,
            warnings: s.warnings,
        }
    }

    fn event(&self, state: EventState, p: f64, f: &[f64; FEATURES], at_nanos: u64) -> Event {
        let labels = vec![("predictor".to_string(), self.cfg.name.clone())];
        // Name the indicator furthest from normal, for the person reading the alert.
        let top = FEATURE_NAMES
            .iter()
            .zip(f)
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .map(|(n, v)| format!("{n}={v:.3}"))
            .unwrap_or_default();
        let horizon = self.cfg.horizon_intervals as f64 * self.cfg.interval_seconds;
        Event {
            name: "predict.error_rate",
            dedup_key: Event::key("predict.error_rate", &self.cfg.name, &labels),
            source: self.cfg.name.clone(),
            severity: self.cfg.severity,
            state,
            labels,
            value: p,
            threshold: self.cfg.warn_probability,
            message: match state {
                EventState::Firing => format!(
                    "{}: {:.0}% chance the error rate passes {:.0}% within {:.0}s ({top})",
                    self.cfg.name,
                    p * 100.0,
                    self.cfg.error_rate_threshold * 100.0,
                    horizon
                ),
                EventState::Resolved => format!(
                    "{}: error-rate risk back to {:.0}%",
                    self.cfg.name,
                    p * 100.0
                ),
            },
            at_nanos,
        }
    }
}
