//! Breakers sharing state through a real `redis-server`: an open breaker in one "process" (a separate
//! breaker object with its own sync thread) rejects in the others within the sync interval, and the
//! summed window counts trip every copy when none has seen `min_calls` alone.
#![cfg(feature = "redis")]

mod redis_server;

use ferrule_core::policy::breaker::Reason;
use ferrule_core::policy::breaker_sync::{
    BreakerSync, BreakerSyncConfig, HELD_FAMILY, SYNC_AGE_FAMILY,
};
use ferrule_core::store::redis_backend::{OnBackendError, RedisBackend, RedisConfig};
use ferrule_core::{BreakerConfig, CircuitBreaker, Outcome, State, WindowSpec};
use redis_server::RedisServer;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn replica(url: &str, name: &str, interval: f64) -> (Arc<CircuitBreaker>, BreakerSync) {
    let mut c = RedisConfig::new(url);
    c.prefix = format!("b{}", std::process::id());
    let backend = Arc::new(RedisBackend::new(c).unwrap());
    let mut cfg = BreakerConfig::named(name);
    cfg.failure_rate = Some(0.5);
    cfg.window = WindowSpec::Count(20);
    cfg.min_calls = 10;
    cfg.open_seconds = 30.0;
    let b = Arc::new(CircuitBreaker::new(cfg).unwrap());
    let sync = BreakerSync::start(
        b.clone(),
        backend,
        BreakerSyncConfig {
            interval_seconds: interval,
            window_seconds: 30.0,
        },
    )
    .unwrap();
    (b, sync)
}

fn fail(b: &CircuitBreaker, n: usize) {
    for _ in 0..n {
        if let Ok((p, _)) = b.acquire() {
            b.record(p, Outcome::Failure);
        }
    }
}

