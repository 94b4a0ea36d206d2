//! A router's endpoint health shared by four processes through a real `redis-server`: a 429 with
//! Retry-After seen by one process cools the endpoint in the others within the sync interval plus a
//! round trip (measured), no process sends to it meanwhile, and it returns everywhere when the
//! cooldown ends. Also: the longest cooldown wins, ejections and the active region are shared, and
//! an outage of Redis leaves each process routing on its own view (counted).
#![cfg(feature = "redis")]

mod redis_server;

use ferrule_core::route::failover::FailoverConfig;
use ferrule_core::route::health_sync::{HealthSync, HealthSyncConfig};
use ferrule_core::route::router::token_endpoint;
use ferrule_core::store::redis_backend::{OnBackendError, RedisBackend, RedisConfig};
use ferrule_core::{EndpointConfig, RouteEventKind, RouteStrategy, Router, RouterConfig};
use redis_server::RedisServer;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const ROLE: &str = "FERRULE_ROUTER_HEALTH_CHILD";
/// The sync interval of these tests: the documented propagation bound is this plus a round trip.
const INTERVAL: f64 = 0.1;
const RETRY_AFTER: f64 = 2.0;

fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

fn backend(url: &str, prefix: &str) -> Arc<RedisBackend> {
    let mut c = RedisConfig::new(url);
    c.prefix = prefix.into();
    c.timeout_seconds = 0.2;
    c.retry_seconds = 0.05;
    c.on_backend_error = OnBackendError::Local;
    Arc::new(RedisBackend::new(c).unwrap())
}

fn router(name: &str, eps: Vec<EndpointConfig>) -> Arc<Router> {
    let mut c = RouterConfig::new(name, RouteStrategy::RoundRobin, eps);
    c.ejection.consecutive_failures = 3;
    c.ejection.base_seconds = 1.0;
    c.failover = FailoverConfig {
        failback_seconds: 60.0,
        probe_interval_seconds: 60.0,
    };
    Arc::new(Router::new(c).unwrap())
}

fn shared(
    url: &str,
    prefix: &str,
    name: &str,
    eps: Vec<EndpointConfig>,
) -> (Arc<Router>, HealthSync) {
    let r = router(name, eps);
    let s = HealthSync::start(
        r.clone(),
        backend(url, prefix),
        HealthSyncConfig {
            interval_seconds: INTERVAL,
        },
    )
    .unwrap();
    (r, s)
}

fn two() -> Vec<EndpointConfig> {
    vec![EndpointConfig::new("a"), EndpointConfig::new("b")]
}

/// The child side. Without the role variable this is an ordinary (empty) test.
#[test]
fn child_entry() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    assert_eq!(role, "router");
    let url = std::env::var("URL").unwrap();
    let prefix = std::env::var("PREFIX").unwrap();
    let first = std::env::var("FIRST").is_ok();
    let (r, sync) = shared(&url, &prefix, "fleet", two());
    sync.sync_now();
    let mut out = std::io::stdout().lock();
    writeln!(out, "READY").unwrap();
    out.flush().unwrap();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    let t0 = Instant::now();
    let mut picks_of_a = Vec::new();
    let mut cooled_at = None;
    while t0.elapsed() < Duration::from_millis(3500) {
        let t = r.pick(0).unwrap();
        if token_endpoint(t) == 0 {
            picks_of_a.push(unix_us());
            // The first process gets the provider's 429 on "a" half a second in.
            if first && cooled_at.is_none() && t0.elapsed() >= Duration::from_millis(500) {
                cooled_at = Some(unix_us());
                r.failure(t, Some(429), Some(RETRY_AFTER));
                continue;
            }
        }
        r.success(t);
        std::thread::sleep(Duration::from_millis(2));
    }
    if let Some(at) = cooled_at {
        writeln!(out, "COOLED {at}").unwrap();
    }
    let st = sync.stats();
    writeln!(
        out,
        "STATS {} {} {}",
        st.errors, st.published, st.applied_cooldowns
    )
    .unwrap();
    let list: Vec<String> = picks_of_a.iter().map(u64::to_string).collect();
    writeln!(out, "PICKS {}", list.join(" ")).unwrap();
}

