//! The router on a manual clock: each strategy's distribution, cooldowns, ejection, failover and
//! failback hysteresis, hedging, the tried set, exact counts under threads, and its metrics.

use ferrule_core::route::cooldown::CooldownConfig;
use ferrule_core::route::ejection::EjectionConfig;
use ferrule_core::route::failover::FailoverConfig;
use ferrule_core::route::hedge::HedgeConfig;
use ferrule_core::route::router::token_endpoint;
use ferrule_core::{
    EndpointConfig, Error, Health, ManualClock, RouteEventKind, RouteStrategy as Strategy, Router,
    RouterConfig,
};
use proptest::prelude::*;
use std::sync::Arc;
use std::time::Duration;

fn ep(name: &str) -> EndpointConfig {
    EndpointConfig::new(name)
}

fn router(strategy: Strategy, eps: Vec<EndpointConfig>, clock: &ManualClock) -> Router {
    let mut c = RouterConfig::new("t", strategy, eps);
    c.seed = Some(42);
    Router::with_clock(c, clock.clone()).unwrap()
}

/// Picks `n` times, each call succeeding after `lat(i)` of clock time; returns picks per endpoint.
fn run(r: &Router, clock: &ManualClock, n: usize, lat: impl Fn(usize) -> u64) -> Vec<usize> {
    let mut counts = vec![0; r.endpoint_count()];
    for _ in 0..n {
        let t = r.pick(0).unwrap();
        let i = token_endpoint(t);
        counts[i] += 1;
        clock.advance(Duration::from_micros(lat(i)));
        r.success(t);
    }
    counts
}

#[test]
fn weighted_follows_the_weights_within_two_percent() {
    let clock = ManualClock::new();
    let mut a = ep("a");
    a.weight = 1.0;
    let mut b = ep("b");
    b.weight = 3.0;
    let r = router(Strategy::Weighted, vec![a, b], &clock);
    let c = run(&r, &clock, 40_000, |_| 100);
    let share = c[1] as f64 / 40_000.0;
    assert!((share - 0.75).abs() < 0.02, "b share {share}");
}

#[test]
fn round_robin_is_exactly_even() {
    let clock = ManualClock::new();
    let r = router(
        Strategy::RoundRobin,
        vec![ep("a"), ep("b"), ep("c")],
        &clock,
    );
    assert_eq!(run(&r, &clock, 3_000, |_| 10), vec![1000, 1000, 1000]);
}

#[test]
fn least_outstanding_avoids_busy_endpoints_and_splits_ties() {
    let clock = ManualClock::new();
    let r = router(
        Strategy::LeastOutstanding,
        vec![ep("a"), ep("b"), ep("c")],
        &clock,
    );
    // Hold 2 calls on whichever endpoints get them, then every new pick goes to the idle one.
    let held: Vec<u64> = (0..2).map(|_| r.pick(0).unwrap()).collect();
    let busy: Vec<usize> = held.iter().map(|&t| token_endpoint(t)).collect();
    assert_ne!(busy[0], busy[1], "a tie is broken towards an idle endpoint");
    let idle = 3 - busy[0] - busy[1];
    for _ in 0..100 {
        let t = r.pick(0).unwrap();
        assert_eq!(token_endpoint(t), idle);
        r.success(t);
    }
    for t in held {
        r.success(t);
    }
    // All idle again: ties split evenly within 5 percentage points.
    let c = run(&r, &clock, 30_000, |_| 10);
    for v in c {
        assert!((v as f64 / 30_000.0 - 1.0 / 3.0).abs() < 0.05, "{v}");
    }
}

#[test]
fn p2c_ewma_starves_the_slow_endpoint() {
    let clock = ManualClock::new();
    let r = router(
        Strategy::P2cEwma,
        vec![ep("slow"), ep("f1"), ep("f2")],
        &clock,
    );
    // 100 ms on "slow", 10 ms on the others.
    let c = run(
        &r,
        &clock,
        10_000,
        |i| if i == 0 { 100_000 } else { 10_000 },
    );
    // Two distinct choices: "slow" wins only before it was measured.
    assert!(c[0] <= 5, "slow got {}", c[0]);
    let fast_share = c[1] as f64 / (c[1] + c[2]) as f64;
    assert!((fast_share - 0.5).abs() < 0.05, "{fast_share}");
}

#[test]
fn cost_takes_the_cheapest_and_unpriced_last() {
    let clock = ManualClock::new();
    let mut a = ep("dear");
    a.cost_per_1k_input = Some(0.01);
    a.cost_per_1k_output = Some(0.03);
    let mut b = ep("cheap");
    b.cost_per_1k_input = Some(0.0005);
    b.cost_per_1k_output = Some(0.0015);
    let c = ep("unpriced");
    let r = router(Strategy::Cost, vec![a, b, c], &clock);
    assert_eq!(run(&r, &clock, 500, |_| 10), vec![0, 500, 0]);
    // With "cheap" tried, the next cheapest.
    let t = r.pick(1 << 1).unwrap();
    assert_eq!(token_endpoint(t), 0);
    r.success(t);
}

