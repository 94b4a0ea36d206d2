"""Rate-limit decision cost: ferrule's try_acquire vs limits (fixed window, moving window, sliding
window counter) and pyrate-limiter, each on its admit path (limits high enough that every call passes),
measured side by side in one process."""

from __future__ import annotations

import limits
import pyrate_limiter
from limits import RateLimitItemPerHour
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter, SlidingWindowCounterRateLimiter

import ferrule
from timing import ns_per_call, table

HUGE = 10**9
# Peers that keep a log per hit (limits' moving window, pyrate-limiter's in-memory bucket) get fewer
# calls per run so their log stays small and the row is their best case.
N_LOG = 20_000


def main() -> None:
    tb = ferrule.RateLimiter.token_bucket(rate=1e9, per_seconds=1.0, burst=1_000_000)
    sw = ferrule.RateLimiter.sliding_window(limit=100_000_000, window_seconds=0.001)
    sl = ferrule.RateLimiter.sliding_log(limit=1_000_000, window_seconds=0.000_001)
    f_tb, f_sw, f_sl = tb.try_acquire, sw.try_acquire, sl.try_acquire

    item = RateLimitItemPerHour(HUGE)
    fixed = FixedWindowRateLimiter(MemoryStorage()).hit
    moving = MovingWindowRateLimiter(MemoryStorage()).hit
    counter = SlidingWindowCounterRateLimiter(MemoryStorage()).hit
    pyrate = pyrate_limiter.Limiter(pyrate_limiter.Rate(HUGE, pyrate_limiter.Duration.HOUR))

    rows = [
        ("ferrule token_bucket try_acquire()", ns_per_call(lambda: f_tb())),
        ("ferrule token_bucket try_acquire(1, key)", ns_per_call(lambda: f_tb(1, "tenant-42"))),
        ("ferrule sliding_window try_acquire()", ns_per_call(lambda: f_sw())),
        ("ferrule sliding_log try_acquire()", ns_per_call(lambda: f_sl())),
        (f"limits {limits.__version__} fixed window hit", ns_per_call(lambda: fixed(item, "k"))),
        (f"limits {limits.__version__} sliding counter hit", ns_per_call(lambda: counter(item, "k"))),
        (f"limits {limits.__version__} moving window hit", ns_per_call(lambda: moving(item, "k"), n=N_LOG)),
        ("pyrate-limiter 4.5 try_acquire", ns_per_call(lambda: pyrate.try_acquire("k", blocking=False), n=N_LOG)),
    ]
    lam = ns_per_call(lambda: None)
    rows = [(n, ns - lam) for n, ns in rows]
    table("rate limit decision, admit path (lambda overhead subtracted)", rows,
          against="ferrule token_bucket try_acquire()", target=("ferrule token_bucket try_acquire()", 250))

    # The refuse path: a full bucket answers no as fast as yes.
    full = ferrule.RateLimiter.token_bucket(rate=1, per_seconds=3600, burst=1)
    full.try_acquire()
    f_full = full.try_acquire
    refuse = [("ferrule token_bucket try_acquire() refused", ns_per_call(lambda: f_full()) - lam)]
    table("rate limit decision, refuse path", refuse, against="ferrule token_bucket try_acquire() refused")
    assert tb.stats()["rejected"] == 0 and full.stats()["rejected"] > 0


if __name__ == "__main__":
    main()
