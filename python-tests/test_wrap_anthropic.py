"""``ferrule.wrap_anthropic`` with the real Anthropic SDK (sync and async) against the mock server's
Messages API: the server sees exactly the policy's attempts (no stacked SDK retries), each of
Anthropic's hints (``retry-after`` and the four ``anthropic-ratelimit-*-reset`` instants) is waited
on a 429, a 529 ``overloaded_error`` is retried, streams are observed to their end, spans and metrics
carry ``gen_ai.provider.name="anthropic"``, prompt-cache tokens are counted and priced, a router
fails over from an OpenAI endpoint to an Anthropic one with one response shape (tool calls
included), and the SDK's ``messages.stream()`` helper runs under the policy and the stream
deadlines."""

from __future__ import annotations

import re
from typing import Any, List, Optional, Tuple

import anthropic
import httpx2
import openai
import pytest

import ferrule
from ferrule.transient import retry_after_of
from ferrule.testing import ManualClock, MockLLMServer

from call_spy import spy_records

MODEL = "claude-sonnet-4-5"
MSG = [{"role": "user", "content": "hi"}]
HINTS = [
    "retry-after",
    "anthropic-ratelimit-requests-reset",
    "anthropic-ratelimit-tokens-reset",
    "anthropic-ratelimit-input-tokens-reset",
    "anthropic-ratelimit-output-tokens-reset",
]


def retrying(attempts: int = 3, clock: Optional[ManualClock] = None, **kw: Any) -> ferrule.Policy:
    retry = ferrule.Retry(attempts, backoff=ferrule.Backoff.constant(0.0), budget_ratio=None, **kw)
    return ferrule.Policy(retry=retry, clock=clock)


def sdk(server: MockLLMServer, **kw: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.anthropic_url, api_key="k", **kw)


def asdk(server: MockLLMServer, **kw: Any) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=server.anthropic_url, api_key="k", **kw)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> List[Tuple[str, Any, dict[str, Any], float]]:
    """Every call record: (provider, error, the call span's attributes, cost in USD)."""
    seen: List[Tuple[str, Any, dict[str, Any], float]] = []

    def on_record(span: Any, operation: str, provider: str, k: dict[str, Any], cost: float) -> None:
        s = next(x for x in reversed(ferrule.recent_spans()) if x["span_id"] == span.span_id)
        seen.append((provider, k.get("error"), dict(s["attributes"]), cost))

    spy_records(monkeypatch, on_record)
    return seen


def test_sdk_retries_are_off_and_429_then_529_are_retried_exactly() -> None:
    with MockLLMServer(script=["429", "unavailable", "ok"], faults=[{"kind": "429", "rate": 0, "retry_after_seconds": 0}]) as s:
        bare = sdk(s, max_retries=5)
        c = ferrule.wrap_anthropic(bare, retrying(3, clock=ManualClock()))
        m = c.messages.create(model=MODEL, max_tokens=64, messages=MSG)  # type: ignore[arg-type]
        assert m.content[0].text == "Mock answer to: hi"  # type: ignore[union-attr]
        assert [q["fault"] for q in s.requests] == ["rate_limit", "unavailable", "ok"]
        assert all(q["path"] == "/v1/messages" for q in s.requests)
        assert c.max_retries == 0 and bare.max_retries == 5
        assert isinstance(c, anthropic.Anthropic)


def test_the_529_is_anthropics_overloaded_error_and_giving_up_raises_it() -> None:
    with MockLLMServer(script=["unavailable"] * 3) as s:
        c = ferrule.wrap_anthropic(sdk(s), retrying(2, clock=ManualClock()))
        with pytest.raises(ferrule.RetryError) as ei:
            c.messages.create(model=MODEL, max_tokens=64, messages=MSG)  # type: ignore[arg-type]
        cause = ei.value.__cause__
        assert isinstance(cause, anthropic.APIStatusError) and cause.status_code == 529
        assert cause.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
        assert s.stats()["requests"] == 2


