//! Retry on a manual clock: every backoff and jitter formula (bounds, not exact random values),
//! server-hint parsing, the deadline never overshot, the shared budget's exhaustion (exact under
//! eight threads), chaos determinism and the pipeline's crossings.

use ferrule_core::random::Random;
use ferrule_core::*;
use proptest::prelude::*;
use std::sync::Arc;
use std::time::Duration;

fn no_budget(attempts: u32, backoff: Backoff) -> RetryConfig {
    RetryConfig {
        attempts,
        backoff,
        budget: None,
        seed: Some(7),
        ..RetryConfig::default()
    }
}

// ---- backoff formulas -----------------------------------------------------------------------

#[test]
fn nominal_delays_follow_each_formula_and_cap() {
    let c = Backoff::constant(0.5, Jitter::None).unwrap();
    assert_eq!(
        (1..5).map(|n| c.nominal_seconds(n)).collect::<Vec<_>>(),
        [0.5; 4]
    );
    let l = Backoff::linear(1.0, 0.5, 2.2, Jitter::None).unwrap();
    assert_eq!(
        (1..6).map(|n| l.nominal_seconds(n)).collect::<Vec<_>>(),
        [1.0, 1.5, 2.0, 2.2, 2.2]
    );
    let e = Backoff::exponential(0.2, 2.0, 1.0, Jitter::None).unwrap();
    assert_eq!(
        (1..6).map(|n| e.nominal_seconds(n)).collect::<Vec<_>>(),
        [0.2, 0.4, 0.8, 1.0, 1.0]
    );
    // A huge retry number stays finite and capped.
    let big = Backoff::exponential(1.0, 1000.0, 60.0, Jitter::None).unwrap();
    assert_eq!(big.nominal_seconds(u32::MAX), 60.0);
    let r = Random::seeded(1);
    assert_eq!(e.delay_seconds(3, 0.0, &r), 0.8);
}

#[test]
fn bad_backoff_values_name_parameter_value_and_range() {
    let e = Backoff::exponential(0.1, 0.5, 1.0, Jitter::Full).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Backoff: multiplier=0.5 is out of range; allowed: [1, 1000]"
    );
    let e = Backoff::exponential(-1.0, 2.0, 1.0, Jitter::Full).unwrap_err();
    assert!(e.to_string().contains("initial=-1"), "{e}");
    let e = Backoff::exponential(2.0, 2.0, 1.0, Jitter::Full).unwrap_err();
    assert!(e.to_string().contains("max=1 is out of range"), "{e}");
    let e = Backoff::constant(f64::NAN, Jitter::None).unwrap_err();
    assert!(e.to_string().contains("delay=NaN"), "{e}");
    let e = Jitter::parse("Backoff", "fulll").unwrap_err();
    assert_eq!(
        e.to_string(),
        "Backoff: jitter=\"fulll\" is out of range; allowed: 'none', 'full', 'equal' or 'decorrelated'"
    );
    let e = RetryConfig {
        attempts: 0,
        ..RetryConfig::default()
    }
    .validate()
    .unwrap_err();
    assert!(e.to_string().contains("attempts=0"), "{e}");
    assert!(e.to_string().contains("[1, 1000]"), "{e}");
}

fn backoff_strategy() -> impl Strategy<Value = Backoff> {
    let jitter = prop_oneof![
        Just(Jitter::None),
        Just(Jitter::Full),
        Just(Jitter::Equal),
        Just(Jitter::Decorrelated)
    ];
    (0u8..3, 0.0f64..5.0, 1.0f64..4.0, 0.0f64..60.0, jitter).prop_map(
        |(k, initial, step, extra, j)| match k {
            0 => Backoff::constant(initial, j).unwrap(),
            1 => Backoff::linear(initial, step, initial + extra, j).unwrap(),
            _ => Backoff::exponential(initial, step, initial + extra, j).unwrap(),
        },
    )
}

