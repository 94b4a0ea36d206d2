//! The evaluation harness of `make eval`, run on a reduced set of traces, so `cargo test` guards the
//! issue's targets: overall recall >= 0.95 and precision >= 0.9, a 14.4x burn paged within 75
//! minutes (1.25x the Workbook's time to detect), drift within 200 outputs, prediction before the
//! first breaker trip in >= 80% of degradation traces with < 1 false warning per simulated day on
//! controls.

#[allow(dead_code)] // `Size::full` is for `make eval`
#[path = "../examples/eval/harness.rs"]
mod harness;
#[path = "../examples/eval/traces.rs"]
mod traces;

#[test]
fn reduced_evaluation_meets_every_target() {
    let report = harness::run(harness::Size::reduced());
    report.print();
    let missed: Vec<String> = report
        .targets()
        .into_iter()
        .filter(|(_, ok)| !ok)
        .map(|(t, _)| t)
        .collect();
    assert!(missed.is_empty(), "missed targets: {missed:?}");
    // Every detector caught its own target traces, not just the pooled numbers.
    for s in report.scores.iter().filter(|s| s.overall) {
        assert!(s.recall() >= 0.6, "{} recall {}", s.name, s.recall());
        assert!(
            s.precision() >= 0.6,
            "{} precision {}",
            s.name,
            s.precision()
        );
    }
    assert!(report.max_bytes_per_series <= 1024);
}
