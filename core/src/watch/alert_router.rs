//! The alert router: routes alerts by severity and labels to sinks, groups them (`group_wait`,
//! `group_interval`), repeats still-firing groups (`repeat_interval`), inhibits warnings under a
//! firing critical with the same group labels, mutes silenced alerts until the silence expires,
//! escalates unacknowledged alerts along a chain, and caps notifications per sink with a digest.
//! Every timing rule is decided in `tick_at(now)`: tests drive it on a manual clock, the
//! background runtime calls it with the system clock.

use super::alert::{Alert, Status};
use super::alert_sink::AlertSink;
use super::event::{Event, EventState, Severity};
use super::notification::{Kind, Notification};
use super::notify_cap::{CapConfig, NotifyCap};
use crate::clock::ClockRef;
use crate::error::{Error, Result};
use arc_swap::ArcSwapOption;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

const C: &str = "AlertRouter";
const SEC: u64 = 1_000_000_000;

/// One level of an escalation chain: if a firing alert is not acknowledged `after_nanos` after it
/// started, it is sent to `sinks`.
#[derive(Debug, Clone, PartialEq)]
pub struct Escalation {
    pub after_nanos: u64,
    pub sinks: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub name: String,
    /// Sink names; empty means every sink of the router (including ones added later).
    pub sinks: Vec<String>,
    /// Alerts below this severity do not match.
    pub min_severity: Severity,
    /// Label equality matchers (`alertname` and `severity` are labels too).
    pub matchers: Vec<(String, String)>,
    pub group_by: Vec<String>,
    /// `None`: the router's default.
    pub group_wait_nanos: Option<u64>,
    pub group_interval_nanos: Option<u64>,
    pub repeat_interval_nanos: Option<u64>,
    pub escalation: Vec<Escalation>,
    /// Keep matching later routes after this one matched.
    pub continue_matching: bool,
}

impl Route {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            sinks: Vec::new(),
            min_severity: Severity::Info,
            matchers: Vec::new(),
            group_by: vec!["alertname".into()],
            group_wait_nanos: None,
            group_interval_nanos: None,
            repeat_interval_nanos: None,
            escalation: Vec::new(),
            continue_matching: false,
        }
    }

    fn matches(&self, a: &Alert) -> bool {
        a.severity >= self.min_severity
            && self
                .matchers
                .iter()
                .all(|(k, v)| a.label(k) == Some(v.as_str()))
    }
}

/// A firing alert of at least `source_min` mutes alerts of at most `target_max` that share the
/// `equal` labels (`None`: the target's group labels).
#[derive(Debug, Clone, PartialEq)]
pub struct InhibitRule {
    pub source_min: Severity,
    pub target_max: Severity,
    pub equal: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RouterConfig {
    pub routes: Vec<Route>,
    pub group_wait_nanos: u64,
    pub group_interval_nanos: u64,
    pub repeat_interval_nanos: u64,
    pub cap: CapConfig,
    pub inhibit: Vec<InhibitRule>,
    /// Alerts held at once; beyond it new alerts are dropped, counted and logged.
    pub max_alerts: usize,
}

impl Default for RouterConfig {
    /// Alertmanager's defaults (30 s / 5 min / 4 h), a cap of 5 per sink per 15 min, and "a firing
    /// critical mutes warnings with the same group labels".
    fn default() -> Self {
        Self {
            routes: Vec::new(),
            group_wait_nanos: 30 * SEC,
            group_interval_nanos: 5 * 60 * SEC,
            repeat_interval_nanos: 4 * 3600 * SEC,
            cap: CapConfig::default(),
            inhibit: vec![InhibitRule {
                source_min: Severity::Critical,
                target_max: Severity::Warning,
                equal: None,
            }],
            max_alerts: 10_000,
        }
    }
}

impl RouterConfig {
    pub fn validate(&self, sink_names: &[&str]) -> Result<()> {
        let dur = |p: &'static str, v: u64, lo: u64| {
            if v < lo {
                Err(Error::out_of_range(
                    C,
                    p,
                    format!("{}", v as f64 / 1e9),
                    format!(">= {} seconds", lo as f64 / 1e9),
                ))
            } else {
                Ok(())
            }
        };
        dur("group_wait_seconds", self.group_wait_nanos, 0)?;
        dur(
            "group_interval_seconds",
            self.group_interval_nanos,
            1_000_000,
        )?;
        dur(
            "repeat_interval_seconds",
            self.repeat_interval_nanos,
            1_000_000,
        )?;
        dur("cap_window_seconds", self.cap.window_nanos, 1_000_000)?;
        if self.cap.max == 0 {
            return Err(Error::out_of_range(C, "cap", 0, "an integer >= 1"));
        }
        if self.max_alerts == 0 {
            return Err(Error::out_of_range(C, "max_alerts", 0, "an integer >= 1"));
        }
        for r in &self.routes {
            for s in r
                .sinks
                .iter()
                .chain(r.escalation.iter().flat_map(|e| &e.sinks))
            {
                if !sink_names.contains(&s.as_str()) {
                    return Err(Error::out_of_range(
                        C,
                        "routes",
                        format!("route {:?} sink {s:?}", r.name),
                        format!("one of the router's sinks {sink_names:?}"),
                    ));
                }
            }
            if r.group_interval_nanos == Some(0) || r.repeat_interval_nanos == Some(0) {
                return Err(Error::out_of_range(
                    C,
                    "routes",
                    format!("route {:?} interval 0", r.name),
                    "group_interval_seconds and repeat_interval_seconds > 0",
                ));
            }
            if r.escalation
                .windows(2)
                .any(|w| w[1].after_nanos <= w[0].after_nanos)
            {
                return Err(Error::out_of_range(
                    C,
                    "escalate",
                    format!("route {:?}", r.name),
                    "levels in increasing order of their delay",
                ));
            }
        }
        Ok(())
    }
}

