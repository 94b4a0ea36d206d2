//! The Redis backend on a real 3-master Redis Cluster (3 replicas) and on a Sentinel-managed master,
//! all on loopback: four processes share a limit exactly; a master killed mid-run over-admits at most
//! the documented bound (one burst: the state the promoted replica had not received), no caller
//! waits past its deadline, and admissions resume after the promotion; breakers sync and the
//! dead-letter queue's consumer group works on the cluster; a Sentinel failover is followed.
#![cfg(feature = "redis")]

#[allow(dead_code)] // the single-server helper is not used here
mod redis_server;

use ferrule_core::policy::breaker_sync::{BreakerSync, BreakerSyncConfig};
use ferrule_core::store::dead_letter::queue::{DeadLetterConfig, DeadLetterQueue};
use ferrule_core::store::dead_letter::redis_streams::RedisDeadLetterStore;
use ferrule_core::store::redis_backend::{OnBackendError, RedisBackend, RedisConfig};
use ferrule_core::{
    Algorithm, BreakerConfig, CircuitBreaker, MultiLimit, MultiStep, Outcome, RateLimitConfig,
    RateLimiter, State, Step, WindowSpec,
};
use redis_server::fleet::{RedisCluster, RedisSentinels};
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ROLE: &str = "FERRULE_CLUSTER_CHILD";

/// One healthy cluster for the checks that do not kill a master (startup is the slow part).
#[test]
fn on_a_healthy_cluster() {
    let c = RedisCluster::start();
    four_processes_share_limits_exactly(&c);
    breakers_sync(&c);
    the_dead_letter_consumer_group_works(&c);
}

fn backend(url: &str, prefix: &str, policy: OnBackendError) -> Arc<RedisBackend> {
    let mut c = RedisConfig::new(url);
    c.prefix = prefix.into();
    c.on_backend_error = policy;
    c.timeout_seconds = 0.1;
    c.retry_seconds = 0.05;
    Arc::new(RedisBackend::new(c).unwrap())
}

/// Keyed limits on several tenants (so their keys spread over the three masters), and a global one.
fn limits(b: &Arc<RedisBackend>) -> (RateLimiter, MultiLimit) {
    let slow = |burst| Algorithm::TokenBucket {
        rate: 1.0,
        per_seconds: 3600.0,
        burst,
    };
    let global = RateLimiter::with_backend(
        RateLimitConfig::new("global", slow(150)),
        ferrule_core::ClockRef::System,
        b.clone(),
    )
    .unwrap();
    let rpm = RateLimiter::with_backend(
        RateLimitConfig::new("rpm", slow(40)),
        ferrule_core::ClockRef::System,
        b.clone(),
    )
    .unwrap();
    let tpm = RateLimiter::with_backend(
        RateLimitConfig::new("tpm", slow(100)),
        ferrule_core::ClockRef::System,
        b.clone(),
    )
    .unwrap();
    let multi = MultiLimit::new(vec![
        ("rpm".into(), Arc::new(rpm)),
        ("tpm".into(), Arc::new(tpm)),
    ])
    .unwrap();
    (global, multi)
}

const TENANTS: [&str; 4] = ["acme", "globex", "initech", "umbrella"];

/// The child side. Without the role variable this is an ordinary (empty) test.
#[test]
fn child_entry() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let url = std::env::var("URL").unwrap();
    let prefix = std::env::var("PREFIX").unwrap();
    let b = backend(&url, &prefix, OnBackendError::FailClosed);
    let (global, multi) = limits(&b);
    let mut out = std::io::stdout().lock();
    match role.as_str() {
        "share" => {
            // Wait for the parent's go so the four processes overlap.
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).unwrap();
            let mut admitted = 0u64;
            let mut per_tenant = [0u64; 4];
            for round in 0..400 {
                if global.try_acquire(1, None).is_ok() {
                    admitted += 1;
                }
                let t = round % 4;
                // 3 tokens a request on tpm: rpm allows 40, tpm 33 (100 / 3) per tenant.
                if let MultiStep::Admitted(_) =
                    multi.acquire_step(&[1, 3], Some(TENANTS[t]), Some(Duration::ZERO))
                {
                    per_tenant[t] += 1;
                }
            }
            let errors = b.stats().errors;
            writeln!(
                out,
                "RESULT {admitted} {} {} {} {} {errors}",
                per_tenant[0], per_tenant[1], per_tenant[2], per_tenant[3]
            )
            .unwrap();
        }
        other => panic!("unknown role {other}"),
    }
}

