//! The dead-letter queue on Redis Streams against a real `redis-server`: the queue's rules hold on the
//! Redis store (capacity, leases, replay failures, purge, age), and a queue written through one
//! backend is read, claimed and emptied through another (as by another process).
#![cfg(feature = "redis")]

mod redis_server;

use ferrule_core::store::dead_letter::queue::{DeadLetterConfig, DeadLetterQueue};
use ferrule_core::store::dead_letter::redis_streams::RedisDeadLetterStore;
use ferrule_core::store::dead_letter::{Capacity, DeadLetterStore, NewDeadLetter, OnFull, Pushed};
use ferrule_core::store::redis_backend::{RedisBackend, RedisConfig};
use redis_server::RedisServer;
use std::sync::Arc;
use std::time::Duration;

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
        trace_id: i.is_multiple_of(2).then(|| format!("trace-{i}")),
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
    // A failure keeps the item with its new error.
    assert!(b.record_failure(ids[0], "still down", 3_000).unwrap());
    let d = a.get(ids[0]).unwrap().unwrap();
    assert_eq!(
        (d.errors.len(), d.replay_count, d.last_failed_unix_ms),
        (2, 1, 3_000)
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
    let Ok(url) = std::env::var(ROLE) else {
        return;
    };
    if std::env::var("FERRULE_REDIS_DLQ_HANG").is_ok() {
        // The replayer that dies mid-run: takes its first batch, announces the item it handles,
        // and hangs in the handler until it is killed.
        let q = queue(&url, "reclaim", Duration::from_millis(500));
        q.replay_with(
            None,
            None,
            |_| true,
            |d| {
                println!("HANDLING {}", d.id);
                std::thread::sleep(Duration::from_secs(600));
                Ok(())
            },
        )
        .unwrap();
        return;
    }
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

fn queue(url: &str, name: &str, lease: Duration) -> DeadLetterQueue {
    DeadLetterQueue::new(
        Arc::new(store(url, name)),
        DeadLetterConfig {
            mask: false,
            replay_lease: lease,
            ..DeadLetterConfig::default()
        },
    )
    .unwrap()
}

fn push_n(q: &DeadLetterQueue, n: u64) -> Vec<u64> {
    (0..n)
        .map(|i| {
            q.push("chat", &format!("{{\"n\":{i}}}"), vec![], 3, None, None)
                .unwrap()
                .unwrap()
        })
        .collect()
}

#[test]
fn replay_runs_are_consumers_of_one_group_and_a_lease_is_the_pending_entry() {
    let s = RedisServer::start();
    let lease = Duration::from_millis(300);
    let q = queue(&s.url(), "leases", lease);
    let ids = push_n(&q, 5);
    // Run A takes its batch (all five) and starts on the first.
    let mut a = q.replay_cursor(None, None);
    let first = q.replay_next(&mut a).unwrap().unwrap();
    assert_eq!(first.id, ids[0]);
    assert!(q.replay_claim(&mut a, first.id).unwrap());
    // Run B meanwhile finds them all held.
    let r = q
        .replay_with(None, None, |_| true, |_| panic!("held by run A"))
        .unwrap();
    assert_eq!((r.busy, r.succeeded), (5, 0));
    // The group holds them as A's pending entries, on the server.
    let mut c = redis::Client::open(s.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let pending: (u64, String, String, Vec<(String, String)>) = redis::cmd("XPENDING")
        .arg("dlq:dlq:{leases}")
        .arg("replay")
        .query(&mut c)
        .unwrap();
    assert_eq!(pending.0, 5);
    assert_eq!(pending.3.len(), 1, "one consumer holds them: {pending:?}");
    // A fails the first: it is given back at once, with its error; A skips the second (filter).
    q.replay_failed(&mut a, first.id, "still down").unwrap();
    let second = q.replay_next(&mut a).unwrap().unwrap();
    q.replay_skip(&mut a).unwrap();
    let r = q
        .replay_with(
            None,
            None,
            |_| true,
            |d| {
                assert!(
                    d.id == first.id || d.id == second.id,
                    "only given-back items"
                );
                Ok(())
            },
        )
        .unwrap();
    assert_eq!(
        (r.succeeded, r.busy),
        (2, 3),
        "the given-back two; A holds three"
    );
    // A's lease runs out while it dawdles: another run takes over the rest.
    std::thread::sleep(lease + Duration::from_millis(100));
    let r = q.replay_with(None, None, |_| true, |_| Ok(())).unwrap();
    assert_eq!((r.succeeded, r.busy), (3, 0));
    // A, late, finds its next item taken over: not handed to its handler.
    let third = q.replay_next(&mut a).unwrap().unwrap();
    assert!(!q.replay_claim(&mut a, third.id).unwrap());
    assert!(q.is_empty().unwrap());
    // Finished runs leave no consumers behind (only the given-back holder may stay).
    let consumers: Vec<Vec<redis::Value>> = redis::cmd("XINFO")
        .arg("CONSUMERS")
        .arg("dlq:dlq:{leases}")
        .arg("replay")
        .query(&mut c)
        .unwrap();
    assert!(consumers.len() <= 2, "{consumers:?}");
}

#[test]
fn a_replayer_killed_mid_run_has_its_entries_reclaimed_by_another() {
    use std::io::{BufRead, BufReader};
    let s = RedisServer::start();
    let lease = Duration::from_millis(500);
    let q = queue(&s.url(), "reclaim", lease);
    let ids = push_n(&q, 40);
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["child_entry", "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE, s.url())
        .env("FERRULE_REDIS_DLQ_HANG", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    // libtest's own "test child_entry ... " may share the line (--nocapture).
    while !line.contains("HANDLING ") {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the child ended early"
        );
    }
    let handling: u64 = line
        .split("HANDLING ")
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(handling, ids[0]);
    child.kill().unwrap(); // SIGKILL mid-handler: its claims stay in the group's pending list
    child.wait().unwrap();
    // At once: the dead replayer's batch is still leased; the rest is replayed here.
    let mut seen = vec![];
    let r = q
        .replay_with(
            None,
            None,
            |_| true,
            |d| {
                seen.push(d.id);
                Ok(())
            },
        )
        .unwrap();
    let held = r.busy;
    assert!((1..40).contains(&held), "busy {held}");
    assert_eq!(r.succeeded + held, 40);
    // After the lease: XAUTOCLAIM hands the dead consumer's entries to this run, the one it was
    // handling included; every item is replayed exactly once in all.
    std::thread::sleep(lease + Duration::from_millis(100));
    let r = q
        .replay_with(
            None,
            None,
            |_| true,
            |d| {
                seen.push(d.id);
                Ok(())
            },
        )
        .unwrap();
    assert_eq!((r.succeeded, r.busy), (held, 0));
    seen.sort();
    assert_eq!(seen, ids);
    assert!(q.is_empty().unwrap());
}
