"""``wrap_openai``'s steady state runs a call's first attempt inline (one admission into the core
before it, one outcome after) and hands any failure to the policy's traced loop from attempt 1.
These tests pin that hand-off over a stub client (no I/O, no sleeps): exact policy counters, attempt
spans numbered across the hand-off under one call span, the breaker's refusal and the fallback, the
async attempt deadline cancelling a hung call, and the caller's keywords left as they were."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import pytest

import ferrule
from ferrule.testing import ManualClock

MSG = [{"role": "user", "content": "hi"}]


class _Create:
    """``create`` that fails the first ``fail`` calls (a ``ConnectionError``), then echoes its keywords."""

    def __init__(self, fail: int = 0, hang: float = 0.0) -> None:
        self.fail, self.hang = fail, hang
        self.seen: List[Dict[str, Any]] = []

    def __call__(self, **kw: Any) -> Any:
        self.seen.append(kw)
        if len(self.seen) <= self.fail:
            raise ConnectionError(f"attempt {len(self.seen)} refused")
        return {"id": "r", "model": kw["model"], "choices": []}


class _AsyncCreate(_Create):
    async def __call__(self, **kw: Any) -> Any:
        if self.hang:
            await asyncio.sleep(self.hang)
        return _Create.__call__(self, **kw)


class _Completions:
    def __init__(self, create: Any) -> None:
        self.create = create


class _Chat:
    def __init__(self, create: Any) -> None:
        self.completions = _Completions(create)


class Stub:
    """The client's shape: ``chat.completions.create`` and ``copy()`` (sharing the one ``create``)."""

    max_retries = 2

    def __init__(self, create: Any) -> None:
        self._create = create
        if isinstance(create, _AsyncCreate):

            async def acreate(**kw: Any) -> Any:  # an ``async def``, as AsyncOpenAI's create is
                return await create(**kw)

            self.chat = _Chat(acreate)
        else:
            self.chat = _Chat(create)

    def copy(self, **options: Any) -> "Stub":
        return Stub(self._create)


def _spans(trace_id: str) -> List[Dict[str, Any]]:
    return [s for s in ferrule.recent_spans() if s["trace_id"] == trace_id]


def retrying(**kw: Any) -> ferrule.Policy:
    retry = ferrule.Retry(3, backoff=ferrule.Backoff.constant(0.0), budget_ratio=None)
    return ferrule.Policy(retry=retry, clock=ManualClock(), timeout_seconds=30.0, **kw)


def test_many_calls_count_exactly_once_each() -> None:
    p = retrying()
    c = ferrule.wrap_openai(Stub(_Create()), p)
    for _ in range(250):
        c.chat.completions.create(model="m", messages=MSG)
    s = p.stats()
    assert (s["calls"], s["attempts"], s["successes"], s["failures"], s["retries"]) == (250, 250, 250, 0, 0)


async def test_many_async_calls_count_exactly_once_each() -> None:
    p = retrying()
    c = ferrule.wrap_openai(Stub(_AsyncCreate()), p)
    await asyncio.gather(*(c.chat.completions.create(model="m", messages=MSG) for _ in range(250)))
    s = p.stats()
    assert (s["calls"], s["attempts"], s["successes"], s["failures"], s["retries"]) == (250, 250, 250, 0, 0)


@pytest.mark.parametrize("is_async", [False, True])
async def test_a_failed_first_attempt_goes_on_in_the_policys_loop(is_async: bool) -> None:
    create = _AsyncCreate(fail=2) if is_async else _Create(fail=2)
    p = retrying()
    c = ferrule.wrap_openai(Stub(create), p)
    with ferrule.span("caller") as outer:
        r = c.chat.completions.create(model="m", messages=MSG)
        if is_async:
            r = await r
    assert r["id"] == "r"
    # The same counters as the policy's own decorator gives the same script.
    same = retrying()
    script = _Create(fail=2)
    same(lambda: script(model="m"))()
    assert p.stats() == same.stats()
    assert (p.stats()["calls"], p.stats()["attempts"], p.stats()["retries"]) == (1, 3, 2)
    spans = _spans(outer.trace_id)
    call = next(x for x in spans if x["name"] == "chat m")
    attempts = sorted((x for x in spans if x["name"] == "chat m attempt"), key=lambda x: x["start_ns"])
    assert [a["attributes"]["ferrule.attempt"] for a in attempts] == [1, 2, 3]
    assert {a["parent_span_id"] for a in attempts} == {call["span_id"]}
    assert [a["status"] for a in attempts][:2] == ["error", "error"]
    assert attempts[0]["attributes"]["error.type"] == "ConnectionError"
    assert call["attributes"]["ferrule.attempts"] == 3
    # Each attempt sent its own span as traceparent; the caller's keywords were never changed.
    sent = [kw["extra_headers"]["traceparent"].split("-")[2] for kw in create.seen]
    assert sent == [a["span_id"] for a in attempts]
    assert all(kw["timeout"] == pytest.approx(30.0) for kw in create.seen)


@pytest.mark.parametrize("is_async", [False, True])
async def test_an_open_breaker_refuses_and_the_fallback_answers(is_async: bool) -> None:
    breaker = ferrule.CircuitBreaker(name="stub")
    breaker.force_open()
    create = _AsyncCreate() if is_async else _Create()
    p = ferrule.Policy(breaker=breaker, fallback="busy", name="fb")
    c = ferrule.wrap_openai(Stub(create), p)
    r = c.chat.completions.create(model="m", messages=MSG)
    if is_async:
        r = await r
    assert r == "busy" and create.seen == []
    same_breaker = ferrule.CircuitBreaker(name="stub2")
    same_breaker.force_open()
    same = ferrule.Policy(breaker=same_breaker, fallback="busy", name="fb2")
    answer: Any = same(lambda: 1)()
    assert answer == "busy"
    assert p.stats() == same.stats()
    assert (p.stats()["calls"], p.stats()["fallbacks"]) == (1, 1)


async def test_a_hung_async_attempt_ends_at_the_policys_timeout() -> None:
    p = ferrule.Policy(timeout_seconds=0.2)
    c = ferrule.wrap_openai(Stub(_AsyncCreate(hang=30.0)), p)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    with pytest.raises(ferrule.TimeoutError):
        await c.chat.completions.create(model="m", messages=MSG)
    assert loop.time() - t0 < 5.0
    assert p.stats()["timeouts"] == 1


def test_the_attempt_timeout_goes_out_as_the_sdks_own_timeout_type() -> None:
    """A float timeout makes the HTTP library run a ``typing.SupportsFloat`` protocol check per
    request; the SDK's ``Timeout`` with all four phases set passes straight through."""
    import openai

    from ferrule.integrations.openai import _timeout_type

    for client in (openai.OpenAI(api_key="k"), openai.OpenAI(api_key="k", timeout=5.0), openai.AsyncOpenAI(api_key="k")):
        t = _timeout_type(client)(2.5)
        assert isinstance(t, openai.Timeout)
        assert t.as_dict() == {"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}
    assert _timeout_type(Stub(_Create()))(2.5) == 2.5  # a client without one gets the float
