//! `observe()`: watchers on every call record, installed with one line. For each call the
//! integrations see it feeds an availability SLO per model, anomaly detectors on latency, output
//! tokens and cost per (model, template), drift on a sample of the answers per template (one answer
//! in `sample_every`, so its cost is bounded), an error predictor per provider and an upstream-outage
//! detector per provider (pages by default: an outage nobody hears about is the silent failure
//! ferrule exists to prevent); a background tick watches the dead-letter queues' depth and age.
//! Events go to the installed alert router, or to the core's logger when none is installed.
//! Every default can be changed or turned off in `ObserveConfig`.

use super::outcome::Outcome;
use super::record::{LlmCall, Recorded};
use crate::clock::ClockRef;
use crate::error::{check, Result};
use crate::store::dead_letter::queue::DeadLetterQueue;
use crate::telemetry::pipeline::Pipeline;
use crate::watch::alert_router;
use crate::watch::anomaly::{AnomalyConfig, AnomalyDetector, Method};
use crate::watch::drift::{DriftConfig, DriftDetector};
use crate::watch::event::{Event, EventState, Severity};
use crate::watch::hysteresis::HysteresisConfig;
use crate::watch::predictor::{CallOutcome, ErrorPredictor, PredictorConfig};
use crate::watch::series::SeriesKey;
use crate::watch::slo::{Slo, SloConfig};
use arc_swap::ArcSwapOption;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};

const C: &str = "observe";

/// The upstream-outage detector: a provider's error rate over a sliding window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutageConfig {
    /// Error rate (0..1] at or above which the provider is down.
    pub error_rate: f64,
    /// Calls the window must hold before it is judged.
    pub min_calls: u32,
    pub window_seconds: f64,
    /// The rate must stay at or above `error_rate` this long before the page.
    pub for_seconds: f64,
    pub severity: Severity,
}

impl Default for OutageConfig {
    fn default() -> Self {
        Self {
            error_rate: 0.5,
            min_calls: 20,
            window_seconds: 60.0,
            for_seconds: 30.0,
            severity: Severity::Page,
        }
    }
}

/// The dead-letter alert: a queue deeper or older than this fires.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeadLetterAlert {
    pub max_depth: u64,
    pub max_age_seconds: f64,
    pub severity: Severity,
}

impl Default for DeadLetterAlert {
    fn default() -> Self {
        Self {
            max_depth: 100,
            max_age_seconds: 3600.0,
            severity: Severity::Warning,
        }
    }
}

/// Drift on answers, per template: one answer in `sample_every` is embedded (the built-in hashing
/// embedder) and fed to its template's detector. Memory is bounded by `max_templates` detectors of
/// `(baseline + window) * (4 * dim + 16)` bytes each (about 40 KB with the defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct DriftObserve {
    pub sample_every: u32,
    /// Templates with their own detector; past it, answers of new templates are not sampled.
    pub max_templates: u32,
    /// Each template's detector (its `name` becomes `template:<name>`).
    pub detector: DriftConfig,
}

impl Default for DriftObserve {
    fn default() -> Self {
        let mut d = DriftConfig::new("observe");
        d.dim = 64;
        d.baseline_size = 100;
        d.window_size = 50;
        d.check_every = 25;
        d.permutations = 100;
        Self {
            sample_every: 10,
            max_templates: 50,
            detector: d,
        }
    }
}

/// What `observe()` turns on. `None` turns a watcher off.
#[derive(Debug, Clone, PartialEq)]
pub struct ObserveConfig {
    /// The availability objective of the SLO kept per model.
    pub slo_objective: Option<f64>,
    /// Anomaly detectors on latency, output tokens and cost, per (model, template).
    pub anomaly: Option<AnomalyConfig>,
    /// Drift on a sample of the answers, per template.
    pub drift: Option<DriftObserve>,
    pub predictor: Option<PredictorConfig>,
    pub outage: Option<OutageConfig>,
    pub dead_letter: Option<DeadLetterAlert>,
    /// Models (SLOs) and providers (predictors, outage windows) tracked; past it, `other`.
    pub max_series: u32,
}

