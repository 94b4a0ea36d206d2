//! The Redis backend shared by rate limiters, breakers and the dead-letter queue: one server, a Redis
//! Cluster or a Sentinel-managed master (`topology.rs` reads the URL), a bounded pool of sync
//! connections whose read/write timeouts are capped by the caller's budget, keys namespaced
//! `prefix:kind:{name}` (the hash tag puts every key one script touches in one cluster slot), and the
//! `on_backend_error` policy for when Redis is unreachable.
//! An outage is counted, logged at warning and raised as a watch event; while it lasts callers skip
//! Redis (no connect storm, no waiting) except one probe per `retry_seconds`, whose success resolves it.

use crate::clock::{Clock, SystemClock};
use crate::error::{check, Error, Result};
use crate::store::redis_topology::{Connector, Topology};
use crate::telemetry::collector::{Collect, Sink};
use crate::watch::event::{Event as WatchEvent, EventState, Severity};
use crossbeam_queue::ArrayQueue;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

pub const UP_FAMILY: &str = "ferrule_redis_up";
pub const OPERATIONS_FAMILY: &str = "ferrule_redis_operations";
pub const ERRORS_FAMILY: &str = "ferrule_redis_errors";
pub const OUTAGES_FAMILY: &str = "ferrule_redis_outages";
pub const FALLBACKS_FAMILY: &str = "ferrule_redis_fallback_decisions";

/// Who asked Redis: the `op` label of the backend's metrics (a fixed set, so bounded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    RateLimit,
    BreakerSync,
    DeadLetter,
    /// A router's shared endpoint health (`route::health_sync`).
    RouterHealth,
}

impl Op {
    const ALL: [Op; 4] = [
        Op::RateLimit,
        Op::BreakerSync,
        Op::DeadLetter,
        Op::RouterHealth,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::RateLimit => "rate_limit",
            Op::BreakerSync => "breaker_sync",
            Op::DeadLetter => "dead_letter",
            Op::RouterHealth => "router_health",
        }
    }
}

/// Why an operation failed: the `kind` label (a fixed set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Refused, reset, unreachable: nothing listens.
    Connection,
    /// No answer within the operation's timeout.
    Timeout,
    /// Redis answered with an error (a script error, OOM, a wrong type).
    Reply,
    /// A master is being replaced: the cluster or Sentinel answered CLUSTERDOWN, MASTERDOWN,
    /// READONLY (a demoted master), TRYAGAIN or LOADING, or no node serves the key's slot.
    Failover,
    /// Not tried: Redis is known down and this caller was not the one probing.
    Skipped,
}

impl ErrorKind {
    const ALL: [ErrorKind; 5] = [
        ErrorKind::Connection,
        ErrorKind::Timeout,
        ErrorKind::Reply,
        ErrorKind::Failover,
        ErrorKind::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Connection => "connection",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Reply => "reply",
            ErrorKind::Failover => "failover",
            ErrorKind::Skipped => "skipped",
        }
    }

    fn of(e: &redis::RedisError) -> Self {
        use redis::ServerErrorKind as S;
        if matches!(
            e.kind(),
            redis::ErrorKind::Server(
                S::ClusterDown | S::MasterDown | S::ReadOnly | S::TryAgain | S::BusyLoading
            ) | redis::ErrorKind::ClusterConnectionNotFound
                | redis::ErrorKind::MasterNameNotFoundBySentinel
        ) {
            ErrorKind::Failover
        } else if e.is_timeout() {
            ErrorKind::Timeout
        } else if e.is_io_error() || e.is_connection_refusal() || e.is_connection_dropped() {
            ErrorKind::Connection
        } else {
            ErrorKind::Reply
        }
    }
}

/// What the `on_backend_error` policy decided for a caller Redis could not answer: the `outcome`
/// label of `ferrule_redis_fallback_decisions_total` (`component` is the op).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// `fail_open`: let through.
    Admitted,
    /// `fail_closed`: refused.
    Rejected,
    /// `local`: decided by this process's own state.
    Local,
    /// Not a decision: an update Redis should have stored was lost (a refund, a dead letter).
    Lost,
}

