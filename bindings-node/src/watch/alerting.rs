//! Alerting for the JS host layer (`bindings-node/alerting.js`): the alert router, the dead man's
//! switch and the synthetic probe schedule, converted from Node units (ms, camelCase). JS callback
//! sinks are pull queues the host drains from a timer on its own event loop, so no JS function is
//! ever called from a Rust thread.

use super::{at_nanos, clock_of, event};
use crate::clock::NativeManualClock;
use crate::error::{config_error, ConfigError};
use crate::policy::NativePolicy;
use ferrule_core::watch::alert::Alert;
use ferrule_core::watch::alert_log::LogSink;
use ferrule_core::watch::alert_queue::QueueSink;
use ferrule_core::watch::alert_router::{
    self, AlertRouter, Escalation, InhibitRule, Route, RouterConfig,
};
use ferrule_core::watch::alert_sink::AlertSink;
use ferrule_core::watch::dead_mans_switch::DeadMansSwitch;
use ferrule_core::watch::notification::{Kind, Notification};
use ferrule_core::watch::notify_cap::CapConfig;
use ferrule_core::watch::receiver_spec;
use ferrule_core::watch::synthetic_probe::{ProbeConfig, ProbeResult, SyntheticProbe};
use ferrule_core::watch::webhook::{WebhookConfig, WebhookSink};
use ferrule_core::{ClockRef, Error, Severity};
use napi::bindgen_prelude::Either;
use napi_derive::napi;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn ms_to_nanos(ms: f64) -> u64 {
    if ms.is_finite() && ms >= 0.0 {
        (ms * 1e6) as u64
    } else {
        0
    }
}

fn offset_ms(clock: &ClockRef, at: u64) -> f64 {
    match clock {
        ClockRef::System => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64() * 1e3);
            now - at as f64 / 1e6
        }
        _ => 0.0,
    }
}

fn bad(component: &'static str, param: &'static str, e: Error) -> ConfigError {
    let _ = (component, param);
    config_error(&e, &[])
}

#[napi(object)]
pub struct AlertObject {
    pub name: String,
    pub severity: String,
    pub labels: HashMap<String, String>,
    pub status: String,
    pub summary: String,
    pub fingerprint: String,
    pub starts_at_ms: f64,
    pub count: f64,
}

#[napi(object)]
pub struct NotificationObject {
    pub name: String,
    pub severity: String,
    pub labels: HashMap<String, String>,
    pub status: String,
    pub summary: String,
    pub starts_at_ms: f64,
    pub count: f64,
    pub kind: String,
    pub level: Option<u32>,
    pub held: Option<f64>,
    pub sink: String,
    pub route: String,
    pub group_key: String,
    pub alerts: Vec<AlertObject>,
}

fn alert_obj(a: &Alert, off: f64) -> AlertObject {
    AlertObject {
        name: a.name.clone(),
        severity: a.severity.as_str().into(),
        labels: a.labels.iter().cloned().collect(),
        status: a.status.as_str().into(),
        summary: a.summary.clone(),
        fingerprint: a.fingerprint.clone(),
        starts_at_ms: a.starts_at as f64 / 1e6 + off,
        count: a.count as f64,
    }
}

fn notification_obj(n: &Notification, clock: &ClockRef) -> NotificationObject {
    let off = offset_ms(clock, n.at);
    NotificationObject {
        name: n.name.clone(),
        severity: n.severity.as_str().into(),
        labels: n.labels.iter().cloned().collect(),
        status: n.status.as_str().into(),
        summary: n.summary.clone(),
        starts_at_ms: n.starts_at as f64 / 1e6 + off,
        count: n.count as f64,
        kind: n.kind.as_str().into(),
        level: match n.kind {
            Kind::Escalation { level } => Some(level),
            _ => None,
        },
        held: match n.kind {
            Kind::Digest { held } => Some(held as f64),
            _ => None,
        },
        sink: n.sink.clone(),
        route: n.route.clone(),
        group_key: n.group_key.clone(),
        alerts: n.alerts.iter().map(|a| alert_obj(a, off)).collect(),
    }
}

