//! `RouterCore`: the core router for the Python host layer (`ferrule/router.py`), which calls the
//! chosen endpoint, classifies its outcome and dispatches events. Only conversion here.

use crate::clock::ManualClock;
use crate::error::{guard, guard_detached, to_py};
use crate::redis_backend::RedisBackendCore;
use ferrule_core::error::check;
use ferrule_core::route::cooldown::CooldownConfig;
use ferrule_core::route::ejection::EjectionConfig;
use ferrule_core::route::failover::FailoverConfig;
use ferrule_core::route::health_sync::{HealthSync, HealthSyncConfig};
use ferrule_core::route::hedge::HedgeConfig;
use ferrule_core::{ClockRef, EndpointConfig, RouteStrategy, Router, RouterConfig};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::sync::Arc;

const C: &str = "Router";

/// One endpoint as the host passes it: (name, weight, region, priority, cost in, cost out, max
/// concurrency).
type EndpointTuple = (
    String,
    f64,
    Option<String>,
    i64,
    Option<f64>,
    Option<f64>,
    Option<i64>,
);

#[pyclass(frozen, name = "RouterCore", module = "ferrule._ferrule")]
pub struct RouterCore {
    inner: Arc<Router>,
    /// With a Redis backend: the thread that shares this router's endpoint health; stopped when it
    /// drops.
    sync: Option<HealthSync>,
}

