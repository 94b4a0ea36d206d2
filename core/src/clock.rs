//! Monotonic time for every primitive. Primitives never call `Instant::now()` directly: they read a
//! `Clock`, so tests drive state machines on a `ManualClock` and never sleep for real.
//!
//! The production clock reads the CPU's counter (x86 TSC, ARM system counter) through `quanta`, as
//! the governor crate does: ~10 ns a read here against ~27 ns for `Instant::now()`, which would be
//! most of a rate-limit decision. It is used only where the kernel itself keeps time with that
//! counter (so it is invariant and synchronised across cores); anywhere else, `Instant`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// A monotonic clock in nanoseconds since an arbitrary origin fixed for the process.
pub trait Clock: Send + Sync + 'static {
    fn now_nanos(&self) -> u64;
}

/// The real monotonic clock, shared origin for the whole process. Reads start at 1 s, so that "0"
/// can never be confused with a real timestamp.
///
/// Source: the CPU counter scaled to nanoseconds (calibrated once against the OS monotonic clock at
/// the first read, about half a millisecond) when the kernel's clocksource is that counter;
/// otherwise, or with `FERRULE_CLOCK=os` in the environment, `Instant`. Both are monotonic on a
/// thread and share one origin and one scale across threads. The counter read is not serialising,
/// as in quanta: a read on another thread may precede one it follows by the CPU's reordering
/// window (nanoseconds), which no primitive can tell from two calls made at the same time. Its
/// rate is the counter's calibrated rate, within a few parts per million of the OS clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

enum Source {
    Counter { clock: quanta::Clock, origin: u64 },
    Os(Instant),
}

const START_NANOS: u64 = 1_000_000_000;

impl Source {
    fn detect() -> Source {
        let forced_os = std::env::var_os("FERRULE_CLOCK").is_some_and(|v| v == "os");
        if forced_os || !kernel_keeps_time_with_counter() {
            return Source::Os(Instant::now());
        }
        // quanta checks the counter itself (invariant TSC) and falls back to the OS clock if not.
        let clock = quanta::Clock::new();
        let origin = clock.raw();
        Source::Counter { clock, origin }
    }

    fn name(&self) -> &'static str {
        match self {
            Source::Counter { .. } => "cpu-counter",
            Source::Os(_) => "os",
        }
    }
}

/// Linux says which clocksource it keeps time with: the CPU counter is used only when it is the
/// kernel's own choice (a kernel that found the TSC unstable, or a VM without a stable one, picks
/// another). Where this cannot be read, quanta's own check decides.
fn kernel_keeps_time_with_counter() -> bool {
    const PATH: &str = "/sys/devices/system/clocksource/clocksource0/current_clocksource";
    match std::fs::read_to_string(PATH) {
        Ok(s) => {
            let s = s.trim();
            s == "tsc" || s == "arch_sys_counter"
        }
        Err(_) => true,
    }
}

#[inline]
fn source() -> &'static Source {
    static SOURCE: OnceLock<Source> = OnceLock::new();
    SOURCE.get_or_init(Source::detect)
}

impl SystemClock {
    /// Which source this process reads: `"cpu-counter"` or `"os"`.
    pub fn source_name() -> &'static str {
        source().name()
    }
}

impl Clock for SystemClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        match source() {
            Source::Counter { clock, origin } => {
                clock.delta_as_nanos(*origin, clock.raw()) + START_NANOS
            }
            Source::Os(origin) => origin.elapsed().as_nanos() as u64 + START_NANOS,
        }
    }
}

/// A clock that only moves when told to. Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    pub fn new() -> Self {
        Self {
            nanos: Arc::new(AtomicU64::new(1_000_000_000)),
        }
    }
    /// Moves the clock forward; saturates at `u64::MAX` nanoseconds instead of wrapping.
    pub fn advance(&self, d: Duration) {
        let n = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
                Some(v.saturating_add(n))
            });
    }
    /// Moves the clock forward by `s` seconds; a negative, NaN or huge `s` saturates (tests
    /// wanting an error call `check::seconds` first, as the bindings do).
    pub fn advance_secs(&self, s: f64) {
        let s = if s.is_nan() { 0.0 } else { s.max(0.0) };
        self.advance(Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX));
    }
    pub fn set_nanos(&self, n: u64) {
        self.nanos.store(n, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        self.nanos.load(Ordering::SeqCst)
    }
}

