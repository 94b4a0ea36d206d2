//! The breaker's state machine, every transition, on a manual clock.

use ferrule_core::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

fn breaker(cfg: BreakerConfig) -> (CircuitBreaker, ManualClock) {
    let clock = ManualClock::new();
    (
        CircuitBreaker::with_clock(cfg, clock.clone()).unwrap(),
        clock,
    )
}

fn run(b: &CircuitBreaker, o: Outcome) -> Option<Transition> {
    let (p, t) = b.acquire().expect("admitted");
    b.record(p, o).or(t)
}

fn cfg() -> BreakerConfig {
    BreakerConfig {
        name: "t".into(),
        failure_rate: Some(0.5),
        window: WindowSpec::Count(10),
        min_calls: 4,
        open_seconds: 30.0,
        half_open_calls: 2,
        ..BreakerConfig::default()
    }
}

#[test]
fn failure_rate_trips_only_after_min_calls() {
    let (b, _c) = breaker(cfg());
    for _ in 0..3 {
        assert_eq!(run(&b, Outcome::Failure), None, "below min_calls");
    }
    let t = run(&b, Outcome::Failure).expect("trips at min_calls");
    assert_eq!(
        (t.from, t.to, t.reason),
        (State::Closed, State::Open, Reason::FailureRate)
    );
    assert_eq!(t.open_for, Some(Duration::from_secs(30)));
    assert_eq!(b.state(), State::Open);
}

#[test]
fn rate_below_threshold_stays_closed_and_window_slides() {
    let (b, _c) = breaker(BreakerConfig {
        window: WindowSpec::Count(4),
        ..cfg()
    });
    // F S S S: 25% < 50%
    for o in [
        Outcome::Failure,
        Outcome::Success,
        Outcome::Success,
        Outcome::Success,
    ] {
        assert!(run(&b, o).is_none());
    }
    // Window now S S S F → 25%; then S S F F? Sliding: after F the last 4 are S S S F.
    assert!(run(&b, Outcome::Failure).is_none());
    assert_eq!(
        b.snapshot().window,
        WindowTotals {
            calls: 4,
            failures: 1,
            slow: 0
        }
    );
    // Last 4 = S S F F = 50% → trips.
    let t = run(&b, Outcome::Failure).unwrap();
    assert_eq!(t.reason, Reason::FailureRate);
}

#[test]
fn consecutive_failures_trip_and_success_resets_the_run() {
    let (b, _c) = breaker(BreakerConfig {
        failure_rate: None,
        consecutive_failures: Some(3),
        ..cfg()
    });
    run(&b, Outcome::Failure);
    run(&b, Outcome::Failure);
    run(&b, Outcome::Success);
    run(&b, Outcome::Failure);
    assert!(run(&b, Outcome::Failure).is_none());
    let t = run(&b, Outcome::Failure).unwrap();
    assert_eq!(t.reason, Reason::ConsecutiveFailures);
}

#[test]
fn open_rejects_with_retry_after_then_half_open_after_open_seconds() {
    let (b, c) = breaker(cfg());
    for _ in 0..4 {
        run(&b, Outcome::Failure);
    }
    c.advance_secs(10.0);
    let r = b.acquire().unwrap_err();
    assert_eq!(r.retry_after, Some(Duration::from_secs(20)));
    assert_eq!(b.snapshot().rejected, 1);
    c.advance_secs(20.0);
    assert_eq!(
        b.state(),
        State::HalfOpen,
        "reads as half-open once the time is up"
    );
    let (p1, t) = b.acquire().unwrap();
    let t = t.expect("the first caller moves it to half-open");
    assert_eq!(
        (t.from, t.to, t.reason),
        (State::Open, State::HalfOpen, Reason::OpenElapsed)
    );
    let (p2, t2) = b.acquire().unwrap();
    assert!(t2.is_none());
    assert_eq!(
        b.acquire().unwrap_err().retry_after,
        None,
        "only half_open_calls probes"
    );
    assert!(
        b.record(p1, Outcome::Success).is_none(),
        "one success of two"
    );
    let t = b.record(p2, Outcome::Success).unwrap();
    assert_eq!(
        (t.from, t.to, t.reason),
        (State::HalfOpen, State::Closed, Reason::ProbesSucceeded)
    );
    assert_eq!(
        b.snapshot().window,
        WindowTotals::default(),
        "a closed breaker starts a fresh window"
    );
}

#[test]
fn a_failed_probe_reopens() {
    let (b, c) = breaker(cfg());
    for _ in 0..4 {
        run(&b, Outcome::Failure);
    }
    c.advance_secs(30.0);
    let (p, _) = b.acquire().unwrap();
    let t = b.record(p, Outcome::Failure).unwrap();
    assert_eq!(
        (t.from, t.to, t.reason),
        (State::HalfOpen, State::Open, Reason::ProbeFailed)
    );
    assert_eq!(
        b.acquire().unwrap_err().retry_after,
        Some(Duration::from_secs(30))
    );
}

