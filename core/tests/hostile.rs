//! Hostile inputs against the core, each the exact reproduction of a failure seen from a host:
//! forks while a writer thread holds a store, stalled scrapers, SQL that writes or never ends,
//! durations that overflow, and the secret / locale masking rules on every sink.

mod scratch;

use ferrule_core::store::inference_log::{InferenceLog, InferenceRecord, Retention};
use ferrule_core::telemetry::redact::Redactor;
use ferrule_core::*;
use rusqlite::types::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn rec(i: i64) -> InferenceRecord {
    InferenceRecord {
        request_id: format!("req-{i}"),
        model: Some("gpt-4o".into()),
        outcome: "success".into(),
        ..Default::default()
    }
}

/// Forks `n` children while `busy` threads hammer the stores; each child runs `child` under a
/// 10 s alarm and exits 0. Returns how many children did not exit 0 within the deadline.
#[cfg(unix)]
fn fork_children(n: usize, child: impl Fn() -> bool) -> usize {
    let mut pids = Vec::new();
    for _ in 0..n {
        // SAFETY: the child only runs `child` (ferrule calls) and `_exit`s; an alarm kills it if
        // it hangs, which is what this test detects.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            unsafe {
                libc::alarm(if std::env::var_os("HOSTILE_DEBUG").is_some() {
                    60
                } else {
                    10
                })
            };
            let ok =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(&child)).unwrap_or(false);
            unsafe { libc::_exit(if ok { 0 } else { 3 }) };
        }
        pids.push(pid);
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut bad = 0;
    for pid in pids {
        let mut status = 0;
        // SAFETY: waits for a child this test forked.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
            bad += 1;
        }
    }
    bad
}

