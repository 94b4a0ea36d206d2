//! The deadlines of the sync attempts running on this thread, innermost last. A sync attempt cannot
//! be interleaved with another on its thread, so a per-thread stack is exact for it (async attempts
//! interleave on one thread and keep their deadlines in the host's task-local storage instead).
//! Code inside a call asks `remaining()` for its budget, to hand to an SDK's own `timeout=`.

use crate::clock::ClockRef;
use std::cell::RefCell;
use std::time::Duration;

struct Frame {
    start: u64,
    deadline: u64,
    clock: ClockRef,
}

thread_local! {
    // Bounded by the nesting depth of policies on this thread; a lock-free per-thread cell.
    static FRAMES: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
}

/// Enters an attempt of a call that started at `start`, due by `deadline` (both on `clock`, in
/// nanoseconds). A deadline later than the enclosing attempt's on the same clock is cut to it.
/// Returns the deadline in force.
pub fn enter(clock: &ClockRef, start: u64, deadline: u64) -> u64 {
    FRAMES.with(|f| {
        let mut f = f.borrow_mut();
        let deadline = match f.last() {
            Some(outer) if outer.clock.same_as(clock) => deadline.min(outer.deadline),
            _ => deadline,
        };
        f.push(Frame {
            start,
            deadline,
            clock: clock.clone(),
        });
        deadline
    })
}

/// Leaves the innermost attempt; returns its call's start, or `None` if none was entered.
pub fn leave() -> Option<u64> {
    FRAMES.with(|f| f.borrow_mut().pop().map(|fr| fr.start))
}

/// Time left before the innermost attempt's deadline (zero when past), or `None` outside any.
pub fn remaining() -> Option<Duration> {
    FRAMES.with(|f| {
        f.borrow()
            .last()
            .map(|fr| Duration::from_nanos(fr.deadline.saturating_sub(fr.clock.now_nanos())))
    })
}

/// How many attempts are entered on this thread.
pub fn depth() -> usize {
    FRAMES.with(|f| f.borrow().len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn nested_deadlines_tighten_on_one_clock_and_unwind() {
        let m = ManualClock::new();
        let c = ClockRef::Manual(m.clone());
        let now = c.now_nanos();
        assert_eq!(remaining(), None);
        assert_eq!(enter(&c, now, now + 5_000_000_000), now + 5_000_000_000);
        assert_eq!(enter(&c, now, now + 9_000_000_000), now + 5_000_000_000);
        m.advance_secs(1.0);
        assert_eq!(remaining(), Some(Duration::from_secs(4)));
        // Another clock's deadline is not comparable: kept as given.
        let other = ClockRef::Manual(ManualClock::new());
        let o = other.now_nanos();
        assert_eq!(enter(&other, o, o + 9_000_000_000), o + 9_000_000_000);
        assert_eq!(leave(), Some(o));
        assert_eq!(leave(), Some(now));
        assert_eq!(leave(), Some(now));
        assert_eq!(leave(), None);
        assert_eq!(depth(), 0);
        m.advance_secs(10.0);
        enter(&c, now, now + 1);
        assert_eq!(remaining(), Some(Duration::ZERO));
        leave();
    }
}