proptest! {
    /// Every jittered delay lies within its formula's bounds and never above `max`.
    #[test]
    fn jittered_delays_stay_within_their_bounds(b in backoff_strategy(), seed in any::<u64>(),
                                                 n in 1u32..40, prev in 0.0f64..100.0) {
        let r = Random::seeded(seed);
        let nominal = b.nominal_seconds(n);
        let d = b.delay_seconds(n, prev, &r);
        prop_assert!(d.is_finite() && d >= 0.0);
        prop_assert!(d <= b.max_seconds() + 1e-12);
        match b.jitter() {
            Jitter::None => prop_assert_eq!(d, nominal),
            Jitter::Full => prop_assert!(d <= nominal),
            Jitter::Equal => prop_assert!(d >= nominal / 2.0 - 1e-12 && d <= nominal + 1e-12),
            Jitter::Decorrelated => {
                let p = if prev > 0.0 { prev } else { b.initial_seconds() };
                prop_assert!(d >= b.initial_seconds().min(b.max_seconds()) - 1e-12);
                prop_assert!(d <= (3.0 * p).max(b.initial_seconds()) + 1e-9);
            }
        }
    }

    /// Nominal delays never shrink as retries go on (linear and exponential grow, then cap).
    #[test]
    fn nominal_delays_are_monotonic(b in backoff_strategy(), n in 1u32..60) {
        prop_assert!(b.nominal_seconds(n + 1) >= b.nominal_seconds(n));
    }

    /// With a deadline, the loop never schedules a wait that ends at or past it, whatever the
    /// backoff, hints and time the attempts take.
    #[test]
    fn no_wait_ends_past_the_deadline(b in backoff_strategy(), seed in any::<u64>(),
                                      max_elapsed in 0.1f64..30.0,
                                      steps in proptest::collection::vec((0.0f64..5.0, proptest::option::of(0.0f64..10.0)), 1..30)) {
        let clock = ManualClock::new();
        let p = RetryPolicy::with_clock(RetryConfig {
            attempts: 1000, backoff: b, max_elapsed_seconds: Some(max_elapsed),
            budget: None, seed: Some(seed), ..RetryConfig::default() }, clock.clone()).unwrap();
        let mut st = p.start();
        let deadline = st.start_nanos + (max_elapsed * 1e9) as u64;
        for (attempt_secs, hint) in steps {
            clock.advance_secs(attempt_secs);
            let f = Failure::server_hint(hint.map(Duration::from_secs_f64));
            match p.next(&mut st, f) {
                Decision::Retry(w) => {
                    let ends = clock.now_nanos() as u128 + w.as_nanos();
                    prop_assert!(ends < deadline as u128, "wait ends {} past deadline {}", ends, deadline);
                    clock.advance(w);
                }
                Decision::GiveUp(g) => {
                    prop_assert!(matches!(g, GiveUp::Deadline | GiveUp::RetryAfterTooLong), "{:?}", g);
                    break;
                }
            }
        }
    }

    /// Parsing never panics on arbitrary header values.
    #[test]
    fn hint_parsers_never_panic(s in "\\PC{0,40}") {
        let _ = parse_duration(&s);
        let _ = parse_retry_after(&s, 1.7e9);
        let _ = parse_http_date(&s);
    }
}

// ---- the retry loop ---------------------------------------------------------------------------

#[test]
fn attempts_count_every_try() {
    let p = RetryPolicy::with_clock(
        no_budget(3, Backoff::constant(1.0, Jitter::None).unwrap()),
        ManualClock::new(),
    )
    .unwrap();
    let mut st = p.start();
    assert_eq!(
        p.next(&mut st, Failure::RETRYABLE),
        Decision::Retry(Duration::from_secs(1))
    );
    assert_eq!(
        p.next(&mut st, Failure::RETRYABLE),
        Decision::Retry(Duration::from_secs(1))
    );
    assert_eq!(
        p.next(&mut st, Failure::RETRYABLE),
        Decision::GiveUp(GiveUp::Attempts)
    );
    assert_eq!(st.attempts, 3);
    let one = RetryPolicy::new(no_budget(1, Backoff::default())).unwrap();
    let mut st = one.start();
    assert_eq!(
        one.next(&mut st, Failure::RETRYABLE),
        Decision::GiveUp(GiveUp::Attempts)
    );
    let s = p.stats();
    assert_eq!((s.retries, s.gave_up_attempts), (2, 1));
}

