//! `make eval`: replays labelled synthetic traces through the watchers and prints per detector
//! recall, precision and median detection delay, and the anomaly detectors on real labelled series
//! from the Numenta Anomaly Benchmark (kept in `core/examples/data/nab`, or the copy
//! `FERRULE_EVAL_NAB` names), per family, tuning families and held-out families apart, beside a
//! rolling z-score baseline. Ends with `overall recall=R precision=P`, pooled over the synthetic
//! detectors and the seasonal detector on the held-out real series. `--reduced` runs the smaller synthetic set that
//! `cargo test` checks; `--real-only` skips the synthetic traces and the prediction replays.
//! `FERRULE_EVAL_ONLY=tuning` (or `held-out`) evaluates one set of real series only: work on the
//! detectors' defaults runs with `tuning`, so the held-out figures are read only when chosen to.

mod harness;
mod predict;
mod real;
mod traces;

fn main() {
    let reduced = std::env::args().any(|a| a == "--reduced");
    let real_only = std::env::args().any(|a| a == "--real-only");
    let only = std::env::var("FERRULE_EVAL_ONLY").ok();
    if let Some(o) = &only {
        if o != "tuning" && o != "held-out" {
            eprintln!("FERRULE_EVAL_ONLY={o:?}: expected \"tuning\" or \"held-out\"");
            std::process::exit(2);
        }
    }
    let size = if reduced {
        harness::Size::reduced()
    } else {
        harness::Size::full()
    };
    let (mut t, mut d, mut a, mut ta) = (0, 0, 0, 0);
    if !real_only {
        let t0 = std::time::Instant::now();
        let report = harness::run(size);
        eprintln!(
            "(synthetic traces evaluated in {:.1}s)",
            t0.elapsed().as_secs_f64()
        );
        report.print_tables();
        let t2 = std::time::Instant::now();
        let (rows, past_calls) = predict::run(&size);
        predict::print(&rows, past_calls);
        eprintln!(
            "(prediction replays evaluated in {:.1}s)",
            t2.elapsed().as_secs_f64()
        );
        (t, d, a, ta) = report.pooled_counts();
    }
    let root = std::env::var_os("FERRULE_EVAL_NAB")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(real::default_root);
    for (set, families) in [("tuning", real::TUNING), ("held-out", real::HELD_OUT)] {
        if only.as_deref().is_some_and(|o| o != set) {
            continue;
        }
        let t1 = std::time::Instant::now();
        let series = match real::load(&root, families) {
            Ok(series) => series,
            Err(e) => {
                eprintln!("real series ({set}): cannot read {e}");
                std::process::exit(2);
            }
        };
        let r = real::run(set, families, &series);
        r.print();
        eprintln!(
            "({set} real series evaluated in {:.1}s)",
            t1.elapsed().as_secs_f64()
        );
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
    if real_only || only.is_some() {
        // The overall line pools the synthetic traces with the held-out series; a partial run
        // has not measured both, so it prints none rather than a misleading one.
        eprintln!("(partial run: no overall line)");
        return;
    }
    let ratio = |x: u32, y: u32| if y == 0 { 1.0 } else { x as f64 / y as f64 };
    println!(
        "overall recall={:.3} precision={:.3}",
        ratio(d, t),
        ratio(ta, a)
    );
}
