//! The router: picks the endpoint for each attempt and learns from how it went. `pick` returns one
//! integer token (endpoint index, breaker permit, start time) that the host hands back to `success`,
//! `failure`, `release` or `lost`; those return whether events are waiting in `drain_events`.
//! Everything on the way is atomics; the only allocation is an event, and events are rare.
//!
//! One call, as every host runs it (the host only executes: it calls, awaits, sleeps, cancels):
//! `pick(0)` → call the endpoint → `success` / `failure` (or `release` for an error not blamed on the
//! endpoint, which ends the call) → after a failure `next(tried)` names the next endpoint or says give
//! up (attempts used, or none left). With hedging, `hedge_delay(token)` says how long to wait on an
//! attempt; if it is still running then, `hedge(token, tried)` decides whether to hedge now (budget,
//! attempts left, an endpoint left) and picks the hedge's endpoint; the first success wins and the
//! other attempt is handed to `lost` (cancelled or its result discarded, and counted).
//!
//! Order of a pick: a recovering higher-priority region first (failback after the stable period, a
//! trickle probe or a half-open probe meanwhile), then the active region (its half-open probes, then
//! the strategy over its healthy members), then the other regions in priority order (switching the
//! active region when it has no healthy member left), then ejected endpoints as a last resort (never
//! one whose breaker is open or that is cooling down).

use super::cooldown::CooldownConfig;
use super::ejection::EjectionConfig;
use super::endpoint::{Endpoint, EndpointConfig, Health};
use super::event::{EventKind, RouteEvent};
use super::failover::{FailoverConfig, Recovered, Recovery, Region, Regions, Switched};
use super::hedge::HedgeConfig;
use super::strategy::Strategy;
use crate::clock::ClockRef;
use crate::error::{check, Error, Result};
use crate::policy::breaker::{BreakerConfig, CircuitBreaker, Outcome, Permit, State};
use crate::policy::outcome_window::WindowSpec;
use crate::random::Random;
use crossbeam_queue::ArrayQueue;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const C: &str = "Router";
/// Endpoints per router: a call's tried set is one `u64` bitmask.
pub const MAX_ENDPOINTS: usize = 64;
const EVENT_CAPACITY: usize = 1024;

// ---- the token ----------------------------------------------------------------------------
// Below 2^53 so it is exact in a JS number: bits 0..6 endpoint, 6..23 breaker permit (generation and
// probe bit; endpoint breakers are never timed), 23..53 start time in 4.096 µs units (wraps after
// 73 minutes; a call longer than that measures modulo the wrap).
const IDX_MASK: u64 = 63;
const PERMIT_SHIFT: u32 = 6;
const PERMIT_MASK: u64 = (1 << 17) - 1;
const START_SHIFT: u32 = 23;
const START_MASK: u64 = (1 << 30) - 1;
const UNIT_SHIFT: u32 = 12;

#[inline]
fn pack(i: usize, permit: Permit, now: u64) -> u64 {
    i as u64
        | ((permit.token() & PERMIT_MASK) << PERMIT_SHIFT)
        | (((now >> UNIT_SHIFT) & START_MASK) << START_SHIFT)
}

/// The endpoint index a token names.
#[inline]
pub fn token_endpoint(token: u64) -> usize {
    (token & IDX_MASK) as usize
}

#[derive(Debug, Clone, PartialEq)]
pub struct RouterConfig {
    pub name: String,
    pub strategy: Strategy,
    pub endpoints: Vec<EndpointConfig>,
    /// Each endpoint's breaker: trips at this failure rate over the last `window` calls, once
    /// `min_calls` were seen, and stays open `open_seconds` before a half-open probe.
    pub failure_rate: f64,
    pub window: u32,
    pub min_calls: u32,
    pub open_seconds: f64,
    pub ejection: EjectionConfig,
    pub cooldown: CooldownConfig,
    pub failover: FailoverConfig,
    pub hedge: Option<HedgeConfig>,
    /// The peak-EWMA decay time.
    pub ewma_seconds: f64,
    /// Endpoints one call may try, hedges included, each at most once; `None`: all of them.
    pub attempts: Option<u32>,
    /// The latency window behind the hedge delay and `latency_p95_seconds`: the estimate covers the
    /// last one to two windows (`route::latency_window`).
    pub latency_window_seconds: f64,
    /// Seeds the random choices (`weighted`, `p2c_ewma`, tie-breaks) for reproducible tests.
    pub seed: Option<u64>,
}

