"""LangChain streams that survive: ``with_policy(ChatOpenAI, ..., stream_policy=...)`` against the mock
server's stream faults, sync and async. A stall is closed at its deadline (measured on the call) and
its connection released; a stream cut after N chunks raises with exactly the delivered text,
continues into the full answer, or falls back; one span per stream; the callback handler's run
records the time per chunk and treats a consumer's break as abandonment, not failure."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Dict, List

import pytest
from langchain_core.messages import AIMessageChunk
from langchain_openai import ChatOpenAI

import ferrule
from ferrule.integrations.langchain import FerruleCallbackHandler, with_policy
from ferrule.testing import MockLLMServer

FULL = "Mock answer to: tell me about streams"
PREFIX = FULL[:12]  # the mock streams a role event, then 4 characters per event: 4 events give 12
Q = "tell me about streams"


def policy(attempts: int = 3) -> ferrule.Policy:
    return ferrule.Policy(retry=ferrule.Retry(attempts, backoff=ferrule.Backoff.constant(0.0), budget_ratio=None))


def chat(s: MockLLMServer, **kw: Any) -> ChatOpenAI:
    return ChatOpenAI(model="mock-gpt-4o-mini", base_url=s.url, api_key="k", **kw)  # type: ignore[arg-type]


def fault(kind: str, after: int, seconds: float = 20.0) -> List[Dict[str, Any]]:
    return [{"kind": kind, "rate": 0, "after_chunks": after, "latency_seconds": seconds}]


def busy(s: MockLLMServer) -> int:
    st = s.stats()
    return int(st["open_connections"] - st["idle_connections"])


def released(s: MockLLMServer, within: float = 3.0) -> bool:
    """No connection on the server is still in the middle of a response within ``within`` s."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        if busy(s) == 0:
            return True
        time.sleep(0.01)
    return False


def run(astream: bool, r: Any, got: List[Any]) -> None:
    """Reads ``r.stream(Q)`` (or ``astream``) into ``got``."""
    if not astream:
        for c in r.stream(Q):
            got.append(c)
        return

    async def main() -> None:
        async for c in r.astream(Q):
            got.append(c)

    asyncio.run(main())


def text(chunks: List[Any]) -> str:
    return "".join(c.content for c in chunks if isinstance(c, AIMessageChunk) and isinstance(c.content, str))


def stream_spans() -> List[Dict[str, Any]]:
    return [s for s in ferrule.recent_spans() if s["name"].startswith("stream ") and not s["name"].endswith(" attempt")]


@pytest.mark.parametrize("astream", [False, True], ids=["stream", "astream"])
def test_a_stall_is_closed_at_its_deadline(astream: bool) -> None:
    with MockLLMServer(fault("stall_stream", 4), script=["stall_stream"]) as s:
        r = with_policy(chat(s), policy(), stream_policy=ferrule.StreamPolicy(stall_timeout_seconds=0.3))
        got: List[Any] = []
        t = [time.monotonic()]

        class Stamp(list):  # type: ignore[type-arg]
            def append(self, c: Any) -> None:
                super().append(c)
                t[0] = time.monotonic()

        stamped = Stamp()
        with pytest.raises(ferrule.StreamInterrupted) as ei:
            run(astream, r, stamped)
        waited = time.monotonic() - t[0]
        got = list(stamped)
        assert 0.3 <= waited < 1.5, waited  # the deadline, not the server's 20 s silence
        e = ei.value
        assert isinstance(e.cause, ferrule.StreamTimeoutError) and e.cause.deadline == "stall"
        assert e.partial_text == text(got) == PREFIX
        assert released(s)
        assert s.stats()["requests"] == 1


@pytest.mark.parametrize("astream", [False, True], ids=["stream", "astream"])
def test_a_cut_stream_raises_with_exactly_the_delivered_text(astream: bool) -> None:
    with MockLLMServer(fault("truncated_stream", 4), script=["truncated_stream"]) as s:
        before = len(stream_spans())
        r = with_policy(chat(s), policy())
        got: List[Any] = []
        with pytest.raises(ferrule.StreamInterrupted) as ei:
            run(astream, r, got)
        assert ei.value.partial_text == text(got) == PREFIX
        assert s.stats()["requests"] == 1
        spans = stream_spans()[before:]
        assert len(spans) == 1 and spans[0]["status"] == "error"


@pytest.mark.parametrize("astream", [False, True], ids=["stream", "astream"])
def test_continue_gives_one_seamless_answer(astream: bool) -> None:
    with MockLLMServer(fault("truncated_stream", 4), script=["truncated_stream"]) as s:
        before = len(stream_spans())
        r = with_policy(chat(s), policy(), stream_policy=ferrule.StreamPolicy(on_interrupt="continue"))
        got: List[Any] = []
        run(astream, r, got)
        assert text(got) == FULL
        last = s.requests[1]["json"]["messages"][-1]
        assert last == {"role": "assistant", "content": PREFIX}
        spans = stream_spans()[before:]
        assert len(spans) == 1  # one span for the stream, its seam on it
        a = spans[0]["attributes"]
        assert a["ferrule.stream.recovery"] == "continue" and a["ferrule.stream.seam_chars"] == len(PREFIX)


