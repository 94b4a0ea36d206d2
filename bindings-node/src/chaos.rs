//! `NativeChaos`: the core's fault injector for the JS `Chaos` (`bindings-node/chaos.js`), which
//! sleeps and throws. Options arrive in ms and are converted once.

use crate::error::{config_error, ConfigError, NodeParam};
use ferrule_core::{Chaos, ChaosConfig};
use napi::bindgen_prelude::Either;
use napi_derive::napi;

#[napi(object)]
pub struct ChaosOptions {
    pub error_rate: Option<f64>,
    pub latency_rate: Option<f64>,
    pub latency_ms: Option<f64>,
    pub seed: Option<f64>,
}

#[napi(object)]
pub struct ChaosStats {
    pub calls: f64,
    pub errors_injected: f64,
    pub latency_injected: f64,
}

#[napi]
pub struct NativeChaos {
    inner: Chaos,
}

/// Builds a fault injector, or says why the configuration was refused (the host throws that).
#[napi(catch_unwind)]
pub fn create_chaos(options: ChaosOptions) -> Either<NativeChaos, ConfigError> {
    let params = [
        NodeParam {
            core: "error_rate",
            node: "errorRate",
            millis: false,
            given: options.error_rate,
        },
        NodeParam {
            core: "latency_rate",
            node: "latencyRate",
            millis: false,
            given: options.latency_rate,
        },
        NodeParam {
            core: "latency_seconds",
            node: "latencyMs",
            millis: true,
            given: options.latency_ms,
        },
    ];
    let config = ChaosConfig {
        error_rate: options.error_rate.unwrap_or(0.0),
        latency_rate: options.latency_rate.unwrap_or(0.0),
        latency_seconds: options.latency_ms.unwrap_or(0.0) / 1000.0,
        seed: options.seed.map(|s| s as u64),
    };
    match Chaos::new(config) {
        Ok(inner) => Either::A(NativeChaos { inner }),
        Err(e) => Either::B(config_error(&e, &params)),
    }
}

#[napi]
impl NativeChaos {
    /// The fault for the next call: bit 1 throw the error, bit 2 add the latency.
    #[napi(catch_unwind)]
    pub fn next(&self) -> u32 {
        let f = self.inner.next();
        (f.error as u32) | ((f.latency.is_some() as u32) << 1)
    }

    #[napi(catch_unwind)]
    pub fn stats(&self) -> ChaosStats {
        let (calls, errors, delays) = self.inner.counts();
        ChaosStats {
            calls: calls as f64,
            errors_injected: errors as f64,
            latency_injected: delays as f64,
        }
    }
}