@pytest.mark.parametrize("hint", HINTS)
def test_each_rate_limit_hint_is_waited(hint: str) -> None:
    clock = ManualClock()
    waits: List[float] = []
    p = retrying(3, clock=clock, on_retry=lambda n, d, e: waits.append(d))
    with MockLLMServer([{"kind": "429", "rate": 0, "retry_after_seconds": 4}], script=["429"]) as s:
        c = ferrule.wrap_anthropic(sdk(s, default_headers={"x-mock-hint": hint}), p)
        c.messages.create(model=MODEL, max_tokens=64, messages=MSG)  # type: ignore[arg-type]
        assert s.stats()["requests"] == 2
    # retry-after is whole seconds; a reset is an instant the server computed a moment ago.
    assert waits == [pytest.approx(4.0, abs=0.25)], hint


def test_a_reset_of_a_limit_with_room_left_is_not_a_hint() -> None:
    # Without the mock's narrowing every hint is sent: retry-after (4 s) wins over the resets.
    clock = ManualClock()
    waits: List[float] = []
    p = retrying(3, clock=clock, on_retry=lambda n, d, e: waits.append(d))
    with MockLLMServer([{"kind": "429", "rate": 0, "retry_after_seconds": 4}], script=["429"]) as s:
        c = ferrule.wrap_anthropic(sdk(s), p)
        c.messages.create(model=MODEL, max_tokens=64, messages=MSG)  # type: ignore[arg-type]
    assert waits == [pytest.approx(4.0)]
    assert retry_after_of(  # a reset on a limit with room left says nothing
        anthropic.RateLimitError(
            "x",
            response=httpx2.Response(
                429,
                headers={"anthropic-ratelimit-tokens-reset": "2099-01-01T00:00:00Z", "anthropic-ratelimit-tokens-remaining": "5"},
                request=httpx2.Request("POST", "http://127.0.0.1/v1/messages"),
            ),
            body=None,
        )
    ) is None


def test_spans_metrics_finish_reason_and_cost_with_cached_tokens(calls: List[Tuple[str, Any, dict[str, Any], float]]) -> None:
    ferrule.set_price("claude-cache-test", 3.0, 15.0)
    system = [{"type": "text", "text": "You answer tickets. " * 40, "cache_control": {"type": "ephemeral"}}]
    with MockLLMServer() as s:
        c = ferrule.wrap_anthropic(sdk(s), retrying(2))
        first = c.messages.create(model="claude-cache-test", max_tokens=64, system=system, messages=MSG)  # type: ignore[arg-type]
        second = c.messages.create(model="claude-cache-test", max_tokens=64, system=system, messages=MSG)  # type: ignore[arg-type]
        short = c.messages.create(model="claude-cache-test", max_tokens=2, messages=MSG)  # type: ignore[arg-type]
    assert first.usage.cache_creation_input_tokens and not first.usage.cache_read_input_tokens
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert short.stop_reason == "max_tokens"
    (p1, e1, a1, cost1), (_, _, a2, cost2), (_, _, a3, _) = calls
    assert p1 == "anthropic" and e1 is None
    assert a1["gen_ai.provider.name"] == "anthropic"
    assert a1["gen_ai.operation.name"] == "chat"
    assert a1["gen_ai.response.finish_reasons"] == ["end_turn"]
    assert a3["gen_ai.response.finish_reasons"] == ["max_tokens"]
    assert a1["gen_ai.response.id"] == first.id
    u1, u2 = first.usage, second.usage
    assert a1["gen_ai.usage.cache_creation.input_tokens"] == u1.cache_creation_input_tokens
    assert a2["gen_ai.usage.cache_read.input_tokens"] == u2.cache_read_input_tokens
    # The record's input counts every prompt token; Anthropic reports the cached ones beside it.
    assert a2["gen_ai.usage.input_tokens"] == u2.input_tokens + (u2.cache_read_input_tokens or 0)
    assert cost1 == pytest.approx((u1.input_tokens * 3.0 + (u1.cache_creation_input_tokens or 0) * 3.0 * 1.25 + u1.output_tokens * 15.0) / 1e6)
    assert cost2 == pytest.approx((u2.input_tokens * 3.0 + (u2.cache_read_input_tokens or 0) * 3.0 * 0.1 + u2.output_tokens * 15.0) / 1e6)
    assert cost2 < cost1
    text = ferrule.metrics_text()
    assert re.search(r'^gen_ai_client_operation_duration_seconds_count\{[^}]*gen_ai_provider_name="anthropic"[^}]*gen_ai_request_model="claude-cache-test"', text, re.M) or re.search(
        r'^gen_ai_client_operation_duration_seconds_count\{[^}]*gen_ai_request_model="claude-cache-test"[^}]*gen_ai_provider_name="anthropic"', text, re.M
    ), "no anthropic duration series"
    m = re.search(r'^ferrule_cost_usd_total\{[^}]*gen_ai_request_model="claude-cache-test"[^}]*\} (\S+)$', text, re.M)
    assert m is not None and float(m.group(1)) == pytest.approx(sum(c[3] for c in calls))