#[test]
fn fatal_errors_give_up_at_once_and_are_counted_apart() {
    let p = RetryPolicy::new(no_budget(5, Backoff::default())).unwrap();
    let mut st = p.start();
    assert_eq!(
        p.next(&mut st, Failure::FATAL),
        Decision::GiveUp(GiveUp::NotRetryable)
    );
    let s = p.stats();
    assert_eq!((s.not_retryable, s.gave_up_attempts, s.retries), (1, 0, 0));
}

#[test]
fn exponential_waits_grow_on_the_manual_clock() {
    let clock = ManualClock::new();
    let p = RetryPolicy::with_clock(
        no_budget(
            5,
            Backoff::exponential(0.1, 2.0, 0.3, Jitter::None).unwrap(),
        ),
        clock.clone(),
    )
    .unwrap();
    let mut st = p.start();
    let mut waits = vec![];
    while let Decision::Retry(w) = p.next(&mut st, Failure::RETRYABLE) {
        waits.push(w.as_secs_f64());
        clock.advance(w);
    }
    assert_eq!(waits, [0.1, 0.2, 0.3, 0.3]);
}

#[test]
fn server_hint_replaces_backoff_and_is_capped() {
    let clock = ManualClock::new();
    let p = RetryPolicy::with_clock(
        RetryConfig {
            max_retry_after_seconds: 5.0,
            ..no_budget(4, Backoff::constant(0.1, Jitter::None).unwrap())
        },
        clock,
    )
    .unwrap();
    let mut st = p.start();
    assert_eq!(
        p.next(&mut st, Failure::server_hint(Some(Duration::from_secs(3)))),
        Decision::Retry(Duration::from_secs(3))
    );
    assert_eq!(
        p.next(&mut st, Failure::server_hint(None)),
        Decision::Retry(Duration::from_millis(100))
    );
    assert_eq!(
        p.next(&mut st, Failure::server_hint(Some(Duration::from_secs(6)))),
        Decision::GiveUp(GiveUp::RetryAfterTooLong)
    );
    assert_eq!(p.stats().gave_up_retry_after, 1);
}

#[test]
fn a_hint_past_the_deadline_gives_up_at_once() {
    let clock = ManualClock::new();
    let p = RetryPolicy::with_clock(
        RetryConfig {
            max_elapsed_seconds: Some(10.0),
            ..no_budget(10, Backoff::constant(0.1, Jitter::None).unwrap())
        },
        clock.clone(),
    )
    .unwrap();
    let mut st = p.start();
    clock.advance_secs(4.0);
    assert_eq!(
        p.next(&mut st, Failure::server_hint(Some(Duration::from_secs(5)))),
        Decision::Retry(Duration::from_secs(5))
    );
    clock.advance_secs(5.0);
    // 9 s gone; a 2 s hint would end at 11 s.
    assert_eq!(
        p.next(&mut st, Failure::server_hint(Some(Duration::from_secs(2)))),
        Decision::GiveUp(GiveUp::Deadline)
    );
    assert_eq!(p.remaining(st.start_nanos), Some(Duration::from_secs(1)));
}

#[test]
fn breaker_refusals_wait_their_time_or_give_up() {
    let clock = ManualClock::new();
    let p = RetryPolicy::with_clock(
        RetryConfig {
            max_elapsed_seconds: Some(10.0),
            ..no_budget(5, Backoff::constant(0.1, Jitter::None).unwrap())
        },
        clock,
    )
    .unwrap();
    let mut st = p.start();
    assert_eq!(
        p.next(&mut st, Failure::refused(Some(Duration::from_secs(2)))),
        Decision::Retry(Duration::from_secs(2))
    );
    assert_eq!(
        p.next(&mut st, Failure::refused(None)),
        Decision::GiveUp(GiveUp::Refused)
    );
    assert_eq!(
        p.next(&mut st, Failure::refused(Some(Duration::from_secs(30)))),
        Decision::GiveUp(GiveUp::Refused)
    );
    assert_eq!(p.stats().gave_up_refused, 2);
}