fn four_processes_share_limits_exactly(c: &RedisCluster) {
    let url = c.url();
    let prefix = format!("share{}", std::process::id());
    let mut children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args(["child_entry", "--exact", "--nocapture", "--test-threads=1"])
                .env(ROLE, "share")
                .env("URL", &url)
                .env("PREFIX", &prefix)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in &mut children {
        writeln!(c.stdin.as_mut().unwrap(), "go").unwrap();
    }
    let (mut global, mut tenants, mut errors) = (0u64, [0u64; 4], 0u64);
    for c in children {
        let out = c.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            // The harness may have written "test child_entry ... " on the same line.
            .find_map(|l| l.split_once("RESULT ").map(|(_, r)| r))
            .unwrap_or_else(|| panic!("child printed no result: {text}"));
        let v: Vec<u64> = line.split(' ').map(|x| x.parse().unwrap()).collect();
        global += v[0];
        for t in 0..4 {
            tenants[t] += v[1 + t];
        }
        errors += v[5];
    }
    assert_eq!(errors, 0, "no Redis errors on a healthy cluster");
    assert_eq!(
        global, 150,
        "the global burst, exactly, across four processes"
    );
    // All-or-nothing per tenant: tpm (100 / 3 = 33) binds before rpm (40); nothing leaks.
    assert_eq!(
        tenants, [33; 4],
        "per-tenant admissions across four processes"
    );
    // The tenants' keys really live on more than one master: the hash tag is the caller key.
    let masters: std::collections::BTreeSet<u16> = TENANTS
        .iter()
        .map(|t| c.master_of(&format!("{prefix}:rl:{{k:{t}}}:rpm:token_bucket")))
        .collect();
    assert!(
        masters.len() >= 2,
        "tenants spread over masters: {masters:?}"
    );
}

fn breakers_sync(c: &RedisCluster) {
    let url = c.url();
    let prefix = format!("cb{}", std::process::id());
    let replica = || {
        let mut cfg = BreakerConfig::named("payments");
        cfg.failure_rate = Some(0.5);
        cfg.window = WindowSpec::Count(20);
        cfg.min_calls = 10;
        cfg.open_seconds = 30.0;
        let b = Arc::new(CircuitBreaker::new(cfg).unwrap());
        let s = BreakerSync::start(
            b.clone(),
            backend(&url, &prefix, OnBackendError::Local),
            BreakerSyncConfig {
                interval_seconds: 0.05,
                window_seconds: 30.0,
            },
        )
        .unwrap();
        (b, s)
    };
    let (a, sa) = replica();
    let (b, sb) = replica();
    for _ in 0..10 {
        let (p, _) = a.acquire().unwrap();
        a.record(p, Outcome::Failure);
    }
    assert_eq!(a.state(), State::Open);
    let t0 = Instant::now();
    while b.state() != State::Open {
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "the open reached the other copy"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // The sync thread opens the breaker, then counts the applied open: wait for the count too.
    while sb.stats().applied_opens == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "the applied open was counted"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(sa.stats().errors + sb.stats().errors, 0);
    assert_eq!(sb.stats().applied_opens, 1);
}

fn the_dead_letter_consumer_group_works(c: &RedisCluster) {
    let url = c.url();
    let prefix = format!("dlq{}", std::process::id());
    let queue = || {
        DeadLetterQueue::new(
            Arc::new(RedisDeadLetterStore::new(
                backend(&url, &prefix, OnBackendError::FailClosed),
                "jobs",
            )),
            DeadLetterConfig {
                mask: false,
                replay_lease: Duration::from_millis(300),
                ..DeadLetterConfig::default()
            },
        )
        .unwrap()
    };
    let (writer, reader) = (queue(), queue());
    let ids: Vec<u64> = (0..6)
        .map(|i| {
            writer
                .push("chat", &format!("{{\"n\":{i}}}"), vec![], 3, None, None)
                .unwrap()
                .unwrap()
        })
        .collect();
    // Run A holds the batch; run B (another backend) finds all of it leased.
    let mut a = reader.replay_cursor(None, None);
    let first = reader.replay_next(&mut a).unwrap().unwrap();
    assert_eq!(first.id, ids[0]);
    assert!(reader.replay_claim(&mut a, first.id).unwrap());
    let r = writer
        .replay_with(None, None, |_| true, |_| panic!("held by run A"))
        .unwrap();
    assert_eq!((r.busy, r.succeeded), (6, 0));
    // A fails the first (given back at once); B replays it; after A's lease the rest go to B.
    reader
        .replay_failed(&mut a, first.id, "still down")
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let r = writer
        .replay_with(None, None, |_| true, |_| Ok(()))
        .unwrap();
    assert_eq!((r.succeeded, r.busy), (6, 0));
    assert!(writer.is_empty().unwrap());
}

/// What a burst of callers saw while a master was killed and its replica promoted.
struct Run {
    admitted: u64,
    /// Admissions in the last `tail` of the run, after the promotion.
    admitted_after: u64,
    slowest: Duration,
    elapsed: Duration,
}

#[allow(clippy::too_many_arguments)] // one scenario's knobs, named at the single call site
/// `threads` callers, each with its own backend (its own connections, as separate processes have),
/// call `try_acquire` with a deadline of `budget` for `run`; `kill` runs once at `kill_at`.
fn hammer(
    url: &str,
    prefix: &str,
    limit: Algorithm,
    budget: Duration,
    run: Duration,
    kill_at: Duration,
    recovered_from: Duration,
    kill: impl FnOnce() + Send,
) -> Run {
    let admitted = AtomicU64::new(0);
    let admitted_after = AtomicU64::new(0);
    let slowest = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let b = backend(url, prefix, OnBackendError::FailClosed);
                let l = RateLimiter::with_backend(
                    RateLimitConfig::new("failover", limit),
                    ferrule_core::ClockRef::System,
                    b,
                )
                .unwrap();
                while !stop.load(Ordering::Relaxed) {
                    let c0 = Instant::now();
                    let step = l.acquire_step(1, None, Some(budget));
                    let took = c0.elapsed();
                    slowest.fetch_max(took.as_nanos() as u64, Ordering::Relaxed);
                    match step {
                        Step::Admitted => {
                            admitted.fetch_add(1, Ordering::Relaxed);
                            if t0.elapsed() >= recovered_from {
                                admitted_after.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        // Never sleep past the run: the caller's deadline is `budget` per call.
                        Step::Wait(d) | Step::Rejected(d) => {
                            std::thread::sleep(d.min(Duration::from_millis(5)))
                        }
                    }
                }
            });
        }
        std::thread::sleep(kill_at);
        kill();
        std::thread::sleep(run.saturating_sub(t0.elapsed()));
        stop.store(true, Ordering::Relaxed);
    });
    Run {
        admitted: admitted.into_inner(),
        admitted_after: admitted_after.into_inner(),
        slowest: Duration::from_nanos(slowest.into_inner()),
        elapsed: t0.elapsed(),
    }
}

