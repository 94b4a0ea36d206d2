//! The webhook sink: each notification is POSTed as JSON by a delivery thread, retried with
//! exponential backoff on connection errors, 5xx and 429, from a bounded queue. Delivering never
//! blocks the router: a full queue drops the oldest job, counts it and logs a warning; a job that
//! exhausts its attempts is counted as failed and logged. The Alertmanager, Slack, PagerDuty and
//! templated sinks are this sink with their body (`receivers.rs`). Requests go through `net::post`:
//! `http://` or `https://` (rustls, system roots or `ca_file`, optional client certificate); a TLS
//! failure is not retried, and is logged once per outage and counted in
//! `ferrule_errors_total{component="connect",name="webhook",error_type="tls"}`.
//!
//! Why a delivery thread per sink and not the shared alerting runtime: the runtime's one thread
//! ticks every router, dead man's switch and probe schedule every 100 ms, and its tasks must be
//! plain non-blocking `tick`s. A POST blocks for up to `timeout` (5 s by default) on a black-holed
//! endpoint, and a retry chain for minutes; on the runtime thread that would stall every dead man's
//! switch and escalation timer in the process, and one dead receiver would delay every other sink.
//! The timing *decisions* (when to notify, repeat, escalate) stay on the runtime; only the blocking
//! I/O and its backoff live here, started lazily on the first notification, one per sink (sinks
//! are a handful per process), restarted after a fork and gone when the sink is dropped.

use super::alert_sink::AlertSink;
use super::notification::Notification;
use super::receivers::{self, Template};
use crate::error::{Error, Result};
use crate::net::{FailureKind, HttpTarget, TlsFiles};
use std::collections::VecDeque;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const C: &str = "Webhook";

#[derive(Debug, Clone, PartialEq)]
pub struct WebhookConfig {
    pub url: String,
    pub timeout: Duration,
    pub max_attempts: u32,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    pub queue_capacity: usize,
    pub headers: Vec<(String, String)>,
    /// CA and client certificate files for `https://` receivers (default: the system roots).
    pub tls: TlsFiles,
}

impl WebhookConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            timeout: Duration::from_secs(5),
            max_attempts: 5,
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            queue_capacity: 1000,
            headers: Vec::new(),
            tls: TlsFiles::default(),
        }
    }

    fn http_target(&self) -> HttpTarget {
        HttpTarget {
            url: self.url.clone(),
            headers: self.headers.clone(),
            compression: Default::default(),
            timeout: self.timeout,
            tls: self.tls.clone(),
        }
    }

    pub fn validate(&self) -> Result<()> {
        if let Err((param, value, allowed)) = self.http_target().check() {
            return Err(Error::out_of_range(C, param, value, allowed));
        }
        if self.max_attempts == 0 || self.max_attempts > 100 {
            return Err(Error::out_of_range(
                C,
                "max_attempts",
                self.max_attempts,
                "[1, 100]",
            ));
        }
        if self.queue_capacity == 0 {
            return Err(Error::out_of_range(C, "queue_capacity", 0, ">= 1"));
        }
        if self.timeout.is_zero() {
            return Err(Error::out_of_range(C, "timeout_seconds", 0, "> 0"));
        }
        Ok(())
    }

    /// The wait before attempt `attempt` (2, 3, ...): initial * 2^(attempt-2), capped.
    pub fn retry_delay(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(2).min(30);
        self.backoff_initial
            .saturating_mul(1u32 << exp)
            .min(self.backoff_max)
    }
}

/// How a notification becomes request bodies.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// `Notification::to_json`.
    Json,
    /// Alertmanager's `/api/v2/alerts` array (`endsAt` set on resolved alerts).
    Alertmanager,
    /// A Slack incoming-webhook message.
    Slack,
    /// PagerDuty Events API v2 events (one request per alert), for this integration's routing key;
    /// `source` names the process in the incident.
    PagerDuty { routing_key: String, source: String },
    /// The user's JSON template, filled from `Notification::to_json`.
    Template(Template),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebhookStats {
    pub enqueued: u64,
    pub delivered: u64,
    pub retries: u64,
    pub failed: u64,
    pub dropped: u64,
    pub queued: usize,
}

