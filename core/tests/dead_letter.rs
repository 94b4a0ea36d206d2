//! The dead-letter queue's rules (on_full, masking, replay, poison messages, leases, metrics) on a
//! manual clock, run against both the in-memory reference store and the SQLite store, plus the
//! SQLite store's multi-thread check-and-insert.

mod scratch;

use ferrule_core::telemetry::collector::Collect;
use ferrule_core::telemetry::redact::Redactor;
use ferrule_core::*;
use std::sync::Arc;
use std::time::Duration;

const T0: u64 = 1_700_000_000_000;

fn temp_db(name: &str) -> scratch::ScratchDb {
    scratch::ScratchDb::new("dlq", name, "dlq.sqlite")
}

/// The two stores, and the SQLite file's directory, which is removed when the caller drops it.
fn stores(name: &str) -> (scratch::ScratchDb, Vec<Arc<dyn DeadLetterStore>>) {
    let db = temp_db(name);
    let all: Vec<Arc<dyn DeadLetterStore>> = vec![
        Arc::new(MemoryDeadLetterStore::new()),
        Arc::new(SqliteDeadLetterStore::open(db.path()).unwrap()),
    ];
    (db, all)
}

fn queue(
    store: Arc<dyn DeadLetterStore>,
    max_items: u64,
    on_full: OnFull,
) -> (DeadLetterQueue, ManualClock) {
    let clock = ManualClock::new();
    clock.set_nanos(0); // so stored times read T0 + elapsed
    let q = DeadLetterQueue::with_clock(
        store,
        DeadLetterConfig {
            name: "t".into(),
            max_items,
            on_full,
            mask: true,
            replay_lease: Duration::from_secs(60),
        },
        clock.clone().into(),
        T0,
    )
    .unwrap()
    .with_redactor(Arc::new(Redactor::default()));
    (q, clock)
}

fn push(q: &DeadLetterQueue, payload: &str) -> Option<u64> {
    q.push("policy", payload, vec!["boom".into()], 3, None, None)
        .unwrap()
}

#[test]
fn reject_keeps_what_it_has_and_counts() {
    let (_db, all) = stores("reject");
    for s in all {
        let (q, _c) = queue(s, 3, OnFull::Reject);
        let ids: Vec<_> = (0..3)
            .map(|i| push(&q, &format!("{{\"n\":{i}}}")))
            .collect();
        assert!(ids.iter().all(Option::is_some));
        assert_eq!(push(&q, "{\"n\":3}"), None, "{}", q.backend());
        assert_eq!(push(&q, "{\"n\":4}"), None);
        assert_eq!(q.len().unwrap(), 3);
        let payloads: Vec<_> = q
            .list(10, None)
            .unwrap()
            .into_iter()
            .map(|d| d.payload)
            .collect();
        assert_eq!(payloads, ["{\"n\":0}", "{\"n\":1}", "{\"n\":2}"]);
        assert_eq!(
            q.stats()
                .rejected
                .load(std::sync::atomic::Ordering::Relaxed),
            2
        );
        assert_eq!(
            q.stats().stored.load(std::sync::atomic::Ordering::Relaxed),
            3
        );
    }
}

#[test]
fn drop_oldest_evicts_oldest_first_and_counts() {
    let (_db, all) = stores("drop_oldest");
    for s in all {
        let (q, _c) = queue(s, 3, OnFull::DropOldest);
        for i in 0..5 {
            assert!(push(&q, &format!("{i}")).is_some());
        }
        assert_eq!(q.len().unwrap(), 3, "{}", q.backend());
        let payloads: Vec<_> = q
            .list(10, None)
            .unwrap()
            .into_iter()
            .map(|d| d.payload)
            .collect();
        assert_eq!(payloads, ["2", "3", "4"]);
        assert_eq!(
            q.stats().evicted.load(std::sync::atomic::Ordering::Relaxed),
            2
        );
        // ids are never reused after eviction
        let ids: Vec<_> = q
            .list(10, None)
            .unwrap()
            .into_iter()
            .map(|d| d.id)
            .collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }
}

#[test]
fn payload_and_errors_are_masked_unless_opted_out() {
    for mask in [true, false] {
        let store: Arc<dyn DeadLetterStore> = Arc::new(MemoryDeadLetterStore::new());
        let q = DeadLetterQueue::with_clock(
            store,
            DeadLetterConfig {
                mask,
                ..DeadLetterConfig::default()
            },
            ManualClock::new().into(),
            T0,
        )
        .unwrap()
        .with_redactor(Arc::new(Redactor::default()));
        q.push(
            "p",
            r#"{"messages":[{"content":"mail me at ann@example.com"}]}"#,
            vec!["401 for key sk-abcdefghijklmnopqrstuvwx".into()],
            1,
            None,
            None,
        )
        .unwrap();
        let d = &q.list(1, None).unwrap()[0];
        if mask {
            assert_eq!(
                d.payload,
                r#"{"messages":[{"content":"mail me at [EMAIL]"}]}"#
            );
            assert_eq!(d.errors, ["401 for key [SECRET]"]);
        } else {
            assert!(d.payload.contains("ann@example.com"));
            assert!(d.errors[0].contains("sk-abcdefghijklmnopqrstuvwx"));
        }
    }
}

