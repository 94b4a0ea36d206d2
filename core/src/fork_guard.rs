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