#[test]
fn a_429_in_one_process_cools_the_endpoint_in_four_within_the_interval() {
    let s = RedisServer::start();
    let prefix = format!("rh{}", std::process::id());
    let mut children: Vec<_> = (0..4)
        .map(|k| {
            let mut c = Command::new(std::env::current_exe().unwrap());
            c.args(["child_entry", "--exact", "--nocapture", "--test-threads=1"])
                .env(ROLE, "router")
                .env("URL", s.url())
                .env("PREFIX", &prefix)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null());
            if k == 0 {
                c.env("FIRST", "1");
            }
            c.spawn().unwrap()
        })
        .collect();
    let mut readers: Vec<_> = children
        .iter_mut()
        .map(|c| BufReader::new(c.stdout.take().unwrap()))
        .collect();
    for r in &mut readers {
        let mut l = String::new();
        // The harness may have written "test child_entry ... " on the same line.
        while !l.contains("READY") {
            l.clear();
            assert!(r.read_line(&mut l).unwrap() > 0, "child ended before READY");
        }
    }
    for c in &mut children {
        writeln!(c.stdin.as_mut().unwrap(), "go").unwrap();
    }
    let mut cooled = None;
    let mut picks = Vec::new();
    let mut applied = 0;
    for (k, mut r) in readers.into_iter().enumerate() {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut r, &mut text).unwrap();
        for l in text.lines() {
            if let Some(v) = l.strip_prefix("COOLED ") {
                cooled = Some(v.parse::<u64>().unwrap());
            } else if let Some(v) = l.strip_prefix("STATS ") {
                let v: Vec<u64> = v.split(' ').map(|x| x.parse().unwrap()).collect();
                assert_eq!(v[0], 0, "process {k}: no sync errors");
                if k == 0 {
                    assert!(v[1] >= 1, "process 0 published its cooldown");
                } else {
                    applied += v[2];
                }
            } else if let Some(v) = l.strip_prefix("PICKS") {
                picks.push(
                    v.split_whitespace()
                        .map(|x| x.parse::<u64>().unwrap())
                        .collect::<Vec<_>>(),
                );
            }
        }
    }
    for c in &mut children {
        assert!(c.wait().unwrap().success());
    }
    let t429 = cooled.expect("process 0 saw its 429");
    assert_eq!(picks.len(), 4);
    assert_eq!(applied, 3, "each other process applied the cooldown once");
    let until = t429 + (RETRY_AFTER * 1e6) as u64;
    let bound = ((INTERVAL + 0.05) * 1e6) as u64; // the interval plus a (generous) round trip
    let mut worst = 0;
    for (k, p) in picks.iter().enumerate() {
        // Every process sent to "a" before the 429 (round robin over two healthy endpoints).
        assert!(p.iter().any(|&t| t < t429), "process {k} used a before");
        // After the 429: only within the propagation delay, and never in the process that saw it.
        let late: Vec<u64> = p
            .iter()
            .filter(|&&t| t > t429 && t < until)
            .map(|&t| t - t429)
            .collect();
        if k == 0 {
            assert_eq!(late, Vec::<u64>::new(), "the process that saw the 429");
        }
        if let Some(&m) = late.iter().max() {
            worst = worst.max(m);
        }
        assert!(
            late.iter().all(|&d| d <= bound),
            "process {k} sent to a {late:?} µs after the 429 (bound {bound} µs)"
        );
        // The cooldown ends at the same moment everywhere: traffic returns in every process.
        assert!(
            p.iter().any(|&t| t >= until && t <= until + 2 * bound),
            "process {k}: a back within {} µs of the cooldown's end",
            2 * bound
        );
    }
    eprintln!(
        "shared cooldown: the last send to the cooled endpoint from another process came {:.1} ms \
         after the 429 (bound {:.0} ms)",
        worst as f64 / 1e3,
        bound as f64 / 1e3
    );
}