def test_streams_are_observed_to_the_end(calls: List[Tuple[str, Any, dict[str, Any], float]]) -> None:
    with MockLLMServer(script=["503", "ok"]) as s:
        c = ferrule.wrap_anthropic(sdk(s), retrying(3, clock=ManualClock()))
        stream = c.messages.create(model=MODEL, max_tokens=64, messages=MSG, stream=True)  # type: ignore[arg-type]
        assert calls == []  # the record waits for the stream's end
        text = "".join(e.delta.text for e in stream if e.type == "content_block_delta" and e.delta.type == "text_delta")
    assert text == "Mock answer to: hi"
    ((provider, err, a, _),) = calls
    assert provider == "anthropic" and err is None
    assert a["gen_ai.response.finish_reasons"] == ["end_turn"]
    assert a["gen_ai.usage.output_tokens"] > 1  # message_delta's count, not message_start's 1
    assert a["gen_ai.usage.input_tokens"] > 0
    assert a["gen_ai.response.time_to_first_chunk"] >= 0
    assert a["gen_ai.response.id"].startswith("msg_mock_")


def test_a_truncated_stream_is_recorded_with_its_error(calls: List[Tuple[str, Any, dict[str, Any], float]]) -> None:
    with MockLLMServer(script=["truncated_stream"]) as s:
        c = ferrule.wrap_anthropic(sdk(s), retrying(1))
        with pytest.raises(Exception):
            for _ in c.messages.create(model=MODEL, max_tokens=64, messages=MSG, stream=True):  # type: ignore[arg-type]
                pass
    ((_, err, a, _),) = calls
    assert err is not None and "error.type" in a


def test_a_stream_cut_mid_body_continues_seamlessly_after_the_delivered_text() -> None:
    # The retry asks for the rest (the delivered text as the assistant's prefill), and the mock's
    # Messages API answers a prefill with the rest only, as the API does: one seamless answer.
    question = [{"role": "user", "content": "what does the weather in Paris look like this afternoon"}]
    full = "Mock answer to: what does the weather in Paris look like this afternoon"
    with MockLLMServer(script=["truncated_stream"]) as s:
        sp = ferrule.StreamPolicy(stall_timeout_seconds=5, on_interrupt="continue")
        c = ferrule.wrap_anthropic(sdk(s), retrying(2), stream_policy=sp)
        stream = c.messages.create(model=MODEL, max_tokens=256, messages=question, stream=True)  # type: ignore[arg-type]
        pieces = [e.delta.text for e in stream if e.type == "content_block_delta" and e.delta.type == "text_delta"]
        assert s.stats()["requests"] == 2
        prefill = s.requests[1]["json"]["messages"][-1]
    assert "".join(pieces) == full
    assert prefill["role"] == "assistant" and 0 < len(prefill["content"]) < len(full)
    assert full.startswith(prefill["content"])


