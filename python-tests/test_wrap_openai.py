"""``ferrule.wrap_openai`` with the real OpenAI SDK (sync and async) against the mock server: the
server sees exactly the requests ferrule's policy makes (no stacked SDK retries), Retry-After is
waited (on a manual clock), the remaining deadline reaches the request as its timeout, every attempt
carries a traceparent of one trace, streams are observed to their end, and everything else passes
through."""

from __future__ import annotations

import re
from typing import Any, Dict, List, NamedTuple, Optional

import httpx2
import openai
import pytest

import ferrule
from ferrule.testing import ManualClock, MockLLMServer

from call_spy import spy_records

MSG = [{"role": "user", "content": "hi"}]
TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-01$")


def retrying(attempts: int = 3, clock: Optional[ManualClock] = None, **kw: Any) -> ferrule.Policy:
    retry = ferrule.Retry(attempts, backoff=ferrule.Backoff.constant(0.0), budget_ratio=None, **kw)
    return ferrule.Policy(retry=retry, clock=clock)


def sdk(server: MockLLMServer, **kw: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url, api_key="k", **kw)


def asdk(server: MockLLMServer, **kw: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.url, api_key="k", **kw)


class Rec(NamedTuple):
    """One call record: what the wrapper handed the core, and the call span the core filled."""

    operation: str
    model: Optional[str]
    error: Optional[BaseException]
    attributes: Dict[str, Any]
    duration: float

    @property
    def ttft(self) -> Optional[float]:
        return self.attributes.get("gen_ai.response.time_to_first_chunk")

    def tokens(self) -> tuple[Any, Any]:
        return self.attributes.get("gen_ai.usage.input_tokens"), self.attributes.get("gen_ai.usage.output_tokens")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> List[Rec]:
    """Every call record the wrapper makes, in order (the real one runs; its span is read back)."""
    seen: List[Rec] = []

    def on_record(span: Any, operation: str, provider: str, k: Dict[str, Any], cost: float) -> None:
        s = next(x for x in reversed(ferrule.recent_spans()) if x["span_id"] == span.span_id)
        a = dict(s["attributes"])
        seen.append(Rec(operation, a.get("gen_ai.request.model"), k.get("error"), a, (s["end_ns"] - s["start_ns"]) / 1e9))

    spy_records(monkeypatch, on_record)
    return seen


# ---- retries never stack --------------------------------------------------------------------------


def test_sdk_retries_are_off_and_the_server_sees_exactly_the_policys_attempts() -> None:
    with MockLLMServer(script=["429", "503", "ok"]) as s:
        bare = sdk(s, max_retries=5)
        c = ferrule.wrap_openai(bare, retrying(3, clock=ManualClock()))
        r = c.chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]
        assert r.choices[0].message.content == "Mock answer to: hi"
        assert [q["fault"] for q in s.requests] == ["rate_limit", "unavailable", "ok"]
        assert c.max_retries == 0 and bare.max_retries == 5  # the user's client is untouched
        assert isinstance(c, openai.OpenAI)


def test_giving_up_sends_exactly_attempts_requests() -> None:
    with MockLLMServer(script=["503", "503", "503", "503"]) as s:
        c = ferrule.wrap_openai(sdk(s), retrying(3, clock=ManualClock()))
        with pytest.raises(ferrule.RetryError) as ei:
            c.chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]
        assert ei.value.attempts == 3
        assert isinstance(ei.value.__cause__, openai.InternalServerError)
        assert s.stats()["requests"] == 3


def test_a_policy_without_retry_keeps_the_sdk_retries() -> None:
    with MockLLMServer(script=["503", "ok"]) as s:
        c = ferrule.wrap_openai(sdk(s, max_retries=1), ferrule.Policy(timeout_seconds=30.0))
        assert c.max_retries == 1
        c.chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]
        assert s.stats()["requests"] == 2


# ---- Retry-After ----------------------------------------------------------------------------------


