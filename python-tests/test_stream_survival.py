"""Streams that survive, with the real OpenAI SDK (sync and async) against the mock server's stream
faults: a stall is closed at its deadline (measured on the call) and its connection released; a
failure before the first chunk is retried unseen; a stream cut after N chunks raises with exactly the
delivered text, continues seamlessly on a new attempt, or falls back; a consumer that walks away
releases its connection (counted on the server)."""

from __future__ import annotations

import asyncio
import gc
import json
import time
from typing import Any, Dict, List, NamedTuple, Optional

import openai
import pytest
from openai.types.chat import ChatCompletionChunk

import ferrule
from ferrule.integrations import llm_call
from ferrule.testing import MockLLMServer

MSG = [{"role": "user", "content": "tell me about streams"}]
FULL = "Mock answer to: tell me about streams"
# The mock streams a role event, then 4 characters per event: after 4 events the consumer has 12.
PREFIX = FULL[:12]


def policy(attempts: int = 3) -> ferrule.Policy:
    return ferrule.Policy(retry=ferrule.Retry(attempts, backoff=ferrule.Backoff.constant(0.0), budget_ratio=None))


def sdk(s: MockLLMServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=s.url, api_key="k")


def asdk(s: MockLLMServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=s.url, api_key="k")


def text_of(chunks: List[Any]) -> str:
    return "".join((c.choices[0].delta.content or "") for c in chunks if c.choices)


def fault(kind: str, after: int, seconds: float = 20.0) -> List[Dict[str, Any]]:
    """One stream fault's parameters (rate 0: only the script or a header triggers it)."""
    return [{"kind": kind, "rate": 0, "after_chunks": after, "latency_seconds": seconds}]


