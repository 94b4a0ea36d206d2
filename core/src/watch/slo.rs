//! A service level objective over the calls ferrule sees: per-minute and per-hour buckets give the
//! error budget left and the burn rate over any window; the multi-window, multi-burn-rate rules of
//! the Google SRE Workbook (14.4x over 1 h and 5 min, 6x over 6 h and 30 min, 1x over 3 d and 6 h)
//! and a sequential fast-burn test turn them into page/ticket events; a budget event fires when the
//! budget is exhausted and resolves when it has recovered, for budget policies to act on.

use crate::clock::ClockRef;
use crate::error::{check, Error, Result};
use crate::watch::buckets::{BucketRing, Counts};
use crate::watch::event::{Event, EventState, Severity};
use crate::watch::fast_burn::FastBurn;
use std::sync::Mutex;

const C: &str = "SLO";
const NANOS: u64 = 1_000_000_000;
const MINUTE: u64 = 60 * NANOS;
const HOUR: u64 = 60 * MINUTE;

/// What makes a call good.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SliKind {
    /// Good when it succeeded.
    Availability,
    /// Good when it succeeded within `threshold_seconds`.
    Latency { threshold_seconds: f64 },
}

/// Fire when the burn rate over both windows is at least `factor`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnRule {
    pub long_seconds: f64,
    pub short_seconds: f64,
    pub factor: f64,
    pub severity: Severity,
}

impl BurnRule {
    /// The Workbook's three rules for a 30-day window: 2%, 5% and 10% of the budget.
    pub fn workbook() -> Vec<BurnRule> {
        vec![
            BurnRule {
                long_seconds: 3600.0,
                short_seconds: 300.0,
                factor: 14.4,
                severity: Severity::Critical,
            },
            BurnRule {
                long_seconds: 6.0 * 3600.0,
                short_seconds: 1800.0,
                factor: 6.0,
                severity: Severity::Critical,
            },
            BurnRule {
                long_seconds: 3.0 * 86400.0,
                short_seconds: 6.0 * 3600.0,
                factor: 1.0,
                severity: Severity::Warning,
            },
        ]
    }

    /// `1h/5m`
    pub fn label(&self) -> String {
        format!(
            "{}/{}",
            duration_label(self.long_seconds),
            duration_label(self.short_seconds)
        )
    }
}

