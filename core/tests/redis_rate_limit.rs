//! The Redis-backed limiters against a real `redis-server` on loopback: the Lua scripts give the local
//! limiter's exact answers (property test on a manual clock), many threads share a limit exactly,
//! multi-limits are all-or-nothing, and each `on_backend_error` policy holds when Redis goes away.
#![cfg(feature = "redis")]

mod redis_server;

use ferrule_core::store::redis_backend::{OnBackendError, RedisBackend, RedisConfig};
use ferrule_core::Clock;
use ferrule_core::{
    Algorithm, ManualClock, MultiLimit, MultiStep, RateLimitConfig, RateLimiter, Step,
};
use proptest::prelude::*;
use redis_server::RedisServer;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

static NAMES: AtomicU64 = AtomicU64::new(0);

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NAMES.fetch_add(1, Ordering::Relaxed)
    )
}

fn backend(url: &str, policy: OnBackendError) -> Arc<RedisBackend> {
    let mut c = RedisConfig::new(url);
    c.on_backend_error = policy;
    c.timeout_seconds = 0.2;
    c.retry_seconds = 0.05;
    c.prefix = unique("t");
    Arc::new(RedisBackend::new(c).unwrap())
}

/// Ops: (microseconds to advance, units asked).
fn ops() -> impl Strategy<Value = Vec<(u64, u64)>> {
    prop::collection::vec((0u64..40_000, 1u64..4), 1..60)
}

fn compare(
    s: &RedisServer,
    alg: Algorithm,
    ops: &[(u64, u64)],
) -> std::result::Result<(), TestCaseError> {
    let clock = ManualClock::new();
    clock.set_nanos(1_700_000_000_000_000); // µs-aligned, like the server's TIME
    let b = backend(&s.url(), OnBackendError::FailClosed);
    let cfg = RateLimitConfig::new(unique("prop"), alg);
    let local = RateLimiter::with_clock(cfg.clone(), clock.clone()).unwrap();
    let remote = RateLimiter::with_backend(cfg, clock.clone(), b).unwrap();
    for &(dt, n) in ops {
        clock.advance(Duration::from_micros(dt));
        let key = if n == 3 { Some("tenant") } else { None };
        let l = local.acquire_step(n, key, Some(Duration::from_millis(15)));
        let r = remote.acquire_step(n, key, Some(Duration::from_millis(15)));
        prop_assert_eq!(l, r, "at {} µs, n={}", clock.now_nanos() / 1000, n);
        prop_assert_eq!(local.peek(n, key), remote.peek(n, key));
    }
    Ok(())
}

/// proptest's runner by hand, so one server (stopped on drop) serves every case.
fn check_against_local(alg: Algorithm) {
    let s = RedisServer::start();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(32));
    runner.run(&ops(), |ops| compare(&s, alg, &ops)).unwrap();
}

#[test]
fn gcra_script_gives_the_local_limiters_answers() {
    check_against_local(Algorithm::TokenBucket {
        rate: 100.0,
        per_seconds: 1.0,
        burst: 5,
    });
}

#[test]
fn sliding_window_script_gives_the_local_limiters_answers() {
    check_against_local(Algorithm::SlidingWindow {
        limit: 7,
        window_seconds: 0.05,
    });
}

