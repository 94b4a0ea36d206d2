//! `log` records (the core's own `log::warn!` and its dependencies') reach ferrule's logger: masked,
//! rate-limited and written to the configured sink. Its own test binary, because the `log` logger is
//! set once per process.

use ferrule_core::telemetry::log_event::Level;
use ferrule_core::telemetry::log_sink::LogSink;
use ferrule_core::telemetry::pipeline::{Pipeline, Settings};
use std::sync::{Arc, Mutex};

#[test]
fn log_records_are_masked_and_reach_the_configured_sink() {
    let lines: Arc<Mutex<Vec<(Level, String)>>> = Arc::default();
    let seen = lines.clone();
    Pipeline::global()
        .configure(Settings {
            log_sink: Some(LogSink::Callback(Arc::new(move |level, line| {
                seen.lock().unwrap().push((level, line.to_string()));
                Ok(())
            }))),
            log_level: Some(Level::Info),
            log_dedup_seconds: Some(0.0),
            ..Default::default()
        })
        .unwrap();
    assert!(ferrule_core::telemetry::log_bridge::install());
    // A second install finds the logger taken and says so.
    assert!(!ferrule_core::telemetry::log_bridge::install());

    let secret = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789";
    log::warn!(target: "ferrule.alert", "webhook failed for alice@example.com with key {secret}");
    log::error!(target: "rustls::client", "handshake failed");
    log::info!(target: "redis", "reconnected");
    log::debug!(target: "reqwest", "not forwarded");
    log::trace!(target: "reqwest", "not forwarded either");

    let got = lines.lock().unwrap().clone();
    assert_eq!(got.len(), 3, "{got:#?}");
    let (level, warn) = &got[0];
    assert_eq!(*level, Level::Warning);
    assert!(warn.contains("\"event\":\"log.warning\""), "{warn}");
    assert!(warn.contains("\"target\":\"ferrule.alert\""), "{warn}");
    assert!(!warn.contains(secret), "secret not masked: {warn}");
    assert!(
        !warn.contains("alice@example.com"),
        "email not masked: {warn}"
    );
    assert!(warn.contains("webhook failed for"), "{warn}");
    assert_eq!(got[1].0, Level::Error);
    assert!(got[1].1.contains("\"event\":\"log.error\"") && got[1].1.contains("handshake failed"));
    assert_eq!(got[2].0, Level::Info);
    assert!(got[2].1.contains("reconnected"));
}
