//! A service level objective over the calls ferrule sees: per-minute and per-hour buckets give the
//! error budget left and the burn rate over any window; the multi-window, multi-burn-rate rules of
//! the Google SRE Workbook (page: 14.4x over 1 h and 5 min, 6x over 6 h and 30 min; ticket: 1x over
//! 3 d and 6 h) and a sequential fast-burn test turn them into one page alert and one ticket alert,
//! each firing once per episode; a budget event fires when the budget over the SLO window is
//! exhausted and resolves when it has recovered, for budget policies to act on.

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

/// `3600` -> `1h`, `300` -> `5m`, `90` -> `90s`: the largest whole unit (also a PromQL duration).
pub(crate) fn duration_label(s: f64) -> String {
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

/// The sequential test weighs "burning at `factor`x" against "burning at `baseline_factor`x": with
/// the baseline at the lowest page factor of the rules (6x), a burn below it drifts the test down,
/// so the test pages earlier than the windows but never on a burn the Workbook would only ticket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FastBurnConfig {
    pub factor: f64,
    /// The burn the test must beat (its null hypothesis), 1 <= baseline_factor < factor.
    pub baseline_factor: f64,
    /// Log-likelihood ratio to reach; higher is slower and quieter.
    pub threshold: f64,
    pub severity: Severity,
}

impl Default for FastBurnConfig {
    fn default() -> Self {
        Self {
            factor: 14.4,
            baseline_factor: 6.0,
            threshold: 12.0,
            severity: Severity::Critical,
        }
    }
}

/// The two alerts an SLO raises: rules of severity critical or page (and the sequential test) page,
/// the others open a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    Page,
    Ticket,
}

