//! The SQLite dead-letter store across real processes: a child enqueuing in a loop is killed with
//! SIGKILL at random moments 20 times and every item it acknowledged must be present and readable;
//! several processes write one file and the counts are exact (also against a shared capacity).
//!
//! The child is this same test binary, re-run with an environment variable that selects its role.

mod scratch;

use ferrule_core::random::Random;
use ferrule_core::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

const ROLE: &str = "FERRULE_DLQ_CHILD";
const PATH: &str = "FERRULE_DLQ_PATH";

fn temp_db(name: &str) -> scratch::ScratchDb {
    scratch::ScratchDb::new("dlqp", name, "dlq.sqlite")
}

fn child(role: &str, path: &std::path::Path, extra: &[(&str, String)]) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["child_entry", "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env(PATH, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in extra {
        c.env(k, v);
    }
    c
}

/// The child side. Without the role variable this is an ordinary (empty) test.
#[test]
fn child_entry() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let path = std::env::var(PATH).unwrap();
    let store = SqliteDeadLetterStore::open(&path).unwrap();
    let out = std::io::stdout();
    match role.as_str() {
        "crash" => {
            // Enqueue forever; print each id only after push returned Stored (acknowledged).
            let round = std::env::var("ROUND").unwrap();
            let cap = DeadLetterCapacity {
                max_items: u64::MAX >> 2,
                on_full: OnFull::Reject,
            };
            for n in 0.. {
                let item = NewDeadLetter {
                    key: format!("round-{round}"),
                    payload: format!("{{\"round\":{round},\"n\":{n}}}"),
                    errors: vec![format!("error {n}")],
                    attempts: 3,
                    first_failed_unix_ms: n,
                    last_failed_unix_ms: n,
                    trace_id: Some(format!("{round:0>16}{n:0>16}")),
                };
                if let Pushed::Stored { id, .. } = store.push(&item, cap).unwrap() {
                    let mut o = out.lock();
                    writeln!(o, "ACK {id} {round} {n}").unwrap();
                    o.flush().unwrap();
                }
            }
        }
        "writer" => {
            let me = std::env::var("WRITER").unwrap();
            let items: u64 = std::env::var("ITEMS").unwrap().parse().unwrap();
            let max: u64 = std::env::var("MAX").unwrap().parse().unwrap();
            let cap = DeadLetterCapacity {
                max_items: max,
                on_full: OnFull::Reject,
            };
            let mut stored = 0;
            for n in 0..items {
                let item = NewDeadLetter {
                    key: format!("writer-{me}"),
                    payload: n.to_string(),
                    ..NewDeadLetter::default()
                };
                if let Pushed::Stored { .. } = store.push(&item, cap).unwrap() {
                    stored += 1;
                }
            }
            writeln!(out.lock(), "STORED {stored}").unwrap();
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn every_acknowledged_item_survives_sigkill_at_random_moments() {
    let path = temp_db("crash");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("crash test seed {seed}");
    let rng = Random::seeded(seed);
    let mut acked: Vec<(u64, u64, u64)> = vec![];
    for round in 0..20u64 {
        let mut c = child("crash", &path, &[("ROUND", round.to_string())])
            .spawn()
            .unwrap();
        let stdout = c.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // libtest prints "test child_entry ... " before the child's first line
                if let Some(rest) = line.split("ACK ").nth(1) {
                    let v: Vec<u64> = rest.split(' ').map(|x| x.parse().unwrap()).collect();
                    let _ = tx.send((v[0], v[1], v[2]));
                }
            }
        });
        // Wait for the first acknowledgement, then kill at a random moment in the next 0-250 ms.
        let first = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("child acknowledged");
        std::thread::sleep(Duration::from_micros(rng.next_u64() % 250_000));
        c.kill().unwrap(); // SIGKILL on Unix
        c.wait().unwrap();
        reader.join().unwrap();
        acked.push(first);
        acked.extend(rx.try_iter());
    }
    assert!(acked.len() >= 20);
    let store = SqliteDeadLetterStore::open(path.path()).unwrap();
    for &(id, round, n) in &acked {
        let d = store
            .get(id)
            .unwrap()
            .unwrap_or_else(|| panic!("acknowledged id {id} (round {round}, n {n}) is missing"));
        assert_eq!(d.payload, format!("{{\"round\":{round},\"n\":{n}}}"));
        assert_eq!(d.key, format!("round-{round}"));
        assert_eq!(d.errors, [format!("error {n}")]);
        assert_eq!(d.first_failed_unix_ms, n);
    }
    // Every stored row reads back whole, including any the child stored but was killed before
    // acknowledging.
    let all = store.list(usize::MAX >> 1, None, None).unwrap();
    assert!(all.len() >= acked.len());
    eprintln!(
        "{} acknowledged, {} stored over 20 kills",
        acked.len(),
        all.len()
    );
}

fn run_writers(path: &std::path::Path, writers: u64, items: u64, max: u64) -> u64 {
    let kids: Vec<_> = (0..writers)
        .map(|w| {
            child(
                "writer",
                path,
                &[
                    ("WRITER", w.to_string()),
                    ("ITEMS", items.to_string()),
                    ("MAX", max.to_string()),
                ],
            )
            .spawn()
            .unwrap()
        })
        .collect();
    kids.into_iter()
        .map(|k| {
            let out = k.wait_with_output().unwrap();
            assert!(out.status.success());
            let text = String::from_utf8(out.stdout).unwrap();
            text.lines()
                .find_map(|l| l.split("STORED ").nth(1))
                .expect("writer reported")
                .parse::<u64>()
                .unwrap()
        })
        .sum()
}

#[test]
fn four_processes_write_one_file_and_the_count_is_exact() {
    let path = temp_db("writers");
    let stored = run_writers(&path, 4, 150, u64::MAX >> 2);
    assert_eq!(stored, 600);
    let store = SqliteDeadLetterStore::open(path.path()).unwrap();
    assert_eq!(store.len().unwrap(), 600);
    let all = store.list(1_000, None, None).unwrap();
    for w in 0..4 {
        let mut mine: Vec<u64> = all
            .iter()
            .filter(|d| d.key == format!("writer-{w}"))
            .map(|d| d.payload.parse().unwrap())
            .collect();
        mine.sort();
        assert_eq!(mine, (0..150).collect::<Vec<_>>(), "writer {w}");
    }
}

#[test]
fn a_shared_capacity_holds_exactly_across_processes() {
    let path = temp_db("capacity");
    let stored = run_writers(&path, 4, 100, 250);
    assert_eq!(stored, 250);
    assert_eq!(
        SqliteDeadLetterStore::open(path.path())
            .unwrap()
            .len()
            .unwrap(),
        250
    );
}
