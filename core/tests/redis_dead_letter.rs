//! The dead-letter queue on Redis Streams against a real `redis-server`: the queue's rules hold on the
//! Redis store (capacity, leases, replay failures, purge, age), and a queue written through one
//! backend is read, claimed and emptied through another (as by another process).
#![cfg(feature = "redis")]

mod redis_server;

use ferrule_core::store::dead_letter::redis_streams::RedisDeadLetterStore;
use ferrule_core::store::dead_letter::{Capacity, DeadLetterStore, NewDeadLetter, OnFull, Pushed};
use ferrule_core::store::redis_backend::{RedisBackend, RedisConfig};
use redis_server::RedisServer;
use std::sync::Arc;

fn store(url: &str, name: &str) -> RedisDeadLetterStore {
    let mut c = RedisConfig::new(url);
    c.prefix = "dlq".into(); // each test has its own server; the child process must find the same keys
    c.timeout_seconds = 1.0;
    RedisDeadLetterStore::new(Arc::new(RedisBackend::new(c).unwrap()), name)
}

fn item(i: u64) -> NewDeadLetter {
    NewDeadLetter {
        key: "chat".into(),
        payload: format!("{{\"n\":{i}}}"),
        errors: vec![format!("timeout {i}")],
        attempts: 3,
        first_failed_unix_ms: 1_000 + i,
        last_failed_unix_ms: 2_000 + i,
        trace_id: (i % 2 == 0).then(|| format!("trace-{i}")),
    }
}

const ROOM: Capacity = Capacity {
    max_items: 100,
    on_full: OnFull::Reject,
};

#[test]
fn items_round_trip_in_order_and_another_backend_sees_them() {
    let s = RedisServer::start();
    let a = store(&s.url(), "q");
    let b = store(&s.url(), "q");
    let other = store(&s.url(), "other");
    let mut ids = vec![];
    for i in 0..5 {
        match a.push(&item(i), ROOM).unwrap() {
            Pushed::Stored { id, evicted: 0 } => ids.push(id),
            p => panic!("{p:?}"),
        }
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(b.len().unwrap(), 5);
    assert_eq!(
        other.len().unwrap(),
        0,
        "another queue name is another stream"
    );
    let all = b.list(10, None, None).unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[2].payload, "{\"n\":2}");
    assert_eq!(all[2].errors, vec!["timeout 2".to_string()]);
    assert_eq!(all[2].trace_id.as_deref(), Some("trace-2"));
    assert_eq!(all[1].trace_id, None);
    assert_eq!(
        b.list(2, None, Some(ids[1]))
            .unwrap()
            .iter()
            .map(|d| d.id)
            .collect::<Vec<_>>(),
        &ids[2..4]
    );
    assert_eq!(b.list(10, Some(2_003), None).unwrap().len(), 2);
    assert_eq!(b.get(ids[4]).unwrap().unwrap().attempts, 3);
    assert_eq!(b.oldest_unix_ms().unwrap(), Some(1_000));
    // Leases: one replayer at a time; a failure ends the lease and keeps the item with its new error.
    assert!(a.claim(ids[0], 10, 100).unwrap());
    assert!(!b.claim(ids[0], 50, 200).unwrap(), "leased elsewhere");
    assert!(b.claim(ids[0], 100, 200).unwrap(), "the lease ran out");
    assert!(b.record_failure(ids[0], "still down", 3_000).unwrap());
    let d = a.get(ids[0]).unwrap().unwrap();
    assert_eq!(
        (d.errors.len(), d.replay_count, d.last_failed_unix_ms),
        (2, 1, 3_000)
    );
    assert!(
        a.claim(ids[0], 101, 300).unwrap(),
        "record_failure ended the lease"
    );
    assert!(b.remove(ids[0]).unwrap());
    assert!(!a.remove(ids[0]).unwrap());
    assert_eq!(a.oldest_unix_ms().unwrap(), Some(1_001));
    assert_eq!(a.purge(Some(2_003)).unwrap(), 2);
    assert_eq!(a.len().unwrap(), 2);
    assert_eq!(a.purge(None).unwrap(), 2);
    assert_eq!(b.len().unwrap(), 0);
    let next = a.push(&item(9), ROOM).unwrap();
    assert!(
        matches!(next, Pushed::Stored { id, .. } if id > ids[4]),
        "ids are never reused"
    );
}