#[napi(object)]
pub struct SinkSpec {
    pub name: String,
    /// `callback`, `log`, `webhook`, `alertmanager`, `slack`, `pagerduty`, `json_webhook`.
    pub kind: String,
    /// A URL, or (HTTP receivers) a JSON object: `url`, `headers`, `ca_file`, `client_cert_file`,
    /// `client_key_file`, `routing_key`, `source`, `template` (see the core's `receiver_spec`).
    pub url: Option<String>,
}

#[napi(object)]
pub struct EscalationSpec {
    pub after_ms: f64,
    pub sinks: Vec<String>,
}

#[napi(object)]
pub struct RouteSpec {
    pub name: String,
    pub sinks: Vec<String>,
    pub severity: Option<String>,
    pub matchers: Option<HashMap<String, String>>,
    pub group_by: Option<Vec<String>>,
    pub group_wait_ms: Option<f64>,
    pub group_interval_ms: Option<f64>,
    pub repeat_interval_ms: Option<f64>,
    pub escalate: Option<Vec<EscalationSpec>>,
    pub continue_matching: Option<bool>,
}

#[napi(object)]
pub struct RouterOptions {
    pub group_wait_ms: Option<f64>,
    pub group_interval_ms: Option<f64>,
    pub repeat_interval_ms: Option<f64>,
    pub cap: Option<f64>,
    pub cap_window_ms: Option<f64>,
    pub max_alerts: Option<f64>,
    pub webhook_retries: Option<f64>,
    pub webhook_backoff_ms: Option<f64>,
    pub webhook_timeout_ms: Option<f64>,
    /// `[sourceMin, targetMax, equalLabels | null]` rules; absent: a firing critical inhibits
    /// warnings and infos of its group.
    pub inhibit: Option<Vec<InhibitSpec>>,
}

#[napi(object)]
pub struct InhibitSpec {
    pub source_min: String,
    pub target_max: String,
    pub equal: Option<Vec<String>>,
}

#[napi(object)]
pub struct SilenceObject {
    pub id: f64,
    pub matchers: HashMap<String, String>,
    pub ends_at_ms: f64,
    pub comment: String,
}

#[napi(object)]
pub struct RouterStatsObject {
    pub alerts_fired: f64,
    pub alerts_resolved: f64,
    pub active: f64,
    pub notifications: f64,
    pub escalations: f64,
    pub held_by_cap: f64,
    pub digests: f64,
    pub silenced: f64,
    pub inhibited: f64,
    pub dropped_over_max: f64,
    pub sink_errors: f64,
    pub silences: f64,
    pub queue_dropped: f64,
    pub webhook_delivered: f64,
    pub webhook_retries: f64,
    pub webhook_failed: f64,
}

#[napi]
pub struct NativeAlertRouter {
    inner: Arc<AlertRouter>,
    // Callback queues: `onAlert` adds one after construction. A lock, off every call's path: touched
    // by the drain timer and when a callback is added.
    queues: std::sync::Mutex<Vec<Arc<QueueSink>>>,
    webhooks: Vec<Arc<WebhookSink>>,
    clock: ClockRef,
}

