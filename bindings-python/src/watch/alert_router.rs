//! `AlertRouterCore` for `ferrule/alerting.py`: conversion only. Routes, sinks and timing rules
//! are the core's; a Python callback sink is called with a dict per notification (from the
//! background runtime thread, or from `tick()` on a manual clock).

use super::{at_nanos, clock_of};
use crate::clock::ManualClock;
use crate::error::{guard, to_py};
use ferrule_core::watch::alert::Alert;
use ferrule_core::watch::alert_log::LogSink;
use ferrule_core::watch::alert_router::{
    self, AlertRouter, Escalation, InhibitRule, Route, RouterConfig,
};
use ferrule_core::watch::alert_sink::{AlertSink, CallbackSink};
use ferrule_core::watch::alertmanager;
use ferrule_core::watch::notification::{Kind, Notification};
use ferrule_core::watch::notify_cap::CapConfig;
use ferrule_core::watch::receiver_spec;
use ferrule_core::watch::webhook::{WebhookConfig, WebhookSink};
use ferrule_core::{ClockRef, Severity};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const C: &str = "AlertRouter";

fn nanos(param: &'static str, s: f64) -> ferrule_core::Result<u64> {
    if !(s.is_finite() && s >= 0.0) {
        return Err(ferrule_core::Error::out_of_range(
            C,
            param,
            s,
            "a finite number of seconds >= 0",
        ));
    }
    Ok((s * 1e9) as u64)
}

/// Clock seconds → what `starts_at` reports: Unix time on the system clock, clock seconds on a
/// manual one (so tests can compare with `clock.now()`).
fn offset(clock: &ClockRef, at: u64) -> f64 {
    match clock {
        ClockRef::System => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            now - at as f64 / 1e9
        }
        _ => 0.0,
    }
}

fn labels_dict<'py>(py: Python<'py>, ls: &[(String, String)]) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in ls {
        d.set_item(k, v)?;
    }
    Ok(d)
}

pub fn notification_dict<'py>(
    py: Python<'py>,
    n: &Notification,
    off: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", &n.name)?;
    d.set_item("severity", n.severity.as_str())?;
    d.set_item("labels", labels_dict(py, &n.labels)?)?;
    d.set_item("status", n.status.as_str())?;
    d.set_item("summary", &n.summary)?;
    d.set_item("starts_at", n.starts_at as f64 / 1e9 + off)?;
    d.set_item("count", n.count)?;
    d.set_item("kind", n.kind.as_str())?;
    match n.kind {
        Kind::Escalation { level } => d.set_item("level", level)?,
        Kind::Digest { held } => d.set_item("held", held)?,
        _ => {}
    }
    d.set_item("sink", &n.sink)?;
    d.set_item("route", &n.route)?;
    d.set_item("group_key", &n.group_key)?;
    let alerts = PyList::empty(py);
    for a in &n.alerts {
        alerts.append(alert_dict(py, a, off)?)?;
    }
    d.set_item("alerts", alerts)?;
    Ok(d)
}

fn alert_dict<'py>(py: Python<'py>, a: &Alert, off: f64) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", &a.name)?;
    d.set_item("severity", a.severity.as_str())?;
    d.set_item("labels", labels_dict(py, &a.labels)?)?;
    d.set_item("status", a.status.as_str())?;
    d.set_item("summary", &a.summary)?;
    d.set_item("fingerprint", &a.fingerprint)?;
    d.set_item("starts_at", a.starts_at as f64 / 1e9 + off)?;
    d.set_item("count", a.count)?;
    Ok(d)
}

/// A Python function as a sink. Exceptions are counted and logged at warning, never re-raised
/// into the runtime thread.
fn py_sink(name: String, f: Py<PyAny>, clock: ClockRef, errors: Arc<AtomicU64>) -> CallbackSink {
    let sink_name = name.clone();
    CallbackSink::new(name, move |n: &Notification| {
        // try_attach: at interpreter shutdown this background thread must not touch Python.
        let _ = Python::try_attach(|py| {
            let off = offset(&clock, n.at);
            let r = notification_dict(py, n, off).and_then(|d| f.call1(py, (d,)));
            if let Err(e) = r {
                errors.fetch_add(1, Ordering::Relaxed);
                log::warn!(target: "ferrule.alert", "alert callback {sink_name:?} raised: {e}");
            }
        });
    })
}