#[test]
fn latency_measures_everyone_then_takes_the_fastest() {
    let clock = ManualClock::new();
    let r = router(Strategy::Latency, vec![ep("a"), ep("b"), ep("c")], &clock);
    let c = run(&r, &clock, 1_000, |i| [50_000, 5_000, 20_000][i]);
    assert!(
        c[0] >= 1 && c[2] >= 1,
        "unmeasured endpoints are tried first: {c:?}"
    );
    assert!(c[1] >= 995, "{c:?}");
    let s = r.stats();
    assert!((s.endpoints[1].latency_ewma_seconds.unwrap() - 0.005).abs() < 1e-4);
}

#[test]
fn a_429_with_retry_after_cools_the_endpoint_down_for_that_long() {
    let clock = ManualClock::new();
    let r = router(Strategy::RoundRobin, vec![ep("a"), ep("b")], &clock);
    let mut t = r.pick(0).unwrap();
    while token_endpoint(t) != 0 {
        r.success(t);
        t = r.pick(0).unwrap();
    }
    assert!(r.failure(t, Some(429), Some(2.0)), "an event waits");
    let ev = r.drain_events(10);
    assert_eq!(ev[0].kind, RouteEventKind::CooledDown);
    assert_eq!(ev[0].endpoint, "a");
    assert_eq!(ev[0].seconds, Some(2.0));
    assert_eq!(r.stats().endpoints[0].health, Health::CoolingDown);
    for _ in 0..50 {
        clock.advance(Duration::from_millis(39));
        let t = r.pick(0).unwrap();
        assert_eq!(token_endpoint(t), 1, "cooling endpoint skipped");
        r.success(t);
    }
    clock.advance(Duration::from_millis(50));
    let c = run(&r, &clock, 10, |_| 10);
    assert_eq!(c, vec![5, 5]);
    // A 429 without a hint rests for the default; a 500 does not rest at all.
    let cfg = CooldownConfig::default();
    assert_eq!(cfg.rest_nanos(Some(429), None), Some(5_000_000_000));
    assert_eq!(cfg.rest_nanos(Some(500), None), None);
    assert_eq!(r.stats().endpoints[0].cooldowns, 1);
}

#[test]
fn consecutive_failures_eject_and_the_endpoint_returns_after_the_ejection() {
    let clock = ManualClock::new();
    let mut c = RouterConfig::new("ej", Strategy::RoundRobin, vec![ep("bad"), ep("good")]);
    c.seed = Some(1);
    c.ejection = EjectionConfig {
        consecutive_failures: 3,
        base_seconds: 10.0,
        max_seconds: 100.0,
        max_percent: 0.5,
    };
    c.failure_rate = 1.0; // keep the breaker out of it
    let r = Router::with_clock(c, clock.clone()).unwrap();
    let mut fails = 0;
    while fails < 3 {
        let t = r.pick(0).unwrap();
        if token_endpoint(t) == 0 {
            r.failure(t, Some(500), None);
            fails += 1;
        } else {
            r.success(t);
        }
    }
    let ev = r.drain_events(10);
    assert!(ev
        .iter()
        .any(|e| e.kind == RouteEventKind::Ejected && e.endpoint == "bad"));
    for _ in 0..200 {
        let t = r.pick(0).unwrap();
        assert_eq!(
            token_endpoint(t),
            1,
            "never the ejected one while a healthy one exists"
        );
        r.success(t);
        clock.advance(Duration::from_millis(49));
    }
    clock.advance(Duration::from_millis(300));
    assert_eq!(run(&r, &clock, 10, |_| 1), vec![5, 5]);
    // The cap: "good" failing now may not be ejected while... "bad" is back, so it may.
    assert_eq!(r.stats().endpoints[0].ejections, 1);
}

#[test]
fn ejection_never_takes_out_more_than_the_cap() {
    let clock = ManualClock::new();
    let mut c = RouterConfig::new("cap", Strategy::RoundRobin, vec![ep("a"), ep("b")]);
    c.ejection.consecutive_failures = 2;
    c.failure_rate = 1.0;
    c.min_calls = 20;
    let r = Router::with_clock(c, clock.clone()).unwrap();
    for _ in 0..20 {
        let t = r.pick(0).unwrap();
        r.failure(t, None, None);
    }
    let s = r.stats();
    let out = s
        .endpoints
        .iter()
        .filter(|e| e.health == Health::Ejected)
        .count();
    assert_eq!(out, 1, "max_percent 0.5 of 2 endpoints: one");
    // Everything else ejected or not, a pick still finds an endpoint.
    assert!(r.pick(0).is_ok());
}