/// A silence: alerts whose labels match every matcher are muted until `ends_at` (clock nanos).
#[derive(Debug, Clone, PartialEq)]
pub struct Silence {
    pub id: u64,
    pub matchers: Vec<(String, String)>,
    pub ends_at: u64,
    pub comment: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouterStats {
    pub alerts_fired: u64,
    pub alerts_resolved: u64,
    pub active: usize,
    pub notifications: u64,
    pub escalations: u64,
    pub held_by_cap: u64,
    pub digests: u64,
    pub silenced: u64,
    pub inhibited: u64,
    pub dropped_over_max: u64,
    pub sink_errors: u64,
    pub silences: usize,
}

struct Active {
    alert: Alert,
    acked: bool,
    /// Escalation levels already sent.
    escalated: u32,
    /// Groups it belongs to (route index, group key).
    groups: Vec<(usize, String)>,
    /// Groups that still owe it a notification after it resolved.
    notified: bool,
}

struct Group {
    route: usize,
    key: String,
    members: Vec<String>,
    created: u64,
    last_flush: Option<u64>,
    dirty: bool,
}

struct RouteRt {
    cfg: Route,
    sinks: Vec<usize>,
    all_sinks: bool,
    escalation: Vec<(u64, Vec<usize>)>,
    group_wait: u64,
    group_interval: u64,
    repeat_interval: u64,
}

#[derive(Default)]
struct State {
    alerts: HashMap<String, Active>,
    groups: BTreeMap<(usize, String), Group>,
    caps: Vec<NotifyCap>,
    silences: Vec<Silence>,
    next_silence: u64,
    stats: RouterStats,
}

pub struct AlertRouter {
    cfg: RouterConfig,
    routes: Vec<RouteRt>,
    // Sinks can be added after construction (`on_alert`); read per tick, never on a call's path.
    sinks: Mutex<Vec<Arc<dyn AlertSink>>>,
    // One lock for the router's state: alerts arrive on state changes (a handful a minute, or a
    // storm that the lock serialises cheaply), never on a user call's hot path; ticks take it once.
    state: Mutex<State>,
    clock: ClockRef,
    sink_errors: AtomicU64,
}

impl AlertRouter {
    pub fn new(
        cfg: RouterConfig,
        sinks: Vec<Arc<dyn AlertSink>>,
        clock: impl Into<ClockRef>,
    ) -> Result<Arc<Self>> {
        let names: Vec<&str> = sinks.iter().map(|s| s.name()).collect();
        cfg.validate(&names)?;
        let idx = |n: &String| names.iter().position(|s| s == n).unwrap_or(0);
        let mut routes: Vec<RouteRt> = cfg
            .routes
            .iter()
            .map(|r| RouteRt {
                sinks: r.sinks.iter().map(idx).collect(),
                all_sinks: r.sinks.is_empty(),
                escalation: r
                    .escalation
                    .iter()
                    .map(|e| (e.after_nanos, e.sinks.iter().map(idx).collect()))
                    .collect(),
                group_wait: r.group_wait_nanos.unwrap_or(cfg.group_wait_nanos),
                group_interval: r.group_interval_nanos.unwrap_or(cfg.group_interval_nanos),
                repeat_interval: r.repeat_interval_nanos.unwrap_or(cfg.repeat_interval_nanos),
                cfg: r.clone(),
            })
            .collect();
        if routes.is_empty() {
            routes.push(RouteRt {
                cfg: Route::new("default"),
                sinks: Vec::new(),
                all_sinks: true,
                escalation: Vec::new(),
                group_wait: cfg.group_wait_nanos,
                group_interval: cfg.group_interval_nanos,
                repeat_interval: cfg.repeat_interval_nanos,
            });
        }
        let clock = clock.into();
        let system = matches!(clock, ClockRef::System);
        let r = Arc::new(Self {
            cfg,
            routes,
            sinks: Mutex::new(sinks),
            state: Mutex::new(State::default()),
            clock,
            sink_errors: AtomicU64::new(0),
        });
        if system {
            super::runtime::register(
                Arc::downgrade(&r) as std::sync::Weak<dyn super::runtime::Tick>
            );
        }
        Ok(r)
    }