impl RouterConfig {
    pub fn new(
        name: impl Into<String>,
        strategy: Strategy,
        endpoints: Vec<EndpointConfig>,
    ) -> Self {
        Self {
            name: name.into(),
            strategy,
            endpoints,
            failure_rate: 0.5,
            window: 20,
            min_calls: 10,
            open_seconds: 30.0,
            ejection: EjectionConfig::default(),
            cooldown: CooldownConfig::default(),
            failover: FailoverConfig::default(),
            hedge: None,
            ewma_seconds: 10.0,
            attempts: None,
            latency_window_seconds: 30.0,
            seed: None,
        }
    }

    pub fn validate(&self) -> Result<()> {
        let n = self.endpoints.len();
        if n == 0 || n > MAX_ENDPOINTS {
            return Err(Error::out_of_range(
                C,
                "endpoints",
                format!("{n} endpoints"),
                format!("1 to {MAX_ENDPOINTS} endpoints"),
            ));
        }
        for (k, e) in self.endpoints.iter().enumerate() {
            e.validate()?;
            if self.endpoints[..k].iter().any(|o| o.name == e.name) {
                return Err(Error::conflict(
                    C,
                    "endpoints",
                    format!("{:?}", e.name),
                    "endpoint names must be unique",
                ));
            }
            if let Some(o) = self.endpoints[..k]
                .iter()
                .find(|o| o.region.is_some() && o.region == e.region && o.priority != e.priority)
            {
                return Err(Error::conflict(
                    C,
                    "priority",
                    e.priority,
                    format!(
                        "endpoint {:?} is in region {:?} with priority {}; one region has one priority",
                        e.name,
                        e.region.as_deref().unwrap_or(""),
                        o.priority
                    ),
                ));
            }
        }
        check::rate(C, "failure_rate", self.failure_rate)?;
        check::int_range(C, "window", self.window as u64, 1, 10_000)?;
        check::int_range(C, "min_calls", self.min_calls as u64, 1, 1_000_000_000)?;
        check::finite_positive(C, "open_seconds", self.open_seconds)?;
        check::finite_positive(C, "ewma_seconds", self.ewma_seconds)?;
        check::finite_positive(C, "latency_window_seconds", self.latency_window_seconds)?;
        if let Some(a) = self.attempts {
            check::int_range(C, "attempts", a as u64, 1, n as u64)?;
            if a == 1 && self.hedge.is_some() {
                return Err(Error::conflict(
                    C,
                    "attempts",
                    a,
                    "a hedge is a second attempt: attempts >= 2 with hedging on",
                ));
            }
        }
        self.ejection.validate()?;
        self.cooldown.validate()?;
        self.failover.validate()?;
        if let Some(h) = &self.hedge {
            h.validate()?;
        }
        Ok(())
    }
}

/// One endpoint in `Router::stats`.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointStats {
    pub name: String,
    pub region: String,
    pub health: Health,
    pub breaker: State,
    pub requests: u64,
    pub successes: u64,
    pub errors: u64,
    pub released: u64,
    pub outstanding: u32,
    pub latency_ewma_seconds: Option<f64>,
    pub latency_p95_seconds: Option<f64>,
    pub ejections: u64,
    pub cooldowns: u64,
    pub hedges: u64,
    pub probes: u64,
    pub cooldown_remaining_seconds: f64,
    pub ejected_remaining_seconds: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RouterStats {
    pub name: String,
    pub strategy: Strategy,
    pub active_region: String,
    pub regions: Vec<String>,
    pub failovers: u64,
    pub failbacks: u64,
    /// The last failover's recovery time: from the outage's first failure to the first success on
    /// the region failed over to (`None`: no failover has recovered yet).
    pub last_failover_rto_seconds: Option<f64>,
    pub hedges: u64,
    /// Attempts that lost a hedge race: cancelled, or their outcome discarded.
    pub hedges_lost: u64,
    /// Picks that found no endpoint to offer.
    pub unavailable: u64,
    /// Picks that fell back to an ejected endpoint because nothing healthy was left.
    pub last_resort: u64,
    pub events_dropped: u64,
    pub endpoints: Vec<EndpointStats>,
}