// ---- server hints -------------------------------------------------------------------------------

#[test]
fn retry_after_reads_seconds_and_http_dates() {
    let now = 784_111_777.0; // Sun, 06 Nov 1994 08:49:37 GMT
    assert_eq!(
        parse_retry_after("120", now),
        Some(Duration::from_secs(120))
    );
    assert_eq!(
        parse_retry_after(" 1.5 ", now),
        Some(Duration::from_millis(1500))
    );
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
        Some(Duration::from_secs(30))
    );
    assert_eq!(
        parse_retry_after("Sunday, 06-Nov-94 08:50:37 GMT", now),
        Some(Duration::from_secs(60))
    );
    assert_eq!(
        parse_retry_after("Sun Nov  6 08:49:47 1994", now),
        Some(Duration::from_secs(10))
    );
    // A date in the past means now.
    assert_eq!(
        parse_retry_after("Sat, 05 Nov 1994 08:49:37 GMT", now),
        Some(Duration::ZERO)
    );
    assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
    assert_eq!(
        parse_http_date("Tue, 29 Feb 2028 23:59:59 GMT"),
        Some(1_835_481_599)
    );
    for bad in [
        "",
        "-3",
        "soon",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 25:00:00 GMT",
        "inf",
        "NaN",
    ] {
        assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
    }
}

#[test]
fn durations_read_openai_reset_headers() {
    let ms = Duration::from_millis;
    assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
    assert_eq!(parse_duration("6m0s"), Some(Duration::from_secs(360)));
    assert_eq!(parse_duration("250ms"), Some(ms(250)));
    assert_eq!(parse_duration("1.5s"), Some(ms(1500)));
    assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
    assert_eq!(parse_duration("1h2m3.5s"), Some(ms(3_723_500)));
    assert_eq!(parse_duration("20us"), Some(Duration::from_micros(20)));
    assert_eq!(parse_duration("7"), Some(Duration::from_secs(7)));
    for bad in ["", "ms", "1x", "m5", "1..2s", "-1s"] {
        assert_eq!(parse_duration(bad), None, "{bad:?}");
    }
}

#[test]
fn header_precedence_and_the_429_rule() {
    let h = HintHeaders::from_pairs([
        ("Retry-After-Ms", "250"),
        ("retry-after", "3"),
        ("x-ratelimit-reset-requests", "1m30s"),
    ]);
    assert_eq!(h.hint(Some(429), 0.0), Some(Duration::from_millis(250)));
    let h = HintHeaders::from_pairs([("Retry-After", "3"), ("x-ratelimit-reset-tokens", "9s")]);
    assert_eq!(h.hint(Some(503), 0.0), Some(Duration::from_secs(3)));
    // Reset headers ride on every response: only a 429 reads them, and only for a spent limit.
    let h = HintHeaders::from_pairs([
        ("x-ratelimit-reset-requests", "1m30s"),
        ("x-ratelimit-remaining-requests", "0"),
        ("x-ratelimit-reset-tokens", "6m0s"),
        ("x-ratelimit-remaining-tokens", "149000"),
    ]);
    assert_eq!(h.hint(Some(429), 0.0), Some(Duration::from_secs(90)));
    assert_eq!(h.hint(Some(500), 0.0), None);
    let h = HintHeaders::from_pairs([
        ("x-ratelimit-reset-requests", "2s"),
        ("x-ratelimit-reset-tokens", "250ms"),
    ]);
    assert_eq!(h.hint(Some(429), 0.0), Some(Duration::from_secs(2)));
    assert_eq!(HintHeaders::default().hint(Some(429), 0.0), None);
    assert!(transient_status(429) && transient_status(503) && transient_status(408));
    assert!(transient_status(409));
    for s in [400, 401, 403, 404, 422, 200] {
        assert!(!transient_status(s), "{s}");
    }
}

// ---- the budget --------------------------------------------------------------------------------

