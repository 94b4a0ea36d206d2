//! Fork detection for background threads. A forked child (gunicorn, multiprocessing) inherits the
//! parent's memory but none of its threads, so every lazily started worker compares the fork
//! generation it was started in with the current one and restarts itself in the child.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

static GENERATION: AtomicU64 = AtomicU64::new(0);

extern "C" fn child_after_fork() {
    // Async-signal-safe: one atomic add, nothing else, in the child right after fork().
    GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// The number of forks this process descends from since the guard was installed; a worker started
/// in generation `g` is gone when this returns anything else.
#[inline]
pub fn generation() -> u64 {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        #[cfg(unix)]
        // SAFETY: registers a handler that only touches an atomic; no prepare/parent handlers.
        unsafe {
            libc::pthread_atfork(None, None, Some(child_after_fork));
        }
    });
    GENERATION.load(Ordering::Acquire)
}

// ---- quiescing stores across fork ---------------------------------------------------------------
//
// A child gets a copy of every lock as it was at fork time, but only the forking thread. A lock
// (or SQLite's own internal mutexes) held by another parent thread at that instant stays held in
// the child forever, and the child's first store call hangs. So every store operation that takes a
// lock or enters SQLite runs inside `quiesce()`, a shared hold on one process-wide gate, and a
// `pthread_atfork` prepare handler takes the gate exclusively: fork waits until no thread is
// inside a store, and the child starts with every store lock free. The gate is writer-preferring
// (std's `RwLock`), so a steady stream of store calls cannot starve a fork.

use std::cell::{Cell, RefCell};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

static GATE: RwLock<()> = RwLock::new(());

thread_local! {
    // Nested `quiesce()` on one thread must not take the gate twice: with a fork waiting, the
    // second shared hold would wait behind it while the first blocks it.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    static FORK_HOLD: RefCell<Option<RwLockWriteGuard<'static, ()>>> = const { RefCell::new(None) };
}

/// A shared hold on the fork gate; a fork waits until every hold is dropped.
pub struct Quiesce {
    _read: Option<RwLockReadGuard<'static, ()>>,
}

impl Drop for Quiesce {
    fn drop(&mut self) {
        let _ = DEPTH.try_with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Holds off `fork()` while the returned guard lives. Cheap when uncontended (one atomic on the
/// gate); re-entrant on one thread.
pub fn quiesce() -> Quiesce {
    install_fork_gate();
    let depth = DEPTH.try_with(|d| {
        let v = d.get();
        d.set(v + 1);
        v
    });
    let read = match depth {
        Ok(0) => Some(GATE.read().unwrap_or_else(|p| p.into_inner())),
        Ok(_) => None,
        // A thread being torn down: take the gate plainly (nothing can nest there).
        Err(_) => Some(GATE.read().unwrap_or_else(|p| p.into_inner())),
    };
    Quiesce { _read: read }
}

extern "C" fn prepare_fork() {
    // The forking thread may itself be inside a store call (a fork from a callback): waiting for
    // the gate would then wait for itself, so it forks without it.
    if DEPTH.try_with(|d| d.get()).unwrap_or(0) > 0 {
        return;
    }
    let w = GATE.write().unwrap_or_else(|p| p.into_inner());
    let _ = FORK_HOLD.try_with(|h| *h.borrow_mut() = Some(w));
}

extern "C" fn release_after_fork() {
    // In the parent and in the child alike, the forking thread releases what prepare took.
    let _ = FORK_HOLD.try_with(|h| h.borrow_mut().take());
}

fn install_fork_gate() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        #[cfg(unix)]
        // SAFETY: the handlers only take and release a Rust lock owned by this module on the
        // thread that calls fork().
        unsafe {
            libc::pthread_atfork(
                Some(prepare_fork),
                Some(release_after_fork),
                Some(release_after_fork),
            );
        }
    });
}