impl Default for ObserveConfig {
    fn default() -> Self {
        // A shift under a quarter of the baseline is not scored: on a fast, steady call the noise
        // of a busy host is many standard deviations wide but not a regression anyone acts on.
        let ewma = crate::watch::ewma::EwmaConfig {
            min_relative_shift: 0.25,
            ..Default::default()
        };
        let mut anomaly = AnomalyConfig::new("observe", "value", Method::Ewma(ewma));
        anomaly.hysteresis = HysteresisConfig {
            window: 16,
            fire_count: 8,
            resolve_count: 2,
            min_duration_nanos: 30_000_000_000,
            resolve_min_nanos: 0,
        };
        Self {
            slo_objective: Some(0.99),
            anomaly: Some(anomaly),
            drift: Some(DriftObserve::default()),
            predictor: Some(PredictorConfig::new("observe")),
            outage: Some(OutageConfig::default()),
            dead_letter: Some(DeadLetterAlert::default()),
            max_series: 200,
        }
    }
}

impl ObserveConfig {
    pub fn validate(&self) -> Result<()> {
        if let Some(o) = self.slo_objective {
            SloConfig::availability("observe", o).validate()?;
        }
        if let Some(a) = &self.anomaly {
            a.validate()?;
        }
        if let Some(d) = &self.drift {
            check::int_range(C, "drift_sample_every", d.sample_every as u64, 1, 1_000_000)?;
            check::int_range(C, "drift_max_templates", d.max_templates as u64, 1, 10_000)?;
            d.detector.validate()?;
        }
        if let Some(p) = &self.predictor {
            p.validate()?;
        }
        if let Some(o) = &self.outage {
            check::finite_positive(C, "outage_error_rate", o.error_rate)?;
            if o.error_rate > 1.0 {
                return Err(crate::Error::out_of_range(
                    C,
                    "outage_error_rate",
                    o.error_rate.to_string(),
                    "0 < rate <= 1",
                ));
            }
            check::int_range(C, "outage_min_calls", o.min_calls as u64, 1, 1_000_000)?;
            check::finite_positive(C, "outage_window_seconds", o.window_seconds)?;
            check::finite_non_negative(C, "outage_for_seconds", o.for_seconds)?;
        }
        if let Some(d) = &self.dead_letter {
            check::int_range(C, "dead_letter_max_depth", d.max_depth, 1, u64::MAX >> 1)?;
            check::finite_positive(C, "dead_letter_max_age_seconds", d.max_age_seconds)?;
        }
        check::int_range(C, "max_series", self.max_series as u64, 1, 100_000)?;
        Ok(())
    }
}

/// A provider's outcomes in the outage window: ten buckets of `window_seconds / 10`.
struct OutageWindow {
    buckets: [(u64, u32, u32); 10], // (bucket index, calls, errors)
    high_since: Option<u64>,
    firing: bool,
}

impl OutageWindow {
    fn new() -> Self {
        Self {
            buckets: [(u64::MAX, 0, 0); 10],
            high_since: None,
            firing: false,
        }
    }

    /// Adds one call at `now` and returns the window's (calls, errors).
    fn add(&mut self, cfg: &OutageConfig, now: u64, error: bool) -> (u32, u32) {
        let width = (cfg.window_seconds * 1e8) as u64; // a tenth of the window, in ns
        let idx = now / width.max(1);
        let slot = &mut self.buckets[(idx % 10) as usize];
        if slot.0 != idx {
            *slot = (idx, 0, 0);
        }
        slot.1 += 1;
        slot.2 += error as u32;
        self.buckets
            .iter()
            .filter(|b| b.0 != u64::MAX && idx.saturating_sub(b.0) < 10)
            .fold((0, 0), |(c, e), b| (c + b.1, e + b.2))
    }
}

/// The installed watchers. Maps are behind locks: one look-up per LLM call (which takes
/// milliseconds), a write only when a new model or provider appears.
pub struct Observer {
    cfg: ObserveConfig,
    clock: ClockRef,
    slos: RwLock<HashMap<String, Arc<Slo>>>,
    latency: Option<AnomalyDetector>,
    output_tokens: Option<AnomalyDetector>,
    cost: Option<AnomalyDetector>,
    /// Answers seen by `sample_answer`: one in `sample_every` is sampled.
    answers: AtomicU64,
    drifts: RwLock<HashMap<String, Arc<DriftDetector>>>,
    /// Sampled answers not watched because `drift_max_templates` detectors exist already.
    drift_skipped: AtomicU64,
    predictors: RwLock<HashMap<String, Arc<ErrorPredictor>>>,
    outages: Mutex<HashMap<String, OutageWindow>>,
    dead_letters: Mutex<Vec<(String, Weak<DeadLetterQueue>, bool)>>,
}

