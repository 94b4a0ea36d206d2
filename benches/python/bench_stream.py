"""What a wrapped stream adds per chunk: the real OpenAI SDK streaming a long answer from the local
mock server, bare and through ``wrap_openai`` (with and without stream deadlines), side by side in one
process run; and the wrapper alone over chunks already in memory (no network, no SSE parsing), which
isolates ferrule's own per-chunk work: the deadline store, the chunk folded into the call record."""

from __future__ import annotations

import gc
import os
import time
from typing import Any, Callable, List, Tuple

import openai
from openai.types.chat import ChatCompletionChunk

import ferrule
from ferrule._ferrule import CallStream
from ferrule.integrations.stream import _NOTHING, Opened, StreamPolicy, SurvivingStream, _Guard
from ferrule.integrations.stream_fields import StreamFields
from ferrule.testing import MockLLMServer
from timing import QUICK, table

CHARS = 8_000 if QUICK else 32_000  # the mock streams 4 characters per chunk
ROUNDS = 3 if QUICK else 7
MSG = [{"role": "user", "content": "hi"}]


def best_ns_per_chunk(run: Callable[[], int]) -> float:
    best = float("inf")
    run()
    gc.disable()
    try:
        for _ in range(ROUNDS):
            t0 = time.perf_counter_ns()
            n = run()
            best = min(best, (time.perf_counter_ns() - t0) / n)
    finally:
        gc.enable()
    return best


def over_the_wire() -> List[Tuple[str, float]]:
    with MockLLMServer() as s:
        headers = {"x-mock-content": "x" * CHARS}
        bare = openai.OpenAI(base_url=s.url, api_key="k", max_retries=0)
        plain = ferrule.wrap_openai(openai.OpenAI(base_url=s.url, api_key="k"))
        guarded = ferrule.wrap_openai(
            openai.OpenAI(base_url=s.url, api_key="k"),
            stream_policy=ferrule.StreamPolicy(first_chunk_timeout_seconds=30, stall_timeout_seconds=30),
        )

        def reader(client: Any) -> Callable[[], int]:
            def run() -> int:
                n = 0
                for _ in client.chat.completions.create(model="m", messages=MSG, stream=True, extra_headers=headers):
                    n += 1
                return n

            return run

        return [
            ("openai SDK stream, bare", best_ns_per_chunk(reader(bare))),
            ("wrap_openai stream", best_ns_per_chunk(reader(plain))),
            ("wrap_openai stream + deadlines", best_ns_per_chunk(reader(guarded))),
        ]


def in_memory() -> List[Tuple[str, float]]:
    chunk = ChatCompletionChunk.model_validate(
        {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
         "choices": [{"index": 0, "delta": {"content": "abcd"}, "finish_reason": None}]}
    )
    last = ChatCompletionChunk.model_validate(
        {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
         "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    )
    chunks = [chunk] * 19_999 + [last]
    deadline = StreamPolicy(stall_timeout_seconds=3600)

    def bare() -> int:
        n = 0
        for _ in iter(chunks):
            n += 1
        return n

    def wrapped(policy: StreamPolicy, guard: bool) -> Callable[[], int]:
        def run() -> int:
            fields = StreamFields(CallStream(None, collect=True))
            g = _Guard(float("inf"), policy.stall_timeout_seconds) if guard else None
            s = SurvivingStream(Opened(chunks, iter(chunks), _NOTHING, g), fields, policy, _no_resume, _done, None, [0, 0])
            n = 0
            for _ in s:
                n += 1
            return n

        return run

    def folded() -> int:
        # What every observed stream did before (the call record's fold), without the wrapper.
        fold = CallStream(None, collect=True).chunk
        n = 0
        for c in iter(chunks):
            fold(c)
            n += 1
        return n

    return [
        ("iterating the chunks, bare", best_ns_per_chunk(bare)),
        ("CallStream.chunk per chunk (record fold)", best_ns_per_chunk(folded)),
        ("SurvivingStream, no deadlines", best_ns_per_chunk(wrapped(StreamPolicy(), False))),
        ("SurvivingStream, stall deadline", best_ns_per_chunk(wrapped(deadline, True))),
    ]


def _no_resume(prefix: str) -> Any:
    raise RuntimeError("not resumed in a bench")


def _done(err: Any) -> None:
    return None


def main() -> None:
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    wire = over_the_wire()
    table(f"stream: ns per chunk, real SDK over loopback ({CHARS // 4} chunks)", wire, "openai SDK stream, bare")
    base = wire[0][1]
    for name, ns in wire[1:]:
        print(f"  {name}: {ns - base:+.1f} ns per chunk vs bare")
    mem = in_memory()
    table("stream: ns per chunk, the wrapper alone over in-memory chunks", mem, "iterating the chunks, bare")
    over = mem[3][1] - mem[0][1]
    own = mem[3][1] - mem[1][1]
    print(f"  the wrapper's own work beyond the record fold: {own:+.1f} ns per chunk")
    print(f"target: ferrule's per-chunk work <= 1000 ns -> {over:.1f} ns {'MET' if over <= 1000 else 'MISSED'}")


if __name__ == "__main__":
    main()
