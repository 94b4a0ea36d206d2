"""What ``ferrule.wrap_openai`` adds to a real OpenAI SDK call on the local mock server, against the
bare client and the bare client under tenacity and stamina retries (what users write by hand), sync
and async, in one process run. The HTTP round trip dominates and the machine is shared, so the
contenders are timed in interleaved rounds (best round each): the difference to the bare row is the
wrapper's cost."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any, Awaitable, Callable, List, Tuple

import openai
import stamina
import tenacity

import ferrule
from ferrule.testing import MockLLMServer
from timing import QUICK, ns_per_await, ns_per_call, table

MSG = [{"role": "user", "content": "hi"}]
N, ROUNDS = (50, 3) if QUICK else (150, 5)


def interleaved(contenders: List[Tuple[str, Callable[[], Any]]]) -> Tuple[List[Tuple[str, float]], List[Tuple[str, float]]]:
    best = {name: float("inf") for name, _ in contenders}
    cpu = dict(best)
    for _, fn in contenders:
        for _ in range(20):
            fn()
    gc.disable()
    try:
        for _ in range(ROUNDS):
            for name, fn in contenders:
                t0, c0 = time.perf_counter_ns(), time.process_time_ns()
                for _ in range(N):
                    fn()
                best[name] = min(best[name], (time.perf_counter_ns() - t0) / N)
                cpu[name] = min(cpu[name], (time.process_time_ns() - c0) / N)
    finally:
        gc.enable()
    return [(name, best[name]) for name, _ in contenders], [(name, cpu[name]) for name, _ in contenders]


async def ainterleaved(contenders: List[Tuple[str, Callable[[], Awaitable[Any]]]]) -> Tuple[List[Tuple[str, float]], List[Tuple[str, float]]]:
    best = {name: float("inf") for name, _ in contenders}
    cpu = dict(best)
    for _, fn in contenders:
        for _ in range(20):
            await fn()
    gc.disable()
    try:
        for _ in range(ROUNDS):
            for name, fn in contenders:
                t0, c0 = time.perf_counter_ns(), time.process_time_ns()
                for _ in range(N):
                    await fn()
                best[name] = min(best[name], (time.perf_counter_ns() - t0) / N)
                cpu[name] = min(cpu[name], (time.process_time_ns() - c0) / N)
    finally:
        gc.enable()
    return [(name, best[name]) for name, _ in contenders], [(name, cpu[name]) for name, _ in contenders]


def overheads(rows: List[Tuple[str, float]]) -> None:
    base = rows[0][1]
    for name, ns in rows[1:]:
        print(f"  {name}: {(ns - base) / 1000:+.1f} us per call against the bare client")


def added(cpu: List[Tuple[str, float]], kind: str) -> None:
    """The target on the real SDK: the CPU ferrule adds per call is at most what tenacity adds."""
    base = cpu[0][1]
    ferrule_ns = next(ns for name, ns in cpu if name.startswith("ferrule"))
    tenacity_ns = next(ns for name, ns in cpu if name.startswith("tenacity"))
    f, t = (ferrule_ns - base) / 1000, (tenacity_ns - base) / 1000
    ratio = f"; ratio {f / t:.2f}" if t > 0 else ""
    print(f"added CPU per {kind} call: ferrule {f:+.1f} us, tenacity {t:+.1f} us{ratio}")
    verdict(f"CPU ferrule adds per {kind} SDK call", f, max(t, 0.0), " (what tenacity adds)")


class _Completions:
    def create(self, **kwargs: Any) -> Any:
        return kwargs


class _AsyncCompletions:
    async def create(self, **kwargs: Any) -> Any:
        return kwargs


class _Chat:
    def __init__(self, completions: Any) -> None:
        self.completions = completions


class StubClient:
    """The OpenAI client's shape with no I/O under it: what is left is the wrapper's own cost."""

    max_retries = 2

    def __init__(self) -> None:
        self.chat = _Chat(_Completions())

    def copy(self, **options: Any) -> "StubClient":
        return StubClient()


class AsyncStubClient:
    """``AsyncOpenAI``'s shape with no I/O: an ``async def create``."""

    max_retries = 2

    def __init__(self) -> None:
        self.chat = _Chat(_AsyncCompletions())

    def copy(self, **options: Any) -> "AsyncStubClient":
        return AsyncStubClient()


def verdict(label: str, got_us: float, limit_us: float, peer: str = "") -> None:
    """One target line: what was measured, the limit, PASS or MISS."""
    mark = "PASS" if got_us <= limit_us else "MISS"
    print(f"target: {label} <= {limit_us:.1f} us{peer} -> {got_us:.2f} us  {mark}")