fn capped<'a, V>(map: &HashMap<String, V>, key: &'a str, max: u32) -> &'a str {
    if map.contains_key(key) || map.len() < max as usize {
        key
    } else {
        crate::watch::series::OTHER
    }
}

impl Observer {
    pub fn new(cfg: ObserveConfig, clock: impl Into<ClockRef>) -> Result<Self> {
        cfg.validate()?;
        let clock = clock.into();
        let detector = |metric: &str| -> Result<Option<AnomalyDetector>> {
            cfg.anomaly
                .as_ref()
                .map(|a| {
                    let mut a = a.clone();
                    a.name = format!("observe_{metric}");
                    a.metric = metric.to_string();
                    AnomalyDetector::new(a, clock.clone())
                })
                .transpose()
        };
        Ok(Self {
            latency: detector("latency_seconds")?,
            output_tokens: detector("output_tokens")?,
            cost: detector("cost_usd")?,
            answers: AtomicU64::new(0),
            drifts: Default::default(),
            drift_skipped: AtomicU64::new(0),
            cfg,
            clock,
            slos: Default::default(),
            predictors: Default::default(),
            outages: Default::default(),
            dead_letters: Default::default(),
        })
    }

    pub fn config(&self) -> &ObserveConfig {
        &self.cfg
    }

    fn slo(&self, model: &str) -> Option<Arc<Slo>> {
        let objective = self.cfg.slo_objective?;
        if let Some(s) = self
            .slos
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(model)
        {
            return Some(s.clone());
        }
        let mut w = self.slos.write().unwrap_or_else(|p| p.into_inner());
        let key = capped(&w, model, self.cfg.max_series).to_string();
        if let Some(s) = w.get(&key) {
            return Some(s.clone());
        }
        let s = Arc::new(
            Slo::new(
                SloConfig::availability(format!("model:{key}"), objective),
                self.clock.clone(),
            )
            .ok()?,
        );
        w.insert(key, s.clone());
        Some(s)
    }

    /// Whether the next call's answer is sampled for drift (one in `sample_every`): a binding reads
    /// the answer's text only when this (or content capture) says so.
    pub fn sample_answer(&self) -> bool {
        match &self.cfg.drift {
            Some(d) => self.answers.fetch_add(1, Ordering::Relaxed) % d.sample_every as u64 == 0,
            None => false,
        }
    }

    fn drift(&self, template: &str) -> Option<Arc<DriftDetector>> {
        let cfg = self.cfg.drift.as_ref()?;
        if let Some(d) = self
            .drifts
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(template)
        {
            return Some(d.clone());
        }
        let mut w = self.drifts.write().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = w.get(template) {
            return Some(d.clone());
        }
        if w.len() >= cfg.max_templates as usize {
            // No `other` detector here: answers of unrelated templates mixed in one window would
            // read as drift. The skip is counted, and logged (the logger deduplicates).
            self.drift_skipped.fetch_add(1, Ordering::Relaxed);
            Pipeline::global().warn(
                "observe.drift_templates_full",
                format!(
                    "observe: {} templates already have a drift detector (drift_max_templates); answers of template {template} are not watched for drift",
                    cfg.max_templates
                ),
            );
            return None;
        }
        let mut c = cfg.detector.clone();
        c.name = format!("template:{template}");
        let d = Arc::new(DriftDetector::new(c, self.clock.clone()).ok()?);
        w.insert(template.to_string(), d.clone());
        Some(d)
    }

    /// Sampled answers skipped because every drift detector slot was taken.
    pub fn drift_skipped(&self) -> u64 {
        self.drift_skipped.load(Ordering::Relaxed)
    }