#[test]
fn a_master_killed_mid_run_over_admits_at_most_one_burst_and_recovers() {
    let mut cluster = RedisCluster::start();
    let url = cluster.url();
    let prefix = format!("kill{}", std::process::id());
    let (rate, burst) = (200.0, 20u64);
    let master = cluster.master_of(&format!("{prefix}:rl:{{all}}:failover:token_bucket"));
    let budget = Duration::from_millis(50);
    let cluster_ref = &mut cluster;
    let run = hammer(
        &url,
        &prefix,
        Algorithm::TokenBucket {
            rate,
            per_seconds: 1.0,
            burst,
        },
        budget,
        Duration::from_secs(6),
        Duration::from_millis(800),
        Duration::from_millis(5000),
        move || cluster_ref.kill(master),
    );
    // The bound: what the rate allows over the run, plus the burst, plus one more burst for the
    // state the promoted replica may not have received (asynchronous replication).
    let allowed = (rate * run.elapsed.as_secs_f64()).ceil() as u64 + burst;
    assert!(
        run.admitted <= allowed + burst,
        "admitted {} > {allowed} + one burst {burst}",
        run.admitted
    );
    // No caller waited past its deadline by more than scheduling noise (2 cores, many tests).
    assert!(
        run.slowest <= budget + Duration::from_millis(150),
        "slowest call {:?} (deadline {budget:?})",
        run.slowest
    );
    // The replica took over and admissions flow again at the rate.
    assert!(
        run.admitted_after >= 50,
        "admitted {} in the last second",
        run.admitted_after
    );
    cluster.wait_ok(Duration::from_secs(10));
    eprintln!(
        "cluster master kill: admitted {} (allowed {allowed} + burst {burst}), slowest call {:?}, \
         {} in the last second",
        run.admitted, run.slowest, run.admitted_after
    );
}

#[test]
fn a_sentinel_failover_is_followed() {
    let mut s = RedisSentinels::start();
    let url = s.url();
    let b = backend(&url, "sent", OnBackendError::FailClosed);
    let l = RateLimiter::with_backend(
        RateLimitConfig::new(
            "s",
            Algorithm::TokenBucket {
                rate: 1.0,
                per_seconds: 3600.0,
                burst: 1000,
            },
        ),
        ferrule_core::ClockRef::System,
        b.clone(),
    )
    .unwrap();
    for _ in 0..10 {
        assert!(l.try_acquire(1, None).is_ok());
    }
    assert_eq!(b.mode(), "sentinel");
    // Writes went to the master the Sentinels named, and reached the replica.
    let port = s.master_port();
    let keys: Vec<String> =
        redis_server::fleet::query(port, redis::cmd("KEYS").arg("sent:*")).unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    std::thread::sleep(Duration::from_millis(200)); // replication is asynchronous
    s.kill_master();
    let budget = Duration::from_millis(50);
    let t0 = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut refused = 0;
    // Callers keep their deadlines while the Sentinels promote the replica, then get through.
    let recovered = loop {
        let c0 = Instant::now();
        let step = l.acquire_step(1, None, Some(budget));
        slowest = slowest.max(c0.elapsed());
        match step {
            Step::Admitted if t0.elapsed() > Duration::from_millis(50) && refused > 0 => {
                break t0.elapsed()
            }
            Step::Admitted => {}
            _ => refused += 1,
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "no recovery after the Sentinel failover"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    s.wait_promoted(Duration::from_secs(5));
    assert!(
        slowest <= budget + Duration::from_millis(150),
        "slowest call {slowest:?}"
    );
    assert!(b.is_up());
    let st = b.stats();
    assert!(st.outages >= 1 && st.recoveries >= 1, "{st:?}");
    eprintln!("sentinel failover: recovered after {recovered:?}, slowest call {slowest:?}");
}
