//! `make eval`: replays labelled synthetic traces through the watchers and prints per detector
//! recall, precision and median detection delay, ending with `overall recall=R precision=P`.
//! `--reduced` runs the smaller set that `cargo test` checks.

mod harness;
mod traces;

fn main() {
    let reduced = std::env::args().any(|a| a == "--reduced");
    let size = if reduced {
        harness::Size::reduced()
    } else {
        harness::Size::full()
    };
    let t0 = std::time::Instant::now();
    let report = harness::run(size);
    eprintln!("(evaluated in {:.1}s)", t0.elapsed().as_secs_f64());
    report.print();
}