#[napi(catch_unwind)]
pub fn create_alert_router(
    sinks: Vec<SinkSpec>,
    routes: Vec<RouteSpec>,
    options: RouterOptions,
    clock: Option<&NativeManualClock>,
) -> Either<NativeAlertRouter, ConfigError> {
    const C: &str = "AlertRouter";
    let clock = clock_of(clock);
    let mut queues = Vec::new();
    let mut webhooks = Vec::new();
    let build = || -> ferrule_core::Result<Arc<AlertRouter>> {
        let d = RouterConfig::default();
        let mut all: Vec<Arc<dyn AlertSink>> = Vec::new();
        for s in sinks {
            let hook = |u: String| {
                let mut c = WebhookConfig::new(u);
                c.max_attempts = options
                    .webhook_retries
                    .map_or(5, |r| r.clamp(0.0, 99.0) as u32 + 1);
                if let Some(b) = options.webhook_backoff_ms {
                    c.backoff_initial = Duration::from_nanos(ms_to_nanos(b));
                }
                if let Some(t) = options.webhook_timeout_ms {
                    c.timeout = Duration::from_nanos(ms_to_nanos(t));
                }
                c
            };
            let sink: Arc<dyn AlertSink> =
                match s.kind.as_str() {
                    "callback" => {
                        let q = Arc::new(QueueSink::new(s.name, 10_000));
                        queues.push(q.clone());
                        q
                    }
                    "log" => Arc::new(LogSink::new(s.name)),
                    k if receiver_spec::KINDS.contains(&k) => {
                        let w = Arc::new(receiver_spec::build(
                            &s.name,
                            k,
                            &s.url.unwrap_or_default(),
                            &hook(String::new()),
                        )?);
                        webhooks.push(w.clone());
                        w
                    }
                    k => return Err(Error::out_of_range(
                        C,
                        "sinks",
                        format!("{k:?}"),
                        "a function, 'log', Webhook, Alertmanager, Slack, PagerDuty, JsonWebhook",
                    )),
                };
            all.push(sink);
        }
        let mut cfg = RouterConfig {
            group_wait_nanos: options
                .group_wait_ms
                .map_or(d.group_wait_nanos, ms_to_nanos),
            group_interval_nanos: options
                .group_interval_ms
                .map_or(d.group_interval_nanos, ms_to_nanos),
            repeat_interval_nanos: options
                .repeat_interval_ms
                .map_or(d.repeat_interval_nanos, ms_to_nanos),
            cap: CapConfig {
                max: options.cap.map_or(d.cap.max, super::int),
                window_nanos: options
                    .cap_window_ms
                    .map_or(d.cap.window_nanos, ms_to_nanos),
            },
            max_alerts: options
                .max_alerts
                .map_or(d.max_alerts, |m| super::int(m) as usize),
            ..d
        };
        if let Some(rules) = options.inhibit {
            cfg.inhibit = rules
                .into_iter()
                .map(|r| {
                    Ok(InhibitRule {
                        source_min: Severity::parse_alert(C, "inhibit", &r.source_min)?,
                        target_max: Severity::parse_alert(C, "inhibit", &r.target_max)?,
                        equal: r.equal,
                    })
                })
                .collect::<ferrule_core::Result<_>>()?;
        }
        for r in routes {
            let mut route = Route::new(r.name);
            route.sinks = r.sinks;
            route.min_severity =
                Severity::parse_alert(C, "severity", r.severity.as_deref().unwrap_or("info"))?;
            let mut m: Vec<(String, String)> = r.matchers.unwrap_or_default().into_iter().collect();
            m.sort();
            route.matchers = m;
            if let Some(g) = r.group_by.filter(|g| !g.is_empty()) {
                route.group_by = g;
            }
            route.group_wait_nanos = r.group_wait_ms.map(ms_to_nanos);
            route.group_interval_nanos = r.group_interval_ms.map(ms_to_nanos);
            route.repeat_interval_nanos = r.repeat_interval_ms.map(ms_to_nanos);
            route.escalation = r
                .escalate
                .unwrap_or_default()
                .into_iter()
                .map(|e| Escalation {
                    after_nanos: ms_to_nanos(e.after_ms),
                    sinks: e.sinks,
                })
                .collect();
            route.continue_matching = r.continue_matching.unwrap_or(false);
            cfg.routes.push(route);
        }
        AlertRouter::new(cfg, all, clock.clone())
    };
    match build() {
        Ok(inner) => {
            ferrule_core::watch::gauges::export(&inner);
            Either::A(NativeAlertRouter {
                inner,
                queues: std::sync::Mutex::new(queues),
                webhooks,
                clock,
            })
        }
        Err(e) => Either::B(bad(C, "", e)),
    }
}

#[napi]
impl NativeAlertRouter {
    /// What a scrape shows for this watcher: `[name, labels, value]` rows.
    #[napi(catch_unwind)]
    pub fn gauges(&self) -> Vec<crate::watch::gauge_rows::GaugeRow> {
        crate::watch::gauge_rows::gauge_rows(&*self.inner)
    }

    #[napi(catch_unwind)]
    pub fn install(&self) {
        alert_router::install(Some(self.inner.clone()));
    }