fn budgeted(clock: &ManualClock, ratio: f64, min_per_second: f64) -> RetryPolicy {
    RetryPolicy::with_clock(
        RetryConfig {
            attempts: 100,
            backoff: Backoff::constant(0.0, Jitter::None).unwrap(),
            budget: Some(BudgetConfig {
                ratio,
                min_per_second,
                window_seconds: 10.0,
            }),
            seed: Some(1),
            ..RetryConfig::default()
        },
        clock.clone(),
    )
    .unwrap()
}

#[test]
fn the_budget_allows_ratio_of_requests_plus_reserve_then_denies() {
    let clock = ManualClock::new();
    let p = budgeted(&clock, 0.2, 0.5); // reserve: 0.5/s × 10 s = 5
    let starts: Vec<_> = (0..50).map(|_| p.start()).collect(); // 50 requests → 10 more
    let mut granted = 0;
    for mut st in starts {
        while let Decision::Retry(_) = p.next(&mut st, Failure::RETRYABLE) {
            granted += 1;
        }
    }
    assert_eq!(granted, 15);
    let s = p.stats();
    assert_eq!(
        (s.retries, s.budget_requests, s.budget_retries),
        (15, 50, 15)
    );
    assert_eq!(s.budget_denied, 50);
}

#[test]
fn the_budget_refills_as_the_window_slides() {
    let clock = ManualClock::new();
    let p = budgeted(&clock, 0.0, 0.1); // one retry per 10 s window
    let mut st = p.start();
    assert!(matches!(
        p.next(&mut st, Failure::RETRYABLE),
        Decision::Retry(_)
    ));
    assert_eq!(
        p.next(&mut st, Failure::RETRYABLE),
        Decision::GiveUp(GiveUp::Budget)
    );
    clock.advance_secs(5.0);
    assert_eq!(
        p.next(&mut st, Failure::RETRYABLE),
        Decision::GiveUp(GiveUp::Budget)
    );
    clock.advance_secs(5.5); // the spending bucket left the window
    assert!(matches!(
        p.next(&mut st, Failure::RETRYABLE),
        Decision::Retry(_)
    ));
    assert_eq!(p.stats().budget_denied, 2);
}

#[test]
fn eight_threads_spend_the_budget_exactly() {
    let clock = ManualClock::new();
    let p = Arc::new(budgeted(&clock, 0.5, 0.0));
    for _ in 0..1000 {
        p.begin(); // 1000 requests → 500 retries
    }
    let hs: Vec<_> = (0..8)
        .map(|_| {
            let p = p.clone();
            std::thread::spawn(move || {
                let mut granted = 0u64;
                let start = p.now_nanos();
                for _ in 0..1000 {
                    if let Decision::Retry(_) =
                        p.decide(start, 1, Duration::ZERO, Failure::RETRYABLE)
                    {
                        granted += 1;
                    }
                }
                granted
            })
        })
        .collect();
    let granted: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(granted, 500);
    let s = p.stats();
    assert_eq!((s.retries, s.budget_denied), (500, 7500));
}

#[test]
fn bad_budget_values_are_refused() {
    let e = RetryPolicy::new(RetryConfig {
        budget: Some(BudgetConfig {
            ratio: -0.1,
            ..BudgetConfig::default()
        }),
        ..RetryConfig::default()
    })
    .unwrap_err();
    assert!(e.to_string().contains("budget_ratio=-0.1"), "{e}");
}

// ---- chaos -------------------------------------------------------------------------------------

#[test]
fn chaos_is_deterministic_with_a_seed_and_near_its_rates() {
    let cfg = ChaosConfig {
        error_rate: 0.3,
        latency_rate: 0.1,
        latency_seconds: 0.5,
        seed: Some(42),
    };
    let a = Chaos::new(cfg).unwrap();
    let b = Chaos::new(cfg).unwrap();
    let fa: Vec<_> = (0..10_000).map(|_| a.next()).collect();
    let fb: Vec<_> = (0..10_000).map(|_| b.next()).collect();
    assert_eq!(fa, fb);
    let (calls, errors, delays) = a.counts();
    assert_eq!(calls, 10_000);
    assert!((2700..3300).contains(&errors), "{errors}");
    assert!((800..1200).contains(&delays), "{delays}");
    assert!(fa
        .iter()
        .filter_map(|f| f.latency)
        .all(|l| l == Duration::from_millis(500)));
    let off = Chaos::new(ChaosConfig::default()).unwrap();
    assert!((0..1000).all(|_| off.next() == Fault::default()));
    let e = Chaos::new(ChaosConfig {
        error_rate: 1.5,
        ..ChaosConfig::default()
    })
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Chaos: error_rate=1.5 is out of range; allowed: [0, 1]"
    );
}