#[test]
fn a_failed_attempt_moves_to_the_next_endpoint_and_runs_out() {
    let clock = ManualClock::new();
    let r = router(Strategy::Weighted, vec![ep("a"), ep("b"), ep("c")], &clock);
    let mut tried = 0u64;
    for _ in 0..3 {
        let t = r.pick(tried).unwrap();
        let i = token_endpoint(t);
        assert_eq!(
            tried & (1 << i),
            0,
            "never the same endpoint twice in one call"
        );
        tried |= 1 << i;
        r.failure(t, Some(503), None);
    }
    match r.pick(tried) {
        Err(Error::CircuitOpen { breaker, .. }) => assert_eq!(breaker, "router t"),
        other => panic!("{other:?}"),
    }
}

fn two_regions(clock: &ManualClock) -> Router {
    let mut p = ep("primary");
    p.region = Some("eu".into());
    p.priority = 0;
    let mut s = ep("standby");
    s.region = Some("us".into());
    s.priority = 1;
    let mut c = RouterConfig::new("fo", Strategy::RoundRobin, vec![s, p]);
    c.seed = Some(3);
    c.ejection.consecutive_failures = 3;
    c.ejection.base_seconds = 10.0;
    c.failover = FailoverConfig {
        failback_seconds: 30.0,
        probe_interval_seconds: 5.0,
    };
    Router::with_clock(c, clock.clone()).unwrap()
}

#[test]
fn failover_moves_traffic_and_failback_waits_for_the_stable_period() {
    let clock = ManualClock::new();
    let r = two_regions(&clock);
    assert_eq!(
        r.active_region(),
        "eu",
        "regions by priority, not by list order"
    );
    // Healthy: everything to the primary (endpoint 1).
    assert_eq!(run(&r, &clock, 10, |_| 1000), vec![0, 10]);
    // The primary fails: each failing attempt moves on to the standby within the call, nothing lost.
    let mut standby_successes = 0;
    for _ in 0..3 {
        let t = r.pick(0).unwrap();
        assert_eq!(token_endpoint(t), 1);
        r.failure(t, None, None);
        let t2 = r.pick(1 << 1).unwrap();
        assert_eq!(token_endpoint(t2), 0);
        r.success(t2);
        standby_successes += 1;
    }
    assert_eq!(standby_successes, 3);
    // The third failure ejected it, so the retry of that call already failed over.
    assert_eq!(r.active_region(), "us");
    let t = r.pick(0).unwrap();
    assert_eq!(token_endpoint(t), 0);
    r.success(t);
    let ev = r.drain_events(10);
    let fo: Vec<_> = ev
        .iter()
        .filter(|e| e.kind == RouteEventKind::Failover)
        .collect();
    assert_eq!(fo.len(), 1);
    assert_eq!((fo[0].from.as_str(), fo[0].to.as_str()), ("eu", "us"));
    assert_eq!(r.stats().failovers, 1);

    // Ejection (10 s) over: the primary is healthy again but does not get traffic back at once.
    clock.advance(Duration::from_secs(10));
    let mut probes = 0;
    let mut step = |r: &Router, fail_primary: bool| {
        let t = r.pick(0).unwrap();
        if token_endpoint(t) == 1 {
            probes += 1;
            if fail_primary {
                r.failure(t, None, None);
                return;
            }
        }
        r.success(t);
    };
    for _ in 0..20 {
        step(&r, false);
        clock.advance(Duration::from_secs(1));
        assert_eq!(
            r.active_region(),
            "us",
            "no failback inside the stable period"
        );
    }
    // A probe failure inside the stable period (the probe due 20 s in) restarts it.
    step(&r, true);
    assert_eq!(r.active_region(), "us");
    for _ in 0..29 {
        step(&r, false);
        clock.advance(Duration::from_secs(1));
        assert_eq!(r.active_region(), "us", "the stable period started over");
    }
    for _ in 0..3 {
        step(&r, false);
        clock.advance(Duration::from_secs(1));
    }
    assert_eq!(r.active_region(), "eu", "failback after 30 s healthy");
    assert!(
        probes >= 8,
        "trickle probes every 5 s kept testing the primary: {probes}"
    );
    let ev = r.drain_events(100);
    let fb: Vec<_> = ev
        .iter()
        .filter(|e| e.kind == RouteEventKind::Failback)
        .collect();
    assert_eq!(fb.len(), 1);
    assert_eq!((fb[0].from.as_str(), fb[0].to.as_str()), ("us", "eu"));
    let s = r.stats();
    assert_eq!((s.failovers, s.failbacks), (1, 1));
    assert_eq!(run(&r, &clock, 10, |_| 1000), vec![0, 10]);
}

