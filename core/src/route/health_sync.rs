//! A router's endpoint health shared across processes through Redis: cooldowns (429 / Retry-After),
//! ejections and the active region. Picks keep reading this process's atomics only; a background
//! thread publishes what changed here at once (woken by the failure that caused it) and, every
//! `interval`, reads what the others published and applies it. So a provider that starts
//! rate-limiting is rested by every replica within one interval plus a round trip of the first 429,
//! instead of each replica finding out with its own 429s.
//!
//! Deadlines are kept on the Redis server's clock (`TIME` in the script), so hosts with skewed clocks
//! agree: the longest cooldown wins (a shorter re-cooling never shortens it), and an ejection ends in
//! every process at the same moment (within a round trip). When Redis is down each process keeps its
//! own view; the outage is counted and logged once (the backend's `on_backend_error` has nothing to
//! decide here: a router always keeps routing on what it knows).

use super::router::Router;
use crate::clock::{Clock, SystemClock};
use crate::error::{check, Error, Result};
use crate::store::redis_backend::{Fallback, Op, RedisBackend};
use crate::telemetry::collector::{Collect, Sink};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, OnceLock, Weak};
use std::time::Duration;

pub const SYNCS_FAMILY: &str = "ferrule_router_health_syncs";
pub const APPLIED_FAMILY: &str = "ferrule_router_health_applied";
pub const PUBLISHED_FAMILY: &str = "ferrule_router_health_published";
pub const SYNC_AGE_FAMILY: &str = "ferrule_router_health_sync_age_seconds";