#[test]
fn an_open_breaker_anywhere_opens_it_everywhere_within_the_interval() {
    let s = RedisServer::start();
    let interval = 0.1;
    let (a, _sa) = replica(&s.url(), "llm", interval);
    let (b, _sb) = replica(&s.url(), "llm", interval);
    let (c, _sc) = replica(&s.url(), "llm", interval);
    let (other, _so) = replica(&s.url(), "other-name", interval);
    fail(&a, 10);
    assert_eq!(a.state(), State::Open);
    let t0 = Instant::now();
    while b.state() != State::Open || c.state() != State::Open {
        assert!(
            t0.elapsed() < Duration::from_secs_f64(3.0 * interval + 0.5),
            "not shared within the interval"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let seen = t0.elapsed();
    assert!(b.acquire().is_err() && c.acquire().is_err());
    let retry = b.acquire().unwrap_err().retry_after.unwrap();
    assert!(
        retry > Duration::from_secs(28),
        "the open period came along: {retry:?}"
    );
    std::thread::sleep(Duration::from_secs_f64(2.0 * interval));
    assert_eq!(
        other.state(),
        State::Closed,
        "another name is another breaker"
    );
    eprintln!("shared open seen after {seen:?} (interval {interval}s)");
}

#[test]
fn summed_window_counts_trip_every_copy() {
    let s = RedisServer::start();
    let (a, sa) = replica(&s.url(), "summed", 30.0); // synced by hand below
    let (b, sb) = replica(&s.url(), "summed", 30.0);
    fail(&a, 6); // 6 < min_calls 10: neither trips alone
    fail(&b, 6);
    assert_eq!((a.state(), b.state()), (State::Closed, State::Closed));
    sa.sync_now();
    sb.sync_now(); // 12 calls, 12 failures across both: the shared window trips
    sa.sync_now();
    assert_eq!((a.state(), b.state()), (State::Open, State::Open));
    assert_eq!(sa.stats().applied_opens + sb.stats().applied_opens, 2);
}

#[test]
fn redis_down_the_breaker_stays_local_and_syncs_again_after() {
    let mut s = RedisServer::start();
    let (a, sa) = replica(&s.url(), "down", 30.0);
    let (b, sb) = replica(&s.url(), "down", 30.0);
    s.stop();
    fail(&a, 10);
    assert_eq!(
        a.state(),
        State::Open,
        "the local breaker works without Redis"
    );
    sa.sync_now();
    assert!(sa.stats().errors >= 1);
    s.restart();
    std::thread::sleep(Duration::from_millis(1100)); // the backend's probe interval (1 s default)
    sa.sync_now(); // the unpublished open is published now
    sb.sync_now();
    assert_eq!(b.state(), State::Open);
}

fn held_replica(
    url: &str,
    name: &str,
    policy: OnBackendError,
) -> (Arc<CircuitBreaker>, BreakerSync, Arc<RedisBackend>) {
    let mut c = RedisConfig::new(url);
    c.prefix = format!("h{}", std::process::id());
    c.on_backend_error = policy;
    c.retry_seconds = 0.1;
    let backend = Arc::new(RedisBackend::new(c).unwrap());
    let mut cfg = BreakerConfig::named(name);
    cfg.window = WindowSpec::Count(20);
    cfg.min_calls = 10;
    cfg.open_seconds = 30.0;
    let b = Arc::new(CircuitBreaker::new(cfg).unwrap());
    let sync = BreakerSync::start(
        b.clone(),
        backend.clone(),
        BreakerSyncConfig {
            interval_seconds: 30.0, // exchanges are driven by hand with sync_now()
            window_seconds: 30.0,
        },
    )
    .unwrap();
    (b, sync, backend)
}

/// Every acquire answers at once (the breaker never waits on Redis): a generous bound that only a
/// caller blocked on a socket would break.
fn admitted(b: &CircuitBreaker) -> bool {
    let t0 = Instant::now();
    let r = b.acquire();
    assert!(
        t0.elapsed() < Duration::from_millis(20),
        "acquire blocked {:?}",
        t0.elapsed()
    );
    match r {
        Ok((p, _)) => {
            b.record(p, Outcome::Ignored);
            true
        }
        Err(_) => false,
    }
}

fn recover(s: &mut RedisServer, sync: &BreakerSync, backend: &RedisBackend) {
    s.restart();
    let t0 = Instant::now();
    while !backend.is_up() {
        assert!(t0.elapsed() < Duration::from_secs(5), "no recovery");
        std::thread::sleep(Duration::from_millis(20)); // the backend probes every retry_seconds
        sync.sync_now();
    }
}

#[test]
fn redis_down_fail_closed_refuses_every_call_until_it_answers() {
    let mut s = RedisServer::start();
    let (b, sync, backend) = held_replica(&s.url(), "fc", OnBackendError::FailClosed);
    let events = Arc::new(std::sync::Mutex::new(Vec::new()));
    let e2 = events.clone();
    b.on_transition(move |t| e2.lock().unwrap().push((t.from, t.to, t.reason)));
    sync.sync_now();
    assert!(admitted(&b));
    s.stop();
    sync.sync_now(); // the exchange fails: the policy holds the breaker open
    assert_eq!(b.state(), State::Open);
    assert!((0..50).all(|_| !admitted(&b)), "every call refused");
    let st = sync.stats();
    assert!(
        st.held && st.errors >= 1 && st.held_rejected == 50,
        "{st:?}"
    );
    recover(&mut s, &sync, &backend);
    assert_eq!(b.state(), State::Closed, "the hold ended with Redis back");
    assert!(admitted(&b));
    assert!(!sync.stats().held);
    assert_eq!(
        *events.lock().unwrap(),
        [
            (State::Closed, State::Open, Reason::BackendDown),
            (State::Open, State::Closed, Reason::BackendUp)
        ]
    );
    // The decisions and the errors are in the registry, by bounded labels.
    let sink = ferrule_core::telemetry::registry::global().collect();
    assert_eq!(
        sink.get(HELD_FAMILY, &["fc", "rejected"]),
        Some(50.0),
        "held decisions exported"
    );
    let prefix = backend.config().prefix.clone();
    assert!(
        sink.get(
            "ferrule_redis_errors",
            &[&prefix, "breaker_sync", "connection"]
        )
        .unwrap_or(0.0)
            >= 1.0
    );
    assert!(
        sink.get(
            "ferrule_redis_fallback_decisions",
            &[&prefix, "breaker_sync", "rejected"]
        )
        .unwrap_or(0.0)
            >= 1.0
    );
    assert!(sink.get(SYNC_AGE_FAMILY, &["fc"]).unwrap() < 5.0);
}

#[test]
fn redis_down_fail_open_admits_even_an_open_breaker_until_it_answers() {
    let mut s = RedisServer::start();
    let (b, sync, backend) = held_replica(&s.url(), "fo", OnBackendError::FailOpen);
    sync.sync_now();
    fail(&b, 10);
    assert_eq!(b.state(), State::Open);
    sync.sync_now(); // published
    s.stop();
    sync.sync_now();
    assert_eq!(b.state(), State::Closed, "held closed");
    assert!((0..50).all(|_| admitted(&b)), "every call admitted");
    // Failures while held trip nothing: the policy said admit.
    fail(&b, 20);
    assert_eq!(b.state(), State::Closed);
    recover(&mut s, &sync, &backend);
    assert_eq!(b.state(), State::Open, "the open breaker it was before");
    let retry = b.acquire().unwrap_err().retry_after.unwrap();
    assert!(retry > Duration::from_secs(25), "{retry:?}");
    assert_eq!(sync.stats().held_admitted, 70);
}

#[test]
fn redis_down_local_keeps_the_local_state() {
    let mut s = RedisServer::start();
    let (b, sync, backend) = held_replica(&s.url(), "lo", OnBackendError::Local);
    sync.sync_now();
    s.stop();
    sync.sync_now();
    assert!(!sync.stats().held);
    assert!(admitted(&b));
    fail(&b, 10);
    assert_eq!(b.state(), State::Open, "trips on its own window");
    recover(&mut s, &sync, &backend);
    assert_eq!(b.state(), State::Open);
    assert_eq!(sync.stats().held_admitted + sync.stats().held_rejected, 0);
}

#[test]
fn a_sync_thread_notices_an_outage_by_itself_and_calls_never_wait() {
    // The thread, not the test, drives the exchanges: an outage mid-run is seen within the interval
    // (plus the operation timeout) and no acquire blocks meanwhile.
    let mut s = RedisServer::start();
    let mut c = RedisConfig::new(s.url());
    c.prefix = format!("t{}", std::process::id());
    c.on_backend_error = OnBackendError::FailClosed;
    c.retry_seconds = 0.1;
    let backend = Arc::new(RedisBackend::new(c).unwrap());
    let b = Arc::new(CircuitBreaker::new(BreakerConfig::named("thread")).unwrap());
    let _sync = BreakerSync::start(
        b.clone(),
        backend,
        BreakerSyncConfig {
            interval_seconds: 0.05,
            window_seconds: 30.0,
        },
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(admitted(&b));
    s.stop();
    let t0 = Instant::now();
    while admitted(&b) {
        assert!(t0.elapsed() < Duration::from_secs(2), "never held");
        std::thread::sleep(Duration::from_millis(2));
    }
    s.restart();
    let t0 = Instant::now();
    while !admitted(&b) {
        assert!(t0.elapsed() < Duration::from_secs(3), "never released");
        std::thread::sleep(Duration::from_millis(2));
    }
}