    /// Templates with a drift detector, and whether it is firing.
    pub fn drift_templates(&self) -> Vec<(String, bool)> {
        let mut v: Vec<_> = self
            .drifts
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, d)| (k.clone(), d.snapshot().firing))
            .collect();
        v.sort();
        v
    }

    /// Feeds one sampled answer (a successful call's text) to its template's drift detector;
    /// returns the events it caused.
    pub fn feed_answer(
        &self,
        template: &str,
        text: &str,
        output_tokens: Option<u64>,
    ) -> Vec<Event> {
        let Some(d) = self.drift(template) else {
            return Vec::new();
        };
        let tokens = output_tokens.map_or(f64::NAN, |n| n as f64);
        d.observe_text_at(text, tokens, self.clock.now_nanos())
            .unwrap_or_default()
    }

    fn predictor(&self, provider: &str) -> Option<Arc<ErrorPredictor>> {
        let cfg = self.cfg.predictor.as_ref()?;
        if let Some(p) = self
            .predictors
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(provider)
        {
            return Some(p.clone());
        }
        let mut w = self.predictors.write().unwrap_or_else(|p| p.into_inner());
        let key = capped(&w, provider, self.cfg.max_series).to_string();
        if let Some(p) = w.get(&key) {
            return Some(p.clone());
        }
        let mut c = cfg.clone();
        c.name = format!("provider:{key}");
        let p = Arc::new(ErrorPredictor::new(c, self.clock.clone()).ok()?);
        w.insert(key, p.clone());
        Some(p)
    }

    fn outage(&self, provider: &str, error: bool, now: u64) -> Option<Event> {
        let cfg = self.cfg.outage.as_ref()?;
        let mut all = self.outages.lock().unwrap_or_else(|p| p.into_inner());
        let key = capped(&all, provider, self.cfg.max_series).to_string();
        let w = all.entry(key.clone()).or_insert_with(OutageWindow::new);
        let (calls, errors) = w.add(cfg, now, error);
        let rate = if calls == 0 {
            0.0
        } else {
            errors as f64 / calls as f64
        };
        let high = calls >= cfg.min_calls && rate >= cfg.error_rate;
        let state = if high {
            let since = *w.high_since.get_or_insert(now);
            if !w.firing && now.saturating_sub(since) as f64 >= cfg.for_seconds * 1e9 {
                w.firing = true;
                Some(EventState::Firing)
            } else {
                None
            }
        } else {
            w.high_since = None;
            // Resolves once the rate is back below half the threshold (no flapping at the edge).
            if w.firing && (rate < cfg.error_rate / 2.0 || calls < cfg.min_calls) {
                w.firing = false;
                Some(EventState::Resolved)
            } else {
                None
            }
        };
        let state = state?;
        let labels = vec![("provider".to_string(), key.clone())];
        Some(Event {
            name: "upstream_outage",
            source: format!("provider:{key}"),
            severity: cfg.severity,
            state,
            dedup_key: Event::key("upstream_outage", &key, &labels),
            labels,
            value: rate,
            threshold: cfg.error_rate,
            message: format!(
                "provider {key}: {errors} of the last {calls} calls failed ({:.0}%, threshold {:.0}%)",
                rate * 100.0,
                cfg.error_rate * 100.0
            ),
            at_nanos: now,
        })
    }

    /// Feeds one recorded call to every watcher; returns the events it caused.
    pub fn feed(&self, c: &LlmCall<'_>, r: &Recorded) -> Vec<Event> {
        let mut events = Vec::new();
        let now = self.clock.now_nanos();
        let ok = r.outcome.is_ok();
        let latency = c.duration.as_secs_f64();
        let model = c.model();
        // A call refused locally (open breaker, rate limiter) says nothing about the upstream.
        let upstream = r.outcome != Outcome::Rejected;
        if let Some(s) = self.slo(model) {
            events.extend(s.record_at(ok, latency, false, now));
        }
        let key = SeriesKey::new(model, r.template.as_ref());
        if ok {
            if let Some(d) = &self.latency {
                events.extend(d.observe_at(&key, latency, now));
            }
            if let (Some(d), Some(n)) = (&self.output_tokens, c.tokens.output) {
                events.extend(d.observe_at(&key, n as f64, now));
            }
            if let Some(d) = &self.cost {
                if r.cost_usd > 0.0 {
                    events.extend(d.observe_at(&key, r.cost_usd, now));
                }
            }
        }
        if upstream {
            if let Some(p) = self.predictor(c.provider) {
                let o = match r.outcome {
                    Outcome::Success | Outcome::Fallback => CallOutcome::Ok,
                    Outcome::Timeout => CallOutcome::Timeout,
                    _ if c.error.is_some_and(|e| e.type_name.contains("RateLimit")) => {
                        CallOutcome::RateLimited
                    }
                    _ => CallOutcome::Error,
                };
                events.extend(p.observe_at(o, latency, None, now));
            }
            // A call that fell back still means the primary failed.
            let failed = !ok || r.outcome == Outcome::Fallback;
            events.extend(self.outage(c.provider, failed, now));
        }
        events
    }

    /// Watches `queue` (named `name`) for depth and age.
    pub fn watch_dead_letters(&self, name: &str, queue: &Arc<DeadLetterQueue>) {
        let mut l = self.dead_letters.lock().unwrap_or_else(|p| p.into_inner());
        l.retain(|(_, q, _)| q.strong_count() > 0);
        l.push((name.to_string(), Arc::downgrade(queue), false));
    }

    /// Checks the dead-letter queues and closes due predictor intervals; the background runtime
    /// calls this every 100 ms (tests call it on a manual clock).
    pub fn check(&self) -> Vec<Event> {
        let now = self.clock.now_nanos();
        let mut events = Vec::new();
        let preds: Vec<_> = self
            .predictors
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        for p in preds {
            events.extend(p.tick_at(now));
        }
        let Some(cfg) = self.cfg.dead_letter else {
            return events;
        };
        // Queues are read with the list's lock released: a store may block on I/O.
        let queues: Vec<(usize, String, Arc<DeadLetterQueue>, bool)> = {
            let l = self.dead_letters.lock().unwrap_or_else(|p| p.into_inner());
            l.iter()
                .enumerate()
                .filter_map(|(i, (n, q, f))| q.upgrade().map(|q| (i, n.clone(), q, *f)))
                .collect()
        };
        for (i, name, q, firing) in queues {
            let (Ok(depth), Ok(age)) = (q.len(), q.oldest_age_seconds()) else {
                continue;
            };
            let high = depth > cfg.max_depth || (depth > 0 && age > cfg.max_age_seconds);
            if high == firing {
                continue;
            }
            if let Some(e) = self
                .dead_letters
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_mut(i)
            {
                e.2 = high;
            }
            let labels = vec![("queue".to_string(), name.clone())];
            events.push(Event {
                name: "dead_letter_backlog",
                source: format!("dead_letter:{name}"),
                severity: cfg.severity,
                state: if high {
                    EventState::Firing
                } else {
                    EventState::Resolved
                },
                dedup_key: Event::key("dead_letter_backlog", &name, &labels),
                labels,
                value: depth as f64,
                threshold: cfg.max_depth as f64,
                message: format!(
                    "dead-letter queue {name}: {depth} items, oldest {age:.0}s (limits {} items, {:.0}s)",
                    cfg.max_depth, cfg.max_age_seconds
                ),
                at_nanos: now,
            });
        }
        events
    }
}