impl Fallback {
    const ALL: [Fallback; 4] = [
        Fallback::Admitted,
        Fallback::Rejected,
        Fallback::Local,
        Fallback::Lost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Fallback::Admitted => "admitted",
            Fallback::Rejected => "rejected",
            Fallback::Local => "local",
            Fallback::Lost => "lost",
        }
    }

    /// The decision a policy takes.
    pub fn of(policy: OnBackendError) -> Self {
        match policy {
            OnBackendError::FailOpen => Fallback::Admitted,
            OnBackendError::FailClosed => Fallback::Rejected,
            OnBackendError::Local => Fallback::Local,
        }
    }
}

const N_OPS: usize = Op::ALL.len();
const N_KINDS: usize = ErrorKind::ALL.len();
const N_FALLBACKS: usize = Fallback::ALL.len();

/// The backend's counters, exported at scrape time (labels: the backend's prefix and fixed sets).
struct Health {
    prefix: String,
    /// 0 while up; while down, the monotonic time of the next probe.
    probe_at: AtomicU64,
    operations: [AtomicU64; N_OPS],
    errors: [[AtomicU64; N_KINDS]; N_OPS],
    fallbacks: [[AtomicU64; N_FALLBACKS]; N_OPS],
    outages: AtomicU64,
    recoveries: AtomicU64,
}

impl Collect for Health {
    fn collect(&self, sink: &mut Sink) {
        let p = self.prefix.as_str();
        let up = self.probe_at.load(Ordering::Relaxed) == 0;
        sink.sample(UP_FAMILY, &[p], if up { 1.0 } else { 0.0 });
        sink.sample(
            OUTAGES_FAMILY,
            &[p],
            self.outages.load(Ordering::Relaxed) as f64,
        );
        for op in Op::ALL {
            let o = op as usize;
            sink.sample(
                OPERATIONS_FAMILY,
                &[p, op.as_str()],
                self.operations[o].load(Ordering::Relaxed) as f64,
            );
            for k in ErrorKind::ALL {
                sink.sample(
                    ERRORS_FAMILY,
                    &[p, op.as_str(), k.as_str()],
                    self.errors[o][k as usize].load(Ordering::Relaxed) as f64,
                );
            }
            for f in Fallback::ALL {
                sink.sample(
                    FALLBACKS_FAMILY,
                    &[p, op.as_str(), f.as_str()],
                    self.fallbacks[o][f as usize].load(Ordering::Relaxed) as f64,
                );
            }
        }
    }
}

/// Declares the backend's families in the default registry once, so collector samples render.
fn declare_families() {
    static D: OnceLock<()> = OnceLock::new();
    D.get_or_init(|| {
        let r = crate::telemetry::registry::global();
        let ok = r
            .gauge(
                UP_FAMILY,
                "1 while this process's Redis backend answers, 0 during an outage (summed over \
                 backends with the same prefix).",
                &["prefix"],
            )
            .and(r.counter(
                OUTAGES_FAMILY,
                "Times Redis became unreachable for this process.",
                &["prefix"],
            ))
            .and(r.counter(
                OPERATIONS_FAMILY,
                "Redis round trips attempted, by the primitive that asked.",
                &["prefix", "op"],
            ))
            .and(r.counter(
                ERRORS_FAMILY,
                "Redis operations that gave no answer, by op and kind (connection, timeout, reply, \
                 failover while a master is replaced, skipped while known down).",
                &["prefix", "op", "kind"],
            ))
            .and(r.counter(
                FALLBACKS_FAMILY,
                "Decisions taken by on_backend_error instead of Redis (admitted, rejected, local) \
                 and updates lost while it was down.",
                &["prefix", "op", "outcome"],
            ));
        debug_assert!(ok.is_ok(), "redis metric declarations: {:?}", ok.err());
    });
}

const C: &str = "RedisBackend";
/// Shortest timeout a Redis operation gets, even when the caller's budget is nearly spent: below it
/// a healthy loopback round trip fails spuriously.
const MIN_OP_TIMEOUT: Duration = Duration::from_millis(1);

/// What a primitive does when Redis cannot answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnBackendError {
    /// Admit as if no limit were set (availability first).
    FailOpen,
    /// Refuse until Redis answers again (the limit first).
    FailClosed,
    /// Decide with this process's own state, as if there were no Redis.
    Local,
}