#[test]
fn an_open_breaker_fails_over_and_its_half_open_probe_brings_it_back() {
    let clock = ManualClock::new();
    let mut p = ep("p");
    p.priority = 0;
    let mut s = ep("s");
    s.priority = 1;
    let mut c = RouterConfig::new("br", Strategy::Weighted, vec![p, s]);
    c.ejection.consecutive_failures = 0; // breaker only
    c.min_calls = 4;
    c.window = 4;
    c.open_seconds = 20.0;
    c.failover.failback_seconds = 0.0;
    let r = Router::with_clock(c, clock.clone()).unwrap();
    for _ in 0..4 {
        let t = r.pick(0).unwrap();
        assert_eq!(token_endpoint(t), 0);
        r.failure(t, Some(500), None);
    }
    let ev = r.drain_events(10);
    assert!(ev
        .iter()
        .any(|e| e.kind == RouteEventKind::Breaker && e.to == "open"));
    let t = r.pick(0).unwrap();
    assert_eq!(token_endpoint(t), 1);
    r.success(t);
    assert_eq!(r.active_region(), "priority-1");
    clock.advance(Duration::from_secs(20));
    // Open period over: the next pick is the half-open probe on the primary.
    let t = r.pick(0).unwrap();
    assert_eq!(token_endpoint(t), 0);
    r.success(t);
    assert_eq!(r.stats().endpoints[0].probes, 1);
    let t = r.pick(0).unwrap();
    r.success(t);
    assert_eq!(
        r.active_region(),
        "priority-0",
        "failback_seconds=0: back at once"
    );
}

#[test]
fn hedge_delay_is_the_endpoints_p95_and_hedges_are_budgeted() {
    let clock = ManualClock::new();
    let mut c = RouterConfig::new("h", Strategy::RoundRobin, vec![ep("a"), ep("b")]);
    c.hedge = Some(HedgeConfig {
        quantile: 0.95,
        min_samples: 20,
        max_ratio: 0.1,
        min_delay_seconds: 0.0,
    });
    let r = Router::with_clock(c, clock.clone()).unwrap();
    let t = r.pick(0).unwrap();
    assert_eq!(r.hedge_delay(t), None, "no hedging before min_samples");
    r.success(t);
    // 100 calls per endpoint: 1..=100 ms.
    for k in 1..=200u64 {
        let t = r.pick(0).unwrap();
        clock.advance(Duration::from_millis(k.div_ceil(2)));
        r.success(t);
    }
    let t = r.pick(0).unwrap();
    let d = r.hedge_delay(t).unwrap().as_secs_f64();
    assert!(
        (d - 0.095).abs() < 0.095 * 0.07,
        "p95 ≈ 95 ms within the sketch's 6.25%: {d}"
    );
    // 202 calls so far: hedges while fewer than 10% of them (20.2), so 21. Each hedge goes to the
    // other endpoint, never the first one's, and the hedges are not in the budget's denominator.
    let first = token_endpoint(t);
    let mut granted = 0;
    for _ in 0..50 {
        if let Some(h) = r.hedge(t, 0) {
            assert_ne!(token_endpoint(h), first);
            granted += 1;
            r.lost(h);
        }
    }
    assert_eq!(granted, 21);
    r.release(t);
    let s = r.stats();
    assert_eq!((s.hedges, s.hedges_lost), (21, 21));
    assert_eq!(s.endpoints[first].hedges, 21);
    // Hedging off: never.
    let plain = router(Strategy::RoundRobin, vec![ep("a"), ep("b")], &clock);
    let t = plain.pick(0).unwrap();
    assert!(plain.hedge(t, 0).is_none() && plain.hedge_delay(t).is_none());
}

#[test]
fn max_concurrency_skips_a_full_endpoint() {
    let clock = ManualClock::new();
    let mut a = ep("a");
    a.max_concurrency = Some(2);
    a.weight = 100.0;
    let r = router(Strategy::Weighted, vec![a, ep("b")], &clock);
    let held: Vec<u64> = (0..2)
        .map(|_| loop {
            let t = r.pick(0).unwrap();
            if token_endpoint(t) == 0 {
                break t;
            }
            r.success(t);
        })
        .collect();
    for _ in 0..100 {
        let t = r.pick(0).unwrap();
        assert_eq!(token_endpoint(t), 1);
        r.success(t);
    }
    for t in held {
        r.success(t);
    }
}