    pub fn config(&self) -> &RouterConfig {
        &self.cfg
    }

    /// The router's label in metrics: its first route's name.
    pub fn label(&self) -> &str {
        &self.routes[0].cfg.name
    }

    pub fn now_nanos(&self) -> u64 {
        self.clock.now_nanos()
    }

    /// Adds a sink; routes without explicit sinks (and the implicit default route) send to it.
    pub fn add_sink(&self, sink: Arc<dyn AlertSink>) {
        self.sinks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(sink);
    }

    /// Removes the sink named `name` (an `on_alert` subscription ending); false if there is none.
    /// The slot stays, as a sink that delivers nothing, so routes' sink indices and caps keep
    /// pointing at the right sinks.
    pub fn remove_sink(&self, name: &str) -> bool {
        let mut sinks = self.sinks.lock().unwrap_or_else(|p| p.into_inner());
        match sinks.iter().position(|s| s.name() == name) {
            Some(i) => {
                sinks[i] = Arc::new(super::alert_sink::RemovedSink::new(name));
                true
            }
            None => false,
        }
    }

    pub fn sink_names(&self) -> Vec<String> {
        let s = self.sinks.lock().unwrap_or_else(|p| p.into_inner());
        s.iter().map(|s| s.name().to_string()).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A firing alert (a repeat of an active one only adds to its count), or a resolution.
    pub fn push_at(&self, mut alert: Alert, now: u64) {
        let mut st = self.lock();
        if alert.status == Status::Resolved {
            Self::resolve_locked(&mut st, &alert.fingerprint, now);
            return;
        }
        if let Some(a) = st.alerts.get_mut(&alert.fingerprint) {
            if a.alert.status == Status::Firing {
                a.alert.count += alert.count.max(1);
                a.alert.summary = alert.summary;
                if alert.severity != a.alert.severity {
                    a.alert.severity = alert.severity;
                    let gs = a.groups.clone();
                    Self::mark_dirty(&mut st.groups, &gs);
                }
                return;
            }
            // Resolved but not yet notified, and firing again: one condition, still going.
            a.alert.status = Status::Firing;
            a.alert.ends_at = 0;
            a.alert.count += alert.count.max(1);
            let gs = a.groups.clone();
            Self::mark_dirty(&mut st.groups, &gs);
            return;
        }
        if st.alerts.len() >= self.cfg.max_alerts {
            st.stats.dropped_over_max += 1;
            drop(st);
            log::warn!(target: "ferrule.alert", "alert router holds {} alerts (max_alerts): alert {:?} dropped", self.cfg.max_alerts, alert.fingerprint);
            return;
        }
        if alert.starts_at == 0 {
            alert.starts_at = now;
        }
        st.stats.alerts_fired += 1;
        let mut groups = Vec::new();
        for (ri, r) in self.routes.iter().enumerate() {
            if !r.cfg.matches(&alert) {
                continue;
            }
            let key = group_key(&r.cfg.group_by, &alert);
            let g = st.groups.entry((ri, key.clone())).or_insert_with(|| Group {
                route: ri,
                key: key.clone(),
                members: Vec::new(),
                created: now,
                last_flush: None,
                dirty: false,
            });
            g.members.push(alert.fingerprint.clone());
            g.dirty = true;
            groups.push((ri, key));
            if !r.cfg.continue_matching {
                break;
            }
        }
        st.alerts.insert(
            alert.fingerprint.clone(),
            Active {
                alert,
                acked: false,
                escalated: 0,
                groups,
                notified: false,
            },
        );
    }

    pub fn push(&self, alert: Alert) {
        self.push_at(alert, self.clock.now_nanos())
    }

    /// Watcher events: firing ones become alerts, resolved ones resolve them.
    pub fn ingest(&self, events: &[Event]) {
        let now = self.clock.now_nanos();
        for e in events {
            match e.state {
                EventState::Firing => self.push_at(Alert::from_event(e), now),
                EventState::Resolved => {
                    self.resolve_at(&e.dedup_key, now);
                }
            }
        }
    }

    fn mark_dirty(groups: &mut BTreeMap<(usize, String), Group>, keys: &[(usize, String)]) {
        for k in keys {
            if let Some(g) = groups.get_mut(k) {
                g.dirty = true;
            }
        }
    }

    fn resolve_locked(st: &mut State, fingerprint: &str, now: u64) -> bool {
        let Some(a) = st.alerts.get_mut(fingerprint) else {
            return false;
        };
        if a.alert.status == Status::Resolved {
            return false;
        }
        a.alert.status = Status::Resolved;
        a.alert.ends_at = now;
        let gs = a.groups.clone();
        st.stats.alerts_resolved += 1;
        Self::mark_dirty(&mut st.groups, &gs);
        true
    }

    /// Resolves an alert by fingerprint (its source does this too); false if it was not firing.
    pub fn resolve_at(&self, fingerprint: &str, now: u64) -> bool {
        Self::resolve_locked(&mut self.lock(), fingerprint, now)
    }

    pub fn resolve(&self, fingerprint: &str) -> bool {
        self.resolve_at(fingerprint, self.clock.now_nanos())
    }

    /// Acknowledges a firing alert: its escalation chain and repeats stop; its resolution is still
    /// notified. False if no such alert fires.
    pub fn ack(&self, fingerprint: &str) -> bool {
        let mut st = self.lock();
        match st.alerts.get_mut(fingerprint) {
            Some(a) if a.alert.status == Status::Firing => {
                a.acked = true;
                true
            }
            _ => false,
        }
    }

    /// Mutes alerts matching every `(label, value)` for `duration_nanos`; returns the silence id.
    pub fn silence_at(
        &self,
        matchers: Vec<(String, String)>,
        duration_nanos: u64,
        comment: impl Into<String>,
        now: u64,
    ) -> Result<u64> {
        if matchers.is_empty() {
            return Err(Error::out_of_range(
                C,
                "matchers",
                "{}",
                "at least one label matcher (a silence that matches everything hides every alert)",
            ));
        }
        if duration_nanos == 0 {
            return Err(Error::out_of_range(C, "duration_seconds", 0, "> 0"));
        }
        let mut st = self.lock();
        st.next_silence += 1;
        let id = st.next_silence;
        st.silences.push(Silence {
            id,
            matchers,
            ends_at: now.saturating_add(duration_nanos),
            comment: comment.into(),
        });
        Ok(id)
    }

    pub fn silence(
        &self,
        matchers: Vec<(String, String)>,
        duration_nanos: u64,
        comment: impl Into<String>,
    ) -> Result<u64> {
        self.silence_at(matchers, duration_nanos, comment, self.clock.now_nanos())
    }

    /// Ends a silence early; false if it is unknown or already expired.
    pub fn expire_silence(&self, id: u64) -> bool {
        let mut st = self.lock();
        let before = st.silences.len();
        st.silences.retain(|s| s.id != id);
        st.silences.len() != before
    }

    pub fn silences(&self) -> Vec<Silence> {
        self.lock().silences.clone()
    }

    /// Active alerts (firing, or resolved and not yet notified).
    pub fn alerts(&self) -> Vec<Alert> {
        let st = self.lock();
        let mut v: Vec<Alert> = st.alerts.values().map(|a| a.alert.clone()).collect();
        v.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
        v
    }

    pub fn stats(&self) -> RouterStats {
        let st = self.lock();
        let mut s = st.stats.clone();
        s.active = st.alerts.len();
        s.silences = st.silences.len();
        s.held_by_cap = st.caps.iter().map(|c| c.held_total).sum();
        s.digests = st.caps.iter().map(|c| c.digests_total).sum();
        s.sink_errors = self.sink_errors.load(Ordering::Relaxed);
        s
    }

    fn muted(&self, st: &State, a: &Active, group_by: &[String]) -> Option<&'static str> {
        if st.silences.iter().any(|s| {
            s.matchers
                .iter()
                .all(|(k, v)| a.alert.label(k) == Some(v.as_str()))
        }) {
            return Some("silenced");
        }
        if a.alert.status == Status::Firing {
            for rule in &self.cfg.inhibit {
                if a.alert.severity > rule.target_max {
                    continue;
                }
                let equal = rule.equal.as_deref().unwrap_or(group_by);
                let inhibited = st.alerts.values().any(|src| {
                    src.alert.status == Status::Firing
                        && src.alert.severity >= rule.source_min
                        && src.alert.fingerprint != a.alert.fingerprint
                        && equal.iter().all(|k| src.alert.label(k) == a.alert.label(k))
                });
                if inhibited {
                    return Some("inhibited");
                }
            }
        }
        None
    }