def released(s: MockLLMServer, within: float = 3.0) -> bool:
    """Whether the server's open connections drop to 0 within ``within`` seconds."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        if s.stats()["open_connections"] == 0:
            return True
        time.sleep(0.01)
    return False


async def areleased(s: MockLLMServer, within: float = 3.0, at_most: int = 0) -> bool:
    end = time.monotonic() + within
    while time.monotonic() < end:
        if s.stats()["open_connections"] <= at_most:
            return True
        await asyncio.sleep(0.01)
    return False


class Rec(NamedTuple):
    error: Optional[BaseException]
    attributes: Dict[str, Any]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> List[Rec]:
    seen: List[Rec] = []
    real = llm_call.record_call

    def spy(span: Any, operation: str, provider: str, **k: Any) -> float:
        cost = real(span, operation, provider, **k)
        s = next(x for x in reversed(ferrule.recent_spans()) if x["span_id"] == span.span_id)
        seen.append(Rec(k.get("error"), dict(s["attributes"])))
        return cost

    monkeypatch.setattr(llm_call, "record_call", spy)
    return seen


# ---- deadlines --------------------------------------------------------------------------------------


def test_a_stall_is_closed_at_its_deadline_and_raises_with_the_delivered_text(calls: List[Rec]) -> None:
    with MockLLMServer(fault("stall_stream", 4), script=["stall_stream"]) as s:
        sp = ferrule.StreamPolicy(stall_timeout_seconds=0.3)
        c = ferrule.wrap_openai(sdk(s), policy(), stream_policy=sp)
        got: List[Any] = []
        last = time.monotonic()
        with pytest.raises(ferrule.StreamInterrupted) as ei:
            for ch in c.chat.completions.create(model="m", messages=MSG, stream=True):  # type: ignore[arg-type]
                got.append(ch)
                last = time.monotonic()
        waited = time.monotonic() - last
        assert 0.3 <= waited < 1.5, waited  # the deadline, not the server's 20 s silence
        e = ei.value
        assert isinstance(e.cause, ferrule.StreamTimeoutError) and e.cause.deadline == "stall"
        assert e.__cause__ is e.cause and e.cause.timeout_seconds == 0.3
        assert e.partial_text == text_of(got) == PREFIX and e.chunks == 4
        assert released(s)  # the connection was closed, not left in the pool
        assert s.stats()["requests"] == 1  # raise: no new attempt
    assert len(calls) == 1 and calls[0].error is e


def test_a_stream_without_its_first_chunk_in_time_is_retried_unseen(calls: List[Rec]) -> None:
    with MockLLMServer(fault("stall_stream", 0), script=["stall_stream"]) as s:
        sp = ferrule.StreamPolicy(first_chunk_timeout_seconds=0.3, stall_timeout_seconds=5)
        c = ferrule.wrap_openai(sdk(s), policy(), stream_policy=sp)
        t = time.monotonic()
        got = list(c.chat.completions.create(model="m", messages=MSG, stream=True))  # type: ignore[arg-type]
        took = time.monotonic() - t
        assert text_of(got) == FULL
        assert 0.3 <= took < 2.0, took
        assert [q["fault"] for q in s.requests] == ["stall_stream", "ok"]
    assert len(calls) == 1 and calls[0].error is None and calls[0].attributes["ferrule.attempts"] == 2


def test_slow_headers_count_against_the_first_chunk_deadline() -> None:
    with MockLLMServer([{"kind": "slow", "rate": 0, "latency_seconds": 20}], script=["slow"]) as s:
        sp = ferrule.StreamPolicy(first_chunk_timeout_seconds=0.3)
        c = ferrule.wrap_openai(sdk(s), policy(), stream_policy=sp)
        t = time.monotonic()
        assert text_of(list(c.chat.completions.create(model="m", messages=MSG, stream=True))) == FULL  # type: ignore[arg-type]
        assert time.monotonic() - t < 2.0
        assert s.stats()["requests"] == 2


# ---- after chunks were delivered: raise, continue, fallback ----------------------------------------


def test_raise_carries_exactly_what_was_delivered(calls: List[Rec]) -> None:
    with MockLLMServer(fault("truncated_stream", 4), script=["truncated_stream"]) as s:
        c = ferrule.wrap_openai(sdk(s), policy())
        got: List[Any] = []
        with pytest.raises(ferrule.StreamInterrupted) as ei:
            for ch in c.chat.completions.create(model="m", messages=MSG, stream=True):  # type: ignore[arg-type]
                got.append(ch)
        assert ei.value.partial_text == text_of(got) == PREFIX
        assert ei.value.usage is None  # the usage comes on the final chunk, never sent
        assert s.stats()["requests"] == 1
    assert calls[0].error is ei.value


def test_continue_makes_one_seamless_stream(calls: List[Rec]) -> None:
    with MockLLMServer(fault("truncated_stream", 4), script=["truncated_stream"]) as s:
        sp = ferrule.StreamPolicy(on_interrupt="continue")
        c = ferrule.wrap_openai(sdk(s), policy(), stream_policy=sp)
        got = list(c.chat.completions.create(model="m", messages=MSG, stream=True))  # type: ignore[arg-type]
        assert text_of(got) == FULL  # nothing lost, nothing repeated
        resumed = json.loads(s.requests[1]["body"])
        assert resumed["messages"][-1] == {"role": "assistant", "content": PREFIX}
    a = calls[0].attributes
    assert calls[0].error is None
    assert a["ferrule.stream.recovery"] == "continue" and a["ferrule.stream.seam_chars"] == len(PREFIX)


def test_continue_gives_up_after_max_resumes_with_everything_delivered() -> None:
    script = ["truncated_stream"] * 3
    with MockLLMServer(fault("truncated_stream", 2), script=script) as s:
        sp = ferrule.StreamPolicy(on_interrupt="continue", max_resumes=2)
        c = ferrule.wrap_openai(sdk(s), policy(), stream_policy=sp)
        got: List[Any] = []
        with pytest.raises(ferrule.StreamInterrupted) as ei:
            for ch in c.chat.completions.create(model="m", messages=MSG, stream=True):  # type: ignore[arg-type]
                got.append(ch)
        # Three attempts of one content chunk each: the consumer has 12 characters, in order.
        assert ei.value.partial_text == text_of(got) == PREFIX
        assert s.stats()["requests"] == 3


def test_fallback_streams_after_the_delivered_prefix(calls: List[Rec]) -> None:
    seen: List[ferrule.StreamInterrupted] = []

    def fb(e: ferrule.StreamInterrupted) -> List[ChatCompletionChunk]:
        seen.append(e)
        return [
            ChatCompletionChunk.model_validate(
                {"id": "fb", "object": "chat.completion.chunk", "created": 0, "model": "fb",
                 "choices": [{"index": 0, "delta": {"content": "[fallback]"}, "finish_reason": "stop"}]}
            )
        ]

    with MockLLMServer(fault("truncated_stream", 4), script=["truncated_stream"]) as s:
        sp = ferrule.StreamPolicy(on_interrupt="fallback", fallback=fb)
        c = ferrule.wrap_openai(sdk(s), policy(), stream_policy=sp)
        got = list(c.chat.completions.create(model="m", messages=MSG, stream=True))  # type: ignore[arg-type]
        assert text_of(got) == PREFIX + "[fallback]"
        assert seen[0].partial_text == PREFIX
    assert calls[0].error is None and calls[0].attributes["ferrule.stream.recovery"] == "fallback"


def test_a_malformed_chunk_interrupts_and_a_missing_done_does_not() -> None:
    with MockLLMServer(fault("malformed_chunk", 4), script=["malformed_chunk", "stream_without_done"]) as s:
        c = ferrule.wrap_openai(sdk(s), policy())
        got: List[Any] = []
        with pytest.raises(ferrule.StreamInterrupted) as ei:
            for ch in c.chat.completions.create(model="m", messages=MSG, stream=True):  # type: ignore[arg-type]
                got.append(ch)
        assert ei.value.partial_text == text_of(got) == PREFIX
        assert text_of(list(c.chat.completions.create(model="m", messages=MSG, stream=True))) == FULL  # type: ignore[arg-type]


# ---- abandonment ------------------------------------------------------------------------------------


def test_an_abandoned_stream_releases_its_connection_and_ends_its_record(calls: List[Rec]) -> None:
    with MockLLMServer(fault("stall_stream", 6), script=["stall_stream"]) as s:
        c = ferrule.wrap_openai(sdk(s), policy())
        stream = c.chat.completions.create(model="m", messages=MSG, stream=True)  # type: ignore[arg-type]
        it = iter(stream)
        next(it)
        next(it)
        assert s.stats()["open_connections"] == 1
        del it, stream
        gc.collect()
        assert released(s)
    assert len(calls) == 1 and calls[0].error is None


# ---- async ------------------------------------------------------------------------------------------


def test_async_stall_continue_and_abandonment(calls: List[Rec]) -> None:
    async def go() -> None:
        with MockLLMServer(fault("stall_stream", 4), script=["stall_stream"]) as s:
            sp = ferrule.StreamPolicy(stall_timeout_seconds=0.3, on_interrupt="continue")
            c = ferrule.wrap_openai(asdk(s), policy(), stream_policy=sp)
            got: List[Any] = []
            gaps: List[float] = []
            last = time.monotonic()
            async for ch in await c.chat.completions.create(model="m", messages=MSG, stream=True):  # type: ignore[arg-type]
                gaps.append(time.monotonic() - last)
                got.append(ch)
                last = time.monotonic()
            assert text_of(got) == FULL  # resumed after the stall, seamlessly
            assert 0.3 <= max(gaps) < 1.5, gaps
            assert [q["fault"] for q in s.requests] == ["stall_stream", "ok"]
            assert await areleased(s, at_most=1)  # the stalled one is closed; the resumed one idles in the pool

        with MockLLMServer(fault("truncated_stream", 4), script=["truncated_stream"]) as s:
            c = ferrule.wrap_openai(asdk(s), policy())
            got = []
            with pytest.raises(ferrule.StreamInterrupted) as ei:
                async for ch in await c.chat.completions.create(model="m", messages=MSG, stream=True):  # type: ignore[arg-type]
                    got.append(ch)
            assert ei.value.partial_text == text_of(got) == PREFIX

        with MockLLMServer(fault("stall_stream", 6), script=["stall_stream"]) as s:
            c = ferrule.wrap_openai(asdk(s), policy())
            stream = await c.chat.completions.create(model="m", messages=MSG, stream=True)  # type: ignore[arg-type]
            it = stream.__aiter__()
            await it.__anext__()
            assert s.stats()["open_connections"] == 1
            del it, stream
            gc.collect()
            assert await areleased(s)

    asyncio.run(go())
    assert [c.error is None for c in calls] == [True, False, True]


def test_async_first_chunk_deadline_retries() -> None:
    async def go() -> None:
        with MockLLMServer(fault("stall_stream", 0), script=["stall_stream"]) as s:
            sp = ferrule.StreamPolicy(first_chunk_timeout_seconds=0.3)
            c = ferrule.wrap_openai(asdk(s), policy(), stream_policy=sp)
            got = [ch async for ch in await c.chat.completions.create(model="m", messages=MSG, stream=True)]  # type: ignore[arg-type]
            assert text_of(got) == FULL
            assert s.stats()["requests"] == 2

    asyncio.run(go())


# ---- configuration ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw, param",
    [
        ({"stall_timeout_seconds": 0}, "stall_timeout_seconds"),
        ({"first_chunk_timeout_seconds": -1}, "first_chunk_timeout_seconds"),
        ({"first_chunk_timeout_seconds": True}, "first_chunk_timeout_seconds"),
        ({"on_interrupt": "retry"}, "on_interrupt"),
        ({"on_interrupt": "fallback"}, "fallback"),
        ({"max_resumes": -1}, "max_resumes"),
    ],
)
def test_bad_stream_policies_name_the_parameter(kw: Dict[str, Any], param: str) -> None:
    with pytest.raises(ferrule.ConfigError, match=param):
        ferrule.StreamPolicy(**kw)
    with pytest.raises(TypeError, match="stream_policy"):
        ferrule.wrap_openai(openai.OpenAI(api_key="k"), stream_policy="fast")  # type: ignore[arg-type]


# ---- time per chunk ---------------------------------------------------------------------------------

_PER_CHUNK = "gen_ai_client_operation_time_per_output_chunk_seconds"
_TTFC = "gen_ai_client_operation_time_to_first_chunk_seconds"


def _series(metric: str, model: str) -> Dict[str, float]:
    """``{"count": ..., "sum": ...}`` of one histogram series in the exposition (0 when absent)."""
    out = {"count": 0.0, "sum": 0.0}
    for line in ferrule.metrics_text().splitlines():
        for k in ("count", "sum"):
            if line.startswith(f"{metric}_{k}") and f'gen_ai_request_model="{model}"' in line:
                out[k] = float(line.rsplit(" ", 1)[1])
    return out


@pytest.mark.parametrize("deadlines", [False, True], ids=["plain", "stall deadline"])
def test_a_stream_records_its_time_per_chunk_beside_its_time_to_first_chunk(deadlines: bool) -> None:
    model = f"per-chunk-{deadlines}"
    sp = ferrule.StreamPolicy(stall_timeout_seconds=30) if deadlines else ferrule.StreamPolicy()
    with MockLLMServer() as s:
        c = ferrule.wrap_openai(sdk(s), policy(), stream_policy=sp)
        t = time.monotonic()
        got = list(c.chat.completions.create(model=model, messages=MSG, stream=True, extra_headers={"x-mock-content": "x" * 400}))  # type: ignore[call-overload]
        took = time.monotonic() - t
    assert text_of(got) == "x" * 400
    per, first = _series(_PER_CHUNK, model), _series(_TTFC, model)
    assert first["count"] == 1
    assert per["count"] == len(got) - 1  # one gap per chunk after the first
    assert 0 < per["sum"] <= took  # the gaps fit in the call


def test_an_abandoned_stream_records_the_gaps_it_saw() -> None:
    model = "per-chunk-abandoned"
    with MockLLMServer() as s:
        c = ferrule.wrap_openai(sdk(s), policy())
        stream = c.chat.completions.create(model=model, messages=MSG, stream=True, extra_headers={"x-mock-content": "x" * 400})  # type: ignore[call-overload]
        it = iter(stream)
        for _ in range(10):
            next(it)
        stream.close()
    # The asks for chunks 2..10 marked the ends of chunks 1..9: the gaps of chunks 2..9 (chunk 10's
    # end was never seen).
    assert _series(_PER_CHUNK, model)["count"] == 8