#[cfg(unix)]
#[test]
fn forty_children_forked_during_store_writes_never_hang() {
    let dir = scratch::ScratchDb::new("hostile", "fork", "dlq.sqlite");
    let log_path = dir.path().with_file_name("log.sqlite");
    let dlq = Arc::new(
        DeadLetterQueue::new(
            Arc::new(SqliteDeadLetterStore::open(dir.path()).unwrap()),
            DeadLetterConfig {
                name: "fork".into(),
                max_items: 1_000_000,
                on_full: OnFull::DropOldest,
                mask: true,
                replay_lease: Duration::from_secs(60),
            },
        )
        .unwrap(),
    );
    let log = Arc::new(InferenceLog::open(&log_path, Retention::default(), 4096).unwrap());
    let mem = Arc::new(MemoryDeadLetterStore::new());
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..2 {
        let (dlq, log, mem, stop) = (dlq.clone(), log.clone(), mem.clone(), stop.clone());
        writers.push(std::thread::spawn(move || {
            let mut i = 0i64;
            while !stop.load(Ordering::Relaxed) {
                let _ = dlq.push("p", "{\"a\":1}", vec!["e".into()], 1, None, None);
                log.record(rec(i));
                let _ = mem.push(
                    &NewDeadLetter {
                        key: format!("{w}-{i}"),
                        payload: "x".into(),
                        errors: vec![],
                        attempts: 1,
                        first_failed_unix_ms: 1,
                        last_failed_unix_ms: 1,
                        trace_id: None,
                    },
                    DeadLetterCapacity {
                        max_items: 1000,
                        on_full: OnFull::DropOldest,
                    },
                );
                if i % 8 == 0 {
                    let _ = log.query("SELECT COUNT(*) FROM inference_log", &[]);
                }
                i += 1;
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(50));
    let t0 = Instant::now();
    let bad = fork_children(40, || {
        let step = |n: &str| {
            if std::env::var_os("HOSTILE_DEBUG").is_some() {
                eprintln!("child {}: {n}", std::process::id());
            }
            true
        };
        step("start")
            && dlq.len().is_ok()
            && step("len")
            && {
                let r = dlq.push("child", "{}", vec!["e".into()], 1, None, None);
                if r.is_err() {
                    step(&format!("push failed: {r:?}"));
                }
                r.is_ok()
            }
            && step("push")
            && log.query("SELECT COUNT(*) FROM inference_log", &[]).is_ok()
            && step("query")
            && {
                log.record(rec(-1));
                log.flush(Duration::from_secs(5))
            }
            && step("flush")
            && mem.len().is_ok()
            && step("mem")
            && !ferrule_core::telemetry::exposition::render(
                ferrule_core::telemetry::registry::global(),
                ferrule_core::telemetry::exposition::Format::Prometheus,
            )
            .is_empty()
    });
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    assert_eq!(bad, 0, "{bad} of 40 children hung or failed");
    assert!(t0.elapsed() < Duration::from_secs(30));
}

#[test]
fn query_is_read_only_and_bounded() {
    let dir = scratch::ScratchDb::new("hostile", "query", "log.sqlite");
    let log = InferenceLog::open(dir.path(), Retention::default(), 1024).unwrap();
    for i in 0..10 {
        log.record(rec(i));
    }
    assert!(log.flush(Duration::from_secs(5)));
    let copy = dir.path().with_file_name("copy.sqlite");
    for sql in [
        format!("VACUUM INTO '{}'", copy.display()),
        "BEGIN".to_string(),
        "SAVEPOINT s".to_string(),
        format!("ATTACH DATABASE '{}' AS other", copy.display()),
        "DELETE FROM inference_log".to_string(),
        "PRAGMA journal_mode=DELETE".to_string(),
        "CREATE TEMP TABLE t(x)".to_string(),
    ] {
        let e = log.query(&sql, &[]).unwrap_err();
        assert!(e.to_string().contains("sql="), "{sql}: {e}");
        assert!(matches!(e, Error::Storage { .. }), "{sql}: {e}");
    }
    assert!(!copy.exists(), "VACUUM INTO wrote a copy");
    // Later queries see new rows: no transaction was left open on a stale snapshot.
    log.record(rec(10));
    let (_, rows) = log
        .query("SELECT COUNT(*) FROM inference_log", &[])
        .unwrap();
    assert_eq!(rows[0][0], Value::Integer(11));
    // A runaway recursive query stops at its time limit with an error that says so, and the
    // next query runs normally.
    let t0 = Instant::now();
    let e = log
        .query_within(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT MAX(x) FROM c",
            &[],
            Duration::from_millis(300),
        )
        .unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    assert!(e.to_string().contains("time limit"), "{e}");
    let (_, rows) = log
        .query(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5) \
             SELECT SUM(x) FROM c",
            &[],
        )
        .unwrap();
    assert_eq!(rows[0][0], Value::Integer(15));
}

#[test]
fn five_idle_connections_do_not_delay_a_scrape() {
    let mut server =
        MetricsServer::start(ferrule_core::telemetry::registry::global(), "127.0.0.1", 0).unwrap();
    let addr = server.addr();
    // Five clients that connect and never send a byte, one that sends half a request.
    let mut idle: Vec<TcpStream> = (0..5).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let mut half = TcpStream::connect(addr).unwrap();
    half.write_all(b"GET /metr").unwrap();
    idle.push(half);
    std::thread::sleep(Duration::from_millis(50));
    let t0 = Instant::now();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    drop(idle);
    server.stop();
}

#[test]
fn huge_durations_are_refused_not_panicking() {
    let e = RetryPolicy::new(RetryConfig {
        max_elapsed_seconds: Some(2e19),
        ..RetryConfig::default()
    })
    .unwrap_err();
    assert!(e.to_string().contains("max_elapsed_seconds"), "{e}");
    let clock = ManualClock::new();
    clock.advance_secs(1e308); // saturates, never panics
    clock.advance_secs(f64::NAN);
    assert_eq!(clock.now_nanos(), u64::MAX);
    let e = ferrule_core::watch::dead_mans_switch::DeadMansSwitch::new(
        "x",
        u64::MAX,
        ferrule_core::watch::event::Severity::Critical,
        ClockRef::System,
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("within_seconds"), "{e}");
}

#[test]
fn rate_and_weight_bounds() {
    let e = RateLimiter::new(RateLimitConfig::new(
        "t",
        Algorithm::TokenBucket {
            rate: 5e-11,
            per_seconds: 1.0,
            burst: 1,
        },
    ))
    .err()
    .unwrap();
    assert!(e.to_string().contains("rate="), "{e}");
}

#[test]
fn inference_log_masks_every_text_column() {
    let r = Redactor::default();
    let rec = InferenceLog::prepare(
        InferenceRecord {
            request_id: "r".into(),
            session_id: Some("jane@example.com".into()),
            user_id: Some("+49 30 123456789".into()),
            provider: Some("key sk-proj-abcdefghijklmnopqrstuvwx".into()),
            template: Some("tel 090-1234-5678".into()),
            error_type: Some("password=hunter2".into()),
            outcome: "error".into(),
            ..Default::default()
        },
        &r,
        false,
    );
    assert_eq!(rec.session_id.as_deref(), Some("[EMAIL]"));
    assert_eq!(rec.user_id.as_deref(), Some("[PHONE]"));
    assert_eq!(rec.provider.as_deref(), Some("key [SECRET]"));
    assert_eq!(rec.template.as_deref(), Some("tel [PHONE]"));
    assert_eq!(rec.error_type.as_deref(), Some("password=[SECRET]"));
}

#[test]
fn a_field_never_repeats_a_member_of_the_line() {
    use ferrule_core::telemetry::log_event::{FieldValue, Level, LogEvent};
    use ferrule_core::telemetry::log_sink::LogSink;
    use ferrule_core::telemetry::logger::Logger;
    let logger = Logger::new(ClockRef::System, LogSink::Null, Level::Info);
    let ev = LogEvent::new(Level::Warning, "x")
        .field("time", FieldValue::Str("then".into()))
        .field("user_id", FieldValue::Str("mallory".into()));
    let line = logger.emit(&ev, "svc", &Redactor::default()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["field.time"], "then", "{line}");
    // No context on this event, so `user_id` is not a member of the line and keeps its name.
    assert_eq!(v["user_id"], "mallory", "{line}");
    assert_eq!(line.matches("\"time\":").count(), 1, "{line}");
}