impl AlertKind {
    pub fn of(severity: Severity) -> Self {
        match severity {
            Severity::Critical | Severity::Page => AlertKind::Page,
            Severity::Info | Severity::Warning => AlertKind::Ticket,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Page => "page",
            AlertKind::Ticket => "ticket",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// How the budget over the SLO window is known: from a whole window of history, or extrapolated
/// from the part seen (a process younger than the window: the calls seen so far stand for the
/// window's traffic at the same rate, and the bad calls seen are what has been spent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetBasis {
    Window,
    Extrapolated,
}

impl BudgetBasis {
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetBasis::Window => "window",
            BudgetBasis::Extrapolated => "extrapolated",
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
    /// threshold allows by this many Poisson standard deviations. 0 (the default) is the Workbook's
    /// rule exactly: a 14.4x burn over the hour pages at 14.4x, not at 14.4x plus a margin.
    pub confidence_sigmas: f64,
    pub fast_burn: Option<FastBurnConfig>,
    /// After exhaustion, the budget event resolves once this fraction of the budget is back.
    pub budget_recover: f64,
    /// While an alert fires, its rules hold at `factor * resolve_ratio` (and the sequential test
    /// until its evidence has drained), so a burn hovering at a threshold is one episode, not a
    /// page every few minutes. 1 resolves as soon as no rule holds at its factor.
    pub resolve_ratio: f64,
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
            confidence_sigmas: 0.0,
            fast_burn: Some(FastBurnConfig::default()),
            budget_recover: 0.05,
            resolve_ratio: 0.5,
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
            if !(f.baseline_factor.is_finite()
                && f.baseline_factor >= 1.0
                && f.baseline_factor < f.factor)
            {
                return Err(Error::out_of_range(
                    C,
                    "fast_burn_baseline_factor",
                    f.baseline_factor,
                    format!("[1, fast_burn_factor={})", f.factor),
                ));
            }
            check::finite_positive(C, "fast_burn_threshold", f.threshold)?;
        }
        check::rate(C, "budget_recover", self.budget_recover)?;
        if !(self.resolve_ratio.is_finite()
            && self.resolve_ratio > 0.0
            && self.resolve_ratio <= 1.0)
        {
            return Err(Error::out_of_range(
                C,
                "resolve_ratio",
                self.resolve_ratio,
                "(0, 1]",
            ));
        }
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
    /// The sequential test passed its threshold and has not drained since.
    fast_holds: bool,
    /// Per rule: holds (at its factor, or at `factor * resolve_ratio` while its alert fires).
    rule_holds: Vec<bool>,
    /// Per alert kind (page, ticket): firing, and the severity it fired with.
    alert_firing: [Option<Severity>; 2],
    budget_exhausted: bool,
    last_eval_tick: u64,
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
    /// Whether `budget_remaining` covers a whole SLO window or extrapolates a younger history.
    pub budget_basis: BudgetBasis,
    /// The share of the SLO window the history covers (1 once a whole window has been watched).
    pub budget_coverage: f64,
    /// Per rule: its label, long-window burn, short-window burn, holds.
    pub rules: Vec<(String, f64, f64, bool)>,
    pub fast_burn_score: Option<f64>,
    pub fast_burn_firing: bool,
    pub page_firing: bool,
    pub ticket_firing: bool,
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

/// Rules are evaluated on the first call of each 10-second tick (and on `evaluate`): often enough
/// that a window crossing its threshold is seen well within the Workbook's detection time, rarely
/// enough that summing a 3-day minute ring stays off the per-call cost.
const EVAL_TICK: u64 = 10 * NANOS;

/// The margin (Poisson standard deviations) a rule's long window needs while it is younger than
/// the window: 30 minutes of a 5x burn at 5 calls a second reach 6x by chance one time in ten.
const YOUNG_WINDOW_SIGMAS: f64 = 3.0;

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
            .map(|f| FastBurn::new(cfg.error_budget(), f.baseline_factor, f.factor, f.threshold));
        let state = State {
            minutes: BucketRing::new(MINUTE, longest as usize + 1),
            hours: BucketRing::new(HOUR, cfg.window_days as usize * 24 + 1),
            fast,
            fast_holds: false,
            rule_holds: vec![false; cfg.rules.len()],
            alert_firing: [None; 2],
            budget_exhausted: false,
            last_eval_tick: u64::MAX,
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
    /// Rules are evaluated when a new 10-second tick starts; the fast-burn test on every call (it can
    /// start a page at once; an alert resolves only at an evaluation).
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
            s.fast_holds = above || (s.fast_holds && !drained);
            let fc = self
                .cfg
                .fast_burn
                .expect("fast test exists only when configured");
            let k = AlertKind::of(fc.severity);
            if above && s.alert_firing[k.index()].is_none() {
                s.alert_firing[k.index()] = Some(fc.severity);
                events.push(self.alert_event(
                    k,
                    fc.severity,
                    EventState::Firing,
                    format!(
                        "the sequential test finds recent calls burning the budget at {}x rather than {}x (log-likelihood {:.1} >= {})",
                        fc.factor, fc.baseline_factor, score, fc.threshold
                    ),
                    score,
                    fc.threshold,
                    at_nanos,
                ));
            }
        }
        let tick = at_nanos / EVAL_TICK;
        if tick != s.last_eval_tick {
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

    /// Whether `c` holds significantly more bad calls than a burn of `factor` allows, by `sigmas`
    /// Poisson standard deviations.
    fn significant(&self, c: &Counts, factor: f64, sigmas: f64) -> bool {
        let allowed = factor * self.cfg.error_budget() * c.total as f64;
        c.bad as f64 >= allowed + sigmas * allowed.sqrt()
    }

    /// The budget over the SLO window: (bad calls, calls the window is expected to hold, basis,
    /// coverage). A history shorter than the window is scaled up to a whole window at the traffic
    /// rate seen: two hours of a 5x burn have spent 5 * 2 h / 30 d = 1.4% of a 30-day budget, not
    /// all of it.
    fn budget_locked(&self, s: &State, at_nanos: u64) -> (Counts, f64, BudgetBasis, f64) {
        let window = self.cfg.window_days as f64 * 86400.0;
        let c = s.hours.sum_last(at_nanos, self.cfg.window_days as u64 * 24);
        let seen = s
            .first_nanos
            .map_or(0.0, |f| at_nanos.saturating_sub(f) as f64 / 1e9);
        // At least a minute of history stands for the window: the first call alone is not a rate.
        let coverage = (seen.max(60.0) / window).min(1.0);
        let basis = if seen >= window {
            BudgetBasis::Window
        } else {
            BudgetBasis::Extrapolated
        };
        (c, c.total as f64 / coverage, basis, coverage)
    }

    fn remaining_of(&self, bad: u64, expected_total: f64) -> f64 {
        if expected_total <= 0.0 {
            return 1.0;
        }
        1.0 - bad as f64 / (self.cfg.error_budget() * expected_total)
    }

    fn evaluate_locked(&self, s: &mut State, at_nanos: u64, events: &mut Vec<Event>) {
        s.last_eval_tick = at_nanos / EVAL_TICK;
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
        // Which rule (if any) first holds for each alert, to name it when the alert fires.
        let mut reason: [Option<(usize, f64, f64)>; 2] = [None; 2];
        for (i, rule) in self.cfg.rules.iter().enumerate() {
            let (long, short) = (s.sums[2 * i], s.sums[2 * i + 1]);
            let (bl, bs) = (self.burn(&long), self.burn(&short));
            let k = AlertKind::of(rule.severity).index();
            let factor = if s.alert_firing[k].is_some() {
                rule.factor * self.cfg.resolve_ratio
            } else {
                rule.factor
            };
            // A rule is armed once the SLO has watched for its short window (a window that has not
            // filled yet would judge a young process on its first few calls). Until its long
            // window has filled, it holds fewer calls than the rule was sized for, and a burn just
            // below the factor crosses it by chance: then the excess must also be significant.
            let sigmas = if seen < rule.long_seconds {
                self.cfg.confidence_sigmas.max(YOUNG_WINDOW_SIGMAS)
            } else {
                self.cfg.confidence_sigmas
            };
            let on = seen >= rule.short_seconds
                && long.total >= self.cfg.min_calls as u64
                && bl >= factor
                && bs >= factor
                && self.significant(&long, factor, sigmas);
            s.rule_holds[i] = on;
            if on && reason[k].is_none() {
                reason[k] = Some((i, bl, bs));
            }
        }
        let fast_kind = self.cfg.fast_burn.map(|f| AlertKind::of(f.severity));
        for k in [AlertKind::Page, AlertKind::Ticket] {
            let fast = fast_kind == Some(k) && s.fast_holds;
            let holds = reason[k.index()].is_some() || fast;
            match (s.alert_firing[k.index()], holds) {
                (None, true) => {
                    let (severity, text, value, threshold) = match reason[k.index()] {
                        Some((i, bl, bs)) => {
                            let r = &self.cfg.rules[i];
                            (
                                r.severity,
                                format!(
                                    "burning its error budget at {:.1}x over {} ({:.1}x over {}), rule {} at {}x",
                                    bl,
                                    duration_label(r.long_seconds),
                                    bs,
                                    duration_label(r.short_seconds),
                                    r.label(),
                                    r.factor
                                ),
                                bl.min(bs),
                                r.factor,
                            )
                        }
                        None => {
                            let f = self.cfg.fast_burn.expect("fast holds only when configured");
                            let score = s.fast.map_or(0.0, |t| t.score());
                            (
                                f.severity,
                                format!(
                                    "the sequential test finds recent calls burning the budget at {}x rather than {}x",
                                    f.factor, f.baseline_factor
                                ),
                                score,
                                f.threshold,
                            )
                        }
                    };
                    s.alert_firing[k.index()] = Some(severity);
                    events.push(self.alert_event(
                        k,
                        severity,
                        EventState::Firing,
                        text,
                        value,
                        threshold,
                        at_nanos,
                    ));
                }
                (Some(severity), false) => {
                    s.alert_firing[k.index()] = None;
                    let burn5 = s.minutes.sum_last(at_nanos, 5);
                    let b = self.burn(&burn5);
                    events.push(self.alert_event(
                        k,
                        severity,
                        EventState::Resolved,
                        format!(
                            "no {} rule holds any more ({:.1}x over the last 5m)",
                            k.as_str(),
                            b
                        ),
                        b,
                        0.0,
                        at_nanos,
                    ));
                }
                _ => {}
            }
        }
        let (budget, expected, _, _) = self.budget_locked(s, at_nanos);
        let remaining = self.remaining_of(budget.bad, expected);
        let allowed = self.cfg.error_budget() * expected;
        let significant =
            budget.bad as f64 >= allowed + self.cfg.confidence_sigmas * allowed.sqrt();
        if !s.budget_exhausted && remaining <= 0.0 && significant {
            s.budget_exhausted = true;
            events.push(self.budget_event(EventState::Firing, remaining, at_nanos));
        } else if s.budget_exhausted && remaining >= self.cfg.budget_recover {
            s.budget_exhausted = false;
            events.push(self.budget_event(EventState::Resolved, remaining, at_nanos));
        }
    }

    fn budget_remaining_locked(&self, s: &State, at_nanos: u64) -> f64 {
        let (c, expected, _, _) = self.budget_locked(s, at_nanos);
        self.remaining_of(c.bad, expected)
    }

    /// The fraction of the error budget left over the SLO window (negative when overspent); a
    /// history shorter than the window is extrapolated (see `SloSnapshot::budget_basis`).
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
                    s.rule_holds[i],
                )
            })
            .collect();
        let (_, _, basis, coverage) = self.budget_locked(&s, at_nanos);
        SloSnapshot {
            name: self.cfg.name.clone(),
            objective: self.cfg.objective,
            total: s.total,
            bad: s.bad,
            synthetic_excluded: s.synthetic,
            stale_dropped: s.stale,
            budget_remaining: self.budget_remaining_locked(&s, at_nanos),
            budget_basis: basis,
            budget_coverage: coverage,
            rules,
            fast_burn_score: s.fast.map(|f| f.score()),
            fast_burn_firing: s.fast_holds,
            page_firing: s.alert_firing[AlertKind::Page.index()].is_some(),
            ticket_firing: s.alert_firing[AlertKind::Ticket.index()].is_some(),
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

    #[allow(clippy::too_many_arguments)]
    fn alert_event(
        &self,
        kind: AlertKind,
        severity: Severity,
        state: EventState,
        text: String,
        value: f64,
        threshold: f64,
        at_nanos: u64,
    ) -> Event {
        let labels = vec![
            ("slo".into(), self.cfg.name.clone()),
            ("alert".into(), kind.as_str().to_string()),
        ];
        let message = match state {
            EventState::Firing => format!("SLO {} {}: {}", self.cfg.name, kind.as_str(), text),
            EventState::Resolved => {
                format!("SLO {} {} resolved: {}", self.cfg.name, kind.as_str(), text)
            }
        };
        Event {
            name: "slo.burn_rate",
            dedup_key: Event::key("slo.burn_rate", &self.cfg.name, &labels),
            source: self.cfg.name.clone(),
            severity,
            state,
            labels,
            value,
            threshold,
            message,
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
