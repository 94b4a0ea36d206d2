//! `NativeRouter`: the core router as the JS host layer (`bindings-node/router.js`) sees it. Options
//! arrive in Node units (ms, camelCase) and are converted once. `pick` returns the token as a plain
//! number (exact: tokens stay below 2^53) or a negative refusal code; `success` / `failure` /
//! `release` return whether events wait in `drainEvents`.

use crate::clock::NativeManualClock;
use crate::error::{config_error, ConfigError, NodeParam};
use crate::redis_backend::NativeRedisBackend;
use ferrule_core::route::cooldown::CooldownConfig;
use ferrule_core::route::ejection::EjectionConfig;
use ferrule_core::route::failover::FailoverConfig;
use ferrule_core::route::health_sync::{HealthSync, HealthSyncConfig};
use ferrule_core::route::hedge::HedgeConfig;
use ferrule_core::{ClockRef, EndpointConfig, Error, RouteStrategy, Router, RouterConfig};
use napi::bindgen_prelude::Either;
use napi_derive::napi;
use std::sync::Arc;

/// `pick` refusals: `-1 - retryAfterMs` (always <= -1).
const REFUSED: f64 = -1.0;

#[napi(object)]
pub struct RouterEndpointSpec {
    pub name: String,
    pub weight: f64,
    pub region: Option<String>,
    pub priority: f64,
    pub cost_in: Option<f64>,
    pub cost_out: Option<f64>,
    pub max_concurrency: Option<f64>,
}

/// Options as the host normalised them, in Node units; absent means the core's default.
#[napi(object)]
pub struct RouterOptions {
    pub failure_rate: Option<f64>,
    pub window: Option<f64>,
    pub min_calls: Option<f64>,
    pub open_ms: Option<f64>,
    pub eject_after_failures: Option<f64>,
    pub ejection_ms: Option<f64>,
    pub max_ejection_ms: Option<f64>,
    pub max_ejection_percent: Option<f64>,
    pub cooldown_ms: Option<f64>,
    pub max_cooldown_ms: Option<f64>,
    pub failback_ms: Option<f64>,
    pub probe_interval_ms: Option<f64>,
    pub ewma_ms: Option<f64>,
    pub hedge: Option<bool>,
    pub hedge_quantile: Option<f64>,
    pub hedge_min_samples: Option<f64>,
    pub hedge_max_ratio: Option<f64>,
    pub hedge_min_delay_ms: Option<f64>,
    pub seed: Option<f64>,
    pub attempts: Option<f64>,
    pub latency_window_ms: Option<f64>,
}

fn int(v: f64) -> u32 {
    // A fraction (`minCalls: 2.5`) is out of range like a negative count, never truncated.
    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 {
        v.min(u32::MAX as f64) as u32
    } else {
        u32::MAX
    }
}

impl RouterOptions {
    fn params(&self) -> Vec<NodeParam> {
        let p = |core, node, millis, given| NodeParam {
            core,
            node,
            millis,
            given,
        };
        vec![
            p("failure_rate", "failureRate", false, self.failure_rate),
            p("window", "window", false, self.window),
            p("min_calls", "minCalls", false, self.min_calls),
            p("open_seconds", "openMs", true, self.open_ms),
            p(
                "eject_after_failures",
                "ejectAfterFailures",
                false,
                self.eject_after_failures,
            ),
            p("ejection_seconds", "ejectionMs", true, self.ejection_ms),
            p(
                "max_ejection_seconds",
                "maxEjectionMs",
                true,
                self.max_ejection_ms,
            ),
            p(
                "max_ejection_percent",
                "maxEjectionPercent",
                false,
                self.max_ejection_percent,
            ),
            p("cooldown_seconds", "cooldownMs", true, self.cooldown_ms),
            p(
                "max_cooldown_seconds",
                "maxCooldownMs",
                true,
                self.max_cooldown_ms,
            ),
            p("failback_seconds", "failbackMs", true, self.failback_ms),
            p(
                "probe_interval_seconds",
                "probeIntervalMs",
                true,
                self.probe_interval_ms,
            ),
            p("ewma_seconds", "ewmaMs", true, self.ewma_ms),
            p(
                "hedge_quantile",
                "hedgeQuantile",
                false,
                self.hedge_quantile,
            ),
            p(
                "hedge_min_samples",
                "hedgeMinSamples",
                false,
                self.hedge_min_samples,
            ),
            p(
                "hedge_max_ratio",
                "hedgeMaxRatio",
                false,
                self.hedge_max_ratio,
            ),
            p(
                "hedge_min_delay_seconds",
                "hedgeMinDelayMs",
                true,
                self.hedge_min_delay_ms,
            ),
            p("attempts", "attempts", false, self.attempts),
            p(
                "latency_window_seconds",
                "latencyWindowMs",
                true,
                self.latency_window_ms,
            ),
            p("cost_per_1k_input", "costPer1kInput", false, None),
            p("cost_per_1k_output", "costPer1kOutput", false, None),
            p("max_concurrency", "maxConcurrency", false, None),
        ]
    }

