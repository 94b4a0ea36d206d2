//! Redis over TLS (`rediss://`) against a real `redis-server` started with `--tls-port` and a CA the
//! test makes: the rate limiter, breaker state sync and the dead-letter queue work over it, mutual
//! TLS works with a client certificate, and a server certificate from another CA leaves the backend
//! down with the failure counted (the `local` policy decides meanwhile), never a hang or a panic.
#![cfg(feature = "redis")]

mod tls_server;

use ferrule_core::net::TlsFiles;
use ferrule_core::policy::breaker_sync::{BreakerSync, BreakerSyncConfig};
use ferrule_core::store::dead_letter::redis_streams::RedisDeadLetterStore;
use ferrule_core::store::dead_letter::{Capacity, DeadLetterStore, NewDeadLetter, OnFull, Pushed};
use ferrule_core::store::redis_backend::{OnBackendError, RedisBackend, RedisConfig};
use ferrule_core::{
    Algorithm, BreakerConfig, CircuitBreaker, ManualClock, Outcome, RateLimitConfig, RateLimiter,
    State, WindowSpec,
};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tls_server::Pki;

/// A `redis-server` serving TLS only, on a free loopback port, stopped on drop.
struct TlsRedis {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl TlsRedis {
    fn start(pki: &Pki, require_client_cert: bool) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = pki.dir.join(format!("redis-{port}"));
        std::fs::create_dir_all(&dir).unwrap();
        let p = |x: &std::path::Path| x.to_str().unwrap().to_string();
        let child = Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--tls-port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .args(["--tls-cert-file", &p(&pki.server_cert)])
            .args(["--tls-key-file", &p(&pki.server_key)])
            .args(["--tls-ca-cert-file", &p(&pki.ca)])
            .args([
                "--tls-auth-clients",
                if require_client_cert { "yes" } else { "no" },
            ])
            .args(["--save", "", "--appendonly", "no"])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server not found: `make tools-redis` installs it");
        let t0 = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port, dir }
    }

    fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}/", self.port)
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn backend(url: &str, tls: TlsFiles, prefix: &str) -> Arc<RedisBackend> {
    let mut c = RedisConfig::new(url);
    c.tls = tls;
    c.prefix = prefix.into();
    c.timeout_seconds = 1.0;
    c.retry_seconds = 0.05;
    c.on_backend_error = OnBackendError::Local;
    Arc::new(RedisBackend::new(c).unwrap())
}

fn ca_only(pki: &Pki) -> TlsFiles {
    TlsFiles {
        ca_file: Some(pki.ca.clone()),
        ..Default::default()
    }
}

#[test]
fn limiter_breaker_sync_and_dead_letters_over_rediss() {
    let pki = Pki::new("redis");
    let r = TlsRedis::start(&pki, false);

    // Rate limiter: two limiters on one shared TLS Redis share one budget exactly.
    let clock = ManualClock::new();
    clock.set_nanos(1_700_000_000_000_000);
    let cfg = RateLimitConfig::new(
        "tls-shared",
        Algorithm::SlidingWindow {
            limit: 5,
            window_seconds: 60.0,
        },
    );
    let a = RateLimiter::with_backend(
        cfg.clone(),
        clock.clone(),
        backend(&r.url(), ca_only(&pki), "rl"),
    )
    .unwrap();
    let b = RateLimiter::with_backend(cfg, clock.clone(), backend(&r.url(), ca_only(&pki), "rl"))
        .unwrap();
    let mut granted = 0;
    for i in 0..10 {
        let l = if i % 2 == 0 { &a } else { &b };
        if l.try_acquire(1, None).is_ok() {
            granted += 1;
        }
    }
    assert_eq!(granted, 5, "one shared budget over TLS");

    // Breaker sync: an open breaker in one replica opens the other.
    let replica = || {
        let mut cfg = BreakerConfig::named("tls-llm");
        cfg.failure_rate = Some(0.5);
        cfg.window = WindowSpec::Count(20);
        cfg.min_calls = 10;
        cfg.open_seconds = 30.0;
        let br = Arc::new(CircuitBreaker::new(cfg).unwrap());
        let sync = BreakerSync::start(
            br.clone(),
            backend(&r.url(), ca_only(&pki), "br"),
            BreakerSyncConfig {
                interval_seconds: 0.05,
                window_seconds: 30.0,
            },
        )
        .unwrap();
        (br, sync)
    };
    let (b1, _s1) = replica();
    let (b2, _s2) = replica();
    for _ in 0..10 {
        if let Ok((p, _)) = b1.acquire() {
            b1.record(p, Outcome::Failure);
        }
    }
    assert_eq!(b1.state(), State::Open);
    let t0 = Instant::now();
    while b2.state() != State::Open {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the open state did not travel over TLS"
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    // Dead-letter queue: pushed by one backend, read by another.
    let store =
        |name: &str| RedisDeadLetterStore::new(backend(&r.url(), ca_only(&pki), "dlq"), name);
    let (w, rd) = (store("q"), store("q"));
    let item = NewDeadLetter {
        key: "chat".into(),
        payload: "{\"n\":1}".into(),
        errors: vec!["timeout".into()],
        attempts: 3,
        first_failed_unix_ms: 1,
        last_failed_unix_ms: 2,
        trace_id: None,
    };
    let room = Capacity {
        max_items: 10,
        on_full: OnFull::Reject,
    };
    assert!(matches!(
        w.push(&item, room).unwrap(),
        Pushed::Stored { .. }
    ));
    assert_eq!(rd.len().unwrap(), 1);
    assert_eq!(rd.list(10, None, None).unwrap()[0].payload, "{\"n\":1}");
}

#[test]
fn mutual_tls_needs_the_client_certificate_and_a_wrong_ca_is_counted() {
    let pki = Pki::new("redis-mtls");
    let r = TlsRedis::start(&pki, true);
    let with = backend(
        &r.url(),
        TlsFiles {
            ca_file: Some(pki.ca.clone()),
            client_cert_file: Some(pki.client_cert.clone()),
            client_key_file: Some(pki.client_key.clone()),
        },
        "m",
    );
    let store = RedisDeadLetterStore::new(with.clone(), "mtls");
    assert_eq!(store.len().unwrap(), 0);
    assert!(with.is_up());

    // No client certificate: the server refuses the handshake; the store reports an error.
    let without = backend(&r.url(), ca_only(&pki), "m");
    let s2 = RedisDeadLetterStore::new(without.clone(), "mtls");
    assert!(s2.len().is_err());
    assert!(without.stats().errors >= 1);

    // The server's certificate from a CA we do not trust: an error, counted, not a hang.
    let wrong = backend(
        &r.url(),
        TlsFiles {
            ca_file: Some(pki.other_ca.clone()),
            client_cert_file: Some(pki.client_cert.clone()),
            client_key_file: Some(pki.client_key.clone()),
        },
        "m",
    );
    let t0 = Instant::now();
    let s3 = RedisDeadLetterStore::new(wrong.clone(), "mtls");
    assert!(s3.len().is_err());
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert!(wrong.stats().errors >= 1);
    assert!(!wrong.is_up());

    // Certificate files with a plain redis:// URL are a configuration error naming the parameter.
    let mut c = RedisConfig::new("redis://127.0.0.1:1/");
    c.tls = ca_only(&pki);
    let e = RedisBackend::new(c).unwrap_err().to_string();
    assert!(e.contains("ca_file"), "{e}");
}
