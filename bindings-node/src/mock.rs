//! `NativeMockServer`: the core's OpenAI-compatible mock server for `MockLLMServer` in
//! `bindings-node/mock.js`. Recorded requests and stats cross as JSON text, parsed by the host.

use crate::error::{config_error, ConfigError};
use ferrule_core::mock::{FaultPlan, MockConfig, MockServer};
use napi::bindgen_prelude::Either;
use napi_derive::napi;
use serde_json::json;
use std::sync::Mutex;

#[napi(object)]
pub struct MockOptions {
    pub host: Option<String>,
    pub port: Option<u32>,
    pub latency_ms: Option<f64>,
    pub hang_ms: Option<f64>,
    pub max_connections: Option<u32>,
    pub allow_non_loopback: Option<bool>,
}

#[napi]
pub struct NativeMockServer {
    // Only `stop` needs `&mut`; requests never take this lock (the server has its own).
    server: Mutex<MockServer>,
    url: String,
    port: u32,
}

/// Starts a server, or says why the configuration was refused (the host throws that).
#[napi(catch_unwind)]
pub fn create_mock_server(
    faults_json: String,
    options: MockOptions,
) -> Either<NativeMockServer, ConfigError> {
    let defaults = MockConfig::default();
    let made = FaultPlan::from_json(&faults_json).and_then(|plan| {
        MockServer::start(MockConfig {
            host: options.host.unwrap_or(defaults.host.clone()),
            port: options.port.unwrap_or(0).min(65535) as u16,
            plan,
            latency_ms: options.latency_ms.map_or(0, |v| v.clamp(0.0, 3.6e6) as u64),
            hang_ms: options
                .hang_ms
                .map_or(defaults.hang_ms, |v| v.clamp(0.0, 3.6e6) as u64),
            max_connections: options
                .max_connections
                .map_or(defaults.max_connections, |v| v as usize),
            allow_non_loopback: options.allow_non_loopback.unwrap_or(false),
            ..defaults
        })
    });
    match made {
        Ok(s) => Either::A(NativeMockServer {
            url: s.url(),
            port: s.port() as u32,
            server: Mutex::new(s),
        }),
        Err(e) => Either::B(config_error(&e, &[])),
    }
}

#[napi]
impl NativeMockServer {
    #[napi(getter, catch_unwind)]
    pub fn url(&self) -> String {
        self.url.clone()
    }

    #[napi(getter, catch_unwind)]
    pub fn port(&self) -> u32 {
        self.port
    }

    /// Every recorded request, oldest first, as a JSON array.
    #[napi(catch_unwind)]
    pub fn requests_json(&self) -> String {
        let reqs = self
            .server
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .requests();
        let out: Vec<_> = reqs
            .into_iter()
            .map(|r| {
                let headers: serde_json::Map<String, serde_json::Value> =
                    r.headers.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), json!(v))).collect();
                json!({ "index": r.index, "method": r.method, "path": r.path, "headers": headers,
                        "body": r.body, "fault": r.fault.as_str(), "atUnixMs": r.at_unix_ms as f64 })
            })
            .collect();
        serde_json::Value::Array(out).to_string()
    }

    #[napi(catch_unwind)]
    pub fn clear_requests(&self) {
        self.server
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear_requests();
    }

    #[napi(catch_unwind)]
    pub fn stats_json(&self) -> String {
        let s = self
            .server
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .stats();
        let by: serde_json::Map<String, serde_json::Value> = s
            .by_fault
            .into_iter()
            .map(|(k, v)| (k.to_string(), json!(v as f64)))
            .collect();
        json!({ "requests": s.requests as f64, "byFault": by, "droppedRecords": s.dropped_records as f64,
                "rejectedConnections": s.rejected_connections as f64,
                "openConnections": s.open_connections as f64,
                "idleConnections": s.idle_connections as f64 })
        .to_string()
    }

    /// Stops the server and waits for its accept thread (a few ms; hung connections are woken).
    #[napi(catch_unwind)]
    pub fn stop(&self) {
        self.server.lock().unwrap_or_else(|p| p.into_inner()).stop();
    }
}