async def test_async_client_retries_and_streams(calls: List[Tuple[str, Any, dict[str, Any], float]]) -> None:
    clock = ManualClock()
    waits: List[float] = []
    p = retrying(3, clock=clock, on_retry=lambda n, d, e: waits.append(d))
    faults = [{"kind": "429", "rate": 0, "retry_after_seconds": 3}]
    with MockLLMServer(faults, script=["429", "unavailable", "ok", "ok"]) as s:
        c = ferrule.wrap_anthropic(asdk(s, default_headers={"x-mock-hint": "anthropic-ratelimit-output-tokens-reset"}), p)
        assert isinstance(c, anthropic.AsyncAnthropic)
        m = await c.messages.create(model=MODEL, max_tokens=64, messages=MSG)  # type: ignore[arg-type]
        assert m.content[0].text == "Mock answer to: hi"  # type: ignore[union-attr]
        stream = await c.messages.create(model=MODEL, max_tokens=64, messages=MSG, stream=True)  # type: ignore[arg-type]
        text = "".join([e.delta.text async for e in stream if e.type == "content_block_delta" and e.delta.type == "text_delta"])
        assert text == "Mock answer to: hi"
        assert s.stats()["requests"] == 4
    assert waits[0] == pytest.approx(3.0, abs=0.25) and len(waits) == 2
    assert [c[0] for c in calls] == ["anthropic", "anthropic"]
    assert calls[1][2]["gen_ai.response.finish_reasons"] == ["end_turn"]


def test_config_errors_name_the_parameter() -> None:
    with MockLLMServer() as s:
        with pytest.raises(TypeError, match="wrap_anthropic: policy="):
            ferrule.wrap_anthropic(sdk(s), policy="fast")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="wrap_anthropic: client="):
            ferrule.wrap_anthropic(object())
        w = ferrule.wrap_anthropic(sdk(s), retrying(2))
        assert w.with_options(timeout=5.0).max_retries == 0  # a copy is wrapped too


def test_a_router_fails_over_from_openai_to_anthropic_with_one_shape() -> None:
    with MockLLMServer(script=["503"] * 10) as down, MockLLMServer() as up:
        oa = ferrule.wrap_openai(openai.OpenAI(base_url=down.url, api_key="k", max_retries=0), ferrule.Policy(timeout_seconds=10.0))
        an = ferrule.wrap_anthropic(sdk(up), ferrule.Policy(timeout_seconds=10.0))

        def via_openai(question: str) -> Any:
            return oa.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": question}])

        def via_anthropic(question: str) -> Any:
            return an.messages.create(model=MODEL, max_tokens=256, messages=[{"role": "user", "content": question}])

        router = ferrule.Router(
            [ferrule.Endpoint("openai", via_openai, weight=1000), ferrule.Endpoint("anthropic", via_anthropic)],
            seed=1,
            normalize="openai",
            eject_after_failures=0,
        )
        r = router.call("hello")
        assert down.stats()["requests"] == 1 and up.stats()["requests"] == 1
    assert isinstance(r, ferrule.ChatResponse)
    assert (r.endpoint, r.content, r.finish_reason, r.model) == ("anthropic", "Mock answer to: hello", "end_turn", MODEL)
    assert r.input_tokens and r.output_tokens


# ---- tool calls in the normalized shape -------------------------------------------------------------

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city", "unit"]}
OPENAI_TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city", "parameters": SCHEMA}}]
ANTHROPIC_TOOLS = [{"name": "get_weather", "description": "Weather in a city", "input_schema": SCHEMA}]
QUESTION = "Weather in Paris?"