#[test]
fn the_longest_cooldown_wins_and_ejections_end_together() {
    let s = RedisServer::start();
    let prefix = "rhl";
    let (x, sx) = shared(&s.url(), prefix, "longest", two());
    let (y, sy) = shared(&s.url(), prefix, "longest", two());
    // y sent to "a" before anyone knew; then x is told to rest "a" 5 s and publishes it.
    let pick_a = |r: &Router| loop {
        let t = r.pick(0).unwrap();
        if token_endpoint(t) == 0 {
            return t;
        }
        r.success(t);
    };
    let in_flight = pick_a(&y);
    let tx = pick_a(&x);
    x.failure(tx, Some(429), Some(5.0));
    sx.sync_now();
    // y's call then gets a 429 with a shorter hint (1 s): re-cooling must not shorten the rest
    // (litellm keeps the first, shorter deadline); the shared deadline stays x's 5 s.
    y.failure(in_flight, Some(429), Some(1.0));
    sy.sync_now();
    let rest = |r: &Router| r.stats().endpoints[0].cooldown_remaining_seconds;
    assert!((rest(&y) - 5.0).abs() < 0.1, "y rests a 5 s: {}", rest(&y));
    sx.sync_now();
    assert!((rest(&x) - 5.0).abs() < 0.1);
    // A longer hint elsewhere wins over both.
    let (z, sz) = shared(&s.url(), prefix, "longest", two());
    sz.sync_now(); // z learns "a" is cooling: it can only get a 429 on a call already in flight
    let tz = z.pick(0).unwrap();
    assert_eq!(token_endpoint(tz), 1, "z does not send to the cooling a");
    z.failure(tz, Some(429), Some(8.0)); // "b" now, 8 s
    sz.sync_now();
    sx.sync_now();
    let rest_b = |r: &Router| r.stats().endpoints[1].cooldown_remaining_seconds;
    assert!(
        (rest_b(&x) - 8.0).abs() < 0.1,
        "x learnt b's 8 s: {}",
        rest_b(&x)
    );
    let ev: Vec<_> = x.drain_events(16);
    assert!(ev
        .iter()
        .any(|e| e.kind == RouteEventKind::CooledDown && e.reason == "shared"));

    // Ejection: three failures on "b" in x eject it; y ejects it until the same moment.
    let (x2, sx2) = shared(&s.url(), prefix, "eject", two());
    let (y2, sy2) = shared(&s.url(), prefix, "eject", two());
    for _ in 0..3 {
        let t = x2.pick(1).unwrap(); // tried = {a}: always "b"
        assert_eq!(token_endpoint(t), 1);
        x2.failure(t, Some(500), None);
    }
    sx2.sync_now();
    sy2.sync_now();
    let out = |r: &Router| r.stats().endpoints[1].ejected_remaining_seconds;
    assert!(
        out(&x2) > 0.9 && (out(&x2) - out(&y2)).abs() < 0.05,
        "{} vs {}",
        out(&x2),
        out(&y2)
    );
    assert_eq!(sy2.stats().applied_ejections, 1);
}

#[test]
fn the_active_region_is_shared_and_an_outage_keeps_local_routing() {
    let mut s = RedisServer::start();
    let prefix = "rhr";
    let eps = || {
        let mut p = EndpointConfig::new("p");
        p.region = Some("eu".into());
        let mut q = EndpointConfig::new("q");
        q.region = Some("us".into());
        q.priority = 1;
        vec![p, q]
    };
    let (x, sx) = shared(&s.url(), prefix, "regions", eps());
    let (y, sy) = shared(&s.url(), prefix, "regions", eps());
    // x's primary endpoint fails three times: ejected, x fails over and publishes the switch.
    for _ in 0..3 {
        let t = x.pick(0).unwrap();
        assert_eq!(token_endpoint(t), 0);
        x.failure(t, Some(503), None);
    }
    let t = x.pick(0).unwrap();
    assert_eq!((token_endpoint(t), x.active_region()), (1, "us"));
    x.success(t);
    // The switch reaches y within the sync delay; the background sync threads may be mid-exchange
    // when the test asks, so it asks again until a bounded deadline rather than exactly once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        sx.sync_now();
        sy.sync_now();
        if y.active_region() == "us" || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(y.active_region(), "us");
    assert_eq!(sy.stats().applied_regions, 1);
    let fo: Vec<_> = y
        .drain_events(16)
        .into_iter()
        .filter(|e| e.kind == RouteEventKind::Failover)
        .collect();
    assert_eq!(fo.len(), 1);
    assert_eq!(fo[0].reason, "shared");
    // Redis goes away: a new cooldown in x is not shared, the error is counted, x keeps routing
    // on its own view (picks never wait for Redis).
    s.stop();
    let t = x.pick(0).unwrap();
    x.failure(t, Some(429), Some(3.0));
    sx.sync_now();
    assert!(sx.stats().errors >= 1);
    let t0 = Instant::now();
    let _ = x.pick(0);
    assert!(t0.elapsed() < Duration::from_millis(5));
    // Back: the pending cooldown is published on the next exchange.
    s.restart();
    let t0 = Instant::now();
    while sx.stats().published < 3 {
        sx.sync_now();
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", sx.stats());
        std::thread::sleep(Duration::from_millis(60));
    }
}
