"""Spans made by policies and by ``wrap_openai`` / the LangChain handler, read back through
``ferrule.recent_spans()``: a call span with one child per attempt and per fallback, GenAI names and
attributes, the attempt's span id in the request's ``traceparent``, time to first chunk on streams
(and the span ended when a stream is closed early or breaks), content capture off by default and
masked when on, and one inference-log record per call."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any, Dict, Iterator, List

import openai
import pytest

import ferrule
from ferrule.testing import ManualClock, MockLLMServer
from telemetry_state import reset

MSG = [{"role": "user", "content": "hi, mail me at jane.doe@example.com"}]
TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$")


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    reset()
    ferrule.configure(trace_policies=False)
    yield
    ferrule.configure(trace_policies=False)
    reset()


def spans() -> List[Dict[str, Any]]:
    return sorted(ferrule.recent_spans(), key=lambda s: (s["start_ns"], s["end_ns"]))


def role(s: Dict[str, Any]) -> Any:
    return s["attributes"].get("ferrule.span.role")


def retrying(attempts: int = 3, **kw: Any) -> ferrule.Policy:
    retry = ferrule.Retry(attempts, backoff=ferrule.Backoff.constant(0.0), budget_ratio=None)
    return ferrule.Policy(retry=retry, clock=ManualClock(), **kw)


class Flaky:
    def __init__(self, fails: int) -> None:
        self.fails = fails
        self.calls = 0

    def __call__(self, x: int) -> int:
        self.calls += 1
        if self.calls <= self.fails:
            raise ConnectionError(f"down {self.calls}")
        return x * 2


# ---- policies ---------------------------------------------------------------------------------------


def test_an_untraced_policy_records_no_span() -> None:
    f = retrying(3, name="quiet")(Flaky(1))
    assert f(2) == 4
    assert ferrule.recent_spans() == []


@pytest.mark.parametrize("kind", ["decorated", "call", "bounded"])
def test_a_policy_call_is_one_span_with_one_child_per_attempt(kind: str) -> None:
    ferrule.configure(trace_policies=True)
    flaky = Flaky(2)
    if kind == "bounded":
        p = retrying(3, name="traced", timeout_seconds=30.0)
    else:
        p = retrying(3, name="traced")
    out = p.call(flaky, 21) if kind == "call" else p(flaky)(21)
    assert out == 42
    got = spans()
    calls = [s for s in got if role(s) == "call"]
    attempts = [s for s in got if role(s) == "attempt"]
    assert len(calls) == 1 and len(attempts) == 3 and len(got) == 4
    call = calls[0]
    assert call["name"] == "traced" and call["parent_span_id"] is None
    assert call["attributes"]["ferrule.attempts"] == 3 and call["status"] == "unset"
    assert all(a["parent_span_id"] == call["span_id"] and a["trace_id"] == call["trace_id"] for a in attempts)
    assert [a["attributes"]["ferrule.attempt"] for a in attempts] == [1, 2, 3]
    assert [a["attributes"].get("error.type") for a in attempts] == ["ConnectionError", "ConnectionError", None]
    assert [a["status"] for a in attempts] == ["error", "error", "unset"]


def test_a_fallback_is_a_child_span_and_the_call_joins_the_callers_span() -> None:
    ferrule.configure(trace_policies=True)
    p = retrying(2, name="with-fallback", fallback=lambda exc, x: -1)
    with ferrule.span("request") as outer:
        assert p(Flaky(5))(1) == -1
    got = spans()
    call = next(s for s in got if role(s) == "call" and s["name"] == "with-fallback")
    fb = [s for s in got if role(s) == "fallback"]
    assert call["parent_span_id"] == outer.span_id
    assert len(fb) == 1 and fb[0]["parent_span_id"] == call["span_id"]
    assert fb[0]["attributes"]["ferrule.fallback.cause"] == "RetryError"
    assert len([s for s in got if role(s) == "attempt"]) == 2


def test_async_policy_spans_and_a_failed_call() -> None:
    ferrule.configure(trace_policies=True)
    p = retrying(2, name="async-traced")

    @p
    async def down() -> None:
        await asyncio.sleep(0)
        raise ConnectionError("no")

    with pytest.raises(ferrule.RetryError):
        asyncio.run(down())
    got = spans()
    call = next(s for s in got if role(s) == "call")
    attempts = [s for s in got if role(s) == "attempt"]
    assert call["status"] == "error" and call["attributes"]["error.type"] == "ferrule.errors.RetryError"
    assert len(attempts) == 2 and all(a["parent_span_id"] == call["span_id"] for a in attempts)


def test_async_fallback_and_async_call() -> None:
    ferrule.configure(trace_policies=True)
    p = retrying(1, name="afb", fallback="cached")

    async def down() -> str:
        raise ConnectionError("no")

    assert asyncio.run(p.call(down)) == "cached"
    got = spans()
    assert sorted(role(s) for s in got) == ["attempt", "call", "fallback"]


# ---- wrap_openai --------------------------------------------------------------------------------------


def sdk(server: MockLLMServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url, api_key="k")


def asdk(server: MockLLMServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.url, api_key="k")


def test_wrapped_call_is_a_genai_span_with_attempt_children_whose_ids_go_out_as_traceparent() -> None:
    with MockLLMServer(script=["503", "ok"]) as s:
        c = ferrule.wrap_openai(sdk(s), retrying(3))
        r = c.chat.completions.create(model="gpt-4o-mini", messages=MSG)  # type: ignore[arg-type]
        sent = [TRACEPARENT.match(q["headers"]["traceparent"]) for q in s.requests]
    got = spans()
    call = next(x for x in got if role(x) == "call")
    attempts = [x for x in got if role(x) == "attempt"]
    assert call["name"] == "chat gpt-4o-mini"
    a = call["attributes"]
    assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.request.model"] == "gpt-4o-mini" and a["gen_ai.response.model"] == r.model
    assert r.usage is not None
    assert a["gen_ai.usage.input_tokens"] == r.usage.prompt_tokens
    assert a["gen_ai.usage.output_tokens"] == r.usage.completion_tokens
    assert a["ferrule.attempts"] == 2 and "gen_ai.input.messages" not in a  # no capture by default
    # Attempts are not GenAI operations (the call is): GenAI backends count each call once.
    assert [x["name"] for x in attempts] == ["chat gpt-4o-mini attempt"] * 2
    assert all(not any(k.startswith("gen_ai.") for k in x["attributes"]) for x in attempts)
    assert attempts[0]["attributes"]["error.type"] == "openai.InternalServerError"
    assert all(x["parent_span_id"] == call["span_id"] for x in attempts)
    assert all(m is not None for m in sent)
    assert [(m.group(1), m.group(2)) for m in sent if m] == [(x["trace_id"], x["span_id"]) for x in attempts]


def test_a_failed_wrapped_call_has_error_type_on_its_span() -> None:
    with MockLLMServer(script=["503"]) as s:
        c = ferrule.wrap_openai(openai.OpenAI(base_url=s.url, api_key="k", max_retries=0), ferrule.Policy())
        with pytest.raises(openai.InternalServerError):
            c.chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]
    call = next(x for x in spans() if role(x) == "call")
    assert call["status"] == "error" and call["attributes"]["error.type"] == "openai.InternalServerError"


def test_content_is_captured_only_when_asked_and_masked() -> None:
    with MockLLMServer() as s:
        ferrule.wrap_openai(sdk(s), retrying(1)).chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]
        off = next(x for x in spans() if role(x) == "call")["attributes"]
        ferrule.clear_recent_spans()
        c = ferrule.wrap_openai(sdk(s), retrying(1), capture_content=True)
        r = c.chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]
        on = next(x for x in spans() if role(x) == "call")["attributes"]
    assert "gen_ai.input.messages" not in off and "gen_ai.output.messages" not in off
    assert "[EMAIL]" in on["gen_ai.input.messages"] and "jane.doe@example.com" not in on["gen_ai.input.messages"]
    assert '"role": "user"' in on["gen_ai.input.messages"]
    answer = r.choices[0].message.content
    assert answer is not None and on["gen_ai.output.messages"] == ferrule.redact(answer)


def test_content_is_cut_to_content_max_chars() -> None:
    ferrule.configure(content_max_chars=10)
    with MockLLMServer() as s:
        c = ferrule.wrap_openai(sdk(s), retrying(1), capture_content=True)
        c.chat.completions.create(model="m", messages=[{"role": "user", "content": "x" * 500}])  # type: ignore[arg-type]
    on = next(x for x in spans() if role(x) == "call")["attributes"]
    assert on["gen_ai.input.messages"].endswith("…[truncated]") and len(on["gen_ai.input.messages"]) < 40


def test_a_stream_span_ends_with_the_stream_and_has_time_to_first_chunk() -> None:
    with MockLLMServer(latency_seconds=0.03) as s:
        c = ferrule.wrap_openai(sdk(s), retrying(2), capture_content=True)
        stream = c.chat.completions.create(
            model="m", messages=MSG, stream=True, stream_options={"include_usage": True}  # type: ignore[arg-type]
        )
        assert ferrule.recent_spans() == [] or all(role(x) != "call" for x in ferrule.recent_spans())
        text = "".join((ch.choices[0].delta.content or "") for ch in stream if ch.choices)
    call = next(x for x in spans() if role(x) == "call")
    a = call["attributes"]
    assert a["gen_ai.response.time_to_first_chunk"] > 0.0
    assert a["gen_ai.response.time_to_first_chunk"] <= (call["end_ns"] - call["start_ns"]) / 1e9
    assert a["gen_ai.usage.output_tokens"] > 0
    assert a["gen_ai.output.messages"] == ferrule.redact(text)


def test_a_stream_closed_early_ends_its_span() -> None:
    with MockLLMServer() as s:
        c = ferrule.wrap_openai(sdk(s), retrying(1))
        stream = c.chat.completions.create(model="m", messages=MSG, stream=True)  # type: ignore[arg-type]
        next(iter(stream))
        stream.close()
    call = next(x for x in spans() if role(x) == "call")
    assert call["status"] == "unset" and "gen_ai.response.time_to_first_chunk" in call["attributes"]


def test_a_broken_stream_ends_its_span_with_the_error() -> None:
    with MockLLMServer(script=["truncated_stream"]) as s:
        c = ferrule.wrap_openai(sdk(s), retrying(1))
        stream = c.chat.completions.create(model="m", messages=MSG, stream=True)  # type: ignore[arg-type]
        with pytest.raises(Exception):
            for _ in stream:
                pass
    call = next(x for x in spans() if role(x) == "call")
    assert call["status"] == "error" and "error.type" in call["attributes"]


def test_async_wrapped_stream_and_call_spans() -> None:
    async def go(s: MockLLMServer) -> None:
        c = ferrule.wrap_openai(asdk(s), retrying(2))
        await c.chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]
        stream = await c.chat.completions.create(model="m", messages=MSG, stream=True)  # type: ignore[arg-type]
        async for _ in stream:
            pass

    with MockLLMServer(script=["503", "ok", "ok"]) as s:
        asyncio.run(go(s))
        sent = [TRACEPARENT.match(q["headers"]["traceparent"]) for q in s.requests]
    got = spans()
    calls = [x for x in got if role(x) == "call"]
    attempts = [x for x in got if role(x) == "attempt"]
    assert len(calls) == 2 and len(attempts) == 3
    assert "gen_ai.response.time_to_first_chunk" in calls[1]["attributes"]
    assert [m.group(2) for m in sent if m] == [x["span_id"] for x in attempts]


def test_one_inference_log_record_per_call(tmp_path: Path) -> None:
    ferrule.configure(inference_log_path=tmp_path / "inference.db", capture_content=True)
    try:
        with MockLLMServer(script=["503", "ok", "ok", "503", "503"]) as s:
            c = ferrule.wrap_openai(sdk(s), retrying(2))
            with ferrule.context(session_id="s-1", user_id="u-1"):
                r = c.chat.completions.create(model="m", messages=MSG, temperature=0.2)  # type: ignore[arg-type]
                for _ in c.chat.completions.create(model="m", messages=MSG, stream=True):  # type: ignore[arg-type]
                    pass
                with pytest.raises(ferrule.RetryError):
                    c.chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]
        rows = ferrule.inference_log.query("SELECT * FROM inference_log ORDER BY rowid", as_frame=False)
    finally:
        ferrule.configure(inference_log_path=False)
    assert [x["outcome"] for x in rows] == ["success", "success", "error"]
    first = rows[0]
    call = next(x for x in spans() if role(x) == "call")
    assert first["trace_id"] == call["trace_id"] and first["span_id"] == call["span_id"]
    assert first["session_id"] == "s-1" and first["user_id"] == "u-1" and first["attempts"] == 2
    assert r.usage is not None and first["input_tokens"] == r.usage.prompt_tokens
    assert first["model"] == r.model and '"temperature": 0.2' in first["parameters"]
    assert "[EMAIL]" in first["input"] and "jane.doe" not in first["input"]
    assert rows[2]["error_type"] == "RetryError" and rows[2]["attempts"] == 2


# ---- LangChain ---------------------------------------------------------------------------------------


def test_langchain_handler_records_a_genai_span() -> None:
    pytest.importorskip("langchain_openai")
    from langchain_openai import ChatOpenAI

    from ferrule.integrations.langchain import FerruleCallbackHandler

    with MockLLMServer() as s:
        llm = ChatOpenAI(model="lc-model", base_url=s.url, api_key="k")  # type: ignore[arg-type]
        llm.invoke("hello", config={"callbacks": [FerruleCallbackHandler()]})
    call = next(x for x in spans() if x["attributes"].get("ferrule.integration") == "langchain")
    assert call["name"] == "chat lc-model" and call["attributes"]["gen_ai.usage.output_tokens"] > 0


def test_a_wrapped_fallback_is_a_child_of_the_genai_span_and_logged_as_fallback(tmp_path: Path) -> None:
    ferrule.configure(inference_log_path=tmp_path / "fb.db")
    try:
        with MockLLMServer(script=["503", "503"]) as s:
            c = ferrule.wrap_openai(sdk(s), retrying(2, fallback=lambda exc, **kw: "cached answer"))
            assert c.chat.completions.create(model="m", messages=MSG) == "cached answer"  # type: ignore[arg-type,comparison-overlap]
        rows = ferrule.inference_log.query("SELECT outcome, attempts FROM inference_log", as_frame=False)
    finally:
        ferrule.configure(inference_log_path=False)
    got = spans()
    call = next(x for x in got if role(x) == "call")
    fb = [x for x in got if role(x) == "fallback"]
    assert len(fb) == 1 and fb[0]["parent_span_id"] == call["span_id"]
    assert call["status"] == "unset" and call["attributes"]["ferrule.attempts"] == 2
    assert rows == [{"outcome": "fallback", "attempts": 2}]


def test_a_validation_inside_a_traced_call_is_a_child_span_and_outside_none() -> None:
    ferrule.parse_json('{"a": 1}')
    assert spans() == [], "no span outside a traced call"

    @ferrule.validated({"type": "object", "required": ["a"]})
    def extract() -> str:
        return '{"b": 2}'

    with ferrule.span("call gpt-4o") as parent:
        assert ferrule.parse_json('```json\n{"a": 1,}\n```') == {"a": 1}
        with pytest.raises(ferrule.ValidationError):
            extract()
    got = spans()
    checks = [s for s in got if role(s) == "validation"]
    assert [s["name"] for s in checks] == ["validate parse_json", f"validate {extract.__qualname__}"]
    for s in checks:
        assert s["parent_span_id"] == parent.span_id and s["trace_id"] == parent.trace_id
    assert checks[0]["status"] != "error" and "error.type" not in checks[0]["attributes"]
    assert checks[1]["status"] == "error" and checks[1]["attributes"]["error.type"] == "ferrule.errors.ValidationError"
