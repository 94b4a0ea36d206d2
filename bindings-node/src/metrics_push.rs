//! `pushMetrics` for Node: the core's periodic OTLP/HTTP push of the default registry. An export
//! is network I/O, so `pushNow()` and `stop()` (which pushes once more) run on libuv's thread pool
//! and resolve a Promise: the event loop, which may be serving the collector itself, never waits.

use crate::error::{config_error, ConfigError, NodeParam};
use ferrule_core::default_registry;
use ferrule_core::telemetry::otlp::{OtlpConfig, OtlpHandle, OtlpPusher};
use napi::bindgen_prelude::{AsyncTask, Either};
use napi::{Env, Task};
use napi_derive::napi;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn params(interval_ms: f64, timeout_ms: f64) -> [NodeParam; 2] {
    [
        NodeParam {
            core: "interval_seconds",
            node: "intervalMs",
            millis: true,
            given: Some(interval_ms),
        },
        NodeParam {
            core: "timeout_seconds",
            node: "timeoutMs",
            millis: true,
            given: Some(timeout_ms),
        },
    ]
}

#[napi]
pub struct NativeMetricsPusher {
    // A lock, only for stop() and `running`, never held across an export.
    inner: Arc<Mutex<Option<OtlpPusher>>>,
    handle: OtlpHandle,
}

/// Starts pushing; `endpoint = null` reads `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` /
/// `OTEL_EXPORTER_OTLP_ENDPOINT`.
#[napi(catch_unwind)]
pub fn push_metrics(
    endpoint: Option<String>,
    interval_ms: f64,
    timeout_ms: f64,
    service_name: String,
    headers: Option<HashMap<String, String>>,
) -> Either<NativeMetricsPusher, ConfigError> {
    let p = params(interval_ms, timeout_ms);
    let started = OtlpConfig::new(endpoint.as_deref()).and_then(|mut cfg| {
        let secs = |name: &'static str, ms: f64| {
            ferrule_core::error::check::finite_positive("push_metrics", name, ms / 1000.0)
                .map(Duration::from_secs_f64)
        };
        cfg.interval = secs("interval_seconds", interval_ms)?;
        cfg.timeout = secs("timeout_seconds", timeout_ms)?;
        cfg.service_name = service_name;
        // Given headers replace OTEL_EXPORTER_OTLP_(METRICS_)HEADERS; absent, the environment's stay.
        if let Some(h) = headers {
            let mut v: Vec<_> = h.into_iter().collect();
            v.sort();
            cfg.headers = v;
        }
        OtlpPusher::start(default_registry(), cfg)
    });
    match started {
        Ok(pusher) => Either::A(NativeMetricsPusher {
            handle: pusher.handle(),
            inner: Arc::new(Mutex::new(Some(pusher))),
        }),
        Err(e) => {
            let mut ce = config_error(&e, &p);
            ce.message = ce.message.replacen("push_metrics:", "pushMetrics:", 1);
            ce.message = ce.message.replace(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "OTEL_EXPORTER_OTLP_ENDPOINT (endpoint: null)",
            );
            Either::B(ce)
        }
    }
}

pub struct PushNow(OtlpHandle);

impl Task for PushNow {
    type Output = bool;
    type JsValue = bool;
    fn compute(&mut self) -> napi::Result<bool> {
        let h = self.0.clone();
        ferrule_core::catch_panic(move || h.push_now())
            .map_err(|e| napi::Error::from_reason(e.to_string()))
    }
    fn resolve(&mut self, _env: Env, ok: bool) -> napi::Result<bool> {
        Ok(ok)
    }
}

pub struct Stop(Arc<Mutex<Option<OtlpPusher>>>);

impl Task for Stop {
    type Output = ();
    type JsValue = ();
    fn compute(&mut self) -> napi::Result<()> {
        let taken = self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut p) = taken {
            ferrule_core::catch_panic(move || p.stop())
                .map_err(|e| napi::Error::from_reason(e.to_string()))?;
        }
        Ok(())
    }
    fn resolve(&mut self, _env: Env, _: ()) -> napi::Result<()> {
        Ok(())
    }
}

#[napi]
impl NativeMetricsPusher {
    /// Exports now on the thread pool; resolves true when the collector accepted it.
    #[napi(catch_unwind)]
    pub fn push_now(&self) -> AsyncTask<PushNow> {
        AsyncTask::new(PushNow(self.handle.clone()))
    }

    /// Pushes a last export and stops (idempotent).
    #[napi(catch_unwind)]
    pub fn stop(&self) -> AsyncTask<Stop> {
        AsyncTask::new(Stop(self.inner.clone()))
    }

    #[napi(catch_unwind)]
    pub fn endpoint(&self) -> String {
        self.handle.endpoint().to_string()
    }

    #[napi(catch_unwind)]
    pub fn pushes(&self) -> f64 {
        self.handle.pushes() as f64
    }

    #[napi(catch_unwind)]
    pub fn failures(&self) -> f64 {
        self.handle.failures() as f64
    }

    #[napi(catch_unwind)]
    pub fn running(&self) -> bool {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|p| p.is_running())
    }
}