#[test]
fn timestamps_come_from_the_clock_and_list_since_filters() {
    let (_db, all) = stores("since");
    for s in all {
        let (q, c) = queue(s, 100, OnFull::Reject);
        push(&q, "a");
        c.advance(Duration::from_secs(10));
        q.push(
            "p",
            "b",
            vec!["e".into()],
            2,
            Some(T0 + 1_000),
            Some("abc".into()),
        )
        .unwrap();
        let all = q.list(10, None).unwrap();
        assert_eq!(all[0].first_failed_unix_ms, T0);
        assert_eq!(all[1].first_failed_unix_ms, T0 + 1_000);
        assert_eq!(all[1].last_failed_unix_ms, T0 + 10_000);
        assert_eq!(all[1].trace_id.as_deref(), Some("abc"));
        assert_eq!(all[1].attempts, 2);
        let since: Vec<_> = q
            .list(10, Some(T0 + 5_000))
            .unwrap()
            .into_iter()
            .map(|d| d.payload)
            .collect();
        assert_eq!(since, ["b"]);
        assert_eq!(q.list(1, None).unwrap().len(), 1, "limit");
        c.advance(Duration::from_secs(5));
        assert_eq!(q.oldest_age_seconds().unwrap(), 15.0);
    }
}

#[test]
fn replay_removes_successes_keeps_failures_with_the_new_error_and_poison_never_blocks() {
    let (_db, all) = stores("replay");
    for s in all {
        let (q, c) = queue(s, 100, OnFull::Reject);
        for p in ["ok1", "poison", "ok2", "skip", "ok3"] {
            push(&q, p);
        }
        c.advance(Duration::from_secs(1));
        let mut seen = vec![];
        let r = q
            .replay_with(
                None,
                None,
                |d| d.payload != "skip",
                |d| {
                    seen.push(d.payload.clone());
                    if d.payload == "poison" {
                        Err("still broken".into())
                    } else {
                        Ok(())
                    }
                },
            )
            .unwrap();
        assert_eq!(seen, ["ok1", "poison", "ok2", "ok3"], "{}", q.backend());
        assert_eq!(
            r,
            ReplayReport {
                succeeded: 3,
                failed: 1,
                skipped: 1,
                busy: 0
            }
        );
        let left = q.list(10, None).unwrap();
        assert_eq!(left.len(), 2);
        let poison = left.iter().find(|d| d.payload == "poison").unwrap();
        assert_eq!(poison.errors, ["boom", "still broken"]);
        assert_eq!(poison.replay_count, 1);
        assert_eq!(poison.last_failed_unix_ms, T0 + 1_000);
        assert_eq!(poison.first_failed_unix_ms, T0);

        // a second run offers the poison message once more and still finishes
        let r = q
            .replay_with(
                None,
                None,
                |_| true,
                |d| {
                    if d.payload == "poison" {
                        Err("again".into())
                    } else {
                        Ok(())
                    }
                },
            )
            .unwrap();
        assert_eq!((r.succeeded, r.failed), (1, 1));
        assert_eq!(q.len().unwrap(), 1);
        assert_eq!(
            q.list(1, None).unwrap()[0].errors,
            ["boom", "still broken", "again"]
        );
    }
}

#[test]
fn replay_max_bounds_the_handled_items_and_pages_through_large_queues() {
    let (_db, all) = stores("replay_max");
    for s in all {
        let (q, _c) = queue(s, 1_000, OnFull::Reject);
        for i in 0..200 {
            push(&q, &i.to_string());
        }
        let mut n = 0;
        let r = q
            .replay_with(
                None,
                Some(150),
                |_| true,
                |_| {
                    n += 1;
                    Ok(())
                },
            )
            .unwrap();
        assert_eq!((n, r.succeeded), (150, 150), "{}", q.backend());
        assert_eq!(q.len().unwrap(), 50);
        assert_eq!(q.list(1, None).unwrap()[0].payload, "150");
        let r = q.replay_with(None, None, |_| true, |_| Ok(())).unwrap();
        assert_eq!(r.succeeded, 50);
        assert!(q.is_empty().unwrap());
    }
}