type RouteSpec = (
    String,
    Vec<String>,
    String,
    HashMap<String, String>,
    Vec<String>,
    (Option<f64>, Option<f64>, Option<f64>),
    Vec<(f64, Vec<String>)>,
    bool,
);

#[pyclass(frozen, name = "AlertRouterCore", module = "ferrule._ferrule")]
pub struct AlertRouterCore {
    pub(crate) inner: Arc<AlertRouter>,
    clock: ClockRef,
    webhooks: Vec<Arc<WebhookSink>>,
    callback_errors: Arc<AtomicU64>,
}

#[pymethods]
impl AlertRouterCore {
    /// What a scrape shows for this watcher: `(name, labels, value)` rows.
    fn gauges<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyList>> {
        super::gauge_rows::gauge_rows(py, &*self.inner)
    }

    /// `sinks`: (name, kind, target) with kind `callback` (target a callable), `log`, `webhook`
    /// (target a URL) or `alertmanager` (target the base URL). `routes`: (name, sinks,
    /// min_severity, matchers, group_by, (group_wait, group_interval, repeat_interval), escalate
    /// [(after_seconds, sinks)], continue).
    #[new]
    #[pyo3(signature = (sinks, routes, *, group_wait_seconds=30.0, group_interval_seconds=300.0,
        repeat_interval_seconds=14400.0, cap=5, cap_window_seconds=900.0, inhibit=None,
        max_alerts=10000, webhook_retries=5, webhook_backoff_seconds=0.5, webhook_timeout_seconds=5.0,
        clock=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        sinks: Vec<(String, String, Py<PyAny>)>,
        routes: Vec<RouteSpec>,
        group_wait_seconds: f64,
        group_interval_seconds: f64,
        repeat_interval_seconds: f64,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] cap: i64,
        cap_window_seconds: f64,
        inhibit: Option<Vec<(String, String, Option<Vec<String>>)>>,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] max_alerts: i64,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] webhook_retries: i64,
        webhook_backoff_seconds: f64,
        webhook_timeout_seconds: f64,
        clock: Option<PyRef<'_, ManualClock>>,
    ) -> PyResult<Self> {
        let clock = clock_of(clock);
        let errors = Arc::new(AtomicU64::new(0));
        let mut webhooks = Vec::new();
        let build = || -> ferrule_core::Result<Arc<AlertRouter>> {
            let mut out: Vec<Arc<dyn AlertSink>> = Vec::new();
            for (name, kind, target) in sinks {
                let url = || target.extract::<String>(py).unwrap_or_default();
                let hook_cfg = |u: String| {
                    let mut c = WebhookConfig::new(u);
                    c.max_attempts = webhook_retries.clamp(0, 100) as u32 + 1;
                    c.backoff_initial =
                        Duration::from_secs_f64(webhook_backoff_seconds.clamp(0.0, 3600.0));
                    c.timeout =
                        Duration::from_secs_f64(webhook_timeout_seconds.clamp(0.001, 3600.0));
                    c
                };
                let s: Arc<dyn AlertSink> = match kind.as_str() {
                    "callback" => Arc::new(py_sink(name, target, clock.clone(), errors.clone())),
                    "log" => Arc::new(LogSink::new(name)),
                    k if receiver_spec::KINDS.contains(&k) => {
                        let w = Arc::new(receiver_spec::build(&name, k, &url(), &hook_cfg(String::new()))?);
                        webhooks.push(w.clone());
                        w
                    }
                    k => {
                        return Err(ferrule_core::Error::out_of_range(
                            C,
                            "sinks",
                            format!("{k:?}"),
                            "a callable, \"log\", ferrule.Webhook, ferrule.Alertmanager, ferrule.Slack, ferrule.PagerDuty, ferrule.JsonWebhook",
                        ))
                    }
                };
                out.push(s);
            }
            let _ = alertmanager::rfc3339; // the body encoder lives with the sink
            let mut cfg = RouterConfig {
                group_wait_nanos: nanos("group_wait_seconds", group_wait_seconds)?,
                group_interval_nanos: nanos("group_interval_seconds", group_interval_seconds)?,
                repeat_interval_nanos: nanos("repeat_interval_seconds", repeat_interval_seconds)?,
                cap: CapConfig {
                    max: ferrule_core::error::check::int(C, "cap", cap as i128, 1, 1_000_000)?
                        as u32,
                    window_nanos: nanos("cap_window_seconds", cap_window_seconds)?,
                },
                max_alerts: ferrule_core::error::check::int(
                    C,
                    "max_alerts",
                    max_alerts as i128,
                    1,
                    10_000_000,
                )? as usize,
                ..RouterConfig::default()
            };
            ferrule_core::error::check::int(C, "webhook_retries", webhook_retries as i128, 0, 99)?;
            if let Some(rules) = inhibit {
                cfg.inhibit = rules
                    .into_iter()
                    .map(|(src, tgt, equal)| {
                        Ok(InhibitRule {
                            source_min: Severity::parse_alert(C, "inhibit", &src)?,
                            target_max: Severity::parse_alert(C, "inhibit", &tgt)?,
                            equal,
                        })
                    })
                    .collect::<ferrule_core::Result<_>>()?;
            }
            for (name, sinks, min_sev, matchers, group_by, (gw, gi, ri), escalate, cont) in routes {
                let mut r = Route::new(name);
                r.sinks = sinks;
                r.min_severity = Severity::parse_alert(C, "severity", &min_sev)?;
                let mut m: Vec<(String, String)> = matchers.into_iter().collect();
                m.sort();
                r.matchers = m;
                if !group_by.is_empty() {
                    r.group_by = group_by;
                }
                r.group_wait_nanos = gw.map(|s| nanos("group_wait_seconds", s)).transpose()?;
                r.group_interval_nanos =
                    gi.map(|s| nanos("group_interval_seconds", s)).transpose()?;
                r.repeat_interval_nanos = ri
                    .map(|s| nanos("repeat_interval_seconds", s))
                    .transpose()?;
                r.escalation = escalate
                    .into_iter()
                    .map(|(after, sinks)| {
                        Ok(Escalation {
                            after_nanos: nanos("escalate", after)?,
                            sinks,
                        })
                    })
                    .collect::<ferrule_core::Result<_>>()?;
                r.continue_matching = cont;
                cfg.routes.push(r);
            }
            AlertRouter::new(cfg, out, clock.clone())
        };
        let inner = build().map_err(|e| to_py(py, e))?;
        ferrule_core::watch::gauges::export(&inner);
        Ok(Self {
            inner,
            clock,
            webhooks,
            callback_errors: errors,
        })
    }

    /// Makes this router the one watchers, switches and probes publish to (`None` uninstalls).
    fn install(&self) {
        alert_router::install(Some(self.inner.clone()));
    }

    #[staticmethod]
    fn uninstall() {
        alert_router::install(None);
    }

    fn installed(&self) -> bool {
        alert_router::installed().is_some_and(|r| Arc::ptr_eq(&r, &self.inner))
    }

    /// Adds a callback sink that every default-routed notification reaches.
    fn add_callback(&self, name: String, f: Py<PyAny>) {
        self.inner.add_sink(Arc::new(py_sink(
            name,
            f,
            self.clock.clone(),
            self.callback_errors.clone(),
        )));
    }

    /// Removes a sink added with `add_callback`; false if there is none by that name.
    fn remove_sink(&self, name: &str) -> bool {
        self.inner.remove_sink(name)
    }

    #[pyo3(signature = (name, severity, labels, summary, fingerprint="", resolved=false, at=None))]
    #[allow(clippy::too_many_arguments)]
    fn push(
        &self,
        py: Python<'_>,
        name: String,
        severity: &str,
        labels: HashMap<String, String>,
        summary: String,
        fingerprint: &str,
        resolved: bool,
        at: Option<f64>,
    ) -> PyResult<String> {
        let sev = Severity::parse_alert(C, "severity", severity).map_err(|e| to_py(py, e))?;
        let at = at_nanos(&self.clock, at)?;
        let mut a = Alert::new(name, sev, labels, summary).with_fingerprint(fingerprint);
        if resolved {
            a = a.resolved();
        }
        let fp = a.fingerprint.clone();
        guard(py, || self.inner.push_at(a, at))?;
        Ok(fp)
    }

    /// Runs the timing rules now (or at `at` on a manual clock); returns the notifications sent.
    #[pyo3(signature = (at=None))]
    fn tick<'py>(&self, py: Python<'py>, at: Option<f64>) -> PyResult<Bound<'py, PyList>> {
        let at = at_nanos(&self.clock, at)?;
        // Callbacks re-take the GIL; the router's lock is never held while they run.
        let ns = guard(py, || self.inner.tick_at(at))?;
        let l = PyList::empty(py);
        for n in &ns {
            l.append(notification_dict(py, n, offset(&self.clock, n.at))?)?;
        }
        Ok(l)
    }

    #[pyo3(signature = (fingerprint, at=None))]
    fn resolve(&self, py: Python<'_>, fingerprint: &str, at: Option<f64>) -> PyResult<bool> {
        let at = at_nanos(&self.clock, at)?;
        guard(py, || self.inner.resolve_at(fingerprint, at))
    }

    fn ack(&self, py: Python<'_>, fingerprint: &str) -> PyResult<bool> {
        guard(py, || self.inner.ack(fingerprint))
    }

    #[pyo3(signature = (matchers, duration_seconds, comment="", at=None))]
    fn silence(
        &self,
        py: Python<'_>,
        matchers: HashMap<String, String>,
        duration_seconds: f64,
        comment: &str,
        at: Option<f64>,
    ) -> PyResult<u64> {
        let at = at_nanos(&self.clock, at)?;
        let mut m: Vec<(String, String)> = matchers.into_iter().collect();
        m.sort();
        let d = nanos("duration_seconds", duration_seconds).map_err(|e| to_py(py, e))?;
        guard(py, || self.inner.silence_at(m, d, comment, at))?.map_err(|e| to_py(py, e))
    }

    fn expire_silence(&self, py: Python<'_>, id: u64) -> PyResult<bool> {
        guard(py, || self.inner.expire_silence(id))
    }

    fn silences<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let l = PyList::empty(py);
        let off = offset(&self.clock, self.clock.now_nanos());
        for s in self.inner.silences() {
            let d = PyDict::new(py);
            d.set_item("id", s.id)?;
            d.set_item("matchers", labels_dict(py, &s.matchers)?)?;
            d.set_item("ends_at", s.ends_at as f64 / 1e9 + off)?;
            d.set_item("comment", s.comment)?;
            l.append(d)?;
        }
        Ok(l)
    }

    fn alerts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let l = PyList::empty(py);
        let off = offset(&self.clock, self.clock.now_nanos());
        for a in self.inner.alerts() {
            l.append(alert_dict(py, &a, off)?)?;
        }
        Ok(l)
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.stats();
        let d = PyDict::new(py);
        d.set_item("alerts_fired", s.alerts_fired)?;
        d.set_item("alerts_resolved", s.alerts_resolved)?;
        d.set_item("active", s.active)?;
        d.set_item("notifications", s.notifications)?;
        d.set_item("escalations", s.escalations)?;
        d.set_item("held_by_cap", s.held_by_cap)?;
        d.set_item("digests", s.digests)?;
        d.set_item("silenced", s.silenced)?;
        d.set_item("inhibited", s.inhibited)?;
        d.set_item("dropped_over_max", s.dropped_over_max)?;
        d.set_item("sink_errors", s.sink_errors)?;
        d.set_item(
            "callback_errors",
            self.callback_errors.load(Ordering::Relaxed),
        )?;
        d.set_item("silences", s.silences)?;
        let hooks = PyDict::new(py);
        for w in &self.webhooks {
            let ws = w.stats();
            let h = PyDict::new(py);
            h.set_item("enqueued", ws.enqueued)?;
            h.set_item("delivered", ws.delivered)?;
            h.set_item("retries", ws.retries)?;
            h.set_item("failed", ws.failed)?;
            h.set_item("dropped", ws.dropped)?;
            h.set_item("queued", ws.queued)?;
            hooks.set_item(w.name(), h)?;
        }
        d.set_item("webhooks", hooks)?;
        Ok(d)
    }

    /// Waits (GIL released) until every webhook queue is delivered or `timeout_seconds` passes.
    #[pyo3(signature = (timeout_seconds=5.0))]
    fn flush(&self, py: Python<'_>, timeout_seconds: f64) -> bool {
        let t = Duration::from_secs_f64(timeout_seconds.clamp(0.0, 3600.0));
        let hooks = self.webhooks.clone();
        crate::gil::without_gil(py, move || hooks.iter().all(|w| w.flush(t)))
    }

    fn sink_names(&self) -> Vec<String> {
        self.inner.sink_names()
    }

    fn now(&self) -> f64 {
        self.clock.now_nanos() as f64 / 1e9
    }
}