#[pymethods]
impl RouterCore {
    #[new]
    #[pyo3(signature = (name, strategy, endpoints, *, failure_rate=0.5, window=20, min_calls=10,
        open_seconds=30.0, eject_after_failures=5, ejection_seconds=30.0, max_ejection_seconds=300.0,
        max_ejection_percent=0.5, cooldown_seconds=5.0, max_cooldown_seconds=300.0,
        failback_seconds=30.0, probe_interval_seconds=5.0, ewma_seconds=10.0, hedge=false,
        hedge_quantile=0.95, hedge_min_samples=20, hedge_max_ratio=0.1, hedge_min_delay_seconds=0.0,
        seed=None, clock=None, attempts=None, latency_window_seconds=30.0, backend=None,
        sync_seconds=0.25))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        name: String,
        strategy: &str,
        endpoints: Vec<EndpointTuple>,
        failure_rate: f64,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] window: i64,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] min_calls: i64,
        open_seconds: f64,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] eject_after_failures: i64,
        ejection_seconds: f64,
        max_ejection_seconds: f64,
        max_ejection_percent: f64,
        cooldown_seconds: f64,
        max_cooldown_seconds: f64,
        failback_seconds: f64,
        probe_interval_seconds: f64,
        ewma_seconds: f64,
        hedge: bool,
        hedge_quantile: f64,
        #[pyo3(from_py_with = crate::arg::value::<i64>)] hedge_min_samples: i64,
        hedge_max_ratio: f64,
        hedge_min_delay_seconds: f64,
        #[pyo3(from_py_with = crate::arg::optional::<u64>)] seed: Option<u64>,
        clock: Option<PyRef<'_, ManualClock>>,
        #[pyo3(from_py_with = crate::arg::optional::<i64>)] attempts: Option<i64>,
        latency_window_seconds: f64,
        backend: Option<PyRef<'_, RedisBackendCore>>,
        sync_seconds: f64,
    ) -> PyResult<Self> {
        let build = || -> ferrule_core::Result<Router> {
            let mut eps = Vec::with_capacity(endpoints.len());
            for (name, weight, region, priority, cin, cout, maxc) in endpoints {
                eps.push(EndpointConfig {
                    name,
                    weight,
                    region,
                    priority,
                    cost_per_1k_input: cin,
                    cost_per_1k_output: cout,
                    max_concurrency: maxc
                        .map(|m| {
                            check::int("Endpoint", "max_concurrency", m as i128, 1, 1 << 30)
                                .map(|m| m as u32)
                        })
                        .transpose()?,
                });
            }
            let mut c = RouterConfig::new(name, RouteStrategy::parse(strategy)?, eps);
            c.failure_rate = failure_rate;
            c.window = check::int(C, "window", window as i128, 1, 10_000)? as u32;
            c.min_calls = check::int(C, "min_calls", min_calls as i128, 1, 1_000_000_000)? as u32;
            c.open_seconds = open_seconds;
            c.ejection = EjectionConfig {
                consecutive_failures: check::int(
                    C,
                    "eject_after_failures",
                    eject_after_failures as i128,
                    0,
                    1_000_000,
                )? as u32,
                base_seconds: ejection_seconds,
                max_seconds: max_ejection_seconds,
                max_percent: max_ejection_percent,
            };
            c.cooldown = CooldownConfig {
                default_seconds: cooldown_seconds,
                max_seconds: max_cooldown_seconds,
            };
            c.failover = FailoverConfig {
                failback_seconds,
                probe_interval_seconds,
            };
            c.ewma_seconds = ewma_seconds;
            if hedge {
                c.hedge = Some(HedgeConfig {
                    quantile: hedge_quantile,
                    min_samples: check::int(
                        C,
                        "hedge_min_samples",
                        hedge_min_samples as i128,
                        1,
                        1_000_000_000,
                    )?,
                    max_ratio: hedge_max_ratio,
                    min_delay_seconds: hedge_min_delay_seconds,
                });
            }
            c.seed = seed;
            c.latency_window_seconds = latency_window_seconds;
            c.attempts = attempts
                .map(|a| check::int(C, "attempts", a as i128, 1, u32::MAX as u64).map(|a| a as u32))
                .transpose()?;
            let clock = clock
                .as_ref()
                .map_or(ClockRef::System, |c| ClockRef::Manual(c.inner.clone()));
            Router::with_clock(c, clock)
        };
        let inner = Arc::new(build().map_err(|e| to_py(py, e))?);
        let sync = backend
            .map(|b| {
                HealthSync::start(
                    inner.clone(),
                    b.inner.clone(),
                    HealthSyncConfig {
                        interval_seconds: sync_seconds,
                    },
                )
            })
            .transpose()
            .map_err(|e| to_py(py, e))?;
        ferrule_core::telemetry::collector::export(&inner);
        Ok(Self { inner, sync })
    }

    /// The token of the endpoint for this attempt (its index is `token & 63`), skipping the indices
    /// set in `tried`; raises `CircuitOpenError` when no endpoint can take it.
    #[inline]
    fn pick(&self, py: Python<'_>, tried: u64) -> PyResult<u64> {
        guard(py, || self.inner.pick(tried))?.map_err(|e| to_py(py, e))
    }

    /// Returns whether events wait in `drain_events`.
    #[inline]
    fn success(&self, py: Python<'_>, token: u64) -> PyResult<bool> {
        guard(py, || self.inner.success(token))
    }

    #[pyo3(signature = (token, status=None, retry_after=None))]
    fn failure(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = crate::arg::value::<u64>)] token: u64,
        #[pyo3(from_py_with = crate::arg::optional::<i64>)] status: Option<i64>,
        retry_after: Option<f64>,
    ) -> PyResult<bool> {
        let status = status.and_then(|s| u16::try_from(s).ok());
        guard(py, || self.inner.failure(token, status, retry_after))
    }

    fn release(&self, py: Python<'_>, token: u64) -> PyResult<bool> {
        guard(py, || self.inner.release(token))
    }

    fn hedge_delay(&self, py: Python<'_>, token: u64) -> PyResult<Option<f64>> {
        guard(py, || {
            self.inner.hedge_delay(token).map(|d| d.as_secs_f64())
        })
    }

    /// The next attempt's token after a failure, or `None`: give up (raise the last error).
    #[inline]
    fn next(&self, py: Python<'_>, tried: u64) -> PyResult<Option<u64>> {
        guard(py, || self.inner.next(tried))
    }

    /// The hedge's token when the core decides to hedge attempt `token` now, else `None`.
    fn hedge(&self, py: Python<'_>, token: u64, tried: u64) -> PyResult<Option<u64>> {
        guard(py, || self.inner.hedge(token, tried))
    }

    /// The attempt lost a hedge race (cancelled or its result discarded): freed and counted.
    fn lost(&self, py: Python<'_>, token: u64) -> PyResult<bool> {
        guard(py, || self.inner.lost(token))
    }

    /// With a backend: syncs, errors, published, applied_cooldowns, applied_ejections,
    /// applied_regions, sync_age_seconds; else None.
    fn sync_stats<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(sync) = &self.sync else {
            return Ok(None);
        };
        let s = sync.stats();
        let d = PyDict::new(py);
        d.set_item("syncs", s.syncs)?;
        d.set_item("errors", s.errors)?;
        d.set_item("published", s.published)?;
        d.set_item("applied_cooldowns", s.applied_cooldowns)?;
        d.set_item("applied_ejections", s.applied_ejections)?;
        d.set_item("applied_regions", s.applied_regions)?;
        d.set_item("sync_age_seconds", s.sync_age_seconds)?;
        Ok(Some(d))
    }

    /// With a backend: one exchange with Redis now (the thread does it every `sync_seconds` and at
    /// each local cooldown, ejection or region switch).
    fn sync_now(&self, py: Python<'_>) -> PyResult<()> {
        match &self.sync {
            Some(s) => guard_detached(py, || s.sync_now()),
            None => Ok(()),
        }
    }

    /// With a backend: starts the sync thread again when this is a forked child.
    fn ensure_sync(&self) {
        if let Some(s) = &self.sync {
            s.ensure_running();
        }
    }

    /// Pending events, oldest first, as dicts.
    fn drain_events<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let evs = guard(py, || self.inner.drain_events(usize::MAX))?;
        let out = PyList::empty(py);
        for e in evs {
            let d = PyDict::new(py);
            d.set_item("event", e.kind.as_str())?;
            d.set_item("warning", e.kind.warning(&e.to))?;
            d.set_item("message", e.to_string())?;
            d.set_item("router", e.router)?;
            d.set_item("endpoint", e.endpoint)?;
            d.set_item("from", e.from)?;
            d.set_item("to", e.to)?;
            d.set_item("reason", e.reason)?;
            d.set_item("seconds", e.seconds)?;
            d.set_item("at", e.at_nanos as f64 / 1e9)?;
            out.append(d)?;
        }
        Ok(out)
    }

    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }

    #[getter]
    fn strategy(&self) -> &'static str {
        self.inner.strategy().as_str()
    }

    #[getter]
    fn active_region(&self) -> String {
        self.inner.active_region().to_string()
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = guard(py, || self.inner.stats())?;
        let d = PyDict::new(py);
        d.set_item("name", s.name)?;
        d.set_item("strategy", s.strategy.as_str())?;
        d.set_item("active_region", s.active_region)?;
        d.set_item("regions", s.regions)?;
        d.set_item("failovers", s.failovers)?;
        d.set_item("failbacks", s.failbacks)?;
        d.set_item("last_failover_rto_seconds", s.last_failover_rto_seconds)?;
        d.set_item("hedges", s.hedges)?;
        d.set_item("hedges_lost", s.hedges_lost)?;
        d.set_item("unavailable", s.unavailable)?;
        d.set_item("last_resort", s.last_resort)?;
        d.set_item("events_dropped", s.events_dropped)?;
        let eps = PyList::empty(py);
        for e in s.endpoints {
            let x = PyDict::new(py);
            x.set_item("name", e.name)?;
            x.set_item("region", e.region)?;
            x.set_item("health", e.health.as_str())?;
            x.set_item("breaker", e.breaker.as_str())?;
            x.set_item("requests", e.requests)?;
            x.set_item("successes", e.successes)?;
            x.set_item("errors", e.errors)?;
            x.set_item("released", e.released)?;
            x.set_item("outstanding", e.outstanding)?;
            x.set_item("latency_ewma_seconds", e.latency_ewma_seconds)?;
            x.set_item("latency_p95_seconds", e.latency_p95_seconds)?;
            x.set_item("ejections", e.ejections)?;
            x.set_item("cooldowns", e.cooldowns)?;
            x.set_item("hedges", e.hedges)?;
            x.set_item("probes", e.probes)?;
            x.set_item("cooldown_remaining_seconds", e.cooldown_remaining_seconds)?;
            x.set_item("ejected_remaining_seconds", e.ejected_remaining_seconds)?;
            eps.append(x)?;
        }
        d.set_item("endpoints", eps)?;
        Ok(d)
    }
}