    /// Runs every timing rule at `now` and delivers what is due; returns the notifications sent
    /// (held ones are not in it). The runtime calls this; tests call it on a manual clock.
    pub fn tick_at(&self, now: u64) -> Vec<Notification> {
        let sinks: Vec<Arc<dyn AlertSink>> =
            self.sinks.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut out: Vec<(usize, Notification)> = Vec::new();
        {
            let mut st = self.lock();
            let st = &mut *st;
            if st.caps.len() < sinks.len() {
                st.caps.resize_with(sinks.len(), NotifyCap::default);
            }
            st.silences.retain(|s| s.ends_at > now);
            let mut planned: Vec<(usize, Kind, String, Vec<Alert>)> = Vec::new();
            let mut done_resolved: Vec<(String, (usize, String))> = Vec::new();
            let mut mute_counts = (0u64, 0u64);
            let mut processed: Vec<(usize, String)> = Vec::new();
            for g in st.groups.values() {
                let r = &self.routes[g.route];
                let due = match g.last_flush {
                    None => now >= g.created.saturating_add(r.group_wait),
                    Some(t) if g.dirty => now >= t.saturating_add(r.group_interval),
                    Some(t) => now >= t.saturating_add(r.repeat_interval),
                };
                if !due {
                    continue;
                }
                processed.push((g.route, g.key.clone()));
                let mut visible = Vec::new();
                let mut any_unacked_firing = false;
                for fp in &g.members {
                    let Some(a) = st.alerts.get(fp) else { continue };
                    if a.alert.status == Status::Resolved && !a.notified {
                        // Fired and resolved before anyone heard of it: nothing to say.
                        done_resolved.push((fp.clone(), (g.route, g.key.clone())));
                        continue;
                    }
                    match self.muted(st, a, &r.cfg.group_by) {
                        Some("silenced") => mute_counts.0 += 1,
                        Some(_) => mute_counts.1 += 1,
                        None => {
                            if a.alert.status == Status::Firing && !a.acked {
                                any_unacked_firing = true;
                            }
                            visible.push(a.alert.clone());
                        }
                    }
                    if a.alert.status == Status::Resolved {
                        done_resolved.push((fp.clone(), (g.route, g.key.clone())));
                    }
                }
                let kind = if g.last_flush.is_some() && !g.dirty {
                    if !any_unacked_firing {
                        continue;
                    }
                    Kind::Repeat
                } else {
                    Kind::Group
                };
                if !visible.is_empty() {
                    planned.push((g.route, kind, g.key.clone(), visible));
                }
            }
            st.stats.silenced += mute_counts.0;
            st.stats.inhibited += mute_counts.1;
            // Flushed groups: mark flushed, drop resolved members that were told (or never needed to be).
            for (ri, _, k, _) in &planned {
                if let Some(g) = st.groups.get_mut(&(*ri, k.clone())) {
                    g.last_flush = Some(now);
                    g.dirty = false;
                }
            }
            for (_, _, _, v) in &planned {
                for a in v {
                    if let Some(x) = st.alerts.get_mut(&a.fingerprint) {
                        if a.status == Status::Firing {
                            x.notified = true;
                        }
                    }
                }
            }
            for (fp, gk) in done_resolved {
                if !processed.contains(&gk) {
                    continue;
                }
                if let Some(g) = st.groups.get_mut(&gk) {
                    g.members.retain(|m| m != &fp);
                }
                let gone = match st.alerts.get_mut(&fp) {
                    Some(a) => {
                        a.groups.retain(|x| x != &gk);
                        a.groups.is_empty()
                    }
                    None => false,
                };
                if gone {
                    st.alerts.remove(&fp);
                }
            }
            st.groups.retain(|_, g| !g.members.is_empty());
            // Escalations: per alert, once per level, not capped (they are the point of paging).
            let mut escalations: Vec<(usize, u32, Alert)> = Vec::new();
            for a in st.alerts.values() {
                if a.acked || a.alert.status != Status::Firing {
                    continue;
                }
                for (ri, _) in &a.groups {
                    let r = &self.routes[*ri];
                    for (lvl, (after, _)) in r.escalation.iter().enumerate() {
                        let level = lvl as u32 + 1;
                        if a.escalated < level && now >= a.alert.starts_at.saturating_add(*after) {
                            escalations.push((*ri, level, a.alert.clone()));
                        }
                    }
                }
            }
            for (ri, level, a) in &escalations {
                if self
                    .muted(
                        st,
                        &st.alerts[&a.fingerprint],
                        &self.routes[*ri].cfg.group_by,
                    )
                    .is_some()
                {
                    continue;
                }
                let sinks_of = &self.routes[*ri].escalation[*level as usize - 1].1;
                for &si in sinks_of {
                    let n = Notification::from_alerts(
                        sinks[si].name(),
                        &self.routes[*ri].cfg.name,
                        &a.fingerprint,
                        Kind::Escalation { level: *level },
                        vec![a.clone()],
                        now,
                    );
                    out.push((si, n));
                    st.stats.escalations += 1;
                }
                if let Some(x) = st.alerts.get_mut(&a.fingerprint) {
                    x.escalated = x.escalated.max(*level);
                }
            }
            for (ri, kind, key, alerts) in planned {
                let r = &self.routes[ri];
                let targets: Vec<usize> = if r.all_sinks {
                    (0..sinks.len()).collect()
                } else {
                    r.sinks.clone()
                };
                for si in targets {
                    if st.caps[si].admit(&self.cfg.cap, now) {
                        let n = Notification::from_alerts(
                            sinks[si].name(),
                            &r.cfg.name,
                            &key,
                            kind,
                            alerts.clone(),
                            now,
                        )
                        .masked();
                        out.push((si, n));
                    }
                }
            }
            for (si, cap) in st.caps.iter_mut().enumerate() {
                if let Some(held) = cap.digest_due(&self.cfg.cap, now) {
                    out.push((si, Notification::digest(sinks[si].name(), held, now)));
                }
            }
            st.stats.notifications += out.len() as u64;
        }
        // Delivered outside the lock: a callback may ack, resolve or silence without deadlock.
        for (si, n) in &out {
            let sink = &sinks[*si];
            if let Err(msg) = crate::catch_panic(|| sink.deliver(n)) {
                self.sink_errors.fetch_add(1, Ordering::Relaxed);
                log::warn!(target: "ferrule.alert", "alert sink {:?} failed: {msg}", sink.name());
            }
        }
        out.into_iter().map(|(_, n)| n).collect()
    }

    pub fn tick(&self) -> Vec<Notification> {
        self.tick_at(self.clock.now_nanos())
    }
}

impl super::runtime::Tick for AlertRouter {
    fn tick(&self) {
        AlertRouter::tick(self);
    }
}

fn group_key(group_by: &[String], a: &Alert) -> String {
    let mut k = String::new();
    for (i, l) in group_by.iter().enumerate() {
        if i > 0 {
            k.push(',');
        }
        k.push_str(l);
        k.push('=');
        k.push_str(a.label(l).unwrap_or(""));
    }
    k
}

static GLOBAL: ArcSwapOption<AlertRouter> = ArcSwapOption::const_empty();

/// Makes `router` the one that watchers, dead man's switches and probes publish to.
pub fn install(router: Option<Arc<AlertRouter>>) {
    GLOBAL.store(router);
}

pub fn installed() -> Option<Arc<AlertRouter>> {
    GLOBAL.load_full()
}

/// Hands events to the installed router, if any: one atomic load when none is installed.
#[inline]
pub fn publish(events: &[Event]) {
    if events.is_empty() {
        return;
    }
    if let Some(r) = GLOBAL.load().as_ref() {
        r.ingest(events);
    }
}
