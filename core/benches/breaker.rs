//! Core decision cost of the breaker: acquire + record on the success path, alone and contended.

use criterion::{criterion_group, criterion_main, Criterion};
use ferrule_core::{BreakerConfig, CircuitBreaker, Outcome};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let b = CircuitBreaker::new(BreakerConfig::named("bench")).unwrap();
    c.bench_function("breaker acquire+record success", |x| {
        x.iter(|| {
            let (p, _) = b.acquire().unwrap();
            black_box(b.record(p, Outcome::Success));
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
