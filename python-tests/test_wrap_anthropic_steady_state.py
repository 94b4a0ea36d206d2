"""``wrap_anthropic`` takes the same inline first attempt as ``wrap_openai`` (one admission into the
core before it, one outcome after), with Anthropic as the provider and the SDK's own ``Timeout``
object as each attempt's timeout; any failure goes on in the policy's traced loop. Over a stub
client (no I/O) for exact counters and spans, and over the real SDK against the mock to show a
healthy call never enters the traced loop."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import anthropic
import pytest

import ferrule
from ferrule.integrations import openai as wrapper
from ferrule.testing import ManualClock, MockLLMServer

MSG = [{"role": "user", "content": "hi"}]


class _Create:
    """``messages.create`` that fails the first ``fail`` calls (a ``ConnectionError``), then answers."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.seen: List[Dict[str, Any]] = []

    def __call__(self, **kw: Any) -> Any:
        self.seen.append(kw)
        if len(self.seen) <= self.fail:
            raise ConnectionError(f"attempt {len(self.seen)} refused")
        return {"id": "msg_1", "model": kw["model"], "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
                "usage": {"input_tokens": 3, "output_tokens": 1}}


class _Messages:
    def __init__(self, create: Any) -> None:
        self.create = create


class Stub:
    """The client's shape: ``messages.create``, ``copy()`` and the SDK's ``Timeout`` as ``timeout``."""

    max_retries = 2
    timeout = anthropic.Timeout(600.0, connect=5.0)

    def __init__(self, create: Any, is_async: bool = False) -> None:
        self._create, self._async = create, is_async
        if is_async:

            async def acreate(**kw: Any) -> Any:  # an ``async def``, as AsyncAnthropic's create is
                await asyncio.sleep(0)
                return create(**kw)

            self.messages = _Messages(acreate)
        else:
            self.messages = _Messages(create)

    def copy(self, **options: Any) -> "Stub":
        return Stub(self._create, self._async)


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch) -> List[int]:
    """How many calls entered the policy's traced loop (sync or async)."""
    n = [0]
    real_sync, real_async = wrapper.traced_sync, wrapper.traced_async

    def spy_sync(*a: Any, **k: Any) -> Any:
        n[0] += 1
        return real_sync(*a, **k)

    async def spy_async(*a: Any, **k: Any) -> Any:
        n[0] += 1
        return await real_async(*a, **k)

    monkeypatch.setattr(wrapper, "traced_sync", spy_sync)
    monkeypatch.setattr(wrapper, "traced_async", spy_async)
    return n


def retrying() -> ferrule.Policy:
    retry = ferrule.Retry(3, backoff=ferrule.Backoff.constant(0.0), budget_ratio=None)
    return ferrule.Policy(retry=retry, clock=ManualClock(), timeout_seconds=30.0)


@pytest.mark.parametrize("is_async", [False, True])
async def test_healthy_calls_run_inline_and_count_exactly_once_each(is_async: bool, traced: List[int]) -> None:
    create = _Create()
    p = retrying()
    c = ferrule.wrap_anthropic(Stub(create, is_async), p)
    for _ in range(200):
        r = c.messages.create(model="claude-x", max_tokens=8, messages=MSG)
        if is_async:
            await r
    s = p.stats()
    assert (s["calls"], s["attempts"], s["successes"], s["failures"], s["retries"]) == (200, 200, 200, 0, 0)
    assert traced[0] == 0  # never the traced loop
    # Each attempt's timeout is the SDK's own Timeout object, every phase set to what is left.
    t = create.seen[0]["timeout"]
    assert isinstance(t, anthropic.Timeout) and t.as_dict() == pytest.approx({"connect": 30.0, "read": 30.0, "write": 30.0, "pool": 30.0})


@pytest.mark.parametrize("is_async", [False, True])
async def test_a_failed_first_attempt_goes_on_in_the_policys_loop_as_anthropic(is_async: bool, traced: List[int]) -> None:
    create = _Create(fail=2)
    p = retrying()
    c = ferrule.wrap_anthropic(Stub(create, is_async), p)
    with ferrule.span("caller") as outer:
        r = c.messages.create(model="claude-x", max_tokens=8, messages=MSG)
        if is_async:
            r = await r
    assert r["id"] == "msg_1" and traced[0] == 1
    assert (p.stats()["calls"], p.stats()["attempts"], p.stats()["retries"]) == (1, 3, 2)
    spans = [x for x in ferrule.recent_spans() if x["trace_id"] == outer.trace_id]
    call = next(x for x in spans if x["name"] == "chat claude-x")
    assert call["attributes"]["gen_ai.provider.name"] == "anthropic"
    assert call["attributes"]["ferrule.attempts"] == 3
    attempts = sorted((x for x in spans if x["name"] == "chat claude-x attempt"), key=lambda x: x["start_ns"])
    assert [a["attributes"]["ferrule.attempt"] for a in attempts] == [1, 2, 3]
    sent = [kw["extra_headers"]["traceparent"].split("-")[2] for kw in create.seen]
    assert sent == [a["span_id"] for a in attempts]


def test_model_policies_get_their_own_plan() -> None:
    slow = retrying()
    default = retrying()
    c = ferrule.wrap_anthropic(Stub(_Create()), default, model_policies={"claude-slow": slow})
    c.messages.create(model="claude-slow", max_tokens=8, messages=MSG)
    c.messages.create(model="claude-x", max_tokens=8, messages=MSG)
    assert (slow.stats()["calls"], default.stats()["calls"]) == (1, 1)


def test_the_real_sdk_call_runs_inline_and_is_recorded_as_anthropic(traced: List[int]) -> None:
    with MockLLMServer() as s:
        c = ferrule.wrap_anthropic(anthropic.Anthropic(base_url=s.anthropic_url, api_key="k"), retrying())
        with ferrule.span("caller") as outer:
            for _ in range(3):
                m = c.messages.create(model="claude-x", max_tokens=64, messages=MSG)  # type: ignore[arg-type]
        assert s.stats()["requests"] == 3
    assert m.content[0].text == "Mock answer to: hi"  # type: ignore[union-attr]
    assert traced[0] == 0
    calls = [x for x in ferrule.recent_spans() if x["trace_id"] == outer.trace_id and x["name"] == "chat claude-x"]
    assert len(calls) == 3
    assert {x["attributes"]["gen_ai.provider.name"] for x in calls} == {"anthropic"}
    assert {x["attributes"]["gen_ai.response.finish_reasons"][0] for x in calls} == {"end_turn"}