@pytest.mark.parametrize("astream", [False, True], ids=["stream", "astream"])
def test_fallback_streams_after_the_delivered_prefix(astream: bool) -> None:
    seen: List[ferrule.StreamInterrupted] = []

    def fallback(e: ferrule.StreamInterrupted) -> Any:
        seen.append(e)
        items = [AIMessageChunk(content="[fallback]", response_metadata={"finish_reason": "stop"})]
        if not astream:
            return items

        async def agen() -> Any:
            for i in items:
                yield i

        return agen()

    with MockLLMServer(fault("truncated_stream", 4), script=["truncated_stream"]) as s:
        sp = ferrule.StreamPolicy(on_interrupt="fallback", fallback=fallback)
        got: List[Any] = []
        run(astream, with_policy(chat(s), policy(), stream_policy=sp), got)
        assert text(got) == PREFIX + "[fallback]"
        assert seen[0].partial_text == PREFIX


def test_a_failure_before_the_first_chunk_is_retried_and_usage_is_on_the_span() -> None:
    with MockLLMServer(fault("stall_stream", 0), script=["stall_stream"]) as s:
        sp = ferrule.StreamPolicy(first_chunk_timeout_seconds=0.3, stall_timeout_seconds=5)
        r = with_policy(chat(s, stream_usage=True), policy(), stream_policy=sp)
        before = len(stream_spans())
        t = time.monotonic()
        got = list(r.stream(Q))
        assert text(got) == FULL
        assert 0.3 <= time.monotonic() - t < 2.5
        assert [q["fault"] for q in s.requests] == ["stall_stream", "ok"]
        (span,) = stream_spans()[before:]
        a = span["attributes"]
        assert a["ferrule.attempts"] == 2 and a["gen_ai.usage.output_tokens"] > 0 and a["gen_ai.usage.input_tokens"] > 0


def test_a_consumer_that_breaks_releases_the_connection_and_the_run_is_not_a_failure() -> None:
    with MockLLMServer(fault("stall_stream", 6), script=["stall_stream"]) as s:
        h = FerruleCallbackHandler()
        before = len(stream_spans())
        r = with_policy(chat(s), policy())
        it = iter(r.stream(Q, {"callbacks": [h]}))
        next(it), next(it)
        assert busy(s) == 1
        it.close()  # type: ignore[attr-defined]
        assert released(s)
        (span,) = stream_spans()[before:]
        assert span["status"] != "error"
        assert h.recorded == 1
        spans = {x["span_id"]: x for x in ferrule.recent_spans()}
        run_span = next(x for x in reversed(spans.values()) if x["attributes"].get("gen_ai.operation.name") == "chat" and x["attributes"].get("ferrule.integration") == "langchain")
        assert run_span["status"] != "error"  # abandoned, not failed
        # The model run nests under the stream's attempt, under the stream's span.
        assert spans[run_span["parent_span_id"]]["parent_span_id"] == span["span_id"]


def test_the_handler_records_time_per_chunk_for_a_streamed_run() -> None:
    with MockLLMServer() as s:
        h = FerruleCallbackHandler()
        body = "x" * 200  # 50 chunks of 4 characters
        m = chat(s, default_headers={"x-mock-content": body}, stream_usage=True)
        metric = "gen_ai_client_operation_time_per_output_chunk_seconds"

        def count() -> float:
            for line in ferrule.metrics_text().splitlines():
                if line.startswith(metric + "_count") and 'gen_ai_provider_name="openai"' in line and "mock-gpt-4o-mini" in line:
                    return float(line.rsplit(" ", 1)[1])
            return 0.0

        n0 = count()
        assert "".join(c.content for c in m.stream("hi", {"callbacks": [h]})) == body  # type: ignore[misc]
        n = count() - n0
        # One span for the streamed run, with the usage the model sent on its last chunk.
        runs = [x for x in ferrule.recent_spans() if x["attributes"].get("ferrule.integration") == "langchain" and x["attributes"].get("gen_ai.operation.name") == "chat"]
        a = runs[-1]["attributes"]
        assert a["gen_ai.usage.output_tokens"] > 0 and a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.response.time_to_first_chunk"] > 0
        # One gap per token after the first: LangChain reports each content delta, the empty role
        # and final deltas included.
        assert 49 <= n <= 53, n
        for line in ferrule.metrics_text().splitlines():
            if line.startswith(metric + "_sum") and "mock-gpt-4o-mini" in line:
                assert 0 <= float(line.rsplit(" ", 1)[1]) < 5.0
