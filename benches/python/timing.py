"""Side-by-side timing for `make bench`: best-of-N ns/call for each contender, printed as one table
with ratios against a named row, all in the same process run."""

from __future__ import annotations

import asyncio
import functools
import gc
import os
import time
from typing import Awaitable, Callable, List, Optional, Tuple

QUICK = os.environ.get("FERRULE_BENCH_QUICK") == "1"


def ns_per_call(fn: Callable[[], object], n: int = 200_000, repeats: int = 7) -> float:
    """Best of `repeats` runs of `n` calls: the least disturbed run is the honest floor."""
    if QUICK:
        n, repeats = max(n // 20, 1000), 3
    for _ in range(min(n, 10_000)):
        fn()
    best = float("inf")
    gc.disable()
    try:
        for _ in range(repeats):
            t0 = time.perf_counter_ns()
            for _ in range(n):
                fn()
            best = min(best, (time.perf_counter_ns() - t0) / n)
    finally:
        gc.enable()
    return best


def ns_per_await(make: Callable[[], Awaitable[object]], n: int = 100_000, repeats: int = 5) -> float:
    """Like `ns_per_call` for a coroutine function, awaited in a loop inside one running event loop."""
    if QUICK:
        n, repeats = max(n // 20, 1000), 3

    async def run() -> float:
        for _ in range(min(n, 5000)):
            await make()
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter_ns()
            for _ in range(n):
                await make()
            best = min(best, (time.perf_counter_ns() - t0) / n)
        return best

    gc.disable()
    try:
        return asyncio.run(run())
    finally:
        gc.enable()


def table(title: str, rows: List[Tuple[str, float]], against: str, target: Optional[Tuple[str, float]] = None) -> None:
    """Prints ns/call and each row's ratio to the `against` row (how many times slower than it)."""
    base = dict(rows)[against]
    print(f"\n## {title}")
    print(f"{'contender':44} {'ns/call':>10} {'x ' + against:>22}")
    for name, ns in rows:
        print(f"{name:44} {ns:10.1f} {ns / base:22.2f}")
    if target:
        name, limit = target
        got = dict(rows)[name]
        verdict = "MET" if got <= limit else "MISSED"
        print(f"target: {name} <= {limit:.0f} ns/call -> {got:.1f} ns/call {verdict}")


def bare(fn: Callable[..., object]) -> Callable[..., object]:
    """The floor: a pass-through decorator, what any decorator costs."""

    @functools.wraps(fn)
    def wrapper(*args: object, **kwargs: object) -> object:
        return fn(*args, **kwargs)

    return wrapper


def bare_async(fn: Callable[..., Awaitable[object]]) -> Callable[..., Awaitable[object]]:
    """The async floor."""

    @functools.wraps(fn)
    async def wrapper(*args: object, **kwargs: object) -> object:
        return await fn(*args, **kwargs)

    return wrapper