#[test]
fn threads_count_exactly() {
    let clock = ManualClock::new();
    let mut c = RouterConfig::new(
        "mt",
        Strategy::P2cEwma,
        vec![ep("a"), ep("b"), ep("c"), ep("d")],
    );
    c.ejection.consecutive_failures = 0;
    c.failure_rate = 1.0;
    let r = Arc::new(Router::with_clock(c, clock).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|k| {
            let r = r.clone();
            std::thread::spawn(move || {
                for n in 0..20_000u64 {
                    let t = r.pick(0).unwrap();
                    match (n + k) % 3 {
                        0 => r.failure(t, Some(500), None),
                        1 => r.release(t),
                        _ => r.success(t),
                    };
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = r.stats();
    let sum = |f: fn(&ferrule_core::EndpointStats) -> u64| s.endpoints.iter().map(f).sum::<u64>();
    assert_eq!(sum(|e| e.requests), 160_000);
    assert_eq!(
        sum(|e| e.successes) + sum(|e| e.errors) + sum(|e| e.released),
        160_000
    );
    assert!(s.endpoints.iter().all(|e| e.outstanding == 0));
}

#[test]
fn bad_configuration_names_the_parameter() {
    let e = Router::new(RouterConfig::new("x", Strategy::Weighted, vec![])).unwrap_err();
    assert!(e.to_string().contains("endpoints"), "{e}");
    let mut w = ep("a");
    w.weight = -1.0;
    let e = Router::new(RouterConfig::new("x", Strategy::Weighted, vec![w])).unwrap_err();
    assert!(e.to_string().contains("weight=-1"), "{e}");
    let e = Router::new(RouterConfig::new(
        "x",
        Strategy::Weighted,
        vec![ep("a"), ep("a")],
    ))
    .unwrap_err();
    assert!(e.to_string().contains("unique"), "{e}");
    let mut a = ep("a");
    a.region = Some("eu".into());
    let mut b = ep("b");
    b.region = Some("eu".into());
    b.priority = 2;
    let e = Router::new(RouterConfig::new("x", Strategy::Weighted, vec![a, b])).unwrap_err();
    assert!(e.to_string().contains("priority=2"), "{e}");
    let e = Strategy::parse("fastest").unwrap_err();
    assert!(e.to_string().contains("round_robin"), "{e}");
    let mut c = RouterConfig::new("x", Strategy::Weighted, vec![ep("a")]);
    c.failure_rate = 1.5;
    assert!(Router::new(c)
        .unwrap_err()
        .to_string()
        .contains("failure_rate=1.5"));
}

#[test]
fn metrics_are_read_at_scrape_time() {
    let clock = ManualClock::new();
    let r = Arc::new(router(
        Strategy::RoundRobin,
        vec![ep("m1"), ep("m2")],
        &clock,
    ));
    ferrule_core::telemetry::collector::export(&r);
    let t = r.pick(0).unwrap();
    r.failure(t, Some(429), Some(1.0));
    run(&r, &clock, 4, |_| 10);
    let text = ferrule_core::metrics_text(ferrule_core::MetricsFormat::Prometheus);
    assert!(
        text.contains("ferrule_router_requests_total{router=\"t\",endpoint=\"m1\"} 1"),
        "{text}"
    );
    assert!(text.contains("ferrule_router_requests_total{router=\"t\",endpoint=\"m2\"} 4"));
    assert!(text.contains("ferrule_router_cooldowns_total{router=\"t\",endpoint=\"m1\"} 1"));
    assert!(text.contains("ferrule_router_active_region{router=\"t\",region=\"priority-0\"} 1"));
    assert!(text.contains("ferrule_router_failovers_total{router=\"t\"} 0"));
}

proptest! {
    /// Whatever the mix of outcomes and time steps: requests = successes + errors + released +
    /// outstanding, outstanding never underflows, and a pick never returns an endpoint already tried.
    #[test]
    fn counts_balance(ops in proptest::collection::vec((0u8..4, 0u64..3_000), 1..200)) {
        let clock = ManualClock::new();
        let mut p = ep("a");
        p.priority = 0;
        let mut q = ep("b");
        q.priority = 1;
        let mut c = RouterConfig::new("pt", Strategy::LeastOutstanding, vec![p, q, ep("c")]);
        c.seed = Some(9);
        c.ejection.consecutive_failures = 2;
        c.ejection.base_seconds = 1.0;
        c.min_calls = 3;
        c.window = 5;
        c.open_seconds = 1.0;
        c.failover.failback_seconds = 2.0;
        let r = Router::with_clock(c, clock.clone()).unwrap();
        let mut held = Vec::new();
        for (op, ms) in ops {
            clock.advance(Duration::from_millis(ms));
            let tried = if op == 3 { 1 } else { 0 };
            if let Ok(t) = r.pick(tried) {
                prop_assert!(tried & (1 << token_endpoint(t)) == 0);
                match op {
                    0 => { r.success(t); }
                    1 => { r.failure(t, Some(429), None); }
                    2 => held.push(t),
                    _ => { r.failure(t, None, None); }
                }
            }
            r.drain_events(usize::MAX);
        }
        let s = r.stats();
        let req: u64 = s.endpoints.iter().map(|e| e.requests).sum();
        let done: u64 = s.endpoints.iter().map(|e| e.successes + e.errors + e.released).sum();
        let out: u64 = s.endpoints.iter().map(|e| e.outstanding as u64).sum();
        prop_assert_eq!(req, done + out);
        prop_assert_eq!(out, held.len() as u64);
        for t in held { r.release(t); }
        prop_assert!(r.stats().endpoints.iter().all(|e| e.outstanding == 0));
    }
}

// ---- smooth weighted round robin, the windowed hedge delay, and the call's decisions in the core ----

fn weighted(name: &str, w: f64) -> EndpointConfig {
    let mut e = ep(name);
    e.weight = w;
    e
}

#[test]
fn round_robin_is_nginx_smooth_weighted_and_shares_match_the_weights_exactly() {
    let clock = ManualClock::new();
    let r = router(
        Strategy::RoundRobin,
        vec![weighted("a", 5.0), weighted("b", 1.0), weighted("c", 1.0)],
        &clock,
    );
    // nginx's documented sequence for {5, 1, 1}: interleaved, not a a a a a b c.
    let seq: String = (0..14)
        .map(|_| {
            let t = r.pick(0).unwrap();
            r.success(t);
            ["a", "b", "c"][token_endpoint(t)]
        })
        .collect();
    assert_eq!(seq, "aabacaaaabacaa");
    // Over any multiple of the total weight the counts are exact.
    assert_eq!(run(&r, &clock, 7_000, |_| 10), vec![5_000, 1_000, 1_000]);
    // Fractional weights: 0.5 : 1.5 : 2 is 1 : 3 : 4, exactly, every 8 picks.
    let r = router(
        Strategy::RoundRobin,
        vec![weighted("x", 0.5), weighted("y", 1.5), weighted("z", 2.0)],
        &clock,
    );
    for _ in 0..100 {
        assert_eq!(run(&r, &clock, 8, |_| 10), vec![1, 3, 4]);
    }
}

#[test]
fn round_robin_keeps_the_weights_among_the_endpoints_left() {
    // c is cooled down: a and b share 3 : 1 exactly while it is out; once back, it gets its share.
    let clock = ManualClock::new();
    let r = router(
        Strategy::RoundRobin,
        vec![weighted("a", 3.0), weighted("b", 1.0), weighted("c", 4.0)],
        &clock,
    );
    let t = loop {
        let t = r.pick(0).unwrap();
        if token_endpoint(t) == 2 {
            break t;
        }
        r.success(t);
    };
    r.failure(t, Some(429), Some(60.0));
    let c = run(&r, &clock, 4_000, |_| 10);
    assert_eq!(c[2], 0, "never the cooled-down endpoint");
    assert!(
        (c[0] as i64 - 3_000).abs() <= 3 && (c[1] as i64 - 1_000).abs() <= 3,
        "{c:?}"
    );
    clock.advance(Duration::from_secs(61));
    let c = run(&r, &clock, 8_000, |_| 10);
    assert!(
        (c[0] as i64 - 3_000).abs() <= 8 && (c[2] as i64 - 4_000).abs() <= 8,
        "{c:?}"
    );
}

#[test]
fn round_robin_totals_hold_under_threads() {
    let clock = ManualClock::new();
    let r = Arc::new(router(
        Strategy::RoundRobin,
        vec![weighted("a", 3.0), weighted("b", 1.0)],
        &clock,
    ));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let r = r.clone();
            std::thread::spawn(move || {
                for _ in 0..10_000 {
                    let t = r.pick(0).unwrap();
                    r.success(t);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = r.stats();
    let (a, b) = (s.endpoints[0].requests, s.endpoints[1].requests);
    assert_eq!(a + b, 80_000);
    // Racing picks can only reorder; the self-correcting current weights keep the split within a
    // few picks per thread of 60 000 : 20 000.
    assert!((b as i64 - 20_000).abs() <= 64, "a={a} b={b}");
}

/// One hedge-enabled endpoint `a` (and `b` to hedge to), `n` successes of `ms` each on `clock`.
fn feed(r: &Router, clock: &ManualClock, n: usize, ms: u64) {
    for _ in 0..n {
        let t = r.pick(1 << 1).unwrap(); // always `a`
        clock.advance(Duration::from_millis(ms));
        r.success(t);
    }
}

#[test]
fn the_hedge_delay_follows_a_latency_regime_change_on_the_manual_clock() {
    let clock = ManualClock::new();
    let mut c = RouterConfig::new("w", Strategy::RoundRobin, vec![ep("a"), ep("b")]);
    c.hedge = Some(HedgeConfig {
        min_samples: 20,
        ..HedgeConfig::default()
    });
    c.latency_window_seconds = 10.0;
    let r = Router::with_clock(c, clock.clone()).unwrap();
    let delay_ms = |r: &Router| {
        let t = r.pick(1 << 1).unwrap();
        let d = r.hedge_delay(t).unwrap().as_secs_f64() * 1e3;
        r.release(t);
        d
    };
    // A long fast regime: 2000 calls of 10 ms.
    feed(&r, &clock, 2_000, 10);
    let d = delay_ms(&r);
    assert!((d - 10.0).abs() < 0.7, "{d}");
    // The provider slows to 100 ms. A sketch that only accumulates would still say 10 ms (2000 fast
    // values against 100 slow ones); the windowed one moves within the window.
    feed(&r, &clock, 100, 100);
    let d = delay_ms(&r);
    assert!((d - 100.0).abs() < 7.0, "slow regime: {d}");
    // 1000 slow calls, then it recovers: back to 10 ms within three windows (30 s = 3000 calls).
    feed(&r, &clock, 1_000, 100);
    feed(&r, &clock, 3_000, 10);
    let d = delay_ms(&r);
    assert!((d - 10.0).abs() < 0.7, "recovered: {d}");
    let p95 = r.stats().endpoints[0].latency_p95_seconds.unwrap();
    assert!(
        (p95 - 0.010).abs() < 0.0007,
        "stats read the same window: {p95}"
    );
}

#[test]
fn next_decides_the_next_endpoint_and_when_to_give_up() {
    let clock = ManualClock::new();
    let mut c = RouterConfig::new(
        "n",
        Strategy::RoundRobin,
        vec![ep("a"), ep("b"), ep("c"), ep("d")],
    );
    c.attempts = Some(3);
    let r = Router::with_clock(c, clock.clone()).unwrap();
    let mut tried = 0u64;
    let mut t = r.pick(tried).unwrap();
    let mut used = vec![];
    loop {
        let i = token_endpoint(t);
        assert_eq!(tried & (1 << i), 0, "each endpoint at most once");
        used.push(i);
        tried |= 1 << i;
        r.failure(t, Some(503), None);
        match r.next(tried) {
            Some(n) => t = n,
            None => break,
        }
    }
    assert_eq!(
        used.len(),
        3,
        "gives up after `attempts` endpoints: {used:?}"
    );
    // With every other endpoint refusing, `next` gives up before `attempts` and counts it.
    let r = router(Strategy::RoundRobin, vec![ep("a"), ep("b")], &clock);
    let t = r.pick(0).unwrap();
    r.failure(t, Some(429), Some(30.0));
    let other = 1 - token_endpoint(t);
    let u = r.pick(1 << token_endpoint(t)).unwrap();
    assert_eq!(token_endpoint(u), other);
    r.failure(u, Some(429), Some(30.0));
    assert_eq!(
        r.next(1 << token_endpoint(t)),
        None,
        "the other one is cooling down"
    );
    assert_eq!(r.stats().unavailable, 1);
}

#[test]
fn hedge_decides_budget_attempts_and_endpoint() {
    let clock = ManualClock::new();
    let mut c = RouterConfig::new("h2", Strategy::RoundRobin, vec![ep("a"), ep("b"), ep("c")]);
    c.hedge = Some(HedgeConfig {
        min_samples: 1,
        max_ratio: 1.0,
        ..HedgeConfig::default()
    });
    c.attempts = Some(2);
    let r = Router::with_clock(c.clone(), clock.clone()).unwrap();
    let t = r.pick(0).unwrap();
    let h = r.hedge(t, 0).expect("budget and an attempt left");
    assert_ne!(token_endpoint(h), token_endpoint(t));
    let tried = (1 << token_endpoint(t)) | (1 << token_endpoint(h));
    assert_eq!(r.hedge(t, tried), None, "attempts=2 used: no second hedge");
    assert_eq!(r.next(tried), None, "and no third attempt");
    r.success(h);
    r.lost(t);
    let s = r.stats();
    assert_eq!((s.hedges, s.hedges_lost), (1, 1));
    assert!(s.endpoints.iter().all(|e| e.outstanding == 0));
    // No endpoint left to hedge to: not counted as a hedge.
    c.endpoints.truncate(2);
    let r = Router::with_clock(c.clone(), clock.clone()).unwrap();
    let t = r.pick(0).unwrap();
    let other = 1 - token_endpoint(t);
    let u = r.pick(1 << token_endpoint(t)).unwrap();
    r.failure(u, Some(429), Some(30.0));
    assert_eq!(token_endpoint(u), other);
    assert_eq!(r.hedge(t, 0), None);
    assert_eq!(r.stats().hedges, 0);
    // A hedge is a second attempt: attempts=1 with hedging is refused at construction.
    c.attempts = Some(1);
    let e = Router::new(c.clone()).unwrap_err().to_string();
    assert!(e.contains("attempts=1") && e.contains("hedg"), "{e}");
    c.attempts = Some(5);
    let e = Router::new(c).unwrap_err().to_string();
    assert!(e.contains("attempts=5"), "{e}");
}

/// The value of one series in the default registry's exposition.
fn scrape(series: &str) -> Option<f64> {
    use ferrule_core::telemetry::exposition::{render, Format};
    let text = render(
        ferrule_core::telemetry::registry::global(),
        Format::Prometheus,
    );
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn a_failover_measures_its_recovery_time_the_standby_idle_time_and_the_time_away() {
    let clock = ManualClock::new();
    let mut p = ep("primary");
    p.region = Some("eu".into());
    let mut s = ep("standby");
    s.region = Some("us".into());
    s.priority = 1;
    let mut c = RouterConfig::new("rto", Strategy::RoundRobin, vec![p, s]);
    c.ejection.consecutive_failures = 3;
    c.ejection.base_seconds = 10.0;
    c.failover = FailoverConfig {
        failback_seconds: 5.0,
        probe_interval_seconds: 1.0,
    };
    let r = Router::with_clock(c, clock.clone()).unwrap();
    // The standby served once at t=1 s (a call whose primary attempt failed), then sat idle.
    clock.advance(Duration::from_secs(1));
    let t = r.pick(0).unwrap();
    r.failure(t, None, None);
    let t = r.pick(1).unwrap();
    assert_eq!(token_endpoint(t), 1);
    r.success(t);
    let t = r.pick(0).unwrap();
    r.success(t); // the primary recovers: its failure run ends
                  // t=60 s: the outage begins; three failures 200 ms apart eject the primary.
    clock.advance(Duration::from_secs(59));
    for k in 0..3 {
        if k > 0 {
            clock.advance(Duration::from_millis(200));
        }
        let t = r.pick(0).unwrap();
        assert_eq!(token_endpoint(t), 0);
        r.failure(t, Some(503), None);
    }
    // t=60.5 s: the next call fails over; its success 250 ms later is the recovery.
    clock.advance(Duration::from_millis(100));
    let t = r.pick(0).unwrap();
    assert_eq!((token_endpoint(t), r.active_region()), (1, "us"));
    clock.advance(Duration::from_millis(250));
    r.success(t);
    let ev = r.drain_events(16);
    let of = |k| {
        ev.iter()
            .find(|e| e.kind == k)
            .unwrap_or_else(|| panic!("{k:?}: {ev:?}"))
    };
    let fo = of(RouteEventKind::Failover);
    assert!(
        (fo.seconds.unwrap() - 0.5).abs() < 1e-6,
        "outage began 0.5 s before: {fo:?}"
    );
    let rec = of(RouteEventKind::Recovered);
    assert_eq!((rec.from.as_str(), rec.to.as_str()), ("eu", "us"));
    assert!(
        (rec.seconds.unwrap() - 0.75).abs() < 1e-6,
        "RTO 0.75 s: {rec:?}"
    );
    assert!(!rec.kind.warning(&rec.to));
    assert_eq!(rec.kind.as_str(), "router.recovered");
    assert!(rec.to_string().contains("recovery took 0.750s"), "{rec}");
    assert!((r.stats().last_failover_rto_seconds.unwrap() - 0.75).abs() < 1e-6);
    // The same figures as metrics: one RTO of 0.75 s; the standby had been idle 59.5 s.
    let series = |f: &str| scrape(&format!("{f}{{router=\"rto\"}}"));
    assert_eq!(
        series("ferrule_router_failover_rto_seconds_count"),
        Some(1.0)
    );
    assert!((series("ferrule_router_failover_rto_seconds_sum").unwrap() - 0.75).abs() < 1e-6);
    assert!((series("ferrule_router_standby_idle_seconds_sum").unwrap() - 59.5).abs() < 1e-6);
    // A second success is not a second recovery.
    let t = r.pick(0).unwrap();
    r.success(t);
    assert!(r
        .drain_events(16)
        .iter()
        .all(|e| e.kind != RouteEventKind::Recovered));
    // Ejection over (10 s), the primary stays healthy for the 5 s stable period: failback, 20 s
    // after the failover, reported on the event and in the histogram.
    clock.advance(Duration::from_secs(10));
    let mut now_s = 0.0;
    while r.active_region() != "eu" {
        let t = r.pick(0).unwrap();
        r.success(t);
        clock.advance(Duration::from_millis(500));
        now_s += 0.5;
        assert!(now_s < 30.0, "no failback");
    }
    let fb: Vec<_> = r
        .drain_events(64)
        .into_iter()
        .filter(|e| e.kind == RouteEventKind::Failback)
        .collect();
    assert_eq!(fb.len(), 1);
    let away = fb[0].seconds.unwrap();
    assert!((15.0..=16.0).contains(&away), "time away {away}");
    assert!((series("ferrule_router_failback_after_seconds_sum").unwrap() - away).abs() < 1e-6);
    // A failback opens no RTO measurement.
    let t = r.pick(0).unwrap();
    r.success(t);
    assert!(r
        .drain_events(16)
        .iter()
        .all(|e| e.kind != RouteEventKind::Recovered));
}