def wrapper_only(policy: ferrule.Policy) -> None:
    bare = StubClient()
    wrapped = ferrule.wrap_openai(StubClient(), policy)
    ten = tenacity.retry(stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_exponential(max=10), reraise=True)(
        bare.chat.completions.create
    )
    sta = stamina.retry(on=Exception, attempts=3)(bare.chat.completions.create)
    off = ns_per_call(lambda: wrapped.chat.completions.create(model="m", messages=MSG))
    ferrule.observe()  # every call record also feeds the SLO, anomaly, predictor and outage watchers
    try:
        on = ns_per_call(lambda: wrapped.chat.completions.create(model="m", messages=MSG))
    finally:
        ferrule.observe(enabled=False)
    base = ns_per_call(lambda: bare.chat.completions.create(model="m", messages=MSG))
    rows = [
        ("stub create, bare", base),
        ("ferrule.wrap_openai over the stub", off),
        ("ferrule.wrap_openai over the stub, observe() on", on),
        ("tenacity.retry over the stub", ns_per_call(lambda: ten(model="m", messages=MSG))),
        ("stamina.retry over the stub", ns_per_call(lambda: sta(model="m", messages=MSG))),
    ]
    table("the wrapper alone (no HTTP), sync: retry + timeout + spans + record", rows, against="stub create, bare")
    verdict("wrap_openai over the stub, sync, per call", off / 1000, 3.0)
    verdict("observe() on adds, per call", (on - off) / 1000, 2.0)

    abare = AsyncStubClient()
    awrapped = ferrule.wrap_openai(AsyncStubClient(), policy)
    aten = tenacity.retry(stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_exponential(max=10), reraise=True)(
        abare.chat.completions.create
    )
    asta = stamina.retry(on=Exception, attempts=3)(abare.chat.completions.create)
    aoff = ns_per_await(lambda: awrapped.chat.completions.create(model="m", messages=MSG))
    arows = [
        ("stub async create, bare", ns_per_await(lambda: abare.chat.completions.create(model="m", messages=MSG))),
        ("ferrule.wrap_openai over the async stub", aoff),
        ("tenacity.retry over the async stub", ns_per_await(lambda: aten(model="m", messages=MSG))),
        ("stamina.retry over the async stub", ns_per_await(lambda: asta(model="m", messages=MSG))),
    ]
    table("the wrapper alone (no HTTP), async", arows, against="stub async create, bare")
    verdict("wrap_openai over the stub, async, per call", aoff / 1000, 5.0)


def main() -> None:
    logging.getLogger("ferrule").setLevel(logging.ERROR)
    policy = ferrule.Policy(retry=ferrule.Retry(3), timeout_seconds=30.0)
    wrapper_only(policy)
    with MockLLMServer() as server:
        bare = openai.OpenAI(base_url=server.url, api_key="bench", max_retries=0)
        wrapped = ferrule.wrap_openai(openai.OpenAI(base_url=server.url, api_key="bench"), policy)

        def call(c: Any) -> Callable[[], Any]:
            return lambda: c.chat.completions.create(model="m", messages=MSG)

        tenacity_call = tenacity.retry(stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_exponential(max=10), reraise=True)(call(bare))
        stamina_call = stamina.retry(on=openai.APIError, attempts=3)(call(bare))
        rows, cpu = interleaved(
            [
                ("openai bare client", call(bare)),
                ("ferrule.wrap_openai (retry + timeout)", call(wrapped)),
                ("tenacity.retry around the bare client", tenacity_call),
                ("stamina.retry around the bare client", stamina_call),
            ]
        )
        table("OpenAI SDK chat.completions.create on the mock server, sync (wall)", rows, against="openai bare client")
        overheads(rows)
        table("the same, process CPU time (client and in-process server; steadier on a shared machine)", cpu, against="openai bare client")
        overheads(cpu)
        added(cpu, "sync")

        async def arun() -> Tuple[List[Tuple[str, float]], List[Tuple[str, float]]]:
            abare = openai.AsyncOpenAI(base_url=server.url, api_key="bench", max_retries=0)
            awrapped = ferrule.wrap_openai(openai.AsyncOpenAI(base_url=server.url, api_key="bench"), policy)
            aten = tenacity.retry(stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_exponential(max=10), reraise=True)

            @aten
            async def atenacity_call() -> Any:
                return await abare.chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]

            try:
                return await ainterleaved(
                    [
                        ("openai bare async client", call(abare)),
                        ("ferrule.wrap_openai async", call(awrapped)),
                        ("tenacity.retry async around the bare client", atenacity_call),
                    ]
                )
            finally:
                await abare.close()
                await awrapped.close()

        arows, acpu = asyncio.run(arun())
        table("OpenAI SDK chat.completions.create on the mock server, async (wall)", arows, against="openai bare async client")
        overheads(arows)
        table("the same, process CPU time", acpu, against="openai bare async client")
        overheads(acpu)
        added(acpu, "async")


if __name__ == "__main__":
    main()