    fn to_config(
        &self,
        name: String,
        strategy: &str,
        endpoints: Vec<RouterEndpointSpec>,
    ) -> ferrule_core::Result<RouterConfig> {
        let secs = |ms: Option<f64>, d: f64| ms.map_or(d, |v| v / 1000.0);
        let eps = endpoints
            .into_iter()
            .map(|e| EndpointConfig {
                name: e.name,
                weight: e.weight,
                region: e.region,
                priority: e.priority as i64,
                cost_per_1k_input: e.cost_in,
                cost_per_1k_output: e.cost_out,
                max_concurrency: e.max_concurrency.map(int),
            })
            .collect();
        let mut c = RouterConfig::new(name, RouteStrategy::parse(strategy)?, eps);
        let d = RouterConfig::new("", RouteStrategy::Weighted, Vec::new());
        c.failure_rate = self.failure_rate.unwrap_or(d.failure_rate);
        c.window = self.window.map_or(d.window, int);
        c.min_calls = self.min_calls.map_or(d.min_calls, int);
        c.open_seconds = secs(self.open_ms, d.open_seconds);
        let e = EjectionConfig::default();
        c.ejection = EjectionConfig {
            consecutive_failures: self
                .eject_after_failures
                .map_or(e.consecutive_failures, int),
            base_seconds: secs(self.ejection_ms, e.base_seconds),
            max_seconds: secs(self.max_ejection_ms, e.max_seconds),
            max_percent: self.max_ejection_percent.unwrap_or(e.max_percent),
        };
        let cd = CooldownConfig::default();
        c.cooldown = CooldownConfig {
            default_seconds: secs(self.cooldown_ms, cd.default_seconds),
            max_seconds: secs(self.max_cooldown_ms, cd.max_seconds),
        };
        let f = FailoverConfig::default();
        c.failover = FailoverConfig {
            failback_seconds: secs(self.failback_ms, f.failback_seconds),
            probe_interval_seconds: secs(self.probe_interval_ms, f.probe_interval_seconds),
        };
        c.ewma_seconds = secs(self.ewma_ms, d.ewma_seconds);
        if self.hedge == Some(true) {
            let h = HedgeConfig::default();
            c.hedge = Some(HedgeConfig {
                quantile: self.hedge_quantile.unwrap_or(h.quantile),
                min_samples: self
                    .hedge_min_samples
                    .map_or(h.min_samples, |v| int(v) as u64),
                max_ratio: self.hedge_max_ratio.unwrap_or(h.max_ratio),
                min_delay_seconds: secs(self.hedge_min_delay_ms, h.min_delay_seconds),
            });
        }
        c.seed = self.seed.map(|s| s as u64);
        c.attempts = self.attempts.map(int);
        c.latency_window_seconds = secs(self.latency_window_ms, d.latency_window_seconds);
        Ok(c)
    }
}

#[napi]
pub struct NativeRouter {
    pub(crate) inner: Arc<Router>,
    /// With a Redis backend: the thread that shares this router's endpoint health; stopped when it
    /// drops.
    sync: Option<HealthSync>,
}

/// The health sync thread's counters (a router with a Redis backend), numbers as `f64`.
#[napi(object)]
pub struct RouterSyncStatsJs {
    pub syncs: f64,
    pub errors: f64,
    pub published: f64,
    pub applied_cooldowns: f64,
    pub applied_ejections: f64,
    pub applied_regions: f64,
    /// Since the last exchange with Redis that succeeded.
    pub sync_age_ms: f64,
}