#[test]
fn sixteen_threads_share_one_limit_exactly() {
    let s = RedisServer::start();
    let clock = ManualClock::new();
    clock.set_nanos(5_000_000_000_000);
    let b = backend(&s.url(), OnBackendError::FailClosed);
    let name = unique("threads");
    let alg = Algorithm::TokenBucket {
        rate: 100.0,
        per_seconds: 1.0,
        burst: 100,
    };
    // Separate limiter objects (as separate processes would have), one shared name.
    let admitted = Arc::new(AtomicU64::new(0));
    std::thread::scope(|sc| {
        for _ in 0..16 {
            let l = RateLimiter::with_backend(
                RateLimitConfig::new(name.clone(), alg),
                clock.clone(),
                b.clone(),
            )
            .unwrap();
            let admitted = admitted.clone();
            sc.spawn(move || {
                for _ in 0..50 {
                    if l.try_acquire(1, None).is_ok() {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(
        admitted.load(Ordering::Relaxed),
        100,
        "800 tries, burst 100, no time passed"
    );
}

#[test]
fn multi_limit_is_all_or_nothing_in_one_script() {
    let s = RedisServer::start();
    let clock = ManualClock::new();
    clock.set_nanos(9_000_000_000_000);
    let b = backend(&s.url(), OnBackendError::FailClosed);
    let mk = |alg| {
        Arc::new(
            RateLimiter::with_backend(
                RateLimitConfig::new(unique("multi"), alg),
                clock.clone(),
                b.clone(),
            )
            .unwrap(),
        )
    };
    let rpm = mk(Algorithm::SlidingWindow {
        limit: 3,
        window_seconds: 60.0,
    });
    let tpm = mk(Algorithm::TokenBucket {
        rate: 100.0,
        per_seconds: 60.0,
        burst: 100,
    });
    let m = MultiLimit::new(vec![
        ("requests".into(), rpm.clone()),
        ("tokens".into(), tpm.clone()),
    ])
    .unwrap();
    assert!(matches!(
        m.acquire_step(&[1, 60], None, Some(Duration::ZERO)),
        MultiStep::Admitted(_)
    ));
    // 60 more tokens do not fit: nothing is charged to the request limit either.
    match m.acquire_step(&[1, 60], None, Some(Duration::ZERO)) {
        MultiStep::Rejected { limit, wait } => {
            assert_eq!(limit, 1);
            assert_eq!(wait, Duration::from_secs(12), "20 tokens short at 100/min");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        m.acquire_step(&[1, 40], None, Some(Duration::ZERO)),
        MultiStep::Admitted(_)
    ));
    assert!(matches!(
        m.acquire_step(&[1, 0], None, Some(Duration::ZERO)),
        MultiStep::Admitted(_)
    ));
    assert!(matches!(
        m.acquire_step(&[1, 0], None, Some(Duration::ZERO)),
        MultiStep::Rejected { limit: 0, .. }
    ));
    // Settling below the estimate refunds in Redis: 50 tokens back.
    let MultiStep::Admitted(r) = ({
        clock.advance(Duration::from_secs(121));
        m.acquire_step(&[1, 90], None, Some(Duration::ZERO))
    }) else {
        panic!("two minutes later the request window and the bucket have room")
    };
    assert_eq!(tpm.peek(50, None), Duration::from_secs(24));
    m.settle(&r, &[None, Some(40)]);
    assert_eq!(tpm.peek(50, None), Duration::ZERO);
    // Mixing a Redis limit with a local one is refused at construction.
    let local = Arc::new(
        RateLimiter::with_clock(
            RateLimitConfig::new(
                "l",
                Algorithm::SlidingWindow {
                    limit: 3,
                    window_seconds: 1.0,
                },
            ),
            clock.clone(),
        )
        .unwrap(),
    );
    assert!(MultiLimit::new(vec![("a".into(), rpm), ("b".into(), local)]).is_err());
}

#[test]
fn names_are_namespaced_so_two_limiters_never_share_state() {
    let s = RedisServer::start();
    let clock = ManualClock::new();
    clock.set_nanos(1_000_000_000_000);
    let b = backend(&s.url(), OnBackendError::FailClosed);
    let alg = Algorithm::TokenBucket {
        rate: 1.0,
        per_seconds: 1.0,
        burst: 1,
    };
    let a = RateLimiter::with_backend(RateLimitConfig::new("a", alg), clock.clone(), b.clone())
        .unwrap();
    let c = RateLimiter::with_backend(RateLimitConfig::new("c", alg), clock.clone(), b.clone())
        .unwrap();
    assert!(a.try_acquire(1, None).is_ok());
    assert!(a.try_acquire(1, None).is_err());
    assert!(
        c.try_acquire(1, None).is_ok(),
        "another name has its own bucket"
    );
    assert!(
        a.try_acquire(1, Some("k")).is_ok(),
        "a key has its own bucket"
    );
    assert!(RateLimiter::with_backend(
        RateLimitConfig::new(
            "log",
            Algorithm::SlidingLog {
                limit: 1,
                window_seconds: 1.0
            }
        ),
        clock.clone(),
        b
    )
    .is_err());
}

#[test]
fn redis_down_each_policy_decides_without_blocking_and_recovery_is_noticed() {
    let mut s = RedisServer::start();
    let alg = Algorithm::TokenBucket {
        rate: 1.0,
        per_seconds: 3600.0,
        burst: 2,
    };
    let mk = |p| {
        let b = backend(&s.url(), p);
        (
            RateLimiter::with_backend(
                RateLimitConfig::new("fault", alg),
                ferrule_core::ClockRef::System,
                b.clone(),
            )
            .unwrap(),
            b,
        )
    };
    let (open, bo) = mk(OnBackendError::FailOpen);
    let (closed, bc) = mk(OnBackendError::FailClosed);
    let (local, bl) = mk(OnBackendError::Local);
    let events = Arc::new(AtomicU64::new(0));
    let e2 = events.clone();
    bl.on_event(move |e| {
        e2.fetch_add(1, Ordering::Relaxed);
        assert_eq!(e.name, "redis_backend_unavailable");
    });
    for l in [&open, &closed, &local] {
        assert!(l.try_acquire(2, None).is_ok());
        assert!(
            l.try_acquire(1, None).is_err(),
            "the shared bucket is empty"
        );
    }
    s.stop();
    let t0 = Instant::now();
    for _ in 0..20 {
        assert!(open.try_acquire(1, None).is_ok(), "fail_open admits");
        assert!(closed.try_acquire(1, None).is_err(), "fail_closed refuses");
    }
    // local: this process's own bucket (full: it never charged locally), burst 2 then refused.
    assert!(local.try_acquire(2, None).is_ok());
    assert!(local.try_acquire(1, None).is_err());
    // A caller with a deadline is never held past it: fail_closed's wait is the probe interval.
    let d = Instant::now();
    assert!(matches!(
        closed.acquire_step(1, None, Some(Duration::from_millis(1))),
        Step::Rejected(_)
    ));
    assert!(d.elapsed() < Duration::from_millis(250));
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "no caller waited on a dead Redis: {:?}",
        t0.elapsed()
    );
    assert!(!bc.is_up());
    assert!(bo.stats().fallbacks >= 20 && bc.stats().fallbacks >= 20);
    assert_eq!(
        events.load(Ordering::Relaxed),
        1,
        "one firing event per outage"
    );

    s.restart();
    std::thread::sleep(Duration::from_millis(60)); // past the probe interval
                                                   // Redis lost its data (no persistence): a fresh bucket, shared again.
    let t = Instant::now();
    while local.try_acquire(1, None).is_err() {
        assert!(t.elapsed() < Duration::from_secs(3), "never recovered");
        std::thread::sleep(Duration::from_millis(60));
    }
    assert!(bl.is_up());
    assert_eq!(bl.stats().recoveries, 1);
    assert_eq!(events.load(Ordering::Relaxed), 2, "resolved on recovery");
}