/// The clock a primitive holds. An enum rather than `Arc<dyn Clock>` so the common case (the system
/// clock) is a direct, inlinable call on the hot path.
#[derive(Clone, Default)]
pub enum ClockRef {
    #[default]
    System,
    Manual(ManualClock),
    Custom(Arc<dyn Clock>),
}

impl std::fmt::Debug for ClockRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClockRef::System => f.write_str("SystemClock"),
            ClockRef::Manual(_) => f.write_str("ManualClock"),
            ClockRef::Custom(_) => f.write_str("CustomClock"),
        }
    }
}

impl ClockRef {
    #[inline]
    pub fn now_nanos(&self) -> u64 {
        match self {
            ClockRef::System => SystemClock.now_nanos(),
            ClockRef::Manual(m) => m.now_nanos(),
            ClockRef::Custom(c) => c.now_nanos(),
        }
    }
}

impl ClockRef {
    /// Whether two clocks read the same time (so deadlines on them compare).
    pub fn same_as(&self, other: &ClockRef) -> bool {
        match (self, other) {
            (ClockRef::System, ClockRef::System) => true,
            (ClockRef::Manual(a), ClockRef::Manual(b)) => Arc::ptr_eq(&a.nanos, &b.nanos),
            (ClockRef::Custom(a), ClockRef::Custom(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl From<ManualClock> for ClockRef {
    fn from(m: ManualClock) -> Self {
        ClockRef::Manual(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_is_monotonic_and_nonzero() {
        let a = SystemClock.now_nanos();
        let b = SystemClock.now_nanos();
        assert!(a >= 1_000_000_000);
        assert!(b >= a);
    }

    #[test]
    fn system_clock_keeps_pace_with_instant() {
        // The counter is scaled by a calibration: over a short real interval it must agree with the
        // OS clock to well within a millisecond (a few ppm of drift would be microseconds here).
        let (s0, i0) = (SystemClock.now_nanos(), Instant::now());
        std::thread::sleep(Duration::from_millis(60));
        let (s1, i1) = (SystemClock.now_nanos(), Instant::now());
        let ours = (s1 - s0) as f64;
        let os = (i1 - i0).as_nanos() as f64;
        assert!(os >= 60e6);
        // Both pairs are read back to back; a preemption between the two reads of a pair is the
        // only slack allowed for (a loaded test machine).
        assert!(
            (ours - os).abs() < 2e6,
            "{} clock moved {ours} ns while Instant moved {os} ns",
            SystemClock::source_name()
        );
    }

    #[test]
    fn system_clock_is_one_timeline_across_threads() {
        // Each thread publishes its readings; a reading taken after seeing another thread's must not
        // be earlier than it by more than the counter's unserialised-read window, and every thread's
        // own readings never go back.
        use std::sync::atomic::AtomicU64;
        let last = Arc::new(AtomicU64::new(0));
        let worst = Arc::new(AtomicU64::new(0));
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let (last, worst) = (last.clone(), worst.clone());
                std::thread::spawn(move || {
                    let mut mine = 0;
                    for _ in 0..200_000 {
                        let seen = last.load(Ordering::Acquire);
                        let t = SystemClock.now_nanos();
                        assert!(t >= mine, "went back on one thread: {t} < {mine}");
                        mine = t;
                        worst.fetch_max(seen.saturating_sub(t), Ordering::Relaxed);
                        last.fetch_max(t, Ordering::AcqRel);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let worst = worst.load(Ordering::Relaxed);
        assert!(
            worst < 10_000,
            "a thread read {worst} ns before a reading it had seen"
        );
    }

    #[test]
    fn manual_clock_moves_only_when_told_and_clones_share_time() {
        let c = ManualClock::new();
        let d = c.clone();
        let t0 = c.now_nanos();
        assert_eq!(c.now_nanos(), t0);
        d.advance(Duration::from_millis(1500));
        assert_eq!(c.now_nanos(), t0 + 1_500_000_000);
    }
}
