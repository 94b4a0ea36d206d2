//! Metrics for the JS host layer (`bindings-node/metrics.js`): counter, gauge and histogram families
//! over the core's default registry, their per-label-set handles, the exposition text and the
//! scrape endpoint. Conversion only; the hot `inc` / `observe` are raw functions (`metrics_fast.rs`).

use crate::error::{config_error, ConfigError, NodeParam};
use ferrule_core::telemetry::{counter, gauge, histogram};
use ferrule_core::{default_registry, metrics_text as core_text, MetricsFormat, MetricsServer};
use napi::bindgen_prelude::Either;
use napi_derive::napi;
use std::collections::HashMap;
use std::sync::Mutex;

fn params(max_series: Option<f64>, port: Option<f64>) -> [NodeParam; 2] {
    [
        NodeParam {
            core: "max_series",
            node: "maxSeries",
            millis: false,
            given: max_series,
        },
        NodeParam {
            core: "port",
            node: "port",
            millis: false,
            given: port,
        },
    ]
}

/// A JS number as a series cap: a non-integer becomes 0, which the core refuses with its range.
fn cap(v: Option<f64>) -> Option<usize> {
    v.map(|n| {
        if n.fract() == 0.0 && n >= 0.0 {
            n.min(u32::MAX as f64) as usize
        } else {
            0
        }
    })
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn err(e: ferrule_core::Error) -> ConfigError {
    config_error(&e, &params(None, None))
}

// ---- counter ----------------------------------------------------------------------------------------

#[napi]
pub struct NativeCounter {
    inner: counter::Counter,
}

#[napi]
pub struct NativeCounterChild {
    pub(crate) h: counter::CounterHandle,
}

#[napi(catch_unwind)]
pub fn create_counter(
    name: String,
    help: String,
    labels: Vec<String>,
    max_series: Option<f64>,
) -> Either<NativeCounter, ConfigError> {
    match default_registry().counter_with(&name, &help, &refs(&labels), cap(max_series)) {
        Ok(inner) => Either::A(NativeCounter { inner }),
        Err(e) => Either::B(config_error(&e, &params(max_series, None))),
    }
}

#[napi]
impl NativeCounter {
    /// The handle of one label set (values in label-name order).
    #[napi(catch_unwind)]
    pub fn child(&self, values: Vec<String>) -> Either<NativeCounterChild, ConfigError> {
        match self.inner.labels(&refs(&values)) {
            Ok(h) => Either::A(NativeCounterChild { h }),
            Err(e) => Either::B(err(e)),
        }
    }

    #[napi(catch_unwind)]
    pub fn name(&self) -> String {
        format!("{}_total", self.inner.desc().name)
    }
}

#[napi]
impl NativeCounterChild {
    #[napi(catch_unwind)]
    pub fn value(&self) -> f64 {
        self.h.get()
    }
}

// ---- gauge ------------------------------------------------------------------------------------------

#[napi]
pub struct NativeGauge {
    inner: gauge::Gauge,
}

#[napi]
pub struct NativeGaugeChild {
    h: gauge::GaugeHandle,
}

#[napi(catch_unwind)]
pub fn create_gauge(
    name: String,
    help: String,
    labels: Vec<String>,
    max_series: Option<f64>,
) -> Either<NativeGauge, ConfigError> {
    match default_registry().gauge_with(&name, &help, &refs(&labels), cap(max_series)) {
        Ok(inner) => Either::A(NativeGauge { inner }),
        Err(e) => Either::B(config_error(&e, &params(max_series, None))),
    }
}

#[napi]
impl NativeGauge {
    #[napi(catch_unwind)]
    pub fn child(&self, values: Vec<String>) -> Either<NativeGaugeChild, ConfigError> {
        match self.inner.labels(&refs(&values)) {
            Ok(h) => Either::A(NativeGaugeChild { h }),
            Err(e) => Either::B(err(e)),
        }
    }

    #[napi(catch_unwind)]
    pub fn name(&self) -> String {
        self.inner.desc().name.clone()
    }
}

#[napi]
impl NativeGaugeChild {
    #[napi(catch_unwind)]
    pub fn set(&self, v: f64) {
        self.h.set(v);
    }

    #[napi(catch_unwind)]
    pub fn add(&self, d: f64) {
        self.h.add(d);
    }

    #[napi(catch_unwind)]
    pub fn value(&self) -> f64 {
        self.h.get()
    }
}

// ---- histogram --------------------------------------------------------------------------------------

#[napi]
pub struct NativeHistogram {
    inner: histogram::Histogram,
}

#[napi]
pub struct NativeHistogramChild {
    pub(crate) h: histogram::HistogramHandle,
}

#[napi(catch_unwind)]
pub fn create_histogram(
    name: String,
    help: String,
    labels: Vec<String>,
    buckets: Vec<f64>,
    max_series: Option<f64>,
) -> Either<NativeHistogram, ConfigError> {
    match default_registry().histogram_with(&name, &help, &refs(&labels), &buckets, cap(max_series))
    {
        Ok(inner) => Either::A(NativeHistogram { inner }),
        Err(e) => Either::B(config_error(&e, &params(max_series, None))),
    }
}

#[napi]
impl NativeHistogram {
    #[napi(catch_unwind)]
    pub fn child(&self, values: Vec<String>) -> Either<NativeHistogramChild, ConfigError> {
        match self.inner.labels(&refs(&values)) {
            Ok(h) => Either::A(NativeHistogramChild { h }),
            Err(e) => Either::B(err(e)),
        }
    }

    #[napi(catch_unwind)]
    pub fn name(&self) -> String {
        self.inner.desc().name.clone()
    }

    #[napi(catch_unwind)]
    pub fn buckets(&self) -> Vec<f64> {
        self.inner.bounds().to_vec()
    }
}

/// A histogram series' count and sum (`f64`: exact below 2^53).
#[napi(object)]
pub struct HistogramTotals {
    pub count: f64,
    pub sum: f64,
}

#[napi]
impl NativeHistogramChild {
    /// An observation that carries an exemplar (e.g. `{ trace_id }`): the cold path.
    #[napi(catch_unwind)]
    pub fn observe_with_exemplar(&self, v: f64, exemplar: HashMap<String, String>) {
        let pairs: Vec<(&str, &str)> = exemplar
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.h.observe_with_exemplar(v, &pairs);
    }

    #[napi(catch_unwind)]
    pub fn totals(&self) -> HistogramTotals {
        let s = self.h.snapshot();
        HistogramTotals {
            count: s.count as f64,
            sum: s.sum,
        }
    }
}

// ---- export -----------------------------------------------------------------------------------------

/// The default registry as Prometheus text 0.0.4, or OpenMetrics 1.0.
#[napi(catch_unwind)]
pub fn metrics_text(openmetrics: bool) -> String {
    core_text(if openmetrics {
        MetricsFormat::OpenMetrics
    } else {
        MetricsFormat::Prometheus
    })
}

#[napi]
pub struct NativeMetricsServer {
    // A lock, but only for stop() and the getters; never on a call path.
    inner: Mutex<Option<MetricsServer>>,
    host: String,
    port: u32,
}

#[napi(catch_unwind)]
pub fn serve_metrics(port: f64, host: String) -> Either<NativeMetricsServer, ConfigError> {
    let p = if port.fract() == 0.0 && (0.0..=65535.0).contains(&port) {
        Ok(port as u16)
    } else {
        ferrule_core::error::check::int(
            "serve_metrics",
            "port",
            if port.is_finite() { port as i128 } else { -1 },
            0,
            65535,
        )
        .map(|p| p as u16)
    };
    let started = p.and_then(|p| MetricsServer::start(default_registry(), &host, p));
    match started {
        Ok(s) => {
            let addr = s.addr();
            Either::A(NativeMetricsServer {
                host: addr.ip().to_string(),
                port: addr.port() as u32,
                inner: Mutex::new(Some(s)),
            })
        }
        Err(e) => {
            let mut ce = config_error(&e, &params(None, Some(port)));
            // The core names the Python spelling of the function; Node's is camelCase.
            ce.message = ce.message.replacen("serve_metrics:", "serveMetrics:", 1);
            Either::B(ce)
        }
    }
}

#[napi]
impl NativeMetricsServer {
    #[napi(catch_unwind)]
    pub fn port(&self) -> u32 {
        self.port
    }

    #[napi(catch_unwind)]
    pub fn host(&self) -> String {
        self.host.clone()
    }

    #[napi(catch_unwind)]
    pub fn running(&self) -> bool {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|s| s.is_running())
    }

    /// Stops serving and joins the thread (idempotent). Blocks for at most one in-flight scrape.
    #[napi(catch_unwind)]
    pub fn stop(&self) {
        let taken = self.inner.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut s) = taken {
            s.stop();
        }
    }
}
