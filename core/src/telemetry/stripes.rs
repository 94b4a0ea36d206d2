//! Which stripe of a striped metric cell the current thread writes to. Stripes are sized to the
//! machine (a power of two up to 16), so a series costs a few cache lines, not sixteen, on a small box.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

const MAX_STRIPES: usize = 16;

/// The number of stripes every metric cell in this process has.
pub fn count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(4, |n| n.get())
            .next_power_of_two()
            .clamp(1, MAX_STRIPES)
    })
}

/// This thread's stripe, fixed on first use (threads are handed stripes round-robin).
#[inline]
pub fn index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE
        .try_with(|s| {
            let v = s.get();
            if v != usize::MAX {
                return v;
            }
            let v = NEXT.fetch_add(1, Ordering::Relaxed) & (count() - 1);
            s.set(v);
            v
        })
        // During thread teardown the thread-local is gone; stripe 0 is still correct, only shared.
        .unwrap_or(0)
}
