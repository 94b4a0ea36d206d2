"""Sync LangChain streams whose model ferrule does not hold directly: a ``prompt | ChatOpenAI`` chain
and a ``ChatAnthropic`` model, wrapped by ``with_policy(..., stream_policy=...)``, against the mock
server's stream faults. ``with_policy`` finds the model inside the chain and watches its sockets (on
a copy, the user's chain untouched), so a sync ``stream()`` stalled after its first chunks is closed
at the stall deadline (measured on the call) and its connection released, a silent first chunk is
retried, and a stream cut after N chunks keeps each ``on_interrupt`` mode's guarantee. A model whose
socket ferrule cannot reach is named in a warning and counted, never silently left without its
deadline."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Dict, Iterator, List

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableGenerator, RunnableLambda, RunnableParallel, RunnablePassthrough
from langchain_openai import ChatOpenAI

import ferrule
from ferrule.integrations.langchain import with_policy
from ferrule.integrations.langchain_stream import _ReportingCompletions
from ferrule.testing import MockLLMServer

Q = "tell me about streams"
FULL = "Mock answer to: tell me about streams"
PREFIX = FULL[:12]  # a role event, then 4 characters per event: 4 events give 12
STALL = 0.3


def policy(attempts: int = 3) -> ferrule.Policy:
    return ferrule.Policy(retry=ferrule.Retry(attempts, backoff=ferrule.Backoff.constant(0.0), budget_ratio=None))


def fault(kind: str, after: int, seconds: float = 20.0) -> List[Dict[str, Any]]:
    return [{"kind": kind, "rate": 0, "after_chunks": after, "latency_seconds": seconds}]


def chain(s: MockLLMServer) -> Any:
    prompt = ChatPromptTemplate.from_messages([("human", "{q}")])
    return prompt | ChatOpenAI(model="mock-gpt-4o-mini", base_url=s.url, api_key="k")  # type: ignore[arg-type]


def claude(s: MockLLMServer) -> ChatAnthropic:
    return ChatAnthropic(model="mock-claude", base_url=s.anthropic_url, api_key="k", max_tokens=256)  # type: ignore[call-arg]


def busy(s: MockLLMServer) -> int:
    st = s.stats()
    return int(st["open_connections"] - st["idle_connections"])


def released(s: MockLLMServer, within: float = 3.0) -> bool:
    end = time.monotonic() + within
    while time.monotonic() < end:
        if busy(s) == 0:
            return True
        time.sleep(0.01)
    return False


def text(chunks: List[Any]) -> str:
    out = []
    for c in chunks:
        content = c.content if isinstance(c, AIMessageChunk) else c
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            out.extend(b["text"] for b in content if isinstance(b, dict) and b.get("type") == "text" and "text" in b)
    return "".join(out)


def stall_case(s: MockLLMServer, r: Any, inp: Any) -> ferrule.StreamInterrupted:
    got: List[Any] = []
    it = r.stream(inp)
    last = time.monotonic()
    try:
        for c in it:
            got.append(c)
            last = time.monotonic()
    except ferrule.StreamInterrupted as e:
        waited = time.monotonic() - last
        assert STALL <= waited < 1.5, waited  # the deadline, not the server's 20 s silence
        assert isinstance(e.cause, ferrule.StreamTimeoutError) and e.cause.deadline == "stall"
        assert e.partial_text == text(got) and e.partial_text
        assert released(s)
        assert s.stats()["requests"] == 1
        return e
    raise AssertionError("the stalled stream ended without StreamInterrupted")


def test_a_chain_stalled_after_its_first_chunks_is_closed_at_the_stall_deadline() -> None:
    with MockLLMServer(fault("stall_stream", 4), script=["stall_stream"]) as s:
        c = chain(s)
        model = c.last
        r = with_policy(c, policy(), stream_policy=ferrule.StreamPolicy(stall_timeout_seconds=STALL))
        e = stall_case(s, r, {"q": Q})
        assert e.partial_text == PREFIX
        # The user's chain and model are as they were: the watched clients are on copies.
        assert c.last is model and not isinstance(model.client, _ReportingCompletions)
        assert model.root_client.max_retries != 0


def test_a_chain_whose_first_chunk_is_late_is_retried_within_the_first_chunk_deadline() -> None:
    with MockLLMServer(fault("stall_stream", 0), script=["stall_stream"]) as s:
        sp = ferrule.StreamPolicy(first_chunk_timeout_seconds=STALL, stall_timeout_seconds=5)
        r = with_policy(chain(s), policy(), stream_policy=sp)
        t = time.monotonic()
        got = list(r.stream({"q": Q}))
        assert text(got) == FULL
        assert STALL <= time.monotonic() - t < 2.5
        assert [q["fault"] for q in s.requests] == ["stall_stream", "ok"]
        assert released(s)


def test_a_cut_chain_raises_with_exactly_the_delivered_text() -> None:
    with MockLLMServer(fault("truncated_stream", 4), script=["truncated_stream"]) as s:
        r = with_policy(chain(s), policy(), stream_policy=ferrule.StreamPolicy(stall_timeout_seconds=5))
        got: List[Any] = []
        with pytest.raises(ferrule.StreamInterrupted) as ei:
            for c in r.stream({"q": Q}):
                got.append(c)
        assert ei.value.partial_text == text(got) == PREFIX
        assert s.stats()["requests"] == 1
        assert released(s)


def test_a_cut_chain_falls_back_after_the_delivered_prefix() -> None:
    seen: List[ferrule.StreamInterrupted] = []

    def fallback(e: ferrule.StreamInterrupted) -> Any:
        seen.append(e)
        return [AIMessageChunk(content="[fallback]", response_metadata={"finish_reason": "stop"})]

    with MockLLMServer(fault("truncated_stream", 4), script=["truncated_stream"]) as s:
        sp = ferrule.StreamPolicy(stall_timeout_seconds=5, on_interrupt="fallback", fallback=fallback)
        got = list(with_policy(chain(s), policy(), stream_policy=sp).stream({"q": Q}))
        assert text(got) == PREFIX + "[fallback]"
        assert seen[0].partial_text == PREFIX
        assert released(s)


def test_continue_on_a_chain_gives_one_seamless_answer() -> None:
    # The chain's input is the prompt's (a dict): the resumed attempt runs the same chain, and the
    # model's watched client ends the request with the delivered text as the assistant's.
    with MockLLMServer(fault("truncated_stream", 4), script=["truncated_stream"]) as s:
        sp = ferrule.StreamPolicy(stall_timeout_seconds=5, on_interrupt="continue")
        got = list(with_policy(chain(s), policy(), stream_policy=sp).stream({"q": Q}))
        assert text(got) == FULL
        assert s.requests[1]["json"]["messages"][-1] == {"role": "assistant", "content": PREFIX}
        assert s.stats()["requests"] == 2
        assert released(s)


def test_continue_on_a_chain_of_a_model_it_cannot_extend_raises_with_the_delivered_text() -> None:
    # ChatAnthropic's request is not built by a client ferrule wraps: 'continue' keeps the 'raise'
    # guarantee and names the reason as the cause.
    with MockLLMServer(fault("truncated_stream", 5), script=["truncated_stream"]) as s:
        c = ChatPromptTemplate.from_messages([("human", "{q}")]) | claude(s)
        sp = ferrule.StreamPolicy(stall_timeout_seconds=5, on_interrupt="continue")
        got: List[Any] = []
        with pytest.raises(ferrule.StreamInterrupted) as ei:
            for ch in with_policy(c, policy(), stream_policy=sp).stream({"q": Q}):
                got.append(ch)
        assert ei.value.partial_text == text(got) and FULL.startswith(ei.value.partial_text)
        assert isinstance(ei.value.cause, TypeError) and "cannot continue" in str(ei.value.cause)
        assert s.stats()["requests"] == 1


def test_chat_anthropic_stalled_after_its_first_chunks_is_closed_at_the_stall_deadline() -> None:
    with MockLLMServer(fault("stall_stream", 5), script=["stall_stream"]) as s:
        model = claude(s)
        r = with_policy(model, policy(), stream_policy=ferrule.StreamPolicy(stall_timeout_seconds=STALL))
        e = stall_case(s, r, Q)
        assert FULL.startswith(e.partial_text)
        # The hooks on the model's httpx client do nothing outside a with_policy stream.
        t = time.monotonic()
        assert text(list(model.stream(Q))) == FULL and time.monotonic() - t < 2


def test_chat_anthropic_whose_first_chunk_is_late_is_retried_within_the_first_chunk_deadline() -> None:
    with MockLLMServer(fault("stall_stream", 0), script=["stall_stream"]) as s:
        sp = ferrule.StreamPolicy(first_chunk_timeout_seconds=STALL, stall_timeout_seconds=5)
        r = with_policy(claude(s), policy(), stream_policy=sp)
        t = time.monotonic()
        got = list(r.stream(Q))
        assert text(got) == FULL
        assert STALL <= time.monotonic() - t < 2.5
        assert [q["fault"] for q in s.requests] == ["stall_stream", "ok"]
        assert released(s)


def test_chat_anthropic_astream_stalled_is_closed_at_the_stall_deadline() -> None:
    async def main(r: Any, got: List[Any]) -> float:
        last = time.monotonic()
        with pytest.raises(ferrule.StreamInterrupted) as ei:
            async for c in r.astream(Q):
                got.append(c)
                last = time.monotonic()
        assert isinstance(ei.value.cause, ferrule.StreamTimeoutError)
        return time.monotonic() - last

    with MockLLMServer(fault("stall_stream", 5), script=["stall_stream"]) as s:
        r = with_policy(claude(s), policy(), stream_policy=ferrule.StreamPolicy(stall_timeout_seconds=STALL))
        got: List[Any] = []
        waited = asyncio.run(main(r, got))
        assert STALL <= waited < 1.5, waited
        assert released(s)


def test_chat_anthropic_cut_after_n_chunks_raises_with_exactly_the_delivered_text() -> None:
    with MockLLMServer(fault("truncated_stream", 5), script=["truncated_stream"]) as s:
        r = with_policy(claude(s), policy(), stream_policy=ferrule.StreamPolicy(stall_timeout_seconds=5))
        got: List[Any] = []
        with pytest.raises(ferrule.StreamInterrupted) as ei:
            for c in r.stream(Q):
                got.append(c)
        assert ei.value.partial_text == text(got) and FULL.startswith(ei.value.partial_text)
        assert ei.value.cause is not None  # the SDK's error for the cut body
        assert s.stats()["requests"] == 1
        assert released(s)


def test_chat_anthropic_cut_after_n_chunks_continues_after_exactly_the_delivered_text() -> None:
    with MockLLMServer(fault("truncated_stream", 5), script=["truncated_stream"]) as s:
        sp = ferrule.StreamPolicy(stall_timeout_seconds=5, on_interrupt="continue")
        got = list(with_policy(claude(s), policy(), stream_policy=sp).stream(Q))
        assert s.stats()["requests"] == 2
        last = s.requests[1]["json"]["messages"][-1]
        assert last["role"] == "assistant"
        prefix = last["content"] if isinstance(last["content"], str) else "".join(b["text"] for b in last["content"])
        assert prefix and FULL.startswith(prefix) and len(prefix) < len(FULL)
        # The delivered prefix once, then the rest: the mock's Messages API, like the real one,
        # continues an assistant prefill and sends only what follows it.
        assert text(got) == FULL
        assert released(s)


class _NoClientModel(BaseChatModel):
    """A chat model with no HTTP client ferrule could reach: it streams three words and a finish."""

    @property
    def _llm_type(self) -> str:
        return "no-client"

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="a b c"))])

    def _stream(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Iterator[ChatGenerationChunk]:
        for w in ("a", " b", " c"):
            yield ChatGenerationChunk(message=AIMessageChunk(content=w))
        yield ChatGenerationChunk(message=AIMessageChunk(content="", response_metadata={"finish_reason": "stop"}))


def _unenforced(where: str) -> float:
    for line in ferrule.metrics_text().splitlines():
        if line.startswith("ferrule_stream_deadlines_unenforced_total{") and f'where="{where}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_model_whose_socket_cannot_be_reached_is_named_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    ferrule.configure(log_dedup_seconds=0)
    try:
        model = _NoClientModel()
        before_w, before_s = _unenforced("with_policy"), _unenforced("stream")
        with caplog.at_level(logging.WARNING, logger="ferrule"):
            r = with_policy(model, policy(), stream_policy=ferrule.StreamPolicy(stall_timeout_seconds=5))
            got = list(r.stream(Q))
        assert text(got) == "a b c"
        assert _unenforced("with_policy") == before_w + 1 and _unenforced("stream") == before_s + 1
        said = " ".join(rec.getMessage() for rec in caplog.records)
        assert "_NoClientModel" in said and "astream()" in said

        # A runnable that hides what it calls: nothing to name at with_policy, counted per stream.
        def words(inputs: Iterator[Any]) -> Iterator[str]:
            for _ in inputs:
                yield from ("x", "y")

        r = with_policy(RunnableGenerator(words), policy(), stream_policy=ferrule.StreamPolicy(first_chunk_timeout_seconds=5))
        assert list(r.stream(Q)) == ["x", "y"]
        assert _unenforced("with_policy") == before_w + 1 and _unenforced("stream") == before_s + 2
    finally:
        ferrule.configure(log_dedup_seconds=1)


def test_with_policy_prepares_the_models_inside_every_composite_on_copies() -> None:
    with MockLLMServer() as s:
        gpt = ChatOpenAI(model="mock-gpt-4o-mini", base_url=s.url, api_key="k", max_retries=4)  # type: ignore[arg-type]
        prompt = ChatPromptTemplate.from_messages([("human", "{q}")])
        # The same model twice (bound, and as a fallback's last step), a parallel map and a binding.
        primary = prompt | gpt.bind(stop=["never"])
        backup = RunnableParallel(q=RunnablePassthrough()) | RunnableLambda(lambda d: d["q"]) | prompt | gpt
        c = primary.with_fallbacks([backup])
        counted = _unenforced("with_policy"), _unenforced("stream")
        r = with_policy(c, policy(), stream_policy=ferrule.StreamPolicy(stall_timeout_seconds=5))
        w = r.bound
        bound_model = w.runnable.last.bound
        fallback_model = w.fallbacks[0].last
        assert bound_model is fallback_model  # one copy for the one model
        assert isinstance(bound_model.client, _ReportingCompletions) and bound_model.root_client.max_retries == 0
        # The user's objects are untouched.
        assert c.runnable.last.bound is gpt and c.fallbacks[0].last is gpt
        assert not isinstance(gpt.client, _ReportingCompletions) and gpt.root_client.max_retries == 4
        assert w.runnable.last.kwargs == {"stop": ["never"]}
        assert text(list(r.stream({"q": Q}))) == FULL
        assert (_unenforced("with_policy"), _unenforced("stream")) == counted  # every socket was reachable


def test_a_chains_invoke_retries_exactly_without_the_sdks_retries() -> None:
    with MockLLMServer(script=["503", "503", "ok"]) as s:
        prompt = ChatPromptTemplate.from_messages([("human", "{q}")])
        c = prompt | ChatOpenAI(model="mock-gpt-4o-mini", base_url=s.url, api_key="k", max_retries=4)  # type: ignore[arg-type]
        with pytest.raises(Exception) as ei:
            with_policy(c, policy(2)).invoke({"q": "hi"})
        # The policy's two attempts; with the SDK's own retries the third request would have answered.
        assert s.stats()["requests"] == 2 and "503" in str(ei.value)