impl crate::watch::runtime::Tick for Observer {
    fn tick(&self) {
        deliver(&self.check());
    }
}

static OBSERVER: ArcSwapOption<Observer> = ArcSwapOption::const_empty();

/// Installs `observer` for every call record (`None` turns observation off). Its background
/// checks run on the watch runtime.
pub fn install(observer: Option<Arc<Observer>>) {
    if let Some(o) = &observer {
        let weak: Weak<dyn crate::watch::runtime::Tick> = Arc::downgrade(o) as _;
        crate::watch::runtime::register(weak);
        crate::watch::runtime::ensure_running();
    }
    OBSERVER.store(observer);
}

pub fn installed() -> Option<Arc<Observer>> {
    OBSERVER.load_full()
}

/// Events to the installed alert router; with none, each one is logged at warning level through
/// the core's logger, so an alert is never silently lost.
pub fn deliver(events: &[Event]) {
    if events.is_empty() {
        return;
    }
    if alert_router::installed().is_some() {
        alert_router::publish(events);
    } else {
        let p = Pipeline::global();
        for e in events {
            p.warn("observe.alert", e.to_string());
        }
    }
}

/// Whether the installed observer samples the next call's answer for drift (false when none is).
pub fn sample_answer() -> bool {
    OBSERVER.load().as_ref().is_some_and(|o| o.sample_answer())
}

/// Feeds a sampled answer of a recorded call to the installed observer's drift detector for its
/// template; only successful calls' answers count.
pub fn feed_answer(r: &Recorded, text: &str, output_tokens: Option<u64>) {
    if !r.outcome.is_ok() || text.is_empty() {
        return;
    }
    let g = OBSERVER.load();
    if let Some(o) = g.as_ref() {
        deliver(&o.feed_answer(&r.template, text, output_tokens));
    }
}

/// Feeds the installed observer, if any: one atomic load when none is.
pub(super) fn feed(c: &LlmCall<'_>, r: &Recorded) {
    let g = OBSERVER.load();
    if let Some(o) = g.as_ref() {
        deliver(&o.feed(c, r));
    }
}