def test_retry_after_from_the_server_is_waited_exactly() -> None:
    clock = ManualClock()
    waits: List[float] = []
    p = retrying(3, clock=clock, on_retry=lambda n, d, e: waits.append(d))
    with MockLLMServer([{"kind": "429", "rate": 0, "retry_after_seconds": 2.5}], script=["429"]) as s:
        c = ferrule.wrap_openai(sdk(s), p)
        t0 = clock.now()
        c.chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]
        assert waits == [pytest.approx(2.5)]  # retry-after-ms: 2500, not the backoff's 0
        assert clock.now() - t0 == pytest.approx(2.5)
        assert s.stats()["requests"] == 2


# ---- deadlines become the request's timeout ---------------------------------------------------------


def _timeout_recorder(seen: List[Any]) -> httpx2.Client:
    return httpx2.Client(event_hooks={"request": [lambda req: seen.append(req.extensions.get("timeout"))]})


def test_the_remaining_deadline_is_the_request_timeout() -> None:
    seen: List[Any] = []
    clock = ManualClock()
    p = ferrule.Policy(timeout_seconds=7.0, clock=clock)
    with MockLLMServer() as s:
        c = ferrule.wrap_openai(sdk(s, http_client=_timeout_recorder(seen), timeout=600.0), p)
        c.chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]
        c.chat.completions.create(model="m", messages=MSG, timeout=2.0)  # type: ignore[arg-type]  # the caller's tighter one wins
        c.embeddings.create(model="e", input="x")
    reads = [t["read"] for t in seen]
    assert reads == [pytest.approx(7.0), pytest.approx(2.0), pytest.approx(7.0)]


def test_no_deadline_leaves_the_clients_timeout() -> None:
    seen: List[Any] = []
    with MockLLMServer() as s:
        c = ferrule.wrap_openai(sdk(s, http_client=_timeout_recorder(seen), timeout=600.0), retrying(2))
        c.chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]
    assert seen[0]["read"] == pytest.approx(600.0)


def test_a_hung_server_ends_at_the_policys_timeout() -> None:
    with MockLLMServer(script=["hang"], hang_seconds=30) as s:
        c = ferrule.wrap_openai(sdk(s, max_retries=0), ferrule.Policy(timeout_seconds=0.2))
        with pytest.raises(openai.APITimeoutError):
            c.chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]


# ---- traceparent ------------------------------------------------------------------------------------


def test_each_attempt_carries_a_traceparent_of_one_trace() -> None:
    with MockLLMServer(script=["503", "ok", "ok"]) as s:
        c = ferrule.wrap_openai(sdk(s), retrying(3, clock=ManualClock()))
        c.chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]
        c.chat.completions.create(model="m", messages=MSG, extra_headers={"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"})  # type: ignore[arg-type]  # noqa: E501
        got = [TRACEPARENT.match(q["headers"]["traceparent"]) for q in s.requests]
    assert all(got)
    ids = [(m.group(1), m.group(2)) for m in got if m]
    assert ids[0][0] == ids[1][0] and ids[0][1] != ids[1][1]  # one trace, one span per attempt
    assert ids[2] == ("a" * 32, "b" * 16)  # the caller's own traceparent is kept


# ---- streams ----------------------------------------------------------------------------------------


def test_streams_are_retried_before_the_first_chunk_and_observed_to_the_end(calls: List[Rec]) -> None:
    with MockLLMServer(script=["429", "ok"], faults=[{"kind": "429", "rate": 0, "retry_after_seconds": 0}]) as s:
        c = ferrule.wrap_openai(sdk(s), retrying(3, clock=ManualClock()))
        stream = c.chat.completions.create(
            model="m", messages=MSG, stream=True, stream_options={"include_usage": True}  # type: ignore[arg-type]
        )
        assert calls == []  # the record waits for the stream's end
        text = "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices)
        assert text == "Mock answer to: hi"
        assert s.stats()["requests"] == 2
    assert len(calls) == 1
    r = calls[0]
    assert (r.operation, r.model, r.error) == ("chat", "m", None)
    i, o = r.tokens()
    assert i > 0 and o > 0  # the final chunk's usage
    assert r.attributes["gen_ai.response.model"] and r.attributes["gen_ai.response.id"]
    assert r.attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert r.ttft is not None and 0.0 <= r.ttft <= r.duration


