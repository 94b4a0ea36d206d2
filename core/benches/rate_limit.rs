//! Core decision cost of the rate limiters: one try_acquire on the system clock, uncontended and with
//! two threads hammering the same limiter.

use criterion::{criterion_group, criterion_main, Criterion};
use ferrule_core::{Algorithm, RateLimitConfig, RateLimiter};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn limiter(algorithm: Algorithm) -> Arc<RateLimiter> {
    Arc::new(RateLimiter::new(RateLimitConfig::new("bench", algorithm)).unwrap())
}

// Rates so high the limiters always admit: the row measures the decision, not the waiting.
fn bucket() -> Algorithm {
    Algorithm::TokenBucket {
        rate: 1e9,
        per_seconds: 1.0,
        burst: 1_000_000,
    }
}

fn bench(c: &mut Criterion) {
    c.bench_function("clock read (SystemClock::now_nanos)", |x| {
        x.iter(|| black_box(ferrule_core::ClockRef::System.now_nanos()))
    });
    let clock = ferrule_core::ManualClock::new();
    let m = RateLimiter::with_clock(RateLimitConfig::new("bench", bucket()), clock).unwrap();
    c.bench_function(
        "rate_limit token_bucket decision alone (manual clock)",
        |x| x.iter(|| black_box(m.try_acquire(black_box(1), None))),
    );
    let b = limiter(bucket());
    c.bench_function("rate_limit token_bucket try_acquire uncontended", |x| {
        x.iter(|| black_box(b.try_acquire(black_box(1), None)))
    });
    let w = limiter(Algorithm::SlidingWindow {
        limit: MAX_WINDOW,
        window_seconds: 1e-3,
    });
    c.bench_function("rate_limit sliding_window try_acquire uncontended", |x| {
        x.iter(|| black_box(w.try_acquire(black_box(1), None)))
    });
    let k = limiter(bucket());
    c.bench_function("rate_limit token_bucket try_acquire keyed (1 key)", |x| {
        x.iter(|| black_box(k.try_acquire(black_box(1), Some("tenant-42"))))
    });

    // Contended: a second thread hammers the same bucket for the whole measurement.
    let stop = Arc::new(AtomicBool::new(false));
    let other = {
        let (b, stop) = (b.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                black_box(b.try_acquire(1, None)).ok();
            }
        })
    };
    c.bench_function(
        "rate_limit token_bucket try_acquire 2-thread contended",
        |x| x.iter(|| black_box(b.try_acquire(black_box(1), None))),
    );
    stop.store(true, Ordering::Relaxed);
    other.join().unwrap();
}

const MAX_WINDOW: u64 = (1 << 27) - 1;

criterion_group!(benches, bench);
criterion_main!(benches);