/// A pick as one number: the token (>= 0), or `-1 - retryAfterMs` when no endpoint can take it.
#[inline]
pub(crate) fn pick_code(r: ferrule_core::Result<u64>) -> f64 {
    match r {
        Ok(t) => t as f64,
        Err(Error::CircuitOpen { retry_after, .. }) => REFUSED - retry_after.as_secs_f64() * 1000.0,
        Err(_) => REFUSED,
    }
}

#[napi(catch_unwind)]
pub fn create_router(
    name: String,
    strategy: String,
    endpoints: Vec<RouterEndpointSpec>,
    options: RouterOptions,
    clock: Option<&NativeManualClock>,
    backend: Option<&NativeRedisBackend>,
    sync_ms: Option<f64>,
) -> Either<NativeRouter, ConfigError> {
    let clock = clock.map_or(ClockRef::System, |c| ClockRef::Manual(c.inner.clone()));
    let params = options.params();
    match options
        .to_config(name, &strategy, endpoints)
        .and_then(|c| Router::with_clock(c, clock))
    {
        Ok(r) => {
            let inner = Arc::new(r);
            // Shared through Redis: cooldowns, ejections and the active region published at once
            // and picked up every `syncMs`, on a background thread (never on a pick).
            let sync = match backend {
                None => None,
                Some(b) => match HealthSync::start(
                    inner.clone(),
                    b.inner.clone(),
                    HealthSyncConfig {
                        interval_seconds: sync_ms.unwrap_or(250.0) / 1e3,
                    },
                ) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        let param = NodeParam {
                            core: "sync_seconds",
                            node: "syncMs",
                            millis: true,
                            given: sync_ms,
                        };
                        return Either::B(config_error(&e, &[param]));
                    }
                },
            };
            ferrule_core::telemetry::collector::export(&inner);
            Either::A(NativeRouter { inner, sync })
        }
        Err(e) => Either::B(config_error(&e, &params)),
    }
}

#[napi(object)]
pub struct RouterEventInfo {
    pub event: String,
    pub warning: bool,
    pub message: String,
    pub router: String,
    pub endpoint: String,
    pub from: String,
    pub to: String,
    pub reason: String,
    pub ms: Option<f64>,
}

#[napi(object)]
pub struct RouterEndpointStats {
    pub name: String,
    pub region: String,
    pub health: String,
    pub breaker: String,
    pub requests: f64,
    pub successes: f64,
    pub errors: f64,
    pub released: f64,
    pub outstanding: f64,
    pub latency_ewma_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub ejections: f64,
    pub cooldowns: f64,
    pub hedges: f64,
    pub probes: f64,
    pub cooldown_remaining_ms: f64,
    pub ejected_remaining_ms: f64,
}

#[napi(object)]
pub struct RouterStatsInfo {
    pub name: String,
    pub strategy: String,
    pub active_region: String,
    pub regions: Vec<String>,
    pub failovers: f64,
    pub failbacks: f64,
    /// The last failover's recovery time: first failure to first success on the new region.
    pub last_failover_rto_ms: Option<f64>,
    pub hedges: f64,
    pub hedges_lost: f64,
    pub unavailable: f64,
    pub last_resort: f64,
    pub events_dropped: f64,
    pub endpoints: Vec<RouterEndpointStats>,
}

#[napi]
impl NativeRouter {
    /// The token (>= 0) of the endpoint for this attempt, skipping the endpoints whose bits are set in
    /// `tried_lo` (0..32) / `tried_hi` (32..64); or `-1 - retryAfterMs` when none can take it.
    #[napi(catch_unwind)]
    pub fn pick(&self, tried_lo: u32, tried_hi: u32) -> f64 {
        pick_code(self.inner.pick(tried_lo as u64 | ((tried_hi as u64) << 32)))
    }

    #[napi(catch_unwind)]
    pub fn success(&self, token: f64) -> bool {
        self.inner.success(token as u64)
    }

    #[napi(catch_unwind)]
    pub fn failure(&self, token: f64, status: Option<f64>, retry_after_ms: Option<f64>) -> bool {
        let status = status.and_then(|s| (0.0..65536.0).contains(&s).then_some(s as u16));
        self.inner
            .failure(token as u64, status, retry_after_ms.map(|ms| ms / 1000.0))
    }

    #[napi(catch_unwind)]
    pub fn release(&self, token: f64) -> bool {
        self.inner.release(token as u64)
    }