struct Job {
    body: Vec<u8>,
    attempt: u32,
    not_before: Instant,
}

struct Shared {
    cfg: WebhookConfig,
    target: HttpTarget,
    /// A TLS failure is reported once until a delivery succeeds again.
    tls_failing: AtomicBool,
    // The delivery queue: the router's tick pushes (a handful a minute), the delivery thread pops;
    // a condition variable lets the thread sleep until a job or its retry time.
    q: Mutex<VecDeque<Job>>,
    cv: Condvar,
    enqueued: AtomicU64,
    delivered: AtomicU64,
    retries: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    started: AtomicU64,
}

pub struct WebhookSink {
    name: String,
    body: Body,
    shared: Arc<Shared>,
}

impl WebhookSink {
    pub fn new(name: impl Into<String>, cfg: WebhookConfig, body: Body) -> Result<Self> {
        cfg.validate()?;
        if let Body::PagerDuty { routing_key, .. } = &body {
            if routing_key.trim().is_empty() || routing_key.len() > 64 {
                return Err(Error::out_of_range(
                    C,
                    "routing_key",
                    format!("{:?}", routing_key),
                    "the 32-character integration key of a PagerDuty Events API v2 integration",
                ));
            }
        }
        Ok(Self {
            name: name.into(),
            body,
            shared: Arc::new(Shared {
                target: cfg.http_target(),
                tls_failing: AtomicBool::new(false),
                cfg,
                q: Mutex::new(VecDeque::new()),
                cv: Condvar::new(),
                enqueued: AtomicU64::new(0),
                delivered: AtomicU64::new(0),
                retries: AtomicU64::new(0),
                failed: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
                started: AtomicU64::new(0),
            }),
        })
    }

    pub fn config(&self) -> &WebhookConfig {
        &self.shared.cfg
    }

    pub fn stats(&self) -> WebhookStats {
        let s = &self.shared;
        WebhookStats {
            enqueued: s.enqueued.load(Ordering::Relaxed),
            delivered: s.delivered.load(Ordering::Relaxed),
            retries: s.retries.load(Ordering::Relaxed),
            failed: s.failed.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
            queued: s.q.lock().unwrap_or_else(|p| p.into_inner()).len(),
        }
    }

