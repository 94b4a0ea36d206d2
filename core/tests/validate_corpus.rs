//! The repair corpus (tests/corpus/repair/*.jsonl, made by tests/corpus/generate.py): hundreds of
//! malformed model outputs, each with the value it must repair to and the repair kinds it must
//! report, or the failure it must produce. The Python tests run the same files.

use ferrule_core::validate::{parse, repair, JsonValidator, Limits};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

fn cases() -> Vec<Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/repair");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(|l| {
                    // serde_json stops at depth 128; the deepest cases need more.
                    let lim = Limits {
                        max_input_bytes: 1 << 30,
                        max_depth: 1000,
                    };
                    parse(l, &lim).unwrap()
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn limits(case: &Value) -> Limits {
    match case.get("limits") {
        Some(l) => Limits {
            max_input_bytes: l["max_input_bytes"].as_u64().unwrap() as usize,
            max_depth: l["max_depth"].as_u64().unwrap() as usize,
        },
        None => Limits::default(),
    }
}

#[test]
fn corpus_repairs_to_the_expected_value_or_fails_as_expected() {
    let cases = cases();
    assert!(cases.len() >= 200, "corpus has {} cases", cases.len());
    let mut problems = Vec::new();
    let (mut ok, mut failed) = (0, 0);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let input = case["input"].as_str().unwrap();
        let lim = limits(case);
        let got = repair(input, &lim);
        match (case.get("expect"), got) {
            (Some(expect), Ok(r)) => {
                ok += 1;
                match parse(&r.text, &lim) {
                    Ok(v) if &v == expect => {}
                    Ok(v) => problems.push(format!("{name}: repaired to {v} (text {:?})", r.text)),
                    Err(f) => problems.push(format!("{name}: repaired text does not parse: {f}")),
                }
                let kinds: BTreeSet<&str> = r.repairs.iter().map(|r| r.kind.as_str()).collect();
                let want: BTreeSet<&str> = case["repairs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|k| k.as_str().unwrap())
                    .collect();
                if kinds != want {
                    problems.push(format!("{name}: repairs {kinds:?}, expected {want:?}"));
                }
                if want.is_empty() && r.text != input {
                    problems.push(format!("{name}: valid input was changed"));
                }
                // The validator gives the same value in one call.
                match JsonValidator::new(None, true, lim).validate(input) {
                    Ok(v) if &v.value == expect => {}
                    other => problems.push(format!("{name}: JsonValidator gave {other:?}")),
                }
            }
            (Some(_), Err(f)) => problems.push(format!("{name}: expected a repair, got {f:?}")),
            (None, Ok(r)) => problems.push(format!(
                "{name}: expected a failure, got {:?} with {:?}",
                r.text.chars().take(200).collect::<String>(),
                r.repairs
            )),
            (None, Err(f)) => {
                failed += 1;
                let kind = case["fail"].as_str().unwrap();
                let contains = case["contains"].as_str().unwrap();
                if f.kind.as_str() != kind {
                    problems.push(format!(
                        "{name}: failure kind {:?}, expected {kind}",
                        f.kind
                    ));
                }
                let msg = &f.violations[0].message;
                if !msg.contains(contains) {
                    problems.push(format!("{name}: message {msg:?} lacks {contains:?}"));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} cases wrong:\n{}",
        problems.len(),
        cases.len(),
        problems.join("\n")
    );
    assert!(ok > 250 && failed > 40, "ok={ok} failed={failed}");
}