// ---- the pipeline ------------------------------------------------------------------------------

#[test]
fn the_pipeline_admits_records_and_counts() {
    let clock = ManualClock::new();
    let breaker = Arc::new(
        CircuitBreaker::with_clock(
            BreakerConfig {
                consecutive_failures: Some(2),
                failure_rate: None,
                min_calls: 1,
                open_seconds: 5.0,
                ..BreakerConfig::default()
            },
            clock.clone(),
        )
        .unwrap(),
    );
    let p = Pipeline::new(
        PipelineConfig {
            retry: Some(no_budget(4, Backoff::constant(1.0, Jitter::None).unwrap())),
            total_timeout_seconds: Some(30.0),
            attempt_timeout_seconds: Some(10.0),
            ..PipelineConfig::default()
        },
        Some(breaker.clone()),
        clock.clone(),
    )
    .unwrap();
    let (start, adm) = p.begin();
    let (permit, _) = adm.unwrap();
    assert_eq!(p.attempt_budget(start), Some(Duration::from_secs(10)));
    p.record(permit, Outcome::Failure);
    assert_eq!(
        p.decide(start, 1, Duration::ZERO, Failure::RETRYABLE),
        Decision::Retry(Duration::from_secs(1))
    );
    clock.advance_secs(1.0);
    let (permit, _) = p.attempt().unwrap();
    let t = p.record(permit, Outcome::Failure).expect("trips");
    assert_eq!(t.to, State::Open);
    let r = p.attempt().unwrap_err();
    assert_eq!(r.retry_after, Some(Duration::from_secs(5)));
    assert_eq!(
        p.decide(
            start,
            3,
            Duration::from_secs(1),
            Failure::refused(r.retry_after)
        ),
        Decision::Retry(Duration::from_secs(5))
    );
    clock.advance_secs(5.0);
    let (permit, t) = p.attempt().unwrap();
    assert_eq!(t.unwrap().to, State::HalfOpen);
    p.success(permit);
    assert_eq!(breaker.state(), State::Closed);
    // 6 s gone of the 30 s total: the 10 s attempt timeout is the tighter bound; at 25 s gone the
    // 5 s left of the total are.
    assert_eq!(p.attempt_budget(start), Some(Duration::from_secs(10)));
    clock.advance_secs(19.0);
    assert_eq!(p.attempt_budget(start), Some(Duration::from_secs(5)));
    assert_eq!(
        p.decide(
            start,
            1,
            Duration::ZERO,
            Failure::server_hint(Some(Duration::from_secs(5)))
        ),
        Decision::GiveUp(GiveUp::Deadline)
    );
    p.note(Event::Fallback);
    let s = p.stats();
    assert_eq!(
        (
            s.calls,
            s.attempts,
            s.successes,
            s.rejected,
            s.fallbacks,
            s.retry.retries
        ),
        (1, 4, 1, 1, 1, 2)
    );
}

#[test]
fn a_pipeline_without_retry_makes_one_attempt() {
    let p = Pipeline::new(PipelineConfig::default(), None, ManualClock::new()).unwrap();
    assert_eq!(p.attempts(), 1);
    let (start, adm) = p.begin();
    assert_eq!(adm.unwrap(), (None, None));
    assert_eq!(
        p.decide(start, 1, Duration::ZERO, Failure::RETRYABLE),
        Decision::GiveUp(GiveUp::Attempts)
    );
    assert_eq!(p.attempt_budget(start), None);
    let e = Pipeline::new(
        PipelineConfig {
            attempt_timeout_seconds: Some(0.0),
            ..PipelineConfig::default()
        },
        None,
        ClockRef::System,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Policy: timeout_seconds=0 is out of range; allowed: a finite number > 0"
    );
}
