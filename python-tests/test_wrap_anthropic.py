"""``ferrule.wrap_anthropic`` with the real Anthropic SDK (sync and async) against the mock server's
Messages API: the server sees exactly the policy's attempts (no stacked SDK retries), each of
Anthropic's hints (``retry-after`` and the four ``anthropic-ratelimit-*-reset`` instants) is waited
on a 429, a 529 ``overloaded_error`` is retried, streams are observed to their end, spans and metrics
carry ``gen_ai.provider.name="anthropic"``, prompt-cache tokens are counted and priced, and a router
fails over from an OpenAI endpoint to an Anthropic one with one response shape."""

from __future__ import annotations

import re
from typing import Any, List, Optional, Tuple

import anthropic
import httpx2
import openai
import pytest

import ferrule
from ferrule.integrations import llm_call
from ferrule.transient import retry_after_of
from ferrule.testing import ManualClock, MockLLMServer

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
    real = llm_call.record_call

    def spy(span: Any, operation: str, provider: str, **k: Any) -> float:
        cost = real(span, operation, provider, **k)
        s = next(x for x in reversed(ferrule.recent_spans()) if x["span_id"] == span.span_id)
        seen.append((provider, k.get("error"), dict(s["attributes"]), cost))
        return cost

    monkeypatch.setattr(llm_call, "record_call", spy)
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


def test_a_stream_records_its_time_per_chunk() -> None:
    model = "claude-per-chunk"
    with MockLLMServer() as s:
        c = ferrule.wrap_anthropic(sdk(s), retrying(1, clock=ManualClock()))
        events = list(c.messages.create(model=model, max_tokens=64, messages=MSG, stream=True))  # type: ignore[arg-type]
    text = ferrule.metrics_text()
    m = re.search(r'^gen_ai_client_operation_time_per_output_chunk_seconds_count\{[^}]*gen_ai_request_model="%s"[^}]*\} (\S+)$' % model, text, re.M)
    assert m is not None and float(m.group(1)) == len(events) - 1  # one gap per event after the first