def _tool_router(oa: Any, an: Any, is_async: bool) -> ferrule.Router:
    """OpenAI first (it takes every call it can), Anthropic behind it; one tool-using request."""

    def via_openai(q: str) -> Any:
        return oa.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": q}], tools=OPENAI_TOOLS)

    def via_anthropic(q: str) -> Any:
        return an.messages.create(model=MODEL, max_tokens=256, messages=[{"role": "user", "content": q}], tools=ANTHROPIC_TOOLS)

    if is_async:

        async def a_openai(q: str) -> Any:
            return await via_openai(q)

        async def a_anthropic(q: str) -> Any:
            return await via_anthropic(q)

        calls: Tuple[Any, Any] = (a_openai, a_anthropic)
    else:
        calls = (via_openai, via_anthropic)
    return ferrule.Router(
        [ferrule.Endpoint("openai", calls[0], weight=1000), ferrule.Endpoint("anthropic", calls[1])],
        seed=1,
        normalize="openai",
        eject_after_failures=0,
    )


@pytest.mark.parametrize("is_async", [False, True])
async def test_a_tool_call_fails_over_from_openai_to_anthropic_as_the_same_normalized_call(is_async: bool) -> None:
    OA, AN = (openai.AsyncOpenAI, anthropic.AsyncAnthropic) if is_async else (openai.OpenAI, anthropic.Anthropic)
    with MockLLMServer() as healthy, MockLLMServer(script=["503"] * 10) as down, MockLLMServer() as up:
        no_retry = ferrule.Policy(timeout_seconds=10.0)

        def router_for(openai_server: MockLLMServer) -> ferrule.Router:
            oa = ferrule.wrap_openai(OA(base_url=openai_server.url, api_key="k", max_retries=0), no_retry)
            an = ferrule.wrap_anthropic(AN(base_url=up.anthropic_url, api_key="k"), no_retry)
            return _tool_router(oa, an, is_async)

        async def ask(r: ferrule.Router) -> ferrule.ChatResponse:
            out = r.call(QUESTION)
            return await out if is_async else out  # type: ignore[no-any-return]

        direct = await ask(router_for(healthy))  # OpenAI answers
        moved = await ask(router_for(down))  # OpenAI is down: Anthropic answers
        assert down.stats()["requests"] == 1 and up.stats()["requests"] == 1
    assert (direct.endpoint, moved.endpoint) == ("openai", "anthropic")
    assert (direct.finish_reason, moved.finish_reason) == ("tool_calls", "tool_use")
    (d,), (m,) = direct.tool_calls, moved.tool_calls
    assert isinstance(m, ferrule.ToolCall)
    # The same call, whichever provider made it: name, arguments text and parsed arguments.
    assert (m.name, m.arguments, m.parsed_arguments) == (d.name, d.arguments, d.parsed_arguments)
    assert m.parsed_arguments == {"city": QUESTION, "unit": "celsius"}
    assert d.id.startswith("call_") and m.id.startswith("toolu_")
    # The raw responses are the SDKs' own objects; the text is empty for both.
    assert (direct.content, moved.content) == ("", "")
    assert moved.raw.content[0].input == m.parsed_arguments


def test_a_tool_result_goes_back_and_the_answer_is_text() -> None:
    with MockLLMServer() as s:
        an = ferrule.wrap_anthropic(sdk(s), retrying(2))
        first = an.messages.create(model=MODEL, max_tokens=256, messages=[{"role": "user", "content": QUESTION}], tools=ANTHROPIC_TOOLS)  # type: ignore[arg-type]
        (call,) = ferrule.normalize_chat(first).tool_calls
        history: Any = [
            {"role": "user", "content": QUESTION},
            {"role": "assistant", "content": [b.model_dump() for b in first.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18 C, clear"}]},
        ]
        second = an.messages.create(model=MODEL, max_tokens=256, messages=history, tools=ANTHROPIC_TOOLS)  # type: ignore[arg-type]
    answer = ferrule.normalize_chat(second)
    assert answer.tool_calls == () and answer.finish_reason == "end_turn"
    assert answer.content == f"Mock answer to: {QUESTION} (the tool said: 18 C, clear)"


def test_broken_tool_arguments_are_kept_as_text_and_not_parsed() -> None:
    raw = {
        "choices": [
            {
                "finish_reason": "tool_calls",
                "message": {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "call_9", "type": "function", "function": {"name": "f", "arguments": '{"city": "Par'}}
                ]},
            }
        ]
    }
    (t,) = ferrule.normalize_chat(raw).tool_calls
    assert (t.id, t.name, t.arguments, t.parsed_arguments) == ("call_9", "f", '{"city": "Par', None)