def test_a_truncated_stream_is_recorded_with_its_error(calls: List[Rec]) -> None:
    with MockLLMServer(script=["truncated_stream"]) as s:
        c = ferrule.wrap_openai(sdk(s), retrying(3, clock=ManualClock()))
        with pytest.raises(Exception) as ei:
            for _ in c.chat.completions.create(model="m", messages=MSG, stream=True):  # type: ignore[arg-type]
                pass
    assert len(calls) == 1 and calls[0].error is ei.value


def test_a_stream_closed_early_is_recorded_once(calls: List[Rec]) -> None:
    with MockLLMServer() as s:
        c = ferrule.wrap_openai(sdk(s), retrying(2))
        with c.chat.completions.create(model="m", messages=MSG, stream=True) as stream:  # type: ignore[arg-type]
            next(iter(stream))
            assert stream.response.status_code == 200  # passes through to the SDK's stream
    assert len(calls) == 1 and calls[0].error is None and calls[0].ttft is not None


# ---- endpoints, records, passthrough, model policies -----------------------------------------------------


def test_usage_is_recorded_for_every_endpoint(calls: List[Rec]) -> None:
    with MockLLMServer() as s:
        c = ferrule.wrap_openai(sdk(s), retrying(2))
        c.chat.completions.create(model="chat-m", messages=MSG)  # type: ignore[arg-type]
        c.embeddings.create(model="emb-m", input="some words")
        c.responses.create(model="resp-m", input="hello")
        assert [q["path"] for q in s.requests] == ["/v1/chat/completions", "/v1/embeddings", "/v1/responses"]
    assert [(a.operation, a.model) for a in calls] == [("chat", "chat-m"), ("embeddings", "emb-m"), ("responses", "resp-m")]
    for a in calls:
        assert a.tokens()[0] > 0 and a.error is None
    assert calls[0].tokens()[1] > 0 and calls[2].tokens()[1] > 0


def test_a_failed_call_is_recorded_with_its_error(calls: List[Rec]) -> None:
    with MockLLMServer(script=["500"]) as s:
        c = ferrule.wrap_openai(sdk(s), ferrule.Policy(timeout_seconds=30.0))
        with pytest.raises(openai.InternalServerError) as ei:
            c.with_options(max_retries=0).chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]
    assert len(calls) == 1 and calls[0].error is ei.value
    assert calls[0].attributes["error.type"] == "openai.InternalServerError"
    assert calls[0].attributes["ferrule.outcome"] == "error"


def test_model_policies_pick_the_policy_by_model() -> None:
    with MockLLMServer(script=["503", "503", "ok"]) as s:
        one_try = ferrule.Policy(timeout_seconds=30.0)
        c = ferrule.wrap_openai(sdk(s), retrying(3, clock=ManualClock()), model_policies={"fragile": one_try})
        assert c.max_retries == 0
        with pytest.raises(openai.InternalServerError):
            c.chat.completions.create(model="fragile", messages=MSG)  # type: ignore[arg-type]
        assert s.stats()["requests"] == 1
        c.chat.completions.create(model="sturdy", messages=MSG)  # type: ignore[arg-type]
        assert s.stats()["requests"] == 3


def test_with_options_and_unwrapped_endpoints_pass_through() -> None:
    with MockLLMServer(script=["503", "ok"]) as s:
        c = ferrule.wrap_openai(sdk(s), retrying(3, clock=ManualClock()))
        c2 = c.with_options(timeout=30.0)
        assert isinstance(c2, openai.OpenAI) and c2.max_retries == 0
        c2.chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]
        assert s.stats()["requests"] == 2  # still retried by ferrule
        assert "mock-gpt-4o-mini" in [m.id for m in c.models.list().data]
        assert s.requests[-1]["path"] == "/v1/models"


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(TypeError, match="policy="):
        ferrule.wrap_openai(openai.OpenAI(api_key="k"), policy="retry")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="client="):
        ferrule.wrap_openai(object())
    with pytest.raises(TypeError, match="model_policies"):
        ferrule.wrap_openai(openai.OpenAI(api_key="k"), model_policies={"m": 3})  # type: ignore[dict-item]