    /// Waits (really) until the queue is empty and nothing is in flight, or `timeout` passes.
    /// For tests and for flushing before exit.
    pub fn flush(&self, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        loop {
            let s = self.stats();
            if s.queued == 0 && s.delivered + s.failed + s.dropped >= s.enqueued {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The request bodies for one notification (several for PagerDuty: one event per alert).
    pub fn encode_all(&self, n: &Notification) -> Vec<Vec<u8>> {
        // Clock times become wall time relative to the notification's own moment.
        let now_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let offset = now_unix - n.at as f64 / 1e9;
        match &self.body {
            Body::Json => vec![n.to_json(offset).to_string().into_bytes()],
            Body::Alertmanager => vec![super::alertmanager::encode(n, offset).into_bytes()],
            Body::Slack => vec![receivers::slack(n).to_string().into_bytes()],
            Body::PagerDuty {
                routing_key,
                source,
            } => receivers::pagerduty(n, routing_key, source, offset)
                .into_iter()
                .map(|v| v.to_string().into_bytes())
                .collect(),
            Body::Template(t) => vec![t.render(&n.to_json(offset)).to_string().into_bytes()],
        }
    }

    /// The first request body for a notification (the only one, except for PagerDuty).
    pub fn encode(&self, n: &Notification) -> Vec<u8> {
        self.encode_all(n).into_iter().next().unwrap_or_default()
    }

    fn enqueue(&self, body: Vec<u8>) {
        let s = &self.shared;
        self.ensure_worker();
        s.enqueued.fetch_add(1, Ordering::Relaxed);
        {
            let mut q = s.q.lock().unwrap_or_else(|p| p.into_inner());
            if q.len() >= s.cfg.queue_capacity {
                q.pop_front();
                s.dropped.fetch_add(1, Ordering::Relaxed);
                log::warn!(target: "ferrule.alert", "webhook {:?}: queue full ({}), oldest notification dropped", self.name, s.cfg.queue_capacity);
            }
            q.push_back(Job {
                body,
                attempt: 1,
                not_before: Instant::now(),
            });
        }
        s.cv.notify_one();
    }

    fn ensure_worker(&self) {
        let gen = crate::fork_guard::generation() + 1;
        let cur = self.shared.started.load(Ordering::Acquire);
        if cur == gen
            || self
                .shared
                .started
                .compare_exchange(cur, gen, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return;
        }
        let shared = Arc::downgrade(&self.shared);
        let name = self.name.clone();
        let spawned = std::thread::Builder::new()
            .name("ferrule-webhook".into())
            .spawn(move || deliver_loop(shared, name, gen));
        if let Err(e) = spawned {
            self.shared.started.store(0, Ordering::Release);
            log::warn!(target: "ferrule.alert", "webhook {:?}: cannot start its delivery thread: {e}", self.name);
        }
    }
}

impl AlertSink for WebhookSink {
    fn name(&self) -> &str {
        &self.name
    }
    fn deliver(&self, n: &Notification) {
        for body in self.encode_all(n) {
            self.enqueue(body);
        }
    }
}

fn deliver_loop(shared: std::sync::Weak<Shared>, name: String, gen: u64) {
    // The client (its connection pool and I/O thread) belongs to this delivery thread, so a
    // forked child, which restarts the thread, builds its own.
    let client = match shared.upgrade().map(|s| s.target.client()) {
        None => return,
        Some(Ok(c)) => Some(c),
        Some(Err(e)) => {
            crate::telemetry::builtin::error("connect", "webhook", "tls");
            log::warn!(target: "ferrule.alert", "webhook {name:?}: {e}; notifications to it fail");
            None
        }
    };
    loop {
        let Some(s) = shared.upgrade() else { return };
        if s.started.load(Ordering::Acquire) != gen {
            return;
        }
        let job = {
            let mut q = s.q.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            match q.iter().position(|j| j.not_before <= now) {
                Some(i) => q.remove(i),
                None => {
                    let wait = q
                        .iter()
                        .map(|j| j.not_before.saturating_duration_since(now))
                        .min()
                        .unwrap_or(Duration::from_millis(500))
                        .min(Duration::from_millis(500));
                    let _ = s.cv.wait_timeout(q, wait);
                    None
                }
            }
        };
        let Some(mut job) = job else { continue };
        let res = match &client {
            Some(c) => s.target.post(c, "application/json", &job.body),
            None => Err(crate::net::Failure {
                kind: FailureKind::Tls,
                message: "no HTTP client (see the warning above)".into(),
            }),
        };
        let retry = match &res {
            Ok(_) => {
                s.delivered.fetch_add(1, Ordering::Relaxed);
                if s.tls_failing.swap(false, Ordering::Relaxed) {
                    log::warn!(target: "ferrule.alert", "webhook {name:?}: TLS works again");
                }
                continue;
            }
            Err(f) => f.kind.retryable(),
        };
        let Err(f) = res else { continue };
        if f.kind == FailureKind::Tls {
            crate::telemetry::builtin::error("connect", "webhook", "tls");
            if !s.tls_failing.swap(true, Ordering::Relaxed) {
                log::warn!(target: "ferrule.alert", "webhook {name:?}: {f}; notifications are counted as failed until it recovers");
            }
        }
        let why = f.message;
        if retry && job.attempt < s.cfg.max_attempts {
            job.attempt += 1;
            let delay = s.cfg.retry_delay(job.attempt);
            job.not_before = Instant::now() + delay;
            s.retries.fetch_add(1, Ordering::Relaxed);
            log::warn!(target: "ferrule.alert", "webhook {name:?} {why}; retry {} in {:?}", job.attempt, delay);
            s.q.lock().unwrap_or_else(|p| p.into_inner()).push_back(job);
        } else {
            s.failed.fetch_add(1, Ordering::Relaxed);
            // A TLS outage was reported once above; every other give-up is reported here.
            if f.kind != FailureKind::Tls {
                log::warn!(target: "ferrule.alert", "webhook {name:?} {why}; notification given up after {} attempts", job.attempt);
            }
        }
    }
}