# ---- messages.stream(): the SDK's stream helper under the policy ------------------------------------


def _stall(after: int) -> List[dict[str, Any]]:
    return [{"kind": "stall_stream", "rate": 0, "after_chunks": after, "latency_seconds": 20.0}]


def test_the_stream_helper_runs_through_the_policy_and_records_once(calls: List[Tuple[str, Any, dict[str, Any], float]]) -> None:
    with MockLLMServer(script=["unavailable", "ok"]) as s:
        c = ferrule.wrap_anthropic(sdk(s), retrying(3, clock=ManualClock()))
        with c.messages.stream(model=MODEL, max_tokens=64, messages=MSG) as stream:  # type: ignore[arg-type]
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        assert s.stats()["requests"] == 2  # the 529 was retried before the first event
        assert s.requests[-1]["headers"]["traceparent"].startswith("00-")
    assert text == "Mock answer to: hi" and final.stop_reason == "end_turn"
    ((provider, err, a, _),) = calls
    assert provider == "anthropic" and err is None
    assert a["gen_ai.response.finish_reasons"] == ["end_turn"]
    assert a["gen_ai.usage.output_tokens"] == final.usage.output_tokens
    assert a["ferrule.attempts"] == 2 and a["gen_ai.response.id"] == final.id


def test_the_stream_helper_is_cut_at_its_stall_deadline(calls: List[Tuple[str, Any, dict[str, Any], float]]) -> None:
    import time

    with MockLLMServer(_stall(4), script=["stall_stream"]) as s:
        sp = ferrule.StreamPolicy(stall_timeout_seconds=0.3)
        c = ferrule.wrap_anthropic(sdk(s), retrying(3), stream_policy=sp)
        got: List[str] = []
        last = time.monotonic()
        with pytest.raises(ferrule.StreamInterrupted) as ei:
            with c.messages.stream(model=MODEL, max_tokens=64, messages=MSG) as stream:  # type: ignore[arg-type]
                for t in stream.text_stream:
                    got.append(t)
                    last = time.monotonic()
        waited = time.monotonic() - last
        assert 0.3 <= waited < 1.5, waited  # the deadline, not the server's 20 s silence
        assert s.stats()["requests"] == 1
    e = ei.value
    assert isinstance(e.cause, ferrule.StreamTimeoutError) and e.cause.deadline == "stall"
    # message_start, content_block_start, ping, then one text delta came before the silence.
    assert e.partial_text == "".join(got) == "Mock"
    ((_, err, a, _),) = calls
    assert err is e and "error.type" in a


def test_the_stream_helper_cut_mid_body_raises_interrupted(calls: List[Tuple[str, Any, dict[str, Any], float]]) -> None:
    with MockLLMServer(script=["truncated_stream"]) as s:
        c = ferrule.wrap_anthropic(sdk(s), retrying(2))
        with pytest.raises(ferrule.StreamInterrupted) as ei:
            with c.messages.stream(model=MODEL, max_tokens=64, messages=MSG) as stream:  # type: ignore[arg-type]
                for _ in stream:
                    pass
        assert s.stats()["requests"] == 1  # after the first event a break is not retried
    assert ei.value.chunks > 0
    ((_, err, _, _),) = calls
    assert err is ei.value