pub struct Router {
    name: String,
    strategy: Strategy,
    pub(crate) eps: Vec<Endpoint>,
    pub(crate) regions: Regions,
    clock: ClockRef,
    rng: Random,
    attempts: u32,
    ejection: EjectionConfig,
    eject_cap: usize,
    cooldown: CooldownConfig,
    hedge: Option<HedgeConfig>,
    switch_metrics: super::collect::SwitchMetrics,
    /// The last failover's recovery time (0: none yet).
    rto_last_nanos: AtomicU64,
    pub(crate) hedges: AtomicU64,
    hedges_lost: AtomicU64,
    unavailable: AtomicU64,
    last_resort: AtomicU64,
    events: Arc<ArrayQueue<RouteEvent>>,
    dropped: Arc<AtomicU64>,
    /// Shared health (`health_sync`): endpoints cooled down or ejected here and not yet published
    /// (bit `i` for endpoint `i`), whether a local region switch waits to be published, and the
    /// sync thread's wake-up. Touched only on failures and switches, never on a pick or a success.
    shared_dirty: AtomicU64,
    region_dirty: std::sync::atomic::AtomicBool,
    shared_wake: std::sync::OnceLock<Box<dyn Fn() + Send + Sync>>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("name", &self.name)
            .field("strategy", &self.strategy)
            .field("endpoints", &self.eps.len())
            .finish()
    }
}

fn push(events: &ArrayQueue<RouteEvent>, dropped: &AtomicU64, ev: RouteEvent) {
    if events.push(ev).is_err() {
        // Nobody drains (a Rust user who never calls `drain_events`): count, and warn at powers of two
        // so the log is not flooded.
        let n = dropped.fetch_add(1, Ordering::Relaxed) + 1;
        crate::telemetry::builtin::dropped("router_event", 1);
        if n.is_power_of_two() {
            log::warn!(
                "ferrule router: {n} events dropped, the event queue is full (drain_events)"
            );
        }
    }
}

impl Router {
    pub fn new(config: RouterConfig) -> Result<Self> {
        Self::with_clock(config, ClockRef::System)
    }