#[test]
fn ignored_probe_returns_its_slot() {
    let (b, c) = breaker(BreakerConfig {
        half_open_calls: 1,
        ..cfg()
    });
    for _ in 0..4 {
        run(&b, Outcome::Failure);
    }
    c.advance_secs(30.0);
    let (p, _) = b.acquire().unwrap();
    assert!(b.acquire().is_err());
    assert!(b.record(p, Outcome::Ignored).is_none());
    let (p, _) = b.acquire().expect("the ignored probe's slot is free again");
    assert_eq!(b.record(p, Outcome::Success).unwrap().to, State::Closed);
}

#[test]
fn ignored_outcomes_do_not_count() {
    let (b, _c) = breaker(cfg());
    for _ in 0..10 {
        assert!(run(&b, Outcome::Ignored).is_none());
    }
    let s = b.snapshot();
    assert_eq!((s.calls, s.ignored, s.window.calls), (10, 10, 0));
    assert_eq!(s.state, State::Closed);
}

#[test]
fn late_outcomes_from_before_a_transition_are_not_counted() {
    let (b, c) = breaker(cfg());
    let (late, _) = b.acquire().unwrap();
    for _ in 0..4 {
        run(&b, Outcome::Failure);
    }
    c.advance_secs(30.0);
    let (p, _) = b.acquire().unwrap();
    // The call admitted while closed ends now: it must not count as a half-open probe.
    assert!(b.record(late, Outcome::Failure).is_none());
    assert_eq!(b.state(), State::HalfOpen);
    b.record(p, Outcome::Success);
}

#[test]
fn slow_calls_trip_on_slow_call_rate() {
    let (b, c) = breaker(BreakerConfig {
        failure_rate: Some(1.0),
        slow_call_seconds: Some(2.0),
        slow_call_rate: Some(0.5),
        ..cfg()
    });
    let mut last = None;
    for i in 0..4 {
        let (p, _) = b.acquire().unwrap();
        c.advance_secs(if i % 2 == 0 { 2.5 } else { 0.1 });
        last = b.record(p, Outcome::Success);
    }
    let t = last.expect("2 slow of 4 = 50%");
    assert_eq!(t.reason, Reason::SlowCallRate);
    assert_eq!(b.snapshot().slow, 2);
}

#[test]
fn time_window_forgets_old_failures() {
    let (b, c) = breaker(BreakerConfig {
        window: WindowSpec::Time {
            nanos: 10_000_000_000,
            buckets: 10,
        },
        min_calls: 4,
        ..cfg()
    });
    for _ in 0..3 {
        run(&b, Outcome::Failure);
    }
    c.advance_secs(11.0);
    assert!(
        run(&b, Outcome::Failure).is_none(),
        "the first three are outside the window"
    );
    assert_eq!(b.snapshot().window.calls, 1);
    for _ in 0..2 {
        run(&b, Outcome::Failure);
    }
    assert_eq!(
        run(&b, Outcome::Failure).unwrap().reason,
        Reason::FailureRate
    );
}

#[test]
fn open_duration_grows_on_repeated_trips_up_to_the_max() {
    let (b, c) = breaker(BreakerConfig {
        max_open_seconds: Some(100.0),
        half_open_calls: 1,
        ..cfg()
    });
    for _ in 0..4 {
        run(&b, Outcome::Failure);
    }
    let mut last = 30.0;
    let mut opens = vec![];
    for _ in 0..5 {
        c.advance_secs(last + 0.001);
        let (p, _) = b.acquire().unwrap();
        let t = b.record(p, Outcome::Failure).unwrap();
        last = t.open_for.unwrap().as_secs_f64();
        opens.push(last);
    }
    // 60, 120→100, ... each jittered by ±20% but within [open_seconds, max_open_seconds].
    assert!((48.0..=72.0).contains(&opens[0]), "{opens:?}");
    for o in &opens {
        assert!((30.0..=100.0).contains(o), "{opens:?}");
    }
    assert!(opens[4] >= 80.0, "{opens:?}");
    // Closing clears the growth.
    c.advance_secs(last + 0.001);
    let (p, _) = b.acquire().unwrap();
    b.record(p, Outcome::Success);
    for _ in 0..4 {
        run(&b, Outcome::Failure);
    }
    // open-until is kept in whole milliseconds, rounded up.
    let rem = b.snapshot().open_remaining.unwrap().as_secs_f64();
    assert!((30.0..30.001).contains(&rem), "{rem}");
}

#[test]
fn force_open_force_closed_and_reset() {
    let (b, c) = breaker(cfg());
    let t = b.force_open().unwrap();
    assert_eq!(
        (t.from, t.to, t.reason),
        (State::Closed, State::Open, Reason::ForcedOpen)
    );
    c.advance_secs(3600.0);
    assert_eq!(
        b.acquire().unwrap_err().retry_after,
        None,
        "forced open never times out"
    );
    assert!(b.snapshot().forced);
    let t = b.force_closed().unwrap();
    assert_eq!(t.to, State::Closed);
    for _ in 0..20 {
        run(&b, Outcome::Failure);
    }
    assert_eq!(b.state(), State::Closed, "forced closed ignores failures");
    let t = b.reset().unwrap();
    assert_eq!(t.reason, Reason::Reset);
    assert!(!b.snapshot().forced);
    for _ in 0..4 {
        run(&b, Outcome::Failure);
    }
    assert_eq!(b.state(), State::Open);
}