    /// Adds a callback sink (a queue the host drains) that every default-routed notification reaches.
    #[napi(catch_unwind)]
    pub fn add_callback(&self, name: String) {
        let q = Arc::new(QueueSink::new(name, 10_000));
        self.queues
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(q.clone());
        self.inner.add_sink(q);
    }

    /// Removes the sink named `name`; false if there is none.
    #[napi(catch_unwind)]
    pub fn remove_sink(&self, name: String) -> bool {
        self.inner.remove_sink(&name)
    }

    #[napi(catch_unwind)]
    pub fn sink_names(&self) -> Vec<String> {
        self.inner.sink_names()
    }

    #[napi(catch_unwind)]
    pub fn uninstall(&self) {
        if self.installed() {
            alert_router::install(None);
        }
    }

    #[napi(catch_unwind)]
    pub fn installed(&self) -> bool {
        alert_router::installed().is_some_and(|r| Arc::ptr_eq(&r, &self.inner))
    }

    /// Returns the fingerprint; `None` and a message for a bad severity.
    #[napi(catch_unwind)]
    pub fn fire(
        &self,
        name: String,
        severity: String,
        labels: HashMap<String, String>,
        summary: String,
        fingerprint: Option<String>,
        at_ms: Option<f64>,
    ) -> Either<String, ConfigError> {
        let sev = match Severity::parse_alert("AlertRouter", "severity", &severity) {
            Ok(s) => s,
            Err(e) => return Either::B(bad("AlertRouter", "severity", e)),
        };
        let a = Alert::new(name, sev, labels, summary)
            .with_fingerprint(fingerprint.unwrap_or_default());
        let fp = a.fingerprint.clone();
        self.inner.push_at(a, at_nanos(&self.clock, at_ms));
        Either::A(fp)
    }

    #[napi(catch_unwind)]
    pub fn resolve(&self, fingerprint: String, at_ms: Option<f64>) -> bool {
        self.inner
            .resolve_at(&fingerprint, at_nanos(&self.clock, at_ms))
    }

    #[napi(catch_unwind)]
    pub fn ack(&self, fingerprint: String) -> bool {
        self.inner.ack(&fingerprint)
    }

    #[napi(catch_unwind)]
    pub fn silence(
        &self,
        matchers: HashMap<String, String>,
        duration_ms: f64,
        comment: Option<String>,
        at_ms: Option<f64>,
    ) -> Either<f64, ConfigError> {
        let mut m: Vec<(String, String)> = matchers.into_iter().collect();
        m.sort();
        match self.inner.silence_at(
            m,
            ms_to_nanos(duration_ms),
            comment.unwrap_or_default(),
            at_nanos(&self.clock, at_ms),
        ) {
            Ok(id) => Either::A(id as f64),
            Err(e) => Either::B(bad("AlertRouter", "silence", e)),
        }
    }

    #[napi(catch_unwind)]
    pub fn expire_silence(&self, id: f64) -> bool {
        self.inner.expire_silence(id as u64)
    }

    #[napi(catch_unwind)]
    pub fn silences(&self) -> Vec<SilenceObject> {
        let off = offset_ms(&self.clock, self.clock.now_nanos());
        self.inner
            .silences()
            .into_iter()
            .map(|s| SilenceObject {
                id: s.id as f64,
                matchers: s.matchers.into_iter().collect(),
                ends_at_ms: s.ends_at as f64 / 1e6 + off,
                comment: s.comment,
            })
            .collect()
    }

    /// Runs the timing rules (the runtime does it every 100 ms on the system clock); the host
    /// then drains the callback queues.
    #[napi(catch_unwind)]
    pub fn tick(&self, at_ms: Option<f64>) -> Vec<NotificationObject> {
        self.inner
            .tick_at(at_nanos(&self.clock, at_ms))
            .iter()
            .map(|n| notification_obj(n, &self.clock))
            .collect()
    }

    /// Notifications waiting for JS callbacks (each carries its `sink` name).
    #[napi(catch_unwind)]
    pub fn drain(&self) -> Vec<NotificationObject> {
        let mut out = Vec::new();
        let queues = self
            .queues
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for q in &queues {
            for n in q.drain() {
                out.push(notification_obj(&n, &self.clock));
            }
        }
        out
    }