#[test]
fn a_leased_item_is_not_handed_to_a_second_replayer_until_the_lease_ends() {
    let (_db, all) = stores("lease");
    for s in all {
        let (q, c) = queue(s, 100, OnFull::Reject);
        let id = push(&q, "x").unwrap();
        let mut a = q.replay_cursor(None, None);
        let item = q.replay_next(&mut a).unwrap().unwrap();
        assert!(q.replay_claim(&mut a, item.id).unwrap());
        // a second replayer (another thread or process) while the first handler runs
        let r = q
            .replay_with(None, None, |_| true, |_| panic!("must not run"))
            .unwrap();
        assert_eq!(r.busy, 1, "{}", q.backend());
        c.advance(Duration::from_secs(61));
        let r = q.replay_with(None, None, |_| true, |_| Ok(())).unwrap();
        assert_eq!(r.succeeded, 1, "lease expired");
        // the first replayer finishing late finds it gone and does not fail
        q.replay_succeeded(&mut a, id).unwrap();
        assert!(q.is_empty().unwrap());
    }
}

#[test]
fn purge_by_age_and_all() {
    let (_db, all) = stores("purge");
    for s in all {
        let (q, c) = queue(s, 100, OnFull::Reject);
        push(&q, "old");
        c.advance(Duration::from_secs(100));
        push(&q, "new");
        assert_eq!(q.purge(Some(T0 + 50_000)).unwrap(), 1);
        assert_eq!(q.list(10, None).unwrap()[0].payload, "new");
        assert_eq!(q.purge(None).unwrap(), 1);
        assert_eq!(q.oldest_age_seconds().unwrap(), 0.0);
    }
}

#[test]
fn depth_age_and_events_are_collected_at_scrape_time() {
    let (q, c) = queue(Arc::new(MemoryDeadLetterStore::new()), 2, OnFull::Reject);
    push(&q, "a");
    push(&q, "b");
    push(&q, "c");
    c.advance(Duration::from_millis(2_500));
    let mut sink = telemetry::collector::Sink::default();
    q.collect(&mut sink);
    assert_eq!(sink.get("ferrule_dead_letter_depth", &["t"]), Some(2.0));
    assert_eq!(
        sink.get("ferrule_dead_letter_oldest_age_seconds", &["t"]),
        Some(2.5)
    );
    assert_eq!(
        sink.get("ferrule_dead_letters", &["t", "stored"]),
        Some(2.0)
    );
    assert_eq!(
        sink.get("ferrule_dead_letters", &["t", "rejected"]),
        Some(1.0)
    );
}

#[test]
fn exported_queue_renders_in_the_prometheus_text() {
    let store: Arc<dyn DeadLetterStore> = Arc::new(MemoryDeadLetterStore::new());
    let q = Arc::new(
        DeadLetterQueue::new(
            store,
            DeadLetterConfig {
                name: "exported".into(),
                ..DeadLetterConfig::default()
            },
        )
        .unwrap(),
    );
    q.push("p", "{}", vec![], 1, None, None).unwrap();
    telemetry::collector::export(&q);
    let text = metrics_text(MetricsFormat::Prometheus);
    assert!(
        text.contains("ferrule_dead_letter_depth{name=\"exported\"} 1"),
        "{text}"
    );
    assert!(text.contains("ferrule_dead_letters_total{name=\"exported\",outcome=\"stored\"} 1"));
    assert!(text.contains("ferrule_dead_letter_oldest_age_seconds{name=\"exported\"}"));
}

#[test]
fn bad_configuration_names_the_parameter() {
    let store: Arc<dyn DeadLetterStore> = Arc::new(MemoryDeadLetterStore::new());
    let e = DeadLetterQueue::new(
        store,
        DeadLetterConfig {
            max_items: 0,
            ..DeadLetterConfig::default()
        },
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("max_items=0"), "{e}");
    assert_eq!(OnFull::parse("drop_oldest"), Some(OnFull::DropOldest));
    assert_eq!(OnFull::parse("nope"), None);
}

#[test]
fn sqlite_capacity_is_exact_under_many_threads() {
    let db = temp_db("threads");
    let store = Arc::new(SqliteDeadLetterStore::open(db.path()).unwrap());
    let cap = DeadLetterCapacity {
        max_items: 50,
        on_full: OnFull::Reject,
    };
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let s = store.clone();
            std::thread::spawn(move || {
                let mut stored = 0u64;
                for i in 0..20 {
                    let item = NewDeadLetter {
                        key: format!("t{t}"),
                        payload: i.to_string(),
                        ..NewDeadLetter::default()
                    };
                    if let Pushed::Stored { .. } = s.push(&item, cap).unwrap() {
                        stored += 1;
                    }
                }
                stored
            })
        })
        .collect();
    let stored: u64 = threads.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(stored, 50);
    assert_eq!(store.len().unwrap(), 50);
}