# ---- async ------------------------------------------------------------------------------------------


async def test_async_client_retries_exactly_and_streams(calls: List[Rec]) -> None:
    with MockLLMServer(script=["503", "429", "ok", "ok"], faults=[{"kind": "429", "rate": 0, "retry_after_seconds": 0}]) as s:
        c = ferrule.wrap_openai(asdk(s, max_retries=4), retrying(3, clock=ManualClock()))
        assert isinstance(c, openai.AsyncOpenAI) and c.max_retries == 0
        r = await c.chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]
        assert r.choices[0].message.content == "Mock answer to: hi"
        assert s.stats()["requests"] == 3
        stream = await c.chat.completions.create(model="m", messages=MSG, stream=True)  # type: ignore[arg-type]
        text = "".join([ch.choices[0].delta.content or "" async for ch in stream if ch.choices])
        assert text == "Mock answer to: hi"
        assert all(TRACEPARENT.match(q["headers"]["traceparent"]) for q in s.requests)
    assert [a.error for a in calls] == [None, None] and calls[1].ttft is not None


async def test_async_deadline_is_the_request_timeout() -> None:
    seen: List[Any] = []

    async def hook(req: Any) -> None:
        seen.append(req.extensions.get("timeout"))

    with MockLLMServer() as s:
        http = httpx2.AsyncClient(event_hooks={"request": [hook]})
        c = ferrule.wrap_openai(asdk(s, http_client=http), ferrule.Policy(timeout_seconds=9.0, clock=ManualClock()))
        await c.chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]
    assert seen[0]["read"] == pytest.approx(9.0)


def test_a_fallback_sees_the_callers_arguments() -> None:
    seen: List[Any] = []

    def backup(error: BaseException, *args: Any, **kwargs: Any) -> str:
        seen.append((type(error).__name__, args, kwargs))
        return "from backup"

    with MockLLMServer(script=["503", "503"]) as s:
        p = ferrule.Policy(retry=ferrule.Retry(2, backoff=ferrule.Backoff.constant(0.0), budget_ratio=None),
                           fallback=backup, clock=ManualClock())
        c = ferrule.wrap_openai(sdk(s), p)
        assert c.chat.completions.create(model="m", messages=MSG) == "from backup"  # type: ignore[arg-type,comparison-overlap]
        assert s.stats()["requests"] == 2
    assert seen == [("RetryError", (), {"model": "m", "messages": MSG})]


def test_tokens_and_cost_reach_the_genai_metrics() -> None:
    ferrule.set_price("wrap-cost-model", 1.0, 2.0)  # USD per million input / output tokens
    with MockLLMServer() as s:
        c = ferrule.wrap_openai(sdk(s), retrying(2))
        r = c.chat.completions.create(model="wrap-cost-model", messages=MSG)  # type: ignore[arg-type]
    assert r.usage is not None
    text = ferrule.metrics_text()

    def value(metric: str, extra: str = "") -> float:
        pat = re.compile(rf'^{metric}{{[^}}]*gen_ai_request_model="wrap-cost-model"[^}}]*{extra}[^}}]*}} (\S+)$', re.M)
        m = pat.search(text)
        assert m is not None, metric
        return float(m.group(1))

    assert value("gen_ai_client_token_usage_sum", 'gen_ai_token_type="input"') == r.usage.prompt_tokens
    assert value("gen_ai_client_token_usage_sum", 'gen_ai_token_type="output"') == r.usage.completion_tokens
    cost = (r.usage.prompt_tokens * 1.0 + r.usage.completion_tokens * 2.0) / 1e6
    assert value("ferrule_cost_usd_total") == pytest.approx(cost)


def test_inside_a_ferrule_span_the_request_joins_its_trace() -> None:
    with MockLLMServer() as s:
        c = ferrule.wrap_openai(sdk(s), retrying(2))
        with ferrule.tracing.span("handle ticket") as outer:
            c.chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]
        c.chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]
        got = [TRACEPARENT.match(q["headers"]["traceparent"]) for q in s.requests]
    assert got[0] is not None and got[0].group(1) == outer.trace_id
    assert got[1] is not None and got[1].group(1) != outer.trace_id