impl OnBackendError {
    pub fn as_str(self) -> &'static str {
        match self {
            OnBackendError::FailOpen => "fail_open",
            OnBackendError::FailClosed => "fail_closed",
            OnBackendError::Local => "local",
        }
    }

    pub fn parse(component: &'static str, param: &'static str, s: &str) -> Result<Self> {
        match s {
            "fail_open" | "failOpen" => Ok(OnBackendError::FailOpen),
            "fail_closed" | "failClosed" => Ok(OnBackendError::FailClosed),
            "local" => Ok(OnBackendError::Local),
            _ => Err(Error::out_of_range(
                component,
                param,
                format!("{s:?}"),
                "\"fail_open\", \"fail_closed\" or \"local\"",
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RedisConfig {
    /// `redis://host:port/db`; `redis+cluster://host:port,host:port` (seed nodes of a Redis
    /// Cluster); `redis+sentinel://host:port,host:port/master_name[/db]` (the Sentinels, and the
    /// name of the master they watch).
    pub url: String,
    /// First part of every key, so several applications share one Redis.
    pub prefix: String,
    /// Longest a single Redis operation may take (connect, write, read).
    pub timeout_seconds: f64,
    pub on_backend_error: OnBackendError,
    /// While Redis is down, one caller probes it this often; the others skip it.
    pub retry_seconds: f64,
    /// Idle connections kept for reuse.
    pub max_idle: usize,
    /// For `rediss://` (TLS, rustls on `ring`): a CA file instead of the system roots, and a
    /// client certificate + key for servers that require mutual TLS.
    pub tls: crate::net::TlsFiles,
}

impl RedisConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "ferrule".into(),
            timeout_seconds: 0.05,
            on_backend_error: OnBackendError::Local,
            retry_seconds: 1.0,
            max_idle: 16,
            tls: crate::net::TlsFiles::default(),
        }
    }
}

/// Counters, read without stopping anyone.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendStats {
    pub operations: u64,
    pub errors: u64,
    /// Decisions taken by the `on_backend_error` policy instead of Redis.
    pub fallbacks: u64,
    pub outages: u64,
    pub recoveries: u64,
    pub up: bool,
    pub idle_connections: u64,
}

/// Why Redis gave no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// Known down; not tried. The next probe is due in this long.
    Down(Duration),
    /// Tried and failed (refused, timed out, or an error reply).
    Failed(String),
}

impl Unavailable {
    /// How long until Redis is worth asking again.
    pub fn retry_in(&self, retry: Duration) -> Duration {
        match self {
            Unavailable::Down(d) => *d,
            Unavailable::Failed(_) => retry,
        }
    }
}

type Listener = Arc<dyn Fn(&WatchEvent) + Send + Sync>;

pub struct RedisBackend {
    connector: Connector,
    config: RedisConfig,
    timeout: Duration,
    retry: Duration,
    pool: ArrayQueue<(u64, crate::store::redis_topology::Conn)>,
    clock: SystemClock,
    /// Shared with the metrics registry, which reads it at scrape time.
    health: Arc<Health>,
    outage_fallbacks: AtomicU64,
    // A lock, but only read when Redis goes down or comes back, and written when a listener is added.
    listeners: RwLock<Vec<Listener>>,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("url", &self.config.url)
            .field("prefix", &self.config.prefix)
            .finish()
    }
}