    #[napi(catch_unwind)]
    pub fn alerts(&self) -> Vec<AlertObject> {
        let off = offset_ms(&self.clock, self.clock.now_nanos());
        self.inner
            .alerts()
            .iter()
            .map(|a| alert_obj(a, off))
            .collect()
    }

    #[napi(catch_unwind)]
    pub fn stats(&self) -> RouterStatsObject {
        let s = self.inner.stats();
        let w = self.webhooks.iter().map(|w| w.stats());
        let (mut d, mut r, mut f) = (0u64, 0u64, 0u64);
        for x in w {
            d += x.delivered;
            r += x.retries;
            f += x.failed;
        }
        RouterStatsObject {
            alerts_fired: s.alerts_fired as f64,
            alerts_resolved: s.alerts_resolved as f64,
            active: s.active as f64,
            notifications: s.notifications as f64,
            escalations: s.escalations as f64,
            held_by_cap: s.held_by_cap as f64,
            digests: s.digests as f64,
            silenced: s.silenced as f64,
            inhibited: s.inhibited as f64,
            dropped_over_max: s.dropped_over_max as f64,
            sink_errors: s.sink_errors as f64,
            silences: s.silences as f64,
            queue_dropped: self
                .queues
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .map(|q| q.dropped())
                .sum::<u64>() as f64,
            webhook_delivered: d as f64,
            webhook_retries: r as f64,
            webhook_failed: f as f64,
        }
    }
}

#[napi]
pub struct NativeDeadMansSwitch {
    pub(crate) inner: Arc<DeadMansSwitch>,
    clock: ClockRef,
}

#[napi(catch_unwind)]
pub fn create_dead_mans_switch(
    name: String,
    within_ms: f64,
    severity: String,
    clock: Option<&NativeManualClock>,
) -> Either<NativeDeadMansSwitch, ConfigError> {
    let clock = clock_of(clock);
    let made = Severity::parse_alert("DeadMansSwitch", "severity", &severity)
        .and_then(|sev| DeadMansSwitch::new(name, ms_to_nanos(within_ms), sev, clock.clone()));
    match made {
        Ok(inner) => {
            ferrule_core::watch::gauges::export(&inner);
            Either::A(NativeDeadMansSwitch { inner, clock })
        }
        Err(e) => Either::B(bad("DeadMansSwitch", "", e)),
    }
}

#[napi]
impl NativeDeadMansSwitch {
    /// What a scrape shows for this watcher: `[name, labels, value]` rows.
    #[napi(catch_unwind)]
    pub fn gauges(&self) -> Vec<crate::watch::gauge_rows::GaugeRow> {
        crate::watch::gauge_rows::gauge_rows(&*self.inner)
    }

    /// True when this beat resolved a firing switch.
    #[napi(catch_unwind)]
    pub fn beat(&self, at_ms: Option<f64>) -> bool {
        self.inner.beat_at(at_nanos(&self.clock, at_ms)).is_some()
    }

    #[napi(catch_unwind)]
    pub fn check(&self, at_ms: Option<f64>) -> Vec<event::WatchEventObject> {
        self.inner
            .tick_at(at_nanos(&self.clock, at_ms))
            .into_iter()
            .map(Into::into)
            .collect()
    }

    #[napi(getter, catch_unwind)]
    pub fn firing(&self) -> bool {
        self.inner.is_firing()
    }

    #[napi(getter, catch_unwind)]
    pub fn beats(&self) -> f64 {
        self.inner.beats() as f64
    }

    #[napi(getter, catch_unwind)]
    pub fn times_fired(&self) -> f64 {
        self.inner.times_fired() as f64
    }

    #[napi(catch_unwind)]
    pub fn silent_ms(&self) -> f64 {
        self.inner.silent_seconds() * 1e3
    }

    /// Makes every successful call of `policy` beat this switch; false if one was attached already.
    #[napi(catch_unwind)]
    pub fn watch_policy(&self, policy: &NativePolicy) -> bool {
        policy.inner.beat_on_success(self.inner.clone())
    }
}

#[napi(object)]
pub struct ProbeOptions {
    pub jitter: Option<f64>,
    pub failures_to_alert: Option<f64>,
    pub severity: Option<String>,
    pub seed: Option<f64>,
}