#[test]
fn listeners_see_every_transition_in_order() {
    let (b, c) = breaker(BreakerConfig {
        half_open_calls: 1,
        ..cfg()
    });
    let seen = Arc::new(Mutex::new(vec![]));
    let s2 = seen.clone();
    b.on_transition(move |t| s2.lock().unwrap().push((t.from, t.to)));
    for _ in 0..4 {
        run(&b, Outcome::Failure);
    }
    c.advance_secs(30.0);
    run(&b, Outcome::Success);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            (State::Closed, State::Open),
            (State::Open, State::HalfOpen),
            (State::HalfOpen, State::Closed)
        ]
    );
    assert_eq!(b.snapshot().transitions, 3);
}

#[test]
fn half_open_admits_exactly_half_open_calls_across_8_threads() {
    for half_open_calls in [1u32, 2, 3, 5] {
        let (b, c) = breaker(BreakerConfig {
            half_open_calls,
            ..cfg()
        });
        let b = Arc::new(b);
        for _ in 0..4 {
            run(&b, Outcome::Failure);
        }
        c.advance_secs(31.0);
        let admitted = Arc::new(AtomicUsize::new(0));
        let barrier = Arc::new(Barrier::new(8));
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let (b, admitted, barrier) = (b.clone(), admitted.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    for _ in 0..1000 {
                        if b.acquire().is_ok() {
                            admitted.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(admitted.load(Ordering::SeqCst), half_open_calls as usize);
        assert_eq!(b.snapshot().rejected, 8000 - half_open_calls as u64);
        assert_eq!(
            b.snapshot().transitions,
            2,
            "one trip, exactly one open→half-open"
        );
    }
}

#[test]
fn concurrent_failures_trip_exactly_once() {
    let (b, _c) = breaker(BreakerConfig {
        window: WindowSpec::Count(100),
        min_calls: 50,
        ..cfg()
    });
    let b = Arc::new(b);
    let trips = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..8)
        .map(|_| {
            let (b, trips) = (b.clone(), trips.clone());
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    if let Ok((p, _)) = b.acquire() {
                        if b.record(p, Outcome::Failure).is_some() {
                            trips.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(trips.load(Ordering::SeqCst), 1);
    let s = b.snapshot();
    assert_eq!(s.failures + s.rejected, 8000);
}

#[test]
fn bad_config_names_parameter_value_and_range() {
    let cases: Vec<(BreakerConfig, &str)> = vec![
        (
            BreakerConfig {
                failure_rate: Some(1.5),
                ..cfg()
            },
            "failure_rate=1.5 is out of range; allowed: (0, 1]",
        ),
        (
            BreakerConfig {
                failure_rate: Some(0.0),
                ..cfg()
            },
            "failure_rate=0",
        ),
        (
            BreakerConfig {
                window: WindowSpec::Count(0),
                ..cfg()
            },
            "window=0 is out of range",
        ),
        (
            BreakerConfig {
                open_seconds: -1.0,
                ..cfg()
            },
            "open_seconds=-1 is out of range",
        ),
        (
            BreakerConfig {
                half_open_calls: 0,
                ..cfg()
            },
            "half_open_calls=0 is out of range; allowed: an integer in [1, 10000]",
        ),
        (
            BreakerConfig {
                min_calls: 11,
                ..cfg()
            },
            "min_calls=11 conflicts",
        ),
        (
            BreakerConfig {
                slow_call_rate: Some(0.5),
                ..cfg()
            },
            "slow_call_rate=0.5 conflicts: it needs slow_call_seconds",
        ),
        (
            BreakerConfig {
                max_open_seconds: Some(10.0),
                ..cfg()
            },
            "max_open_seconds=10",
        ),
        (
            BreakerConfig {
                failure_rate: None,
                ..cfg()
            },
            "at least one of",
        ),
    ];
    for (c, want) in cases {
        let e = CircuitBreaker::new(c).unwrap_err().to_string();
        assert!(e.contains(want), "{e:?} lacks {want:?}");
        assert!(e.starts_with("CircuitBreaker: "), "{e}");
    }
}

#[test]
fn call_helper_classifies_and_rejects() {
    let (b, _c) = breaker(BreakerConfig {
        failure_rate: None,
        consecutive_failures: Some(1),
        ..cfg()
    });
    let r: Result<(), CallError<&str>> = b.call(|| Err("boom"), |_| true);
    assert!(matches!(r, Err(CallError::Inner("boom"))));
    let r: Result<(), CallError<&str>> = b.call(|| Ok(()), |_| true);
    match r {
        Err(CallError::Open(e)) => {
            assert_eq!(e.code(), "FERRULE_CIRCUIT_OPEN");
            assert!(e.to_string().contains("'t' is open"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn catch_panic_turns_a_panic_into_an_error() {
    let r = catch_panic(|| -> u32 { panic!("bad thing") });
    assert_eq!(r.unwrap_err(), "bad thing");
}