    pub fn with_clock(config: RouterConfig, clock: impl Into<ClockRef>) -> Result<Self> {
        config.validate()?;
        let clock = clock.into();
        super::collect::families();
        let events = Arc::new(ArrayQueue::new(EVENT_CAPACITY));
        let dropped = Arc::new(AtomicU64::new(0));
        // Regions in priority order, ties in order of first appearance.
        let mut regions: Vec<Region> = Vec::new();
        for e in &config.endpoints {
            let rn = e.region_name();
            if !regions.iter().any(|r| r.name == rn) {
                regions.push(Region::new(rn, e.priority));
            }
        }
        regions.sort_by_key(|r| r.priority);
        let mut eps = Vec::with_capacity(config.endpoints.len());
        for (i, e) in config.endpoints.iter().enumerate() {
            let rn = e.region_name();
            let r = regions.iter().position(|x| x.name == rn).unwrap_or(0);
            regions[r].members.push(i);
            let breaker = CircuitBreaker::with_clock(
                BreakerConfig {
                    name: format!("{}/{}", config.name, e.name),
                    failure_rate: Some(config.failure_rate),
                    consecutive_failures: None,
                    window: WindowSpec::Count(config.window),
                    min_calls: config.min_calls,
                    slow_call_seconds: None,
                    slow_call_rate: None,
                    open_seconds: config.open_seconds,
                    max_open_seconds: None,
                    open_multiplier: 2.0,
                    half_open_calls: 1,
                },
                clock.clone(),
            )?;
            let (q, d, router, endpoint) = (
                events.clone(),
                dropped.clone(),
                config.name.clone(),
                e.name.clone(),
            );
            breaker.on_transition(move |t| {
                push(
                    &q,
                    &d,
                    RouteEvent {
                        kind: EventKind::Breaker,
                        router: router.clone(),
                        endpoint: endpoint.clone(),
                        from: t.from.as_str().into(),
                        to: t.to.as_str().into(),
                        reason: t.reason.as_str().into(),
                        seconds: t.open_for.map(|d| d.as_secs_f64()),
                        at_nanos: t.at_nanos,
                    },
                )
            });
            eps.push(Endpoint::new(
                e.clone(),
                r,
                breaker,
                (config.ewma_seconds * 1e9) as u64,
                (config.latency_window_seconds * 1e9) as u64,
                config
                    .hedge
                    .map_or(HedgeConfig::default().min_samples, |h| h.min_samples),
            ));
        }
        let rng = match config.seed {
            Some(s) => Random::seeded(s),
            None => Random::from_entropy(),
        };
        Ok(Self {
            eject_cap: config.ejection.cap(eps.len()),
            eps,
            regions: Regions::new(regions, &config.failover),
            clock,
            rng,
            attempts: config.attempts.unwrap_or(config.endpoints.len() as u32),
            ejection: config.ejection,
            cooldown: config.cooldown,
            hedge: config.hedge,
            switch_metrics: super::collect::SwitchMetrics::new(&config.name),
            rto_last_nanos: AtomicU64::new(0),
            hedges: AtomicU64::new(0),
            hedges_lost: AtomicU64::new(0),
            unavailable: AtomicU64::new(0),
            last_resort: AtomicU64::new(0),
            events,
            dropped,
            shared_dirty: AtomicU64::new(0),
            region_dirty: std::sync::atomic::AtomicBool::new(false),
            shared_wake: std::sync::OnceLock::new(),
            strategy: config.strategy,
            name: config.name,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    pub fn endpoint_count(&self) -> usize {
        self.eps.len()
    }

    pub fn endpoint_name(&self, i: usize) -> &str {
        &self.eps[i].config.name
    }

    pub fn active_region(&self) -> &str {
        &self.regions.regions[self.regions.active()].name
    }

    pub fn now_nanos(&self) -> u64 {
        self.clock.now_nanos()
    }

    #[allow(clippy::too_many_arguments)]
    fn event(
        &self,
        kind: EventKind,
        endpoint: &str,
        from: &str,
        to: &str,
        reason: &str,
        seconds: Option<f64>,
        at: u64,
    ) {
        push(
            &self.events,
            &self.dropped,
            RouteEvent {
                kind,
                router: self.name.clone(),
                endpoint: endpoint.into(),
                from: from.into(),
                to: to.into(),
                reason: reason.into(),
                seconds,
                at_nanos: at,
            },
        );
    }

    fn region_healthy(&self, r: usize, now: u64) -> bool {
        self.regions.regions[r]
            .members
            .iter()
            .any(|&i| self.eps[i].health(now) == Health::Healthy)
    }

    /// Admits a call on endpoint `i`: its breaker's permit and a slot in flight.
    #[inline]
    fn admit(&self, i: usize, now: u64, probe: bool) -> Option<u64> {
        let ep = &self.eps[i];
        let (permit, _) = ep.breaker.acquire().ok()?;
        if !ep.enter() {
            ep.breaker.record(permit, Outcome::Ignored);
            return None;
        }
        ep.requests.inc();
        if probe || permit_is_probe(permit) {
            ep.probes.fetch_add(1, Ordering::Relaxed);
        }
        Some(pack(i, permit, now))
    }

    /// Chooses within region `r` among endpoints not in `tried`: a due half-open probe first, then
    /// the strategy over the healthy ones.
    #[inline]
    fn choose_in(&self, r: usize, tried: u64, now: u64, probe: bool) -> Option<u64> {
        let mut cands = [0usize; MAX_ENDPOINTS];
        let mut n = 0;
        for &i in &self.regions.regions[r].members {
            if tried & (1u64 << i) != 0 {
                continue;
            }
            match self.eps[i].health(now) {
                Health::Healthy => {
                    cands[n] = i;
                    n += 1;
                }
                Health::Probe => {
                    if let Some(t) = self.admit(i, now, true) {
                        return Some(t);
                    }
                }
                _ => {}
            }
        }
        while n > 0 {
            let k = self.strategy.choose(&cands[..n], &self.eps, &self.rng);
            if let Some(t) = self.admit(cands[k], now, probe) {
                return Some(t);
            }
            // Lost a race (breaker tripped, endpoint filled up): drop it and choose again.
            cands[k] = cands[n - 1];
            n -= 1;
        }
        None
    }

    /// Chooses the endpoint for one attempt. `tried` is the bitmask of endpoint indices this call
    /// already used (bit `i` for endpoint `i`): they are skipped, so a failed attempt moves on.
    /// Returns the token to hand back, or `Error::CircuitOpen` (named after the router) when no
    /// endpoint can take the call, with the time until one may.
    pub fn pick(&self, tried: u64) -> Result<u64> {
        let now = self.clock.now_nanos();
        let active = self.regions.active();
        for r in 0..active {
            let healthy = self.region_healthy(r, now);
            match self.regions.recovery(r, healthy, now) {
                Recovery::FailBack => {
                    if let Some(m) = self.regions.switch(active, r, true, now) {
                        self.switched(active, r, m, now);
                    }
                    if let Some(t) = self.choose_in(r, tried, now, false) {
                        return Ok(t);
                    }
                }
                Recovery::Probe => {
                    if let Some(t) = self.choose_in(r, tried, now, true) {
                        return Ok(t);
                    }
                }
                Recovery::Wait => {
                    // Unhealthy: its half-open probes, if any are due, still go there.
                    if !healthy {
                        if let Some(t) = self.probe_in(r, tried, now) {
                            return Ok(t);
                        }
                    }
                }
            }
        }
        let active = self.regions.active();
        if let Some(t) = self.choose_in(active, tried, now, false) {
            return Ok(t);
        }
        let active_dead = !self.region_healthy(active, now);
        for r in 0..self.regions.regions.len() {
            if r == active {
                continue;
            }
            if let Some(t) = self.choose_in(r, tried, now, false) {
                if active_dead {
                    if let Some(m) = self.regions.switch(active, r, false, now) {
                        self.switched(active, r, m, now);
                    }
                }
                return Ok(t);
            }
        }
        // Last resort: an ejected endpoint (its breaker closed, not cooling down) rather than none,
        // the one whose ejection ends first.
        let mut best: Option<(u64, usize)> = None;
        for (i, ep) in self.eps.iter().enumerate() {
            if tried & (1u64 << i) == 0 && ep.health(now) == Health::Ejected {
                let rem = ep.ejection.remaining(now);
                if best.is_none_or(|(b, _)| rem < b) {
                    best = Some((rem, i));
                }
            }
        }
        if let Some((_, i)) = best {
            if let Some(t) = self.admit(i, now, false) {
                self.last_resort.fetch_add(1, Ordering::Relaxed);
                return Ok(t);
            }
        }
        self.unavailable.fetch_add(1, Ordering::Relaxed);
        Err(Error::CircuitOpen {
            breaker: format!("router {}", self.name),
            retry_after: self.next_available(tried, now),
        })
    }

    /// Reports a region switch this caller made: the event, and what it measured in the switch
    /// histograms. A failover's event carries how long ago the outage began; a failback's, how long
    /// traffic stayed away (the stable period when unknown).
    fn switched(&self, from: usize, to: usize, m: Switched, now: u64) {
        self.report_switch(from, to, m, now, false);
        if self.shared_wake.get().is_some() {
            self.region_dirty.store(true, Ordering::Release);
            self.wake_sync();
        }
    }

    /// `shared`: the switch was made in another process and applied here (its events say so).
    fn report_switch(&self, from: usize, to: usize, m: Switched, now: u64, shared: bool) {
        let names = (
            &self.regions.regions[from].name,
            &self.regions.regions[to].name,
        );
        let secs = |n: u64| n as f64 / 1e9;
        match m.away {
            None => {
                if let Some(idle) = m.standby_idle {
                    self.switch_metrics.standby_idle.observe(secs(idle));
                }
                let since = self
                    .regions
                    .outage_began()
                    .map(|t| secs(now.saturating_sub(t)));
                self.event(
                    EventKind::Failover,
                    "",
                    names.0,
                    names.1,
                    if shared {
                        "shared"
                    } else {
                        "no_healthy_endpoint"
                    },
                    since,
                    now,
                );
            }
            Some(away) => {
                self.switch_metrics.away.observe(secs(away));
                self.event(
                    EventKind::Failback,
                    "",
                    names.0,
                    names.1,
                    if shared { "shared" } else { "stable_for" },
                    Some(secs(away)),
                    now,
                );
            }
        }
    }

    // ---- shared health (`route::health_sync`) ----------------------------------------------------

    /// Endpoint `i` was cooled down or ejected here: publish it at once if a sync is attached.
    fn share(&self, i: usize) {
        if self.shared_wake.get().is_some() {
            self.shared_dirty.fetch_or(1u64 << i, Ordering::AcqRel);
            self.wake_sync();
        }
    }

    fn wake_sync(&self) {
        if let Some(w) = self.shared_wake.get() {
            w();
        }
    }

    /// Attaches the shared-health thread's wake-up; false if one is already attached.
    pub(crate) fn attach_sync(&self, wake: Box<dyn Fn() + Send + Sync>) -> bool {
        self.shared_wake.set(wake).is_ok()
    }

    /// Endpoints changed here since the last call (bitmask), and whether the active region did.
    pub(crate) fn take_shared_changes(&self) -> (u64, bool) {
        (
            self.shared_dirty.swap(0, Ordering::AcqRel),
            self.region_dirty.swap(false, Ordering::AcqRel),
        )
    }

    /// Puts back changes a failed sync could not publish.
    pub(crate) fn restore_shared_changes(&self, endpoints: u64, region: bool) {
        self.shared_dirty.fetch_or(endpoints, Ordering::AcqRel);
        if region {
            self.region_dirty.store(true, Ordering::Release);
        }
    }

    /// Endpoint `i`'s remaining cooldown and ejection at `now`, nanoseconds.
    pub(crate) fn endpoint_rest(&self, i: usize, now: u64) -> (u64, u64) {
        let ep = &self.eps[i];
        (
            ep.cooldown_until
                .load(Ordering::Relaxed)
                .saturating_sub(now),
            ep.ejection.remaining(now),
        )
    }

    /// A cooldown published by another process: endpoint `i` rests until `until` (this router's
    /// clock) unless it already rests longer (the longest cooldown wins). True when it was extended
    /// by more than `slack` (then an event says so).
    pub(crate) fn apply_shared_cooldown(&self, i: usize, until: u64, now: u64, slack: u64) -> bool {
        let ep = &self.eps[i];
        let prev = ep.cooldown_until.fetch_max(until, Ordering::AcqRel);
        if until <= prev.saturating_add(slack) {
            return false;
        }
        self.event(
            EventKind::CooledDown,
            &ep.config.name,
            "",
            "",
            "shared",
            Some(until.saturating_sub(now) as f64 / 1e9),
            now,
        );
        true
    }

    /// An ejection published by another process: endpoint `i` is out until `until`, so it returns
    /// everywhere at once. Within the router's ejection cap, as a local one.
    pub(crate) fn apply_shared_ejection(&self, i: usize, until: u64, now: u64, slack: u64) -> bool {
        let ep = &self.eps[i];
        let cur = ep.ejection.until.load(Ordering::Relaxed);
        if until <= cur.saturating_add(slack) {
            return false;
        }
        let out = self.eps.iter().filter(|e| e.ejection.ejected(now)).count();
        if !ep.ejection.ejected(now) && out >= self.eject_cap {
            return false;
        }
        ep.ejection.until.fetch_max(until, Ordering::AcqRel);
        self.event(
            EventKind::Ejected,
            &ep.config.name,
            "",
            "",
            "shared",
            Some(until.saturating_sub(now) as f64 / 1e9),
            now,
        );
        true
    }

    /// The index of the region named `name`.
    pub(crate) fn region_index(&self, name: &str) -> Option<usize> {
        self.regions.regions.iter().position(|r| r.name == name)
    }

    /// Another process switched the active region to `to`: follow it. True when this switched.
    pub(crate) fn apply_shared_region(&self, to: usize, now: u64) -> bool {
        let from = self.regions.active();
        match self.regions.switch(from, to, to < from, now) {
            Some(m) => {
                self.report_switch(from, to, m, now, true);
                true
            }
            None => false,
        }
    }

    /// A failover's first success on the region it moved to: its recovery time, measured.
    #[cold]
    fn recovered(&self, r: Recovered, now: u64) {
        let rto = r.rto as f64 / 1e9;
        self.switch_metrics.rto.observe(rto);
        self.rto_last_nanos.store(r.rto.max(1), Ordering::Relaxed);
        self.event(
            EventKind::Recovered,
            "",
            &self.regions.regions[r.from].name,
            &self.regions.regions[r.to].name,
            "first_success",
            Some(rto),
            now,
        );
    }

    fn probe_in(&self, r: usize, tried: u64, now: u64) -> Option<u64> {
        self.regions.regions[r].members.iter().find_map(|&i| {
            (tried & (1u64 << i) == 0 && self.eps[i].health(now) == Health::Probe)
                .then(|| self.admit(i, now, true))
                .flatten()
        })
    }

    /// The shortest wait until an untried endpoint may take traffic (zero when unknown).
    fn next_available(&self, tried: u64, now: u64) -> Duration {
        let mut best = u64::MAX;
        for (i, ep) in self.eps.iter().enumerate() {
            if tried & (1u64 << i) != 0 {
                continue;
            }
            let cool = ep
                .cooldown_until
                .load(Ordering::Relaxed)
                .saturating_sub(now);
            let open = ep
                .breaker
                .snapshot()
                .open_remaining
                .map_or(0, |d| d.as_nanos() as u64);
            best = best.min(cool.max(open));
        }
        Duration::from_nanos(if best == u64::MAX { 0 } else { best })
    }

    #[inline]
    fn unpack(&self, token: u64) -> (&Endpoint, Permit, u64, u64) {
        let ep = &self.eps[token_endpoint(token).min(self.eps.len() - 1)];
        let now = self.clock.now_nanos();
        let start = (token >> START_SHIFT) & START_MASK;
        let dur = (((now >> UNIT_SHIFT).wrapping_sub(start)) & START_MASK) << UNIT_SHIFT;
        (
            ep,
            Permit::from_token((token >> PERMIT_SHIFT) & PERMIT_MASK),
            now,
            dur,
        )
    }

    /// The attempt succeeded. Returns whether events wait in `drain_events`.
    #[inline]
    pub fn success(&self, token: u64) -> bool {
        let (ep, permit, now, dur) = self.unpack(token);
        ep.leave();
        ep.successes.inc();
        ep.measure(dur, now, self.hedge.map(|h| h.quantile));
        ep.ejection.on_success(now);
        ep.breaker.record(permit, Outcome::Success);
        if let Some(r) = self.regions.served(ep.region, now) {
            self.recovered(r, now);
        }
        !self.events.is_empty()
    }

    /// The attempt failed. `status` is the HTTP status if the error carried one, `retry_after_seconds`
    /// the provider's hint (`policy::retry_hint`); a 429 or a hint cools the endpoint down.
    pub fn failure(
        &self,
        token: u64,
        status: Option<u16>,
        retry_after_seconds: Option<f64>,
    ) -> bool {
        let (ep, permit, now, _) = self.unpack(token);
        ep.leave();
        ep.errors.inc();
        ep.breaker.record(permit, Outcome::Failure);
        self.regions.failed(ep.region, now);
        if let Some(rest) = self.cooldown.rest_nanos(status, retry_after_seconds) {
            ep.cooldown_until.fetch_max(now + rest, Ordering::AcqRel);
            ep.cooldowns.fetch_add(1, Ordering::Relaxed);
            self.share(token_endpoint(token));
            let reason = if retry_after_seconds.is_some() {
                "retry_after"
            } else {
                "status_429"
            };
            self.event(
                EventKind::CooledDown,
                &ep.config.name,
                "",
                "",
                reason,
                Some(rest as f64 / 1e9),
                now,
            );
        }
        if let Some(len) = ep.ejection.on_failure(&self.ejection) {
            let out = self.eps.iter().filter(|e| e.ejection.ejected(now)).count();
            if out < self.eject_cap && ep.ejection.eject(now, len) {
                ep.ejections.fetch_add(1, Ordering::Relaxed);
                self.share(token_endpoint(token));
                self.event(
                    EventKind::Ejected,
                    &ep.config.name,
                    "",
                    "",
                    "consecutive_failures",
                    Some(len as f64 / 1e9),
                    now,
                );
            }
        }
        !self.events.is_empty()
    }

    /// The attempt ended as neither success nor failure: a hedge that lost the race and was
    /// cancelled, or an error the host does not blame on the endpoint.
    pub fn release(&self, token: u64) -> bool {
        let (ep, permit, _, _) = self.unpack(token);
        ep.leave();
        ep.released.inc();
        ep.breaker.record(permit, Outcome::Ignored);
        !self.events.is_empty()
    }

    /// How long to wait on the attempt `token` before hedging, or `None` (hedging off, or the
    /// endpoint has fewer than `min_samples` measured calls).
    pub fn hedge_delay(&self, token: u64) -> Option<Duration> {
        let h = self.hedge?;
        let ep = &self.eps[token_endpoint(token).min(self.eps.len() - 1)];
        if ep.measured() < h.min_samples {
            return None;
        }
        let q = ep.hedge_quantile_nanos() as f64 / 1e9;
        Some(Duration::from_secs_f64(q.max(h.min_delay_seconds)))
    }

    /// The endpoint for the next attempt of a call whose attempts so far failed on the endpoints in
    /// `tried`, or `None` to give up: the call has used its `attempts`, or no untried endpoint can
    /// take it (then counted in `unavailable`). The host raises the last attempt's error on `None`.
    #[inline]
    pub fn next(&self, tried: u64) -> Option<u64> {
        if tried.count_ones() >= self.attempts {
            return None;
        }
        self.pick(tried).ok()
    }

    /// The attempt `token` has run for its `hedge_delay` and is still running: whether to hedge it
    /// now, and where. `tried` holds the call's endpoints so far (`token`'s among them or not).
    /// Returns the hedge's token — hedging on, the call has an attempt left, the hedge budget allows
    /// one more and an untried endpoint can take it; the hedge is then counted — or `None`: keep
    /// waiting on `token` alone.
    pub fn hedge(&self, token: u64, tried: u64) -> Option<u64> {
        let h = self.hedge?;
        let first = token_endpoint(token).min(self.eps.len() - 1);
        let tried = tried | (1u64 << first);
        if tried.count_ones() >= self.attempts {
            return None;
        }
        let requests: u64 = self.eps.iter().map(|e| e.requests.get()).sum();
        let hedges = self.hedges.load(Ordering::Relaxed);
        // The budget is a share of the calls, so the hedges themselves are not in the denominator.
        if !h.within_budget(requests.saturating_sub(hedges), hedges) {
            return None;
        }
        let t = self.pick(tried).ok()?;
        self.hedges.fetch_add(1, Ordering::Relaxed);
        self.eps[first].hedges.fetch_add(1, Ordering::Relaxed);
        Some(t)
    }

    /// The attempt `token` lost a hedge race: the host cancelled it (async) or will discard its
    /// result (a thread that cannot be stopped). Frees it like `release` and counts it in
    /// `hedges_lost`.
    pub fn lost(&self, token: u64) -> bool {
        self.hedges_lost.fetch_add(1, Ordering::Relaxed);
        self.release(token)
    }

    /// Takes up to `max` pending events, oldest first.
    pub fn drain_events(&self, max: usize) -> Vec<RouteEvent> {
        let mut out = Vec::new();
        while out.len() < max {
            match self.events.pop() {
                Some(e) => out.push(e),
                None => break,
            }
        }
        out
    }

    pub fn stats(&self) -> RouterStats {
        let now = self.clock.now_nanos();
        RouterStats {
            name: self.name.clone(),
            strategy: self.strategy,
            active_region: self.active_region().to_string(),
            regions: self
                .regions
                .regions
                .iter()
                .map(|r| r.name.clone())
                .collect(),
            failovers: self.regions.failovers.load(Ordering::Relaxed),
            failbacks: self.regions.failbacks.load(Ordering::Relaxed),
            last_failover_rto_seconds: match self.rto_last_nanos.load(Ordering::Relaxed) {
                0 => None,
                n => Some(n as f64 / 1e9),
            },
            hedges: self.hedges.load(Ordering::Relaxed),
            hedges_lost: self.hedges_lost.load(Ordering::Relaxed),
            unavailable: self.unavailable.load(Ordering::Relaxed),
            last_resort: self.last_resort.load(Ordering::Relaxed),
            events_dropped: self.dropped.load(Ordering::Relaxed),
            endpoints: self
                .eps
                .iter()
                .map(|e| {
                    let ewma = e.latency.get();
                    EndpointStats {
                        name: e.config.name.clone(),
                        region: self.regions.regions[e.region].name.clone(),
                        health: e.health(now),
                        breaker: e.breaker.state(),
                        requests: e.requests.get(),
                        successes: e.successes.get(),
                        errors: e.errors.get(),
                        released: e.released.get(),
                        outstanding: e.outstanding(),
                        latency_ewma_seconds: (e.measured() > 0).then_some(ewma / 1e9),
                        latency_p95_seconds: e
                            .window
                            .quantiles(&[0.95])
                            .first()
                            .copied()
                            .flatten()
                            .map(|v| v / 1e9),
                        ejections: e.ejections.load(Ordering::Relaxed),
                        cooldowns: e.cooldowns.load(Ordering::Relaxed),
                        hedges: e.hedges.load(Ordering::Relaxed),
                        probes: e.probes.load(Ordering::Relaxed),
                        cooldown_remaining_seconds: e
                            .cooldown_until
                            .load(Ordering::Relaxed)
                            .saturating_sub(now)
                            as f64
                            / 1e9,
                        ejected_remaining_seconds: e.ejection.remaining(now) as f64 / 1e9,
                    }
                })
                .collect(),
        }
    }
}

#[inline]
fn permit_is_probe(p: Permit) -> bool {
    p.token() & (1 << 16) != 0
}
