//! `NativeRedisBackend`: the core's Redis backend for the JS host layer (`bindings-node/redis_backend.js`),
//! passed as `backend` to rate limiters. Options arrive in Node units (ms, camelCase), converted once.

use crate::error::{config_error, ConfigError, NodeParam};
use ferrule_core::store::redis_backend::{OnBackendError, RedisBackend, RedisConfig};
use napi::bindgen_prelude::Either;
use napi_derive::napi;
use std::sync::Arc;

#[napi(object)]
pub struct RedisBackendOptions {
    pub url: String,
    pub prefix: Option<String>,
    pub timeout_ms: Option<f64>,
    pub on_backend_error: Option<String>,
    pub retry_ms: Option<f64>,
    pub max_idle: Option<f64>,
    /// `rediss://`: a CA file instead of the system roots; a client certificate + key for mTLS.
    pub ca_file: Option<String>,
    pub client_cert_file: Option<String>,
    pub client_key_file: Option<String>,
}

#[napi(object)]
pub struct RedisBackendStats {
    pub operations: f64,
    pub errors: f64,
    pub fallbacks: f64,
    pub outages: f64,
    pub recoveries: f64,
    pub up: bool,
    pub idle_connections: f64,
}

#[napi]
pub struct NativeRedisBackend {
    pub(crate) inner: Arc<RedisBackend>,
}

/// Builds a backend, or says why the configuration was refused (the host throws that).
#[napi(catch_unwind)]
pub fn create_redis_backend(
    options: RedisBackendOptions,
) -> Either<NativeRedisBackend, ConfigError> {
    const C: &str = "RedisBackend";
    let params = [
        NodeParam {
            core: "timeout_seconds",
            node: "timeoutMs",
            millis: true,
            given: options.timeout_ms,
        },
        NodeParam {
            core: "retry_seconds",
            node: "retryMs",
            millis: true,
            given: options.retry_ms,
        },
        NodeParam {
            core: "max_idle",
            node: "maxIdle",
            millis: false,
            given: options.max_idle,
        },
    ];
    let build = || -> ferrule_core::Result<RedisBackend> {
        let defaults = RedisConfig::new(options.url.clone());
        let policy = match &options.on_backend_error {
            Some(s) => OnBackendError::parse(C, "on_backend_error", s)?,
            None => defaults.on_backend_error,
        };
        RedisBackend::new(RedisConfig {
            prefix: options.prefix.clone().unwrap_or(defaults.prefix.clone()),
            timeout_seconds: options
                .timeout_ms
                .map_or(defaults.timeout_seconds, |ms| ms / 1000.0),
            retry_seconds: options
                .retry_ms
                .map_or(defaults.retry_seconds, |ms| ms / 1000.0),
            max_idle: options.max_idle.map_or(defaults.max_idle, |n| {
                if n >= 1.0 && n.fract() == 0.0 {
                    n as usize
                } else {
                    0
                }
            }),
            on_backend_error: policy,
            url: defaults.url,
            tls: ferrule_core::net::TlsFiles {
                ca_file: options.ca_file.clone().map(Into::into),
                client_cert_file: options.client_cert_file.clone().map(Into::into),
                client_key_file: options.client_key_file.clone().map(Into::into),
            },
        })
    };
    match build() {
        Ok(b) => Either::A(NativeRedisBackend { inner: Arc::new(b) }),
        Err(e) => Either::B(config_error(&e, &params)),
    }
}

#[napi]
impl NativeRedisBackend {
    #[napi(catch_unwind)]
    pub fn is_up(&self) -> bool {
        self.inner.is_up()
    }

    #[napi(catch_unwind)]
    pub fn stats(&self) -> RedisBackendStats {
        let s = self.inner.stats();
        RedisBackendStats {
            operations: s.operations as f64,
            errors: s.errors as f64,
            fallbacks: s.fallbacks as f64,
            outages: s.outages as f64,
            recoveries: s.recoveries as f64,
            up: s.up,
            idle_connections: s.idle_connections as f64,
        }
    }
}