    #[napi(catch_unwind)]
    pub fn hedge_delay_ms(&self, token: f64) -> Option<f64> {
        self.inner
            .hedge_delay(token as u64)
            .map(|d| d.as_secs_f64() * 1000.0)
    }

    /// The next attempt's token after a failure, or -1: give up (reject with the last error).
    #[napi(catch_unwind)]
    pub fn next(&self, tried_lo: u32, tried_hi: u32) -> f64 {
        self.inner
            .next(tried_lo as u64 | ((tried_hi as u64) << 32))
            .map_or(REFUSED, |t| t as f64)
    }

    /// The hedge's token when the core decides to hedge attempt `token` now, or -1.
    #[napi(catch_unwind)]
    pub fn hedge(&self, token: f64, tried_lo: u32, tried_hi: u32) -> f64 {
        self.inner
            .hedge(token as u64, tried_lo as u64 | ((tried_hi as u64) << 32))
            .map_or(REFUSED, |t| t as f64)
    }

    /// The attempt lost a hedge race (aborted, its result discarded): freed and counted.
    #[napi(catch_unwind)]
    pub fn lost(&self, token: f64) -> bool {
        self.inner.lost(token as u64)
    }

    #[napi(catch_unwind)]
    pub fn drain_events(&self) -> Vec<RouterEventInfo> {
        self.inner
            .drain_events(usize::MAX)
            .into_iter()
            .map(|e| RouterEventInfo {
                event: e.kind.as_str().into(),
                warning: e.kind.warning(&e.to),
                message: e.to_string(),
                router: e.router,
                endpoint: e.endpoint,
                from: e.from,
                to: e.to,
                reason: e.reason,
                ms: e.seconds.map(|s| s * 1000.0),
            })
            .collect()
    }

    /// With a backend: the health sync thread's counters; otherwise null.
    #[napi(catch_unwind)]
    pub fn sync_stats(&self) -> Option<RouterSyncStatsJs> {
        self.sync.as_ref().map(|s| {
            let s = s.stats();
            RouterSyncStatsJs {
                syncs: s.syncs as f64,
                errors: s.errors as f64,
                published: s.published as f64,
                applied_cooldowns: s.applied_cooldowns as f64,
                applied_ejections: s.applied_ejections as f64,
                applied_regions: s.applied_regions as f64,
                sync_age_ms: s.sync_age_seconds * 1e3,
            }
        })
    }

    /// With a backend: one exchange with Redis now (blocks for at most the backend's timeout).
    #[napi(catch_unwind)]
    pub fn sync_now(&self) {
        if let Some(s) = &self.sync {
            s.sync_now();
        }
    }

    #[napi(catch_unwind)]
    pub fn active_region(&self) -> String {
        self.inner.active_region().to_string()
    }

    #[napi(catch_unwind)]
    pub fn stats(&self) -> RouterStatsInfo {
        let s = self.inner.stats();
        RouterStatsInfo {
            name: s.name,
            strategy: s.strategy.as_str().into(),
            active_region: s.active_region,
            regions: s.regions,
            failovers: s.failovers as f64,
            failbacks: s.failbacks as f64,
            last_failover_rto_ms: s.last_failover_rto_seconds.map(|v| v * 1e3),
            hedges: s.hedges as f64,
            hedges_lost: s.hedges_lost as f64,
            unavailable: s.unavailable as f64,
            last_resort: s.last_resort as f64,
            events_dropped: s.events_dropped as f64,
            endpoints: s
                .endpoints
                .into_iter()
                .map(|e| RouterEndpointStats {
                    name: e.name,
                    region: e.region,
                    health: e.health.as_str().into(),
                    breaker: e.breaker.as_str().into(),
                    requests: e.requests as f64,
                    successes: e.successes as f64,
                    errors: e.errors as f64,
                    released: e.released as f64,
                    outstanding: e.outstanding as f64,
                    latency_ewma_ms: e.latency_ewma_seconds.map(|v| v * 1000.0),
                    latency_p95_ms: e.latency_p95_seconds.map(|v| v * 1000.0),
                    ejections: e.ejections as f64,
                    cooldowns: e.cooldowns as f64,
                    hedges: e.hedges as f64,
                    probes: e.probes as f64,
                    cooldown_remaining_ms: e.cooldown_remaining_seconds * 1000.0,
                    ejected_remaining_ms: e.ejected_remaining_seconds * 1000.0,
                })
                .collect(),
        }
    }
}
