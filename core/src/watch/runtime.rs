//! The background runtime for alerting timers: one lazily started thread that ticks every
//! registered router, dead man's switch and probe schedule every 100 ms with the system clock.
//! Everything it calls is a plain `tick`, so tests drive the same code on a manual clock instead.
//! Restarts itself in a forked child (the child inherits the task list but not the thread).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Weak};
use std::time::Duration;

/// Something the runtime ticks. Held weakly: a dropped router or switch simply stops ticking.
pub trait Tick: Send + Sync {
    fn tick(&self);
}

const PERIOD: Duration = Duration::from_millis(100);

// The task list is read by the runtime thread once per period and written on registration; a lock
// is fine off every call's path.
static TASKS: Mutex<Vec<Weak<dyn Tick>>> = Mutex::new(Vec::new());
/// Fork generation + 1 of the running thread; 0 = not started.
static STARTED: AtomicU64 = AtomicU64::new(0);
static TICKS: AtomicU64 = AtomicU64::new(0);
static PANICS: AtomicU64 = AtomicU64::new(0);

/// Registers a task and makes sure the thread runs (in this process).
pub fn register(task: Weak<dyn Tick>) {
    {
        let mut t = TASKS.lock().unwrap_or_else(|p| p.into_inner());
        t.retain(|w| w.strong_count() > 0);
        t.push(task);
    }
    ensure_started();
}

fn ensure_started() {
    let gen = crate::fork_guard::generation() + 1;
    let cur = STARTED.load(Ordering::Acquire);
    if cur == gen
        || STARTED
            .compare_exchange(cur, gen, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
    {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("ferrule-alerts".into())
        .spawn(move || run(gen));
    if let Err(e) = spawned {
        STARTED.store(0, Ordering::Release);
        log::warn!(target: "ferrule.alert", "cannot start the alerting runtime thread: {e}; alert timers will not fire");
    }
}

fn run(gen: u64) {
    loop {
        std::thread::sleep(PERIOD);
        if STARTED.load(Ordering::Acquire) != gen {
            return; // a newer generation (after fork) owns the ticking
        }
        let tasks: Vec<Weak<dyn Tick>> = TASKS.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for t in tasks {
            if let Some(t) = t.upgrade() {
                if let Err(msg) = crate::catch_panic(|| t.tick()) {
                    PANICS.fetch_add(1, Ordering::Relaxed);
                    log::warn!(target: "ferrule.alert", "an alerting timer task panicked: {msg}");
                }
            }
        }
        TICKS.fetch_add(1, Ordering::Relaxed);
    }
}

/// (ticks run, tasks alive, task panics), for tests and diagnostics.
pub fn stats() -> (u64, usize, u64) {
    let alive = TASKS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter(|w| w.strong_count() > 0)
        .count();
    (
        TICKS.load(Ordering::Relaxed),
        alive,
        PANICS.load(Ordering::Relaxed),
    )
}

/// Makes sure the runtime thread runs in this process (after a fork, hosts call it on first use).
pub fn ensure_running() {
    if STARTED.load(Ordering::Acquire) != 0 {
        ensure_started();
    }
}