impl RedisBackend {
    /// Checks every setting; does not connect (the first operation does, so a backend can be built
    /// while Redis is still starting).
    pub fn new(config: RedisConfig) -> Result<Self> {
        check::finite_positive(C, "timeout_seconds", config.timeout_seconds)?;
        if config.timeout_seconds > 60.0 || config.timeout_seconds < 1e-3 {
            return Err(Error::out_of_range(
                C,
                "timeout_seconds",
                config.timeout_seconds,
                "[0.001, 60]",
            ));
        }
        check::finite_positive(C, "retry_seconds", config.retry_seconds)?;
        if config.retry_seconds > 3600.0 || config.retry_seconds < 1e-3 {
            return Err(Error::out_of_range(
                C,
                "retry_seconds",
                config.retry_seconds,
                "[0.001, 3600]",
            ));
        }
        check::int_range(C, "max_idle", config.max_idle as u64, 1, 1024)?;
        // Braces would start a cluster hash tag before the one `key` puts around the name.
        if config.prefix.is_empty()
            || config
                .prefix
                .chars()
                .any(|c| c.is_whitespace() || c == '{' || c == '}')
        {
            return Err(Error::out_of_range(
                C,
                "prefix",
                format!("{:?}", config.prefix),
                "a non-empty string without spaces or braces",
            ));
        }
        let topology = Topology::parse(&config.url)?;
        let connector = match &topology {
            // A single server takes `redis://` or `rediss://` with the configured certificates.
            Topology::Single(_) => Connector::Single(open_client(&config)?),
            _ => {
                if !config.tls.is_default() {
                    return Err(Error::conflict(
                        C,
                        "ca_file",
                        "set",
                        "certificate files need a single-server rediss:// URL (cluster and Sentinel URLs connect without TLS)",
                    ));
                }
                Connector::new(&topology, Duration::from_secs_f64(config.timeout_seconds)).map_err(
                    |e| {
                        Error::out_of_range(
                            C,
                            "url",
                            format!("{:?}", config.url),
                            format!("{} ({e})", crate::store::redis_topology::URL_FORMS),
                        )
                    },
                )?
            }
        };
        declare_families();
        let health = Arc::new(Health {
            prefix: config.prefix.clone(),
            probe_at: AtomicU64::new(0),
            operations: Default::default(),
            errors: Default::default(),
            fallbacks: Default::default(),
            outages: AtomicU64::new(0),
            recoveries: AtomicU64::new(0),
        });
        crate::telemetry::collector::export(&health);
        Ok(Self {
            connector,
            timeout: Duration::from_secs_f64(config.timeout_seconds),
            retry: Duration::from_secs_f64(config.retry_seconds),
            pool: ArrayQueue::new(config.max_idle),
            clock: SystemClock,
            health,
            outage_fallbacks: AtomicU64::new(0),
            listeners: RwLock::new(Vec::new()),
            config,
        })
    }

    pub fn config(&self) -> &RedisConfig {
        &self.config
    }

    pub fn on_backend_error(&self) -> OnBackendError {
        self.config.on_backend_error
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn retry(&self) -> Duration {
        self.retry
    }

    /// `prefix:kind:{name}`, plus `:sub` (a stream's part, a breaker's window). Each object's name is
    /// in its keys, so two breakers or queues never share state by accident (pybreaker's shared-key
    /// bug); the braces make the name the cluster hash tag, so one object's keys share a slot and
    /// every script on them runs on one node.
    pub fn key(&self, kind: &str, name: &str, sub: Option<&str>) -> String {
        self.tagged_key(kind, name, &[sub.unwrap_or_default()])
    }

    /// `prefix:kind:{tag}:rest[0]:rest[1]...` (empty parts skipped): every key with the same `tag`
    /// lands in one cluster slot. A limiter tags by caller key, so an all-or-nothing `Limits` over
    /// several limiters touches one slot.
    pub fn tagged_key(&self, kind: &str, tag: &str, rest: &[&str]) -> String {
        let mut k = String::with_capacity(
            self.config.prefix.len()
                + kind.len()
                + tag.len()
                + 4
                + rest.iter().map(|s| s.len() + 1).sum::<usize>(),
        );
        k.push_str(&self.config.prefix);
        k.push(':');
        k.push_str(kind);
        k.push_str(":{");
        k.push_str(tag);
        k.push('}');
        for s in rest.iter().filter(|s| !s.is_empty()) {
            k.push(':');
            k.push_str(s);
        }
        k
    }

    /// Single server, cluster or Sentinel (the metrics' and logs' `mode`).
    pub fn mode(&self) -> &'static str {
        self.connector.mode()
    }

    /// Is Redis believed reachable (no failed operation since the last success)?
    pub fn is_up(&self) -> bool {
        self.health.probe_at.load(Ordering::Acquire) == 0
    }

