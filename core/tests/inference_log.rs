//! The inference log survives a reopen (a process restart, as far as SQLite is concerned), answers
//! queries, masks content, and applies retention by age and row count.

mod scratch;

use ferrule_core::store::inference_log::{InferenceLog, InferenceRecord, Retention};
use ferrule_core::telemetry::redact::Redactor;
use rusqlite::types::Value;
use std::time::Duration;

fn temp_db(name: &str) -> scratch::ScratchDb {
    scratch::ScratchDb::new("il", name, "log.sqlite")
}

fn rec(i: i64, model: &str, outcome: &str) -> InferenceRecord {
    InferenceRecord {
        time_unix_ns: 1_700_000_000_000_000_000 + i as u64 * 1_000_000_000,
        request_id: format!("req-{i}"),
        model: Some(model.into()),
        input: Some(format!("my card is 4111 1111 1111 1111, call #{i}")),
        output: Some("ok".into()),
        input_tokens: Some(10 + i),
        output_tokens: Some(5),
        cost_usd: Some(0.001),
        latency_seconds: Some(0.25),
        outcome: outcome.into(),
        ..Default::default()
    }
}

#[test]
fn records_survive_reopen_and_answer_queries() {
    let path = temp_db("reopen");
    {
        let log = InferenceLog::open(path.path(), Retention::default(), 1024).unwrap();
        for i in 0..50 {
            let r = InferenceLog::prepare(
                rec(
                    i,
                    if i % 2 == 0 { "gpt-4o" } else { "claude" },
                    if i % 5 == 0 { "error" } else { "success" },
                ),
                &Redactor::default(),
                true,
            );
            assert!(log.record(r));
        }
        assert!(log.flush(Duration::from_secs(10)));
        assert_eq!(log.stats().written, 50);
        log.close();
    }
    let log = InferenceLog::open(path.path(), Retention::default(), 1024).unwrap();
    let (cols, rows) = log
        .query(
            "SELECT model, count(*), sum(input_tokens) FROM inference_log WHERE outcome = ? GROUP BY model ORDER BY model",
            &[Value::Text("success".into())],
        )
        .unwrap();
    assert_eq!(cols, vec!["model", "count(*)", "sum(input_tokens)"]);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][0], Value::Text("claude".into()));
    assert_eq!(rows[0][1], Value::Integer(20));
    let (cols, rows) = log
        .records(Some("gpt-4o"), None, Some("error"), 100)
        .unwrap();
    assert_eq!(rows.len(), 5);
    let input = cols.iter().position(|c| c == "input").unwrap();
    assert_eq!(
        rows[0][input],
        Value::Text("my card is [CARD], call #40".into())
    );
    // Read-only: a user query cannot write.
    assert!(log.query("DELETE FROM inference_log", &[]).is_err());
    assert!(log
        .query("SELEC nonsense", &[])
        .unwrap_err()
        .to_string()
        .contains("inference_log"));
}

#[test]
fn content_is_dropped_when_capture_is_off_and_outcome_is_checked() {
    let r = InferenceLog::prepare(rec(1, "m", "success"), &Redactor::default(), false);
    assert_eq!((r.input, r.output), (None, None));
    let e = InferenceLog::validate(&rec(1, "m", "great")).unwrap_err();
    assert!(e.to_string().contains("outcome=great"), "{e}");
}

#[test]
fn retention_by_age_and_rows() {
    let path = temp_db("retention");
    let log = InferenceLog::open(
        path.path(),
        Retention {
            max_age_seconds: Some(30.0),
            max_rows: Some(10),
        },
        1024,
    )
    .unwrap();
    // Records one second apart, the newest stamped now. The writer applies retention on its own
    // (by wall time, as records carry wall times); `apply_retention` finishes the job at `now`.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    for i in 0..60 {
        let mut r = rec(i, "m", "success");
        r.time_unix_ns = now - (59 - i as u64) * 1_000_000_000;
        log.record(r);
    }
    log.apply_retention(now).unwrap();
    // The 29 older than 30 s go by age, then the row cap keeps the newest 10.
    assert_eq!(log.stats().deleted_by_retention, 50);
    let (_, rows) = log
        .query("SELECT min(input_tokens), count(*) FROM inference_log", &[])
        .unwrap();
    assert_eq!(rows[0], vec![Value::Integer(60), Value::Integer(10)]);
    assert!(InferenceLog::open(
        path.path(),
        Retention {
            max_age_seconds: Some(-1.0),
            max_rows: None
        },
        8
    )
    .is_err());
}
