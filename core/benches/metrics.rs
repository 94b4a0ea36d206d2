//! Core cost of metrics: a labelled counter increment and a histogram observation through kept
//! handles, resolving a label set, and rendering 10,000 series.

use criterion::{criterion_group, criterion_main, Criterion};
use ferrule_core::telemetry::exposition::{render, Format};
use ferrule_core::Registry;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let r = Registry::new();
    let counter = r.counter("b_calls_total", "calls", &["model"]).unwrap();
    let h = counter.labels(&["gpt-4o"]).unwrap();
    c.bench_function("counter handle inc", |x| x.iter(|| h.inc()));
    c.bench_function("counter labels(..) resolve + inc", |x| {
        x.iter(|| counter.labels(black_box(&["gpt-4o"])).unwrap().inc())
    });
    let hist = r
        .histogram(
            "b_latency_seconds",
            "latency",
            &["model"],
            &ferrule_core::telemetry::builtin::DURATION_BUCKETS,
        )
        .unwrap()
        .labels(&["gpt-4o"])
        .unwrap();
    c.bench_function("histogram handle observe", |x| {
        x.iter(|| hist.observe(black_box(0.3)))
    });

    let wide = Registry::new();
    let wc = wide
        .counter_with("w_total", "w", &["route"], Some(5000))
        .unwrap();
    let wg = wide
        .gauge_with("w_gauge", "w", &["route"], Some(5000))
        .unwrap();
    for i in 0..5000u64 {
        let route = format!("/v1/route/{i}");
        wc.labels(&[&route]).unwrap().add(i);
        wg.labels(&[&route]).unwrap().set(i as f64);
    }
    c.bench_function("render 10,000 series (prometheus text)", |x| {
        x.iter(|| black_box(render(&wide, Format::Prometheus)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
