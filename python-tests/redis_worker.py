"""A separate process for the Redis tests: ``python redis_worker.py MODE URL ARGS...``. Prints one
JSON line with what it saw."""

from __future__ import annotations

import json
import sys
import time

import ferrule


def limit(url: str, name: str, start_at: float, seconds: float, algorithm: str = "token_bucket") -> None:
    """Hammers a shared 100/s limit (a GCRA bucket, or a sliding window) from ``start_at`` (wall clock)
    for ``seconds``; reports the wall time of its first admission and of its last try (the server's
    clock is the same machine's)."""
    backend = ferrule.RedisBackend(url, prefix="mp", on_backend_error="fail_closed", timeout_seconds=1.0)
    if algorithm == "sliding_window":
        lim = ferrule.RateLimiter.sliding_window(100, 1.0, name=name, backend=backend)
    else:
        lim = ferrule.RateLimiter.token_bucket(100, 1.0, 100, name=name, backend=backend)
    while time.time() < start_at:
        time.sleep(0.001)
    end = start_at + seconds
    admitted = tries = 0
    first = last = None  # (wall time before the call, after it): the server's time lies between
    while True:
        before = time.time()
        if before >= end:
            break
        tries += 1
        ok = lim.try_acquire()
        after = time.time()
        if ok:
            admitted += 1
            if first is None:
                first = (before, after)
        last = (before, after)
    print(json.dumps({"admitted": admitted, "tries": tries, "first": first, "last": last,
                      "errors": backend.stats()["errors"]}), flush=True)


def breaker(url: str, name: str, sync_seconds: float, wait_seconds: float) -> None:
    """Waits until the shared breaker rejects here; reports when (time.monotonic, shared by processes)."""
    backend = ferrule.RedisBackend(url, prefix="mp")
    br = ferrule.CircuitBreaker(name, backend=backend, sync_seconds=sync_seconds, open_seconds=30)
    print(json.dumps({"ready": True}), flush=True)
    end = time.monotonic() + wait_seconds
    while time.monotonic() < end:
        try:
            br.call(lambda: None)
        except ferrule.CircuitOpenError:
            print(json.dumps({"rejected_at": time.monotonic()}), flush=True)
            return
        time.sleep(0.002)
    print(json.dumps({"rejected_at": None}), flush=True)


def dlq_write(url: str, name: str, count: int) -> None:
    """Stores ``count`` dead letters on the shared Redis Streams queue; reports the acknowledged ids."""
    backend = ferrule.RedisBackend(url, prefix="mp")
    dlq = ferrule.DeadLetterQueue(backend=backend, name=name, mask=False)
    ids = [dlq.push({"prompt": f"p{i}"}, [f"RateLimitError: 429 ({i})"], key="ask", attempts=3)
           for i in range(count)]
    print(json.dumps({"ids": ids}), flush=True)


def trip(url: str, name: str, sync_seconds: float) -> None:
    """Opens the shared breaker here (one failure trips it) and waits until the open is published."""
    backend = ferrule.RedisBackend(url, prefix="mp")
    br = ferrule.CircuitBreaker(name, backend=backend, sync_seconds=sync_seconds, consecutive_failures=1,
                                open_seconds=30)

    def boom() -> None:
        raise RuntimeError("provider down")

    try:
        br.call(boom)
    except RuntimeError:
        pass
    deadline = time.monotonic() + 5
    while (br.sync_stats() or {}).get("published_opens", 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.005)
    print(json.dumps({"state": br.state, "published": (br.sync_stats() or {}).get("published_opens")}),
          flush=True)


if __name__ == "__main__":
    mode, url, *rest = sys.argv[1:]
    if mode == "limit":
        limit(url, rest[0], float(rest[1]), float(rest[2]), *rest[3:])
    elif mode == "breaker":
        breaker(url, rest[0], float(rest[1]), float(rest[2]))
    elif mode == "trip":
        trip(url, rest[0], float(rest[1]))
    elif mode == "dlq_write":
        dlq_write(url, rest[0], int(rest[1]))
    else:
        raise SystemExit(f"unknown mode {mode}")