/// KEYS[1]: hash {c:<endpoint>: cooldown end, e:<endpoint>: ejection end (server ms), region,
/// region_v}. ARGV[1]: endpoint count n; then per endpoint: name, cooldown ms to publish (0: none),
/// ejection ms (0: none); then the active region to publish ('' : none). Returns, per endpoint, the
/// remaining cooldown and ejection ms, then the shared region and its version, then the server's now
/// (ms): remaining plus now is the deadline as stored, the same number in every round, so a peer's
/// deadline is recognised as already applied however late this process reads the reply.
const SYNC: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = tonumber(ARGV[1])
local out = {}
local longest = 0
for i = 0, n - 1 do
  local name, cd, ej = ARGV[2 + i * 3], tonumber(ARGV[3 + i * 3]), tonumber(ARGV[4 + i * 3])
  local fc, fe = 'c:' .. name, 'e:' .. name
  local cur = redis.call('HMGET', KEYS[1], fc, fe)
  local c, e = tonumber(cur[1] or '0') or 0, tonumber(cur[2] or '0') or 0
  if cd > 0 and now + cd > c then
    c = now + cd
    redis.call('HSET', KEYS[1], fc, string.format('%.0f', c))
  end
  if ej > 0 and now + ej > e then
    e = now + ej
    redis.call('HSET', KEYS[1], fe, string.format('%.0f', e))
  end
  local rc, re = math.max(c - now, 0), math.max(e - now, 0)
  if rc == 0 and c > 0 then redis.call('HDEL', KEYS[1], fc) end
  if re == 0 and e > 0 then redis.call('HDEL', KEYS[1], fe) end
  longest = math.max(longest, rc, re)
  out[#out + 1] = rc
  out[#out + 1] = re
end
local region = ARGV[2 + n * 3]
if region ~= '' then
  redis.call('HSET', KEYS[1], 'region', region)
  redis.call('HINCRBY', KEYS[1], 'region_v', 1)
end
out[#out + 1] = redis.call('HGET', KEYS[1], 'region') or ''
out[#out + 1] = tonumber(redis.call('HGET', KEYS[1], 'region_v') or '0')
out[#out + 1] = now
-- The hash outlives its longest deadline by a day, so the active region survives quiet nights.
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', longest + 86400000))
return out
"#;

static SYNC_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(SYNC));

/// A deadline learnt from a peer that differs from ours by less than this is the same deadline
/// (ms rounding, the round trip): applying it would only echo it back as an event.
const SLACK_NANOS: u64 = 5_000_000;

#[derive(Debug, Clone, PartialEq)]
pub struct HealthSyncConfig {
    /// How often the shared state is read: with one round trip, the bound on how late a peer's
    /// cooldown or ejection takes effect here. Local changes are published at once.
    pub interval_seconds: f64,
}

impl Default for HealthSyncConfig {
    fn default() -> Self {
        Self {
            interval_seconds: 0.25,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthSyncStats {
    pub syncs: u64,
    pub errors: u64,
    /// Cooldowns, ejections and region switches made here and published.
    pub published: u64,
    /// Cooldowns and ejections learnt from peers and applied here (a longer one than ours).
    pub applied_cooldowns: u64,
    pub applied_ejections: u64,
    /// Region switches made elsewhere and followed here.
    pub applied_regions: u64,
    /// Seconds since the last successful exchange (since the start when none has).
    pub sync_age_seconds: f64,
}

fn declare_families() {
    static D: OnceLock<()> = OnceLock::new();
    D.get_or_init(|| {
        let r = crate::telemetry::registry::global();
        let ok = r
            .counter(
                SYNCS_FAMILY,
                "Exchanges of a router's endpoint health with Redis, by outcome (ok, error).",
                &["router", "outcome"],
            )
            .and(r.counter(
                APPLIED_FAMILY,
                "Health learnt from other processes and applied here, by kind (cooldown, \
                 ejection, region).",
                &["router", "kind"],
            ))
            .and(r.counter(
                PUBLISHED_FAMILY,
                "Cooldowns, ejections and region switches made here and published to the others.",
                &["router"],
            ))
            .and(r.gauge(
                SYNC_AGE_FAMILY,
                "Seconds since this process last exchanged the router's health with Redis.",
                &["router"],
            ));
        debug_assert!(
            ok.is_ok(),
            "router health metric declarations: {:?}",
            ok.err()
        );
    });
}

struct Shared {
    router: Arc<Router>,
    backend: Arc<RedisBackend>,
    key: String,
    /// Script arguments that never change: the endpoints' names.
    names: Vec<String>,
    interval: Duration,
    stop: AtomicBool,
    // A lock, but taken only at a local cooldown/ejection/switch (failures, not calls) and at a
    // (re)start: the thread handle to wake.
    thread: Mutex<Option<std::thread::Thread>>,
    generation: AtomicU64,
    /// The shared region version applied or published here.
    region_v: AtomicU64,
    clock: SystemClock,
    started_nanos: u64,
    last_ok_nanos: AtomicU64,
    degraded: AtomicBool,
    syncs: AtomicU64,
    errors: AtomicU64,
    published: AtomicU64,
    applied_cooldowns: AtomicU64,
    applied_ejections: AtomicU64,
    applied_regions: AtomicU64,
    /// Per endpoint, the shared cooldown and ejection deadlines (server ms) last seen: only a new
    /// one is applied. Comparing local deadlines instead (our now plus the remaining time) would
    /// take a late read of the same deadline, on a busy host, for a longer one.
    seen: Mutex<Vec<(u64, u64)>>,
}

/// Keeps a router's endpoint health in step with its namesakes in other processes while it lives.
pub struct HealthSync {
    shared: Arc<Shared>,
}

impl HealthSync {
    /// Starts sharing `router`'s health on `backend` under the router's name: routers with the same
    /// name and backend prefix share one state, whatever their process or host.
    pub fn start(
        router: Arc<Router>,
        backend: Arc<RedisBackend>,
        config: HealthSyncConfig,
    ) -> Result<Self> {
        const C: &str = "Router";
        check::finite_positive(C, "sync_seconds", config.interval_seconds)?;
        if !(0.001..=3600.0).contains(&config.interval_seconds) {
            return Err(Error::out_of_range(
                C,
                "sync_seconds",
                config.interval_seconds,
                "[0.001, 3600]",
            ));
        }
        declare_families();
        let clock = SystemClock;
        let names = (0..router.endpoint_count())
            .map(|i| router.endpoint_name(i).to_string())
            .collect();
        let shared = Arc::new(Shared {
            key: backend.key("rt", router.name(), Some("health")),
            names,
            interval: Duration::from_secs_f64(config.interval_seconds),
            stop: AtomicBool::new(false),
            thread: Mutex::new(None),
            generation: AtomicU64::new(crate::fork_guard::generation()),
            region_v: AtomicU64::new(0),
            started_nanos: clock.now_nanos(),
            clock,
            last_ok_nanos: AtomicU64::new(0),
            degraded: AtomicBool::new(false),
            syncs: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            published: AtomicU64::new(0),
            applied_cooldowns: AtomicU64::new(0),
            applied_ejections: AtomicU64::new(0),
            applied_regions: AtomicU64::new(0),
            seen: Mutex::new(vec![(0, 0); router.endpoint_count()]),
            router,
            backend,
        });
        let weak: Weak<Shared> = Arc::downgrade(&shared);
        let attached = shared.router.attach_sync(Box::new(move || {
            if let Some(s) = weak.upgrade() {
                s.wake();
            }
        }));
        if !attached {
            return Err(Error::conflict(
                C,
                "backend",
                shared.router.name(),
                "one shared-health sync per router",
            ));
        }
        let weak: Weak<dyn Collect> = Arc::downgrade(&shared) as _;
        crate::telemetry::registry::global().add_collector(weak);
        Shared::spawn(&shared).map_err(|e| Error::Storage {
            store: "router health sync",
            message: e.to_string(),
        })?;
        Ok(Self { shared })
    }

    /// Starts the thread again in a forked child (a child inherits memory, not threads). Two atomic
    /// loads when nothing changed.
    #[inline]
    pub fn ensure_running(&self) {
        let g = crate::fork_guard::generation();
        let was = self.shared.generation.load(Ordering::Acquire);
        if was != g
            && self
                .shared
                .generation
                .compare_exchange(was, g, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            if let Err(e) = Shared::spawn(&self.shared) {
                log::warn!(
                    "ferrule: router {:?}: the health sync thread could not start in this forked \
                     process ({e}); it routes on its own view",
                    self.shared.router.name()
                );
            }
        }
    }

    /// One exchange now (the thread does this every interval and at each local change).
    pub fn sync_now(&self) {
        self.shared.sync_once();
    }

    pub fn stats(&self) -> HealthSyncStats {
        let s = &self.shared;
        HealthSyncStats {
            syncs: s.syncs.load(Ordering::Relaxed),
            errors: s.errors.load(Ordering::Relaxed),
            published: s.published.load(Ordering::Relaxed),
            applied_cooldowns: s.applied_cooldowns.load(Ordering::Relaxed),
            applied_ejections: s.applied_ejections.load(Ordering::Relaxed),
            applied_regions: s.applied_regions.load(Ordering::Relaxed),
            sync_age_seconds: s.sync_age_seconds(),
        }
    }
}

impl Drop for HealthSync {
    /// Stops the thread without joining it (as `BreakerSync` does: joining could deadlock a host
    /// that drops the router while finalizing).
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.wake();
    }
}

impl Collect for Shared {
    fn collect(&self, sink: &mut Sink) {
        let n = self.router.name();
        let syncs = self.syncs.load(Ordering::Relaxed);
        let errors = self.errors.load(Ordering::Relaxed);
        sink.sample(
            SYNCS_FAMILY,
            &[n, "ok"],
            syncs.saturating_sub(errors) as f64,
        );
        sink.sample(SYNCS_FAMILY, &[n, "error"], errors as f64);
        sink.sample(
            APPLIED_FAMILY,
            &[n, "cooldown"],
            self.applied_cooldowns.load(Ordering::Relaxed) as f64,
        );
        sink.sample(
            APPLIED_FAMILY,
            &[n, "ejection"],
            self.applied_ejections.load(Ordering::Relaxed) as f64,
        );
        sink.sample(
            APPLIED_FAMILY,
            &[n, "region"],
            self.applied_regions.load(Ordering::Relaxed) as f64,
        );
        sink.sample(
            PUBLISHED_FAMILY,
            &[n],
            self.published.load(Ordering::Relaxed) as f64,
        );
        sink.sample(SYNC_AGE_FAMILY, &[n], self.sync_age_seconds());
    }
}

impl Shared {
    fn spawn(shared: &Arc<Shared>) -> std::io::Result<()> {
        let s = shared.clone();
        let generation = shared.generation.load(Ordering::Acquire);
        let t = std::thread::Builder::new()
            .name(format!("ferrule-router-sync-{}", shared.router.name()))
            .spawn(move || {
                while !s.stop.load(Ordering::Acquire)
                    && s.generation.load(Ordering::Acquire) == generation
                {
                    s.sync_once();
                    std::thread::park_timeout(s.interval);
                }
            })?;
        *shared.thread.lock().unwrap_or_else(|p| p.into_inner()) = Some(t.thread().clone());
        Ok(())
    }

    fn wake(&self) {
        if let Some(t) = &*self.thread.lock().unwrap_or_else(|p| p.into_inner()) {
            t.unpark();
        }
    }

    fn sync_age_seconds(&self) -> f64 {
        let last = self.last_ok_nanos.load(Ordering::Relaxed);
        let since = if last == 0 { self.started_nanos } else { last };
        self.clock.now_nanos().saturating_sub(since) as f64 / 1e9
    }

    fn sync_once(&self) {
        let r = &*self.router;
        let (dirty, region_changed) = r.take_shared_changes();
        let now = r.now_nanos();
        let ms = |n: u64| n.div_ceil(1_000_000);
        let mut inv = SYNC_SCRIPT.prepare_invoke();
        inv.key(&self.key).arg(self.names.len());
        let mut publishing = 0u64;
        for (i, name) in self.names.iter().enumerate() {
            let (cd, ej) = if dirty & (1u64 << i) != 0 {
                publishing += 1;
                let (c, e) = r.endpoint_rest(i, now);
                (ms(c), ms(e))
            } else {
                (0, 0)
            };
            inv.arg(name).arg(cd).arg(ej);
        }
        if region_changed {
            publishing += 1;
            inv.arg(r.active_region());
        } else {
            inv.arg("");
        }
        let result: std::result::Result<Vec<redis::Value>, _> =
            self.backend.run(Op::RouterHealth, None, |c| inv.invoke(c));
        self.syncs.fetch_add(1, Ordering::Relaxed);
        let reply = match result {
            Ok(v) => v,
            Err(e) => {
                r.restore_shared_changes(dirty, region_changed);
                self.errors.fetch_add(1, Ordering::Relaxed);
                self.backend
                    .note_fallback(Op::RouterHealth, Fallback::Local);
                if !self.degraded.swap(true, Ordering::AcqRel) {
                    log::warn!(
                        "ferrule: router {:?}: Redis unavailable ({e:?}); endpoint health is not \
                         shared, each process routes on its own view until it answers",
                        r.name()
                    );
                }
                return;
            }
        };
        self.last_ok_nanos
            .store(self.clock.now_nanos().max(1), Ordering::Relaxed);
        if self.degraded.swap(false, Ordering::AcqRel) {
            log::warn!(
                "ferrule: router {:?}: Redis answers again; endpoint health is shared again",
                r.name()
            );
        }
        self.published.fetch_add(publishing, Ordering::Relaxed);
        let n = self.names.len();
        let int = |v: &redis::Value| -> u64 {
            match v {
                redis::Value::Int(i) => (*i).max(0) as u64,
                _ => 0,
            }
        };
        if reply.len() != 2 * n + 3 {
            log::warn!(
                "ferrule: router {:?}: unexpected health reply of {} items",
                r.name(),
                reply.len()
            );
            return;
        }
        // Remaining times are relative to the server's now: our clock's now plus them is the same
        // moment everywhere, within the round trip.
        let now = r.now_nanos();
        let server_now = int(&reply[2 * n + 2]);
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        for i in 0..n {
            let (cd, ej) = (int(&reply[2 * i]), int(&reply[2 * i + 1]));
            let (seen_cd, seen_ej) = &mut seen[i];
            // A deadline seen before (the same server ms) is not applied again. Our own comes back
            // unchanged (within the slack) and is not applied; only a longer one, learnt from a
            // peer, is.
            if cd > 0 && server_now + cd != *seen_cd {
                *seen_cd = server_now + cd;
                if r.apply_shared_cooldown(i, now + cd * 1_000_000, now, SLACK_NANOS) {
                    self.applied_cooldowns.fetch_add(1, Ordering::Relaxed);
                }
            }
            if ej > 0 && server_now + ej != *seen_ej {
                *seen_ej = server_now + ej;
                if r.apply_shared_ejection(i, now + ej * 1_000_000, now, SLACK_NANOS) {
                    self.applied_ejections.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        drop(seen);
        let version = int(&reply[2 * n + 1]);
        let seen = self.region_v.swap(version, Ordering::AcqRel);
        if region_changed || version <= seen {
            return;
        }
        let region = match &reply[2 * n] {
            redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            _ => return,
        };
        if region != r.active_region() {
            match r.region_index(&region) {
                Some(to) => {
                    if r.apply_shared_region(to, now) {
                        self.applied_regions.fetch_add(1, Ordering::Relaxed);
                    }
                }
                None => log::warn!(
                    "ferrule: router {:?}: another process made region {region:?} active, which \
                     this router does not have (configurations differ); ignored",
                    r.name()
                ),
            }
        }
    }
}