#[test]
fn capacity_is_checked_in_the_same_script_as_the_insert() {
    let s = RedisServer::start();
    let q = store(&s.url(), "cap");
    let reject = Capacity {
        max_items: 3,
        on_full: OnFull::Reject,
    };
    let drop = Capacity {
        max_items: 3,
        on_full: OnFull::DropOldest,
    };
    for i in 0..3 {
        assert!(matches!(
            q.push(&item(i), reject).unwrap(),
            Pushed::Stored { .. }
        ));
    }
    assert_eq!(q.push(&item(3), reject).unwrap(), Pushed::Rejected);
    assert!(matches!(
        q.push(&item(4), drop).unwrap(),
        Pushed::Stored { evicted: 1, .. }
    ));
    let payloads: Vec<_> = q
        .list(10, None, None)
        .unwrap()
        .into_iter()
        .map(|d| d.payload)
        .collect();
    assert_eq!(payloads, ["{\"n\":1}", "{\"n\":2}", "{\"n\":4}"]);
    // 8 threads push 50 each into room for 100: exactly 100 stored, 300 refused.
    let q2 = Arc::new(store(&s.url(), "threads"));
    let cap = Capacity {
        max_items: 100,
        on_full: OnFull::Reject,
    };
    let stored: usize = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let q2 = q2.clone();
                sc.spawn(move || {
                    (0..50)
                        .filter(|&i| {
                            matches!(q2.push(&item(i), cap).unwrap(), Pushed::Stored { .. })
                        })
                        .count()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(stored, 100);
    assert_eq!(q2.len().unwrap(), 100);
}

const ROLE: &str = "FERRULE_REDIS_DLQ_ROLE";

/// The writer process: pushes 50 dead letters through the queue into Redis, prints each acknowledged
/// id. Without the role variable this is an ordinary (empty) test.
#[test]
fn child_entry() {
    use ferrule_core::store::dead_letter::queue::{DeadLetterConfig, DeadLetterQueue};
    let Ok(url) = std::env::var(ROLE) else {
        return;
    };
    let q = DeadLetterQueue::new(
        Arc::new(store(&url, "replayed")),
        DeadLetterConfig {
            mask: false,
            ..DeadLetterConfig::default()
        },
    )
    .unwrap();
    for n in 0..50 {
        let id = q
            .push(
                "chat",
                &format!("{{\"n\":{n}}}"),
                vec![format!("error {n}")],
                3,
                None,
                None,
            )
            .unwrap()
            .unwrap();
        println!("ACK {id}");
    }
}

#[test]
fn a_queue_written_by_one_process_is_replayed_by_another() {
    use ferrule_core::store::dead_letter::queue::{DeadLetterConfig, DeadLetterQueue};
    let s = RedisServer::start();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["child_entry", "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE, s.url())
        .stderr(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    let acked: Vec<u64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split("ACK ").nth(1).map(|id| id.trim().parse().unwrap()))
        .collect();
    assert_eq!(acked.len(), 50);
    // This process: replay; odd payloads fail once and stay with their new error.
    let q = DeadLetterQueue::new(
        Arc::new(store(&s.url(), "replayed")),
        DeadLetterConfig::default(),
    )
    .unwrap();
    assert_eq!(q.len().unwrap(), 50);
    let mut seen = vec![];
    let report = q
        .replay_with(
            None,
            None,
            |_| true,
            |d| {
                seen.push(d.id);
                let n: u64 = d
                    .payload
                    .trim_start_matches("{\"n\":")
                    .trim_end_matches('}')
                    .parse()
                    .unwrap();
                if n % 2 == 1 {
                    Err("still failing".into())
                } else {
                    Ok(())
                }
            },
        )
        .unwrap();
    assert_eq!(seen, acked, "every acknowledged item, once, in order");
    assert_eq!((report.succeeded, report.failed), (25, 25));
    let left = q.list(100, None).unwrap();
    assert_eq!(left.len(), 25);
    assert!(left
        .iter()
        .all(|d| d.replay_count == 1 && d.errors.last().unwrap() == "still failing"));
}
