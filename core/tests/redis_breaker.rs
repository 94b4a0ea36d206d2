//! Breakers sharing state through a real `redis-server`: an open breaker in one "process" (a separate
//! breaker object with its own sync thread) rejects in the others within the sync interval, and the
//! summed window counts trip every copy when none has seen `min_calls` alone.
#![cfg(feature = "redis")]

mod redis_server;

use ferrule_core::policy::breaker_sync::{BreakerSync, BreakerSyncConfig};
use ferrule_core::store::redis_backend::{RedisBackend, RedisConfig};
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
