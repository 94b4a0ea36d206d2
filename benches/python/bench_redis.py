"""Rate-limit decision latency against a real Redis: ferrule's limiters with
``backend=RedisBackend`` (one Lua script, one round trip) vs limits with its Redis storage, side by side
in one process against one throwaway ``redis-server`` on loopback. Rows are wall time per decision
and process CPU time per decision (the client's own cost, less disturbed by other load)."""

from __future__ import annotations

import os
import sys
import time
from typing import Callable, List, Tuple

import limits
from limits import RateLimitItemPerHour
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter, SlidingWindowCounterRateLimiter

import ferrule
from timing import table

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python-tests"))
from redis_server import RedisServer  # noqa: E402

HUGE = 10**9
BIG_WINDOW = 100_000_000  # the sliding window's largest limit is 2^27 - 1
N = 5_000


def per_call(fn: Callable[[], object], n: int = N, repeats: int = 3) -> Tuple[float, float]:
    """Best of `repeats` runs: (wall ns/call, process CPU ns/call)."""
    best_wall = best_cpu = float("inf")
    for _ in range(repeats):
        w0, c0 = time.perf_counter_ns(), time.process_time_ns()
        for _ in range(n):
            fn()
        best_wall = min(best_wall, (time.perf_counter_ns() - w0) / n)
        best_cpu = min(best_cpu, (time.process_time_ns() - c0) / n)
    return best_wall, best_cpu


def main() -> None:
    server = RedisServer()
    try:
        backend = ferrule.RedisBackend(server.url, prefix="bench", timeout_seconds=1.0,
                                       on_backend_error="fail_closed")
        tb = ferrule.RateLimiter.token_bucket(1e6, 1.0, 1_000_000, name="tb", backend=backend)
        sw = ferrule.RateLimiter.sliding_window(BIG_WINDOW, 3600, name="sw", backend=backend)
        multi = ferrule.Limits(requests=ferrule.RateLimiter.sliding_window(BIG_WINDOW, 60, name="rpm", backend=backend),
                               tokens=ferrule.RateLimiter.token_bucket(1e9, 60, HUGE, name="tpm", backend=backend))
        f_tb, f_sw = tb.try_acquire, sw.try_acquire

        storage = RedisStorage(server.url)
        item = RateLimitItemPerHour(HUGE)
        fixed = FixedWindowRateLimiter(storage).hit
        counter = SlidingWindowCounterRateLimiter(storage).hit
        moving = MovingWindowRateLimiter(storage).hit
        # Scripts loaded and connections made before timing.
        for f in (f_tb, f_sw, lambda: multi.try_acquire(requests=1, tokens=10), lambda: fixed(item, "fixed"),
                  lambda: counter(item, "counter"), lambda: moving(item, "moving")):
            for _ in range(200):
                f()

        v = limits.__version__
        measured: List[Tuple[str, Tuple[float, float]]] = [
            ("ferrule token_bucket (GCRA script)", per_call(lambda: f_tb())),
            ("ferrule sliding_window (script)", per_call(lambda: f_sw())),
            ("ferrule Limits(requests, tokens), one script", per_call(lambda: multi.try_acquire(requests=1, tokens=10))),
            (f"limits {v} RedisStorage fixed window", per_call(lambda: fixed(item, "fixed"))),
            (f"limits {v} RedisStorage sliding counter", per_call(lambda: counter(item, "counter"))),
            (f"limits {v} RedisStorage moving window", per_call(lambda: moving(item, "moving"), n=2_000)),
        ]
        assert tb.stats()["rejected"] == 0 and backend.stats()["errors"] == 0
        load = os.getloadavg()[0]
        table(f"rate limit decision against Redis, wall time (load {load:.1f})",
              [(n, w) for n, (w, _) in measured], against="ferrule token_bucket (GCRA script)")
        table("rate limit decision against Redis, client process CPU time",
              [(n, c) for n, (_, c) in measured], against="ferrule token_bucket (GCRA script)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
