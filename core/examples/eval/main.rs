//! `make eval`: replays labelled synthetic traces through the watchers and prints per detector
//! recall, precision and median detection delay; with `FERRULE_EVAL_NAB` naming a local copy of
//! the Numenta Anomaly Benchmark, also the anomaly detectors on its real labelled series (tuning
//! families and held-out families apart) beside a rolling z-score baseline. Ends with
//! `overall recall=R precision=P`, pooled over the synthetic detectors and, when given, the
//! seasonal detector on the held-out real series. `--reduced` runs the smaller synthetic set that
//! `cargo test` checks; `--real-only` skips the synthetic traces.

mod harness;
mod real;
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
    eprintln!(
        "(synthetic traces evaluated in {:.1}s)",
        t0.elapsed().as_secs_f64()
    );
    report.print_tables();
    let (mut t, mut d, mut a, mut ta) = report.pooled_counts();
    match std::env::var_os("FERRULE_EVAL_NAB") {
        None => println!(
            "real series: skipped (set FERRULE_EVAL_NAB to a local copy of the Numenta Anomaly Benchmark: data/ and labels/)"
        ),
        Some(root) => {
            let root = std::path::PathBuf::from(root);
            for (set, families) in [("tuning", real::TUNING), ("held-out", real::HELD_OUT)] {
                let t1 = std::time::Instant::now();
                match real::load(&root, families) {
                    Err(e) => {
                        eprintln!("real series ({set}): cannot read {e}");
                        std::process::exit(2);
                    }
                    Ok(series) => {
                        let r = real::run(set, &series);
                        r.print();
                        eprintln!("({set} real series evaluated in {:.1}s)", t1.elapsed().as_secs_f64());
                        if set == "held-out" {
                            let s = r.seasonal();
                            let ok = s.recall() >= 0.75 && s.f1() >= 1.5 * r.baseline().f1();
                            println!(
                                "target {}: held-out seasonal recall {:.3} >= 0.75 and F1 {:.3} >= 1.5 x baseline F1 {:.3}",
                                if ok { "met" } else { "MISSED" },
                                s.recall(),
                                s.f1(),
                                r.baseline().f1()
                            );
                            t += s.windows;
                            d += s.found;
                            a += s.starts;
                            ta += s.true_starts;
                        }
                    }
                }
            }
        }
    }
    let ratio = |x: u32, y: u32| if y == 0 { 1.0 } else { x as f64 / y as f64 };
    println!(
        "overall recall={:.3} precision={:.3}",
        ratio(d, t),
        ratio(ta, a)
    );
}
