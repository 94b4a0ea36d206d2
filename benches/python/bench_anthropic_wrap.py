"""What ``ferrule.wrap_anthropic`` adds to a real Anthropic SDK ``messages.create`` on the local mock
server, against the bare client and the bare client under tenacity and stamina retries, sync and
async, in one process run. A healthy call's first attempt runs inline (one admission into the core
before it, one outcome after, the SDK's own ``Timeout`` object); the last row forces the policy's
traced loop with a float timeout, the path every Anthropic call took before, to show what the
inline path saves. Contenders are timed in interleaved rounds (best round each)."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any, Awaitable, Callable, List, Tuple

import anthropic
import stamina
import tenacity

import ferrule
from ferrule import policy as policy_module
from ferrule.integrations import anthropic as anthropic_integration
from ferrule.testing import MockLLMServer
from timing import QUICK, table

MSG = [{"role": "user", "content": "hi"}]
MODEL = "claude-sonnet-4-5"
N, ROUNDS = (50, 3) if QUICK else (150, 5)


def interleaved(contenders: List[Tuple[str, Callable[[], Any], bool]]) -> Tuple[List[Tuple[str, float]], List[Tuple[str, float]]]:
    """Wall time (what the caller waits) and process CPU time (client, in-process server and
    ferrule's background thread) per call. The third field forces the traced loop for that
    contender."""
    best = {name: float("inf") for name, _, _ in contenders}
    wall = dict(best)
    for _, fn, traced in contenders:
        policy_module._SYNTHETIC = traced
        for _ in range(20):
            fn()
    gc.disable()
    try:
        for _ in range(ROUNDS):
            for name, fn, traced in contenders:
                policy_module._SYNTHETIC = traced
                t0, c0 = time.perf_counter_ns(), time.process_time_ns()
                for _ in range(N):
                    fn()
                wall[name] = min(wall[name], (time.perf_counter_ns() - t0) / N)
                best[name] = min(best[name], (time.process_time_ns() - c0) / N)
    finally:
        policy_module._SYNTHETIC = False
        gc.enable()
    return [(name, wall[name]) for name, _, _ in contenders], [(name, best[name]) for name, _, _ in contenders]


async def ainterleaved(contenders: List[Tuple[str, Callable[[], Awaitable[Any]]]]) -> List[Tuple[str, float]]:
    best = {name: float("inf") for name, _ in contenders}
    for _, fn in contenders:
        for _ in range(20):
            await fn()
    gc.disable()
    try:
        for _ in range(ROUNDS):
            for name, fn in contenders:
                c0 = time.process_time_ns()
                for _ in range(N):
                    await fn()
                best[name] = min(best[name], (time.process_time_ns() - c0) / N)
    finally:
        gc.enable()
    return [(name, best[name]) for name, _ in contenders]


def added(rows: List[Tuple[str, float]], kind: str, what: str = "CPU") -> None:
    base = rows[0][1]
    for name, ns in rows[1:]:
        print(f"  {name}: {(ns - base) / 1000:+.1f} us {what} per call against the bare client")
    f = (next(ns for n, ns in rows if n.startswith("ferrule")) - base) / 1000
    t = (next(ns for n, ns in rows if n.startswith("tenacity")) - base) / 1000
    ratio = f"; ratio {f / t:.2f}" if t > 0 else ""
    print(f"added {what} per {kind} call: ferrule {f:+.1f} us, tenacity {t:+.1f} us{ratio}")


def main() -> None:
    logging.getLogger("ferrule").setLevel(logging.ERROR)
    ferrule.set_price(MODEL, 3.0, 15.0)
    policy = ferrule.Policy(retry=ferrule.Retry(3), timeout_seconds=30.0)
    with MockLLMServer() as server:
        url = server.anthropic_url
        bare = anthropic.Anthropic(base_url=url, api_key="bench", max_retries=0)
        wrapped = ferrule.wrap_anthropic(anthropic.Anthropic(base_url=url, api_key="bench"), policy)
        # The path before the inline first attempt: the traced loop, a float timeout.
        real = anthropic_integration._timeout_type
        anthropic_integration._timeout_type = lambda client: float  # type: ignore[assignment]
        try:
            before = ferrule.wrap_anthropic(anthropic.Anthropic(base_url=url, api_key="bench"), policy)
        finally:
            anthropic_integration._timeout_type = real

        def call(c: Any) -> Callable[[], Any]:
            return lambda: c.messages.create(model=MODEL, max_tokens=64, messages=MSG)

        ten = tenacity.retry(stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_exponential(max=10), reraise=True)(call(bare))
        sta = stamina.retry(on=anthropic.APIError, attempts=3)(call(bare))
        wall, rows = interleaved(
            [
                ("anthropic bare client", call(bare), False),
                ("ferrule.wrap_anthropic (retry + timeout), inline first attempt", call(wrapped), False),
                ("tenacity.retry around the bare client", ten, False),
                ("stamina.retry around the bare client", sta, False),
                ("wrap_anthropic forced through the traced loop, float timeout", call(before), True),
            ]
        )
        table("Anthropic SDK messages.create on the mock server, sync (wall)", wall, against="anthropic bare client")
        added(wall, "sync", "wall time")
        table("the same, process CPU time", rows, against="anthropic bare client")
        added(rows, "sync")

        async def arun() -> List[Tuple[str, float]]:
            abare = anthropic.AsyncAnthropic(base_url=url, api_key="bench", max_retries=0)
            awrapped = ferrule.wrap_anthropic(anthropic.AsyncAnthropic(base_url=url, api_key="bench"), policy)
            aten = tenacity.retry(stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_exponential(max=10), reraise=True)

            @aten
            async def atenacity_call() -> Any:
                return await abare.messages.create(model=MODEL, max_tokens=64, messages=MSG)  # type: ignore[arg-type]

            try:
                return await ainterleaved(
                    [
                        ("anthropic bare async client", call(abare)),
                        ("ferrule.wrap_anthropic async", call(awrapped)),
                        ("tenacity.retry async around the bare client", atenacity_call),
                    ]
                )
            finally:
                await abare.close()
                await awrapped.close()

        arows = asyncio.run(arun())
        table("Anthropic SDK messages.create on the mock server, async (process CPU)", arows, against="anthropic bare async client")
        added(arows, "async")


if __name__ == "__main__":
    main()