async def test_the_async_stream_helper_retries_then_is_cut_at_its_stall(calls: List[Tuple[str, Any, dict[str, Any], float]]) -> None:
    with MockLLMServer(script=["429", "ok"], faults=[{"kind": "429", "rate": 0, "retry_after_seconds": 0}]) as s:
        c = ferrule.wrap_anthropic(asdk(s), retrying(3, clock=ManualClock()))
        async with c.messages.stream(model=MODEL, max_tokens=64, messages=MSG) as stream:  # type: ignore[arg-type]
            text = "".join([t async for t in stream.text_stream])
            final = await stream.get_final_message()
        assert text == "Mock answer to: hi" and final.stop_reason == "end_turn"
        assert s.stats()["requests"] == 2
    with MockLLMServer(_stall(4), script=["stall_stream"]) as s:
        sp = ferrule.StreamPolicy(stall_timeout_seconds=0.3)
        c = ferrule.wrap_anthropic(asdk(s), retrying(2), stream_policy=sp)
        with pytest.raises(ferrule.StreamInterrupted) as ei:
            async with c.messages.stream(model=MODEL, max_tokens=64, messages=MSG) as stream:  # type: ignore[arg-type]
                async for _ in stream:
                    pass
    assert isinstance(ei.value.cause, ferrule.StreamTimeoutError)
    assert [c[1] is None for c in calls] == [True, False]
    assert calls[0][2]["gen_ai.response.finish_reasons"] == ["end_turn"]


async def test_a_streamed_tool_call_accumulates_into_the_same_normalized_call() -> None:
    with MockLLMServer() as s:
        c = ferrule.wrap_anthropic(sdk(s), retrying(2))
        plain = c.messages.create(model=MODEL, max_tokens=256, messages=[{"role": "user", "content": QUESTION}], tools=ANTHROPIC_TOOLS)  # type: ignore[arg-type]
        with c.messages.stream(model=MODEL, max_tokens=256, messages=[{"role": "user", "content": QUESTION}], tools=ANTHROPIC_TOOLS) as stream:  # type: ignore[arg-type]
            partial = "".join(e.partial_json for e in stream if e.type == "input_json")
            streamed = stream.get_final_message()
        oa = ferrule.wrap_openai(openai.AsyncOpenAI(base_url=s.url, api_key="k"), retrying(2))
        chunks = await oa.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": QUESTION}], tools=OPENAI_TOOLS, stream=True  # type: ignore[arg-type]
        )
        openai_args = "".join([ch.choices[0].delta.tool_calls[0].function.arguments or "" async for ch in chunks if ch.choices and ch.choices[0].delta.tool_calls])
    (p,), (t,) = ferrule.normalize_chat(plain).tool_calls, ferrule.normalize_chat(streamed).tool_calls
    assert streamed.stop_reason == "tool_use"
    assert (t.name, t.arguments, t.parsed_arguments) == (p.name, p.arguments, p.parsed_arguments)
    # The input arrived in pieces (input_json_delta), as Anthropic streams it, and OpenAI's stream
    # carries the same arguments text.
    assert partial == openai_args == p.arguments


def test_a_stream_records_its_time_per_chunk() -> None:
    model = "claude-per-chunk"
    with MockLLMServer() as s:
        c = ferrule.wrap_anthropic(sdk(s), retrying(1, clock=ManualClock()))
        events = list(c.messages.create(model=model, max_tokens=64, messages=MSG, stream=True))  # type: ignore[arg-type]
    text = ferrule.metrics_text()
    m = re.search(r'^gen_ai_client_operation_time_per_output_chunk_seconds_count\{[^}]*gen_ai_request_model="%s"[^}]*\} (\S+)$' % model, text, re.M)
    assert m is not None and float(m.group(1)) == len(events) - 1  # one gap per event after the first
