//! Core decision cost of the rate limiters: one try_acquire on the system clock (the clock read
//! included), uncontended and with two threads hammering the same limiter. The `Instant` rows are the
//! A/B for the clock: the same decision reading `std::time::Instant` instead.

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{criterion_group, criterion_main, Criterion};
use ferrule_core::{Algorithm, Clock, ClockRef, RateLimitConfig, RateLimiter, SystemClock};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

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

/// Wall time by default; with `BENCH_CPU_TIME=1`, the measuring thread's CPU time, so rows taken on a
/// shared, loaded machine do not count the time the thread was preempted.
struct BenchTime {
    cpu: bool,
    wall: WallTime,
}

impl BenchTime {
    fn from_env() -> Self {
        let cpu = std::env::var_os("BENCH_CPU_TIME").is_some_and(|v| v == "1");
        if cpu {
            eprintln!("measuring thread CPU time (BENCH_CPU_TIME=1)");
        }
        Self {
            cpu,
            wall: WallTime,
        }
    }

    fn now(&self) -> u64 {
        let id = if self.cpu {
            libc::CLOCK_THREAD_CPUTIME_ID
        } else {
            libc::CLOCK_MONOTONIC
        };
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid clock id and a valid out-pointer.
        unsafe { libc::clock_gettime(id, &mut ts) };
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }
}

impl Measurement for BenchTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        self.now()
    }
    fn end(&self, i: u64) -> u64 {
        self.now().saturating_sub(i)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.wall.formatter()
    }
}

/// The previous production clock, for the A/B rows.
struct InstantClock(Instant);

impl Clock for InstantClock {
    fn now_nanos(&self) -> u64 {
        self.0.elapsed().as_nanos() as u64 + 1_000_000_000
    }
}

fn bench(c: &mut Criterion<BenchTime>) {
    eprintln!("SystemClock source: {}", SystemClock::source_name());
    c.bench_function("clock read (SystemClock::now_nanos)", |x| {
        x.iter(|| black_box(ferrule_core::ClockRef::System.now_nanos()))
    });
    let instant = ClockRef::Custom(Arc::new(InstantClock(Instant::now())));
    c.bench_function("clock read (std Instant, for comparison)", |x| {
        x.iter(|| black_box(instant.now_nanos()))
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
    let bi =
        RateLimiter::with_clock(RateLimitConfig::new("bench", bucket()), instant.clone()).unwrap();
    c.bench_function(
        "rate_limit token_bucket try_acquire uncontended (std Instant clock)",
        |x| x.iter(|| black_box(bi.try_acquire(black_box(1), None))),
    );
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

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(BenchTime::from_env());
    targets = bench
}
criterion_main!(benches);