#[napi(object)]
pub struct ProbeStatsObject {
    pub runs: f64,
    pub ok: f64,
    pub failed: f64,
    pub timed_out: f64,
    pub skipped_overlap: f64,
    pub consecutive_failures: f64,
    pub last_latency_ms: f64,
    pub last_error: String,
    pub firing: bool,
    pub synthetic: bool,
}

#[napi]
pub struct NativeSyntheticProbe {
    inner: Arc<SyntheticProbe>,
    clock: ClockRef,
}

#[napi(catch_unwind)]
pub fn create_synthetic_probe(
    name: String,
    every_ms: f64,
    timeout_ms: f64,
    options: ProbeOptions,
    deadman: Option<&NativeDeadMansSwitch>,
    clock: Option<&NativeManualClock>,
) -> Either<NativeSyntheticProbe, ConfigError> {
    let clock = clock_of(clock);
    let build = || -> ferrule_core::Result<SyntheticProbe> {
        let mut cfg = ProbeConfig::new(name, ms_to_nanos(every_ms), ms_to_nanos(timeout_ms));
        if let Some(j) = options.jitter {
            cfg.jitter = j;
        }
        if let Some(f) = options.failures_to_alert {
            cfg.failures_to_alert = super::int(f);
        }
        if let Some(s) = &options.severity {
            cfg.severity = Severity::parse_alert("SyntheticProbe", "severity", s)?;
        }
        cfg.seed = options.seed.map(|s| s as u64);
        SyntheticProbe::new(cfg, deadman.map(|d| d.inner.clone()), clock.clone())
    };
    match build() {
        Ok(p) => {
            let inner = Arc::new(p);
            ferrule_core::watch::gauges::export(&inner);
            Either::A(NativeSyntheticProbe { inner, clock })
        }
        Err(e) => Either::B(bad("SyntheticProbe", "", e)),
    }
}

#[napi]
impl NativeSyntheticProbe {
    /// What a scrape shows for this watcher: `[name, labels, value]` rows.
    #[napi(catch_unwind)]
    pub fn gauges(&self) -> Vec<crate::watch::gauge_rows::GaugeRow> {
        crate::watch::gauge_rows::gauge_rows(&*self.inner)
    }

    #[napi(catch_unwind)]
    pub fn due_in_ms(&self, at_ms: Option<f64>) -> f64 {
        self.inner.due_in_at(at_nanos(&self.clock, at_ms)) as f64 / 1e6
    }

    #[napi(catch_unwind)]
    pub fn try_start(&self, at_ms: Option<f64>) -> bool {
        self.inner.try_start_at(at_nanos(&self.clock, at_ms))
    }

    /// `result`: `ok`, `failed` or `timeout`.
    #[napi(catch_unwind)]
    pub fn finish(
        &self,
        result: String,
        error: String,
        at_ms: Option<f64>,
    ) -> Vec<event::WatchEventObject> {
        let r = match result.as_str() {
            "ok" => ProbeResult::Ok,
            "timeout" => ProbeResult::TimedOut,
            _ => ProbeResult::Failed,
        };
        self.inner
            .finish_at(at_nanos(&self.clock, at_ms), r, &error)
            .into_iter()
            .map(Into::into)
            .collect()
    }

    #[napi(getter, catch_unwind)]
    pub fn running(&self) -> bool {
        self.inner.is_running()
    }

    #[napi(getter, catch_unwind)]
    pub fn timeout_ms(&self) -> f64 {
        self.inner.config().timeout_nanos as f64 / 1e6
    }

    #[napi(catch_unwind)]
    pub fn stats(&self) -> ProbeStatsObject {
        let s = self.inner.stats();
        ProbeStatsObject {
            runs: s.runs as f64,
            ok: s.ok as f64,
            failed: s.failed as f64,
            timed_out: s.timed_out as f64,
            skipped_overlap: s.skipped_overlap as f64,
            consecutive_failures: s.consecutive_failures as f64,
            last_latency_ms: s.last_latency_seconds * 1e3,
            last_error: s.last_error,
            firing: s.firing,
            synthetic: true,
        }
    }
}