fn duration_label(s: f64) -> String {
    let s = s.round() as u64;
    if s.is_multiple_of(86400) {
        format!("{}d", s / 86400)
    } else if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FastBurnConfig {
    pub factor: f64,
    /// Log-likelihood ratio to reach; higher is slower and quieter.
    pub threshold: f64,
    pub severity: Severity,
}

impl Default for FastBurnConfig {
    fn default() -> Self {
        Self {
            factor: 14.4,
            threshold: 12.0,
            severity: Severity::Critical,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SloConfig {
    pub name: String,
    pub objective: f64,
    pub window_days: u32,
    pub kind: SliKind,
    pub rules: Vec<BurnRule>,
    /// Calls the long window must hold before a rule may fire (one failure out of one is no page).
    pub min_calls: u32,
    /// A rule (and budget exhaustion) also needs the bad calls in its long window to exceed what the
    /// threshold allows by this many Poisson standard deviations, so a handful of errors in a
    /// young or quiet window is not a page. 0 turns the check off.
    pub confidence_sigmas: f64,
    pub fast_burn: Option<FastBurnConfig>,
    /// After exhaustion, the budget event resolves once this fraction of the budget is back.
    pub budget_recover: f64,
}

impl SloConfig {
    pub fn availability(name: impl Into<String>, objective: f64) -> Self {
        Self {
            name: name.into(),
            objective,
            window_days: 30,
            kind: SliKind::Availability,
            rules: BurnRule::workbook(),
            min_calls: 10,
            confidence_sigmas: 3.0,
            fast_burn: Some(FastBurnConfig::default()),
            budget_recover: 0.05,
        }
    }

    pub fn validate(&self) -> Result<()> {
        if !(self.objective.is_finite() && self.objective > 0.0 && self.objective < 1.0) {
            return Err(Error::out_of_range(
                C,
                "objective",
                self.objective,
                "(0, 1)",
            ));
        }
        check::int_range(C, "window_days", self.window_days as u64, 1, 90)?;
        if let SliKind::Latency { threshold_seconds } = self.kind {
            check::finite_positive(C, "threshold_seconds", threshold_seconds)?;
        }
        check::int_range(C, "rules", self.rules.len() as u64, 0, 16)?;
        let window = self.window_days as f64 * 86400.0;
        for r in &self.rules {
            check::finite_positive(C, "factor", r.factor)?;
            if !(r.long_seconds.is_finite() && r.long_seconds >= 60.0 && r.long_seconds <= window) {
                return Err(Error::out_of_range(
                    C,
                    "long_seconds",
                    r.long_seconds,
                    format!("[60, {window}] (the SLO window)"),
                ));
            }
            if !(r.short_seconds.is_finite()
                && r.short_seconds >= 60.0
                && r.short_seconds < r.long_seconds)
            {
                return Err(Error::out_of_range(
                    C,
                    "short_seconds",
                    r.short_seconds,
                    format!("[60, long_seconds={})", r.long_seconds),
                ));
            }
        }
        check::int_range(C, "min_calls", self.min_calls as u64, 1, 1_000_000_000)?;
        check::finite_non_negative(C, "confidence_sigmas", self.confidence_sigmas)?;
        if let Some(f) = &self.fast_burn {
            if !(f.factor.is_finite() && f.factor > 1.0) {
                return Err(Error::out_of_range(
                    C,
                    "fast_burn_factor",
                    f.factor,
                    "a finite number > 1",
                ));
            }
            check::finite_positive(C, "fast_burn_threshold", f.threshold)?;
        }
        check::rate(C, "budget_recover", self.budget_recover)?;
        Ok(())
    }

    fn error_budget(&self) -> f64 {
        1.0 - self.objective
    }
}

struct State {
    minutes: BucketRing,
    hours: BucketRing,
    fast: Option<FastBurn>,
    fast_firing: bool,
    rule_firing: Vec<bool>,
    budget_exhausted: bool,
    last_eval_minute: u64,
    first_nanos: Option<u64>,
    total: u64,
    bad: u64,
    synthetic: u64,
    stale: u64,
    windows: Vec<u64>,
    sums: Vec<Counts>,
}

/// Burn rates and budget at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct SloSnapshot {
    pub name: String,
    pub objective: f64,
    pub total: u64,
    pub bad: u64,
    pub synthetic_excluded: u64,
    /// Calls recorded with an `at` older than a ring could hold, so missing from some window.
    pub stale_dropped: u64,
    pub budget_remaining: f64,
    /// Per rule: its label, long-window burn, short-window burn, firing.
    pub rules: Vec<(String, f64, f64, bool)>,
    pub fast_burn_score: Option<f64>,
    pub fast_burn_firing: bool,
    pub budget_exhausted: bool,
}

pub struct Slo {
    cfg: SloConfig,
    clock: ClockRef,
    // A mutex, not atomics: one call updates two rings, the sequential test and, once a minute, the
    // rule states, which must move together. An SLO is fed once per finished call (never on the
    // admission path) and the section is a few dozen nanoseconds, so it is uncontended in practice.
    state: Mutex<State>,
}

fn minutes_of(seconds: f64) -> u64 {
    ((seconds / 60.0).ceil() as u64).max(1)
}

impl Slo {
    pub fn new(cfg: SloConfig, clock: impl Into<ClockRef>) -> Result<Self> {
        cfg.validate()?;
        let longest = cfg
            .rules
            .iter()
            .map(|r| minutes_of(r.long_seconds))
            .max()
            .unwrap_or(60)
            .max(60);
        let mut windows = Vec::new();
        for r in &cfg.rules {
            windows.push(minutes_of(r.long_seconds));
            windows.push(minutes_of(r.short_seconds));
        }
        let fast = cfg
            .fast_burn
            .map(|f| FastBurn::new(cfg.error_budget(), f.factor, f.threshold));
        let state = State {
            minutes: BucketRing::new(MINUTE, longest as usize + 1),
            hours: BucketRing::new(HOUR, cfg.window_days as usize * 24 + 1),
            fast,
            fast_firing: false,
            rule_firing: vec![false; cfg.rules.len()],
            budget_exhausted: false,
            last_eval_minute: u64::MAX,
            first_nanos: None,
            total: 0,
            bad: 0,
            synthetic: 0,
            stale: 0,
            sums: vec![Counts::default(); windows.len()],
            windows,
        };
        Ok(Self {
            cfg,
            clock: clock.into(),
            state: Mutex::new(state),
        })
    }

    pub fn config(&self) -> &SloConfig {
        &self.cfg
    }

    pub fn now_nanos(&self) -> u64 {
        self.clock.now_nanos()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a call is good for this SLO.
    #[inline]
    pub fn is_bad(&self, ok: bool, latency_seconds: f64) -> bool {
        match self.cfg.kind {
            SliKind::Availability => !ok,
            // NaN latency (unknown) of a successful call counts as good: it cannot be judged slow.
            SliKind::Latency { threshold_seconds } => !ok || latency_seconds > threshold_seconds,
        }
    }

    /// Records one call now.
    pub fn record(&self, ok: bool, latency_seconds: f64, synthetic: bool) -> Vec<Event> {
        self.record_at(ok, latency_seconds, synthetic, self.clock.now_nanos())
    }

    /// Records one call at clock time `at_nanos`. Synthetic probes are counted apart and excluded.
    /// Rules are evaluated when a new minute starts; the fast-burn test on every call.
    pub fn record_at(
        &self,
        ok: bool,
        latency_seconds: f64,
        synthetic: bool,
        at_nanos: u64,
    ) -> Vec<Event> {
        let mut events = Vec::new();
        let mut s = self.lock();
        if synthetic {
            s.synthetic += 1;
            return events;
        }
        let bad = self.is_bad(ok, latency_seconds);
        s.first_nanos.get_or_insert(at_nanos);
        s.total += 1;
        s.bad += bad as u64;
        // Both rings, always (no short-circuit): a call too old for the minute ring can still be
        // in the budget window.
        let in_minutes = s.minutes.add(at_nanos, bad);
        let in_hours = s.hours.add(at_nanos, bad);
        if !(in_minutes && in_hours) {
            s.stale += 1;
        }
        if let Some(f) = s.fast.as_mut() {
            f.update(bad);
            let (above, drained, score) = (f.above(), f.drained(), f.score());
            let fc = self
                .cfg
                .fast_burn
                .expect("fast test exists only when configured");
            if above && !s.fast_firing {
                s.fast_firing = true;
                events.push(self.fast_event(EventState::Firing, score, fc, at_nanos));
            } else if drained && s.fast_firing {
                s.fast_firing = false;
                events.push(self.fast_event(EventState::Resolved, score, fc, at_nanos));
            }
        }
        let minute = at_nanos / MINUTE;
        if minute != s.last_eval_minute {
            self.evaluate_locked(&mut s, at_nanos, &mut events);
        }
        events
    }

    /// Evaluates the rules and the budget now (also done on the first call of each minute); for a
    /// quiet service, call it from a timer so an alert can resolve without traffic.
    pub fn evaluate(&self) -> Vec<Event> {
        self.evaluate_at(self.clock.now_nanos())
    }

    pub fn evaluate_at(&self, at_nanos: u64) -> Vec<Event> {
        let mut events = Vec::new();
        let mut s = self.lock();
        self.evaluate_locked(&mut s, at_nanos, &mut events);
        events
    }

    fn burn(&self, c: &Counts) -> f64 {
        c.bad_ratio() / self.cfg.error_budget()
    }

    /// Whether `c` holds significantly more bad calls than a burn of `factor` allows.
    fn significant(&self, c: &Counts, factor: f64) -> bool {
        let allowed = factor * self.cfg.error_budget() * c.total as f64;
        c.bad as f64 >= allowed + self.cfg.confidence_sigmas * allowed.sqrt()
    }

    fn evaluate_locked(&self, s: &mut State, at_nanos: u64, events: &mut Vec<Event>) {
        s.last_eval_minute = at_nanos / MINUTE;
        let State {
            minutes,
            windows,
            sums,
            ..
        } = s;
        minutes.sum_many(at_nanos, windows, sums);
        let seen = s
            .first_nanos
            .map_or(0.0, |f| at_nanos.saturating_sub(f) as f64 / 1e9);
        for (i, rule) in self.cfg.rules.iter().enumerate() {
            let (long, short) = (s.sums[2 * i], s.sums[2 * i + 1]);
            let (bl, bs) = (self.burn(&long), self.burn(&short));
            // A rule is armed once the SLO has watched for its short window (a window that has not
            // filled yet would judge a young process on its first few calls), and needs more bad
            // calls than chance explains.
            let on = seen >= rule.short_seconds
                && long.total >= self.cfg.min_calls as u64
                && bl >= rule.factor
                && bs >= rule.factor
                && self.significant(&long, rule.factor);
            if on != s.rule_firing[i] {
                s.rule_firing[i] = on;
                let state = if on {
                    EventState::Firing
                } else {
                    EventState::Resolved
                };
                events.push(self.rule_event(rule, state, bl, bs, at_nanos));
            }
        }
        let budget = s.hours.sum_last(at_nanos, self.cfg.window_days as u64 * 24);
        let remaining = self.remaining(&budget);
        if !s.budget_exhausted && remaining <= 0.0 && self.significant(&budget, 1.0) {
            s.budget_exhausted = true;
            events.push(self.budget_event(EventState::Firing, remaining, at_nanos));
        } else if s.budget_exhausted && remaining >= self.cfg.budget_recover {
            s.budget_exhausted = false;
            events.push(self.budget_event(EventState::Resolved, remaining, at_nanos));
        }
    }

    fn remaining(&self, c: &Counts) -> f64 {
        if c.total == 0 {
            return 1.0;
        }
        1.0 - c.bad as f64 / (self.cfg.error_budget() * c.total as f64)
    }

    fn budget_remaining_locked(&self, s: &State, at_nanos: u64) -> f64 {
        self.remaining(&s.hours.sum_last(at_nanos, self.cfg.window_days as u64 * 24))
    }

    /// The fraction of the error budget left over the SLO window (negative when overspent).
    pub fn budget_remaining(&self) -> f64 {
        self.budget_remaining_at(self.clock.now_nanos())
    }

    pub fn budget_remaining_at(&self, at_nanos: u64) -> f64 {
        let s = self.lock();
        self.budget_remaining_locked(&s, at_nanos)
    }

    /// The burn rate over the last `window_seconds`: minute resolution up to the longest rule window,
    /// hour resolution beyond it (up to the SLO window).
    pub fn burn_rate(&self, window_seconds: f64) -> Result<f64> {
        self.burn_rate_at(window_seconds, self.clock.now_nanos())
    }

    pub fn burn_rate_at(&self, window_seconds: f64, at_nanos: u64) -> Result<f64> {
        let max = self.cfg.window_days as f64 * 86400.0;
        if !(window_seconds.is_finite() && window_seconds >= 60.0 && window_seconds <= max) {
            return Err(Error::out_of_range(
                C,
                "window_seconds",
                window_seconds,
                format!("[60, {max}]"),
            ));
        }
        let s = self.lock();
        let m = minutes_of(window_seconds);
        let c = if m < s.minutes.len() as u64 {
            s.minutes.sum_last(at_nanos, m)
        } else {
            s.hours
                .sum_last(at_nanos, (window_seconds / 3600.0).ceil() as u64)
        };
        Ok(self.burn(&c))
    }

    pub fn snapshot(&self) -> SloSnapshot {
        self.snapshot_at(self.clock.now_nanos())
    }

    pub fn snapshot_at(&self, at_nanos: u64) -> SloSnapshot {
        let mut s = self.lock();
        let State {
            minutes,
            windows,
            sums,
            ..
        } = &mut *s;
        minutes.sum_many(at_nanos, windows, sums);
        let rules = self
            .cfg
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                (
                    r.label(),
                    self.burn(&s.sums[2 * i]),
                    self.burn(&s.sums[2 * i + 1]),
                    s.rule_firing[i],
                )
            })
            .collect();
        SloSnapshot {
            name: self.cfg.name.clone(),
            objective: self.cfg.objective,
            total: s.total,
            bad: s.bad,
            synthetic_excluded: s.synthetic,
            stale_dropped: s.stale,
            budget_remaining: self.budget_remaining_locked(&s, at_nanos),
            rules,
            fast_burn_score: s.fast.map(|f| f.score()),
            fast_burn_firing: s.fast_firing,
            budget_exhausted: s.budget_exhausted,
        }
    }

    /// Bytes held by the buckets (fixed at construction).
    pub fn heap_bytes(&self) -> usize {
        let s = self.lock();
        s.minutes.heap_bytes() + s.hours.heap_bytes() + s.sums.len() * 16 + s.windows.len() * 8
    }

    fn labels(&self, window: String) -> Vec<(String, String)> {
        vec![
            ("slo".into(), self.cfg.name.clone()),
            ("window".into(), window),
        ]
    }

    fn rule_event(
        &self,
        rule: &BurnRule,
        state: EventState,
        long: f64,
        short: f64,
        at_nanos: u64,
    ) -> Event {
        let labels = self.labels(rule.label());
        let message = match state {
            EventState::Firing => format!(
                "SLO {} burning its error budget at {:.1}x over {} ({:.1}x over {}), threshold {}x",
                self.cfg.name,
                long,
                duration_label(rule.long_seconds),
                short,
                duration_label(rule.short_seconds),
                rule.factor
            ),
            EventState::Resolved => format!(
                "SLO {} burn over {} is below {}x",
                self.cfg.name,
                rule.label(),
                rule.factor
            ),
        };
        Event {
            name: "slo.burn_rate",
            dedup_key: Event::key("slo.burn_rate", &self.cfg.name, &labels),
            source: self.cfg.name.clone(),
            severity: rule.severity,
            state,
            labels,
            value: long.min(short),
            threshold: rule.factor,
            message,
            at_nanos,
        }
    }

    fn fast_event(&self, state: EventState, score: f64, f: FastBurnConfig, at_nanos: u64) -> Event {
        let labels = self.labels("sequential".into());
        Event {
            name: "slo.fast_burn",
            dedup_key: Event::key("slo.fast_burn", &self.cfg.name, &labels),
            source: self.cfg.name.clone(),
            severity: f.severity,
            state,
            labels,
            value: score,
            threshold: f.threshold,
            message: match state {
                EventState::Firing => format!(
                    "SLO {}: recent calls are burning the error budget at {}x or faster",
                    self.cfg.name, f.factor
                ),
                EventState::Resolved => {
                    format!("SLO {}: fast burn has stopped", self.cfg.name)
                }
            },
            at_nanos,
        }
    }

    fn budget_event(&self, state: EventState, remaining: f64, at_nanos: u64) -> Event {
        let labels = self.labels(duration_label(self.cfg.window_days as f64 * 86400.0));
        Event {
            name: "slo.budget_exhausted",
            dedup_key: Event::key("slo.budget_exhausted", &self.cfg.name, &labels),
            source: self.cfg.name.clone(),
            severity: Severity::Critical,
            state,
            labels,
            value: remaining,
            threshold: 0.0,
            message: match state {
                EventState::Firing => format!(
                    "SLO {}: error budget exhausted ({:.1}% left)",
                    self.cfg.name,
                    remaining * 100.0
                ),
                EventState::Resolved => format!(
                    "SLO {}: error budget recovered ({:.1}% left)",
                    self.cfg.name,
                    remaining * 100.0
                ),
            },
            at_nanos,
        }
    }
}