    /// Calls `f` on every outage (firing) and recovery (resolved), on the thread that noticed it.
    pub fn on_event(&self, f: impl Fn(&WatchEvent) + Send + Sync + 'static) {
        self.listeners
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::new(f));
    }

    /// Runs one Redis operation with a timeout of at most `budget` (the caller's remaining deadline;
    /// `None` or zero: the backend's timeout). While Redis is down, returns `Down` at once except for
    /// the one caller that probes.
    pub fn run<T>(
        &self,
        op: Op,
        budget: Option<Duration>,
        f: impl FnOnce(&mut dyn redis::ConnectionLike) -> redis::RedisResult<T>,
    ) -> std::result::Result<T, Unavailable> {
        let h = &*self.health;
        let now = self.clock.now_nanos();
        let probe_at = h.probe_at.load(Ordering::Acquire);
        if probe_at != 0 {
            let next = now + self.retry.as_nanos() as u64;
            if now < probe_at
                || h.probe_at
                    .compare_exchange(probe_at, next, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
            {
                h.errors[op as usize][ErrorKind::Skipped as usize].fetch_add(1, Ordering::Relaxed);
                return Err(Unavailable::Down(Duration::from_nanos(
                    probe_at.saturating_sub(now).max(1),
                )));
            }
        }
        let timeout = match budget {
            Some(b) if !b.is_zero() => b.min(self.timeout).max(MIN_OP_TIMEOUT),
            _ => self.timeout,
        };
        h.operations[op as usize].fetch_add(1, Ordering::Relaxed);
        let generation = crate::fork_guard::generation();
        let result = self.connection(generation, timeout).and_then(|mut conn| {
            conn.set_timeouts(timeout)?;
            let r = f(conn.as_dyn());
            // A connection whose reply may still be in flight cannot be reused, nor one to a master
            // that was demoted or a cluster whose map moved: after an error the next call connects
            // afresh (asking the Sentinels or the seed nodes again).
            if r.is_ok() {
                let _ = self.pool.push((generation, conn));
            }
            r
        });
        match result {
            Ok(v) => {
                if h.probe_at.load(Ordering::Acquire) != 0 {
                    self.recovered(now);
                }
                Ok(v)
            }
            Err(e) => {
                h.errors[op as usize][ErrorKind::of(&e) as usize].fetch_add(1, Ordering::Relaxed);
                self.failed(&e, now);
                Err(Unavailable::Failed(e.to_string()))
            }
        }
    }

    /// A pooled connection made in this process (one inherited across fork shares the parent's
    /// socket and is dropped), or a new one.
    fn connection(
        &self,
        generation: u64,
        timeout: Duration,
    ) -> redis::RedisResult<crate::store::redis_topology::Conn> {
        while let Some((g, conn)) = self.pool.pop() {
            if g == generation {
                return Ok(conn);
            }
            std::mem::forget(conn); // the parent's socket: closing it here would not be ours to do
        }
        self.connector.connect(timeout)
    }

    fn failed(&self, e: &redis::RedisError, now: u64) {
        let next = now + self.retry.as_nanos() as u64;
        if self.health.probe_at.swap(next, Ordering::AcqRel) == 0 {
            self.health.outages.fetch_add(1, Ordering::Relaxed);
            self.outage_fallbacks.store(0, Ordering::Relaxed);
            log::warn!(
                "ferrule: Redis at {} unavailable ({e}); on_backend_error={} applies until it answers \
                 (probed every {:?})",
                self.config.url,
                self.config.on_backend_error.as_str(),
                self.retry
            );
            self.emit(EventState::Firing, format!("Redis unavailable: {e}"), now);
        } else {
            log::debug!("ferrule: Redis probe failed: {e}");
        }
    }

    fn recovered(&self, now: u64) {
        if self.health.probe_at.swap(0, Ordering::AcqRel) == 0 {
            return;
        }
        self.health.recoveries.fetch_add(1, Ordering::Relaxed);
        let during = self.outage_fallbacks.load(Ordering::Relaxed);
        log::warn!(
            "ferrule: Redis at {} answers again; {during} decisions were taken by on_backend_error={} \
             during the outage",
            self.config.url,
            self.config.on_backend_error.as_str()
        );
        self.emit(EventState::Resolved, "Redis answers again".into(), now);
    }

    /// Counts a decision taken by the policy instead of Redis. The outage itself was logged once when
    /// it began; the count per outage is logged when it ends, so a long outage does not flood logs.
    pub fn note_fallback(&self, op: Op, outcome: Fallback) {
        self.health.fallbacks[op as usize][outcome as usize].fetch_add(1, Ordering::Relaxed);
        self.outage_fallbacks.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a decision taken by this backend's policy (`Fallback::of(on_backend_error)`).
    pub fn note_policy_fallback(&self, op: Op) {
        self.note_fallback(op, Fallback::of(self.config.on_backend_error));
    }

    fn emit(&self, state: EventState, message: String, at: u64) {
        let labels = vec![("prefix".to_string(), self.config.prefix.clone())];
        let e = WatchEvent {
            name: "redis_backend_unavailable",
            source: self.config.url.clone(),
            severity: Severity::Critical,
            state,
            dedup_key: WatchEvent::key("redis_backend_unavailable", &self.config.url, &labels),
            labels,
            value: self.stats().errors as f64,
            threshold: 1.0,
            message,
            at_nanos: at,
        };
        {
            let ls = self.listeners.read().unwrap_or_else(|p| p.into_inner());
            for l in ls.iter() {
                l(&e);
            }
        }
        // To the installed alert router, as every watcher's events go (a no-op when none is).
        crate::watch::alert_router::publish(std::slice::from_ref(&e));
    }

    pub fn stats(&self) -> BackendStats {
        let h = &*self.health;
        let sum = |cs: &[AtomicU64]| cs.iter().map(|c| c.load(Ordering::Relaxed)).sum::<u64>();
        BackendStats {
            operations: sum(&h.operations),
            // Skipped operations were never sent: not errors of Redis, though counted by kind.
            errors: h
                .errors
                .iter()
                .map(|k| sum(k) - k[ErrorKind::Skipped as usize].load(Ordering::Relaxed))
                .sum(),
            fallbacks: h.fallbacks.iter().map(|f| sum(f)).sum(),
            outages: h.outages.load(Ordering::Relaxed),
            recoveries: h.recoveries.load(Ordering::Relaxed),
            up: self.is_up(),
            idle_connections: self.pool.len() as u64,
        }
    }
}

/// The client for `redis://` or `rediss://` (TLS), with the configured CA and client certificate.
/// The redis crate asks rustls for the process's default provider, so `ring` is installed first.
fn open_client(config: &RedisConfig) -> Result<redis::Client> {
    let bad_url = |e: String| {
        Error::out_of_range(
            C,
            "url",
            format!("{:?}", config.url),
            format!("a redis:// or rediss:// URL ({e})"),
        )
    };
    crate::net::tls::install_default_provider();
    if config.tls.is_default() {
        return redis::Client::open(config.url.as_str()).map_err(|e| bad_url(e.to_string()));
    }
    if !config.url.starts_with("rediss://") {
        return Err(Error::conflict(
            C,
            "ca_file",
            "set",
            "certificate files need a rediss:// URL",
        ));
    }
    // Checked here so a wrong path or key names its parameter now, not at the first command.
    config
        .tls
        .check()
        .map_err(|(p, v, a)| Error::out_of_range(C, p, v, a))?;
    let read = |param: &'static str, p: &std::path::Path| {
        std::fs::read(p).map_err(|e| {
            Error::out_of_range(
                C,
                param,
                p.display().to_string(),
                format!("a readable file ({e})"),
            )
        })
    };
    let root_cert = match &config.tls.ca_file {
        Some(p) => Some(read("ca_file", p)?),
        None => None,
    };
    let client_tls = match (&config.tls.client_cert_file, &config.tls.client_key_file) {
        (Some(c), Some(k)) => Some(redis::ClientTlsConfig {
            client_cert: read("client_cert_file", c)?,
            client_key: read("client_key_file", k)?,
        }),
        _ => None,
    };
    redis::Client::build_with_tls(
        config.url.as_str(),
        redis::TlsCertificates {
            client_tls,
            root_cert,
        },
    )
    .map_err(|e| bad_url(e.to_string()))
}
