"""Retry, timeouts, fallback and the composed policy from Python, against the real `openai` SDK's
exceptions built from real responses of a local scripted server. Timing runs on a manual clock (waits
advance it), except where real cancellation is the point."""

from __future__ import annotations

import asyncio
import logging
import pickle
import socket
import threading
import time
from email.utils import formatdate
from typing import Any, Iterator, List, Optional, Tuple

import openai
import pytest

import ferrule
from ferrule.testing import ManualClock
from scripted_server import ScriptedServer, completion, error, ok


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedServer]:
    s = ScriptedServer()
    yield s
    s.close()


def client(server: ScriptedServer, **kw: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0, **kw)


def aclient(server: ScriptedServer, **kw: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0, **kw)


def ask(c: openai.OpenAI) -> str:
    r = c.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
    return r.choices[0].message.content or ""


async def aask(c: openai.AsyncOpenAI) -> str:
    r = await c.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
    return r.choices[0].message.content or ""


def caught(server: ScriptedServer, reply: Any) -> BaseException:
    server.serve(reply)
    with pytest.raises(openai.OpenAIError) as ei:
        ask(client(server))
    return ei.value


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return int(port)


def const(delay: float) -> ferrule.Backoff:
    return ferrule.Backoff.constant(delay)


def policy(clock: ManualClock, attempts: int = 4, delay: float = 1.0, **kw: Any) -> ferrule.Policy:
    retry_kw = {k: kw.pop(k) for k in list(kw) if k in _RETRY_KEYS}
    retry_kw.setdefault("budget_ratio", None)
    return ferrule.Policy(retry=ferrule.Retry(attempts, backoff=const(delay), **retry_kw), clock=clock, **kw)


_RETRY_KEYS = {
    "max_elapsed_seconds",
    "max_retry_after_seconds",
    "retry_on",
    "retry_on_result",
    "on_retry",
    "on_give_up",
    "budget_ratio",
    "min_retries_per_second",
    "budget_window_seconds",
}


# ---- what is transient, with the real SDK's exceptions ---------------------------------------------


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503])
def test_transient_statuses_from_real_responses(server: ScriptedServer, status: int) -> None:
    exc = caught(server, error(status))
    assert isinstance(exc, openai.APIStatusError) and exc.status_code == status
    assert ferrule.transient(exc)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_never_transient(server: ScriptedServer, status: int) -> None:
    exc = caught(server, error(status))
    assert not ferrule.transient(exc)


def test_connection_and_timeout_errors_are_transient(server: ScriptedServer) -> None:
    dead = openai.OpenAI(base_url=f"http://127.0.0.1:{closed_port()}/v1", api_key="t", max_retries=0)
    with pytest.raises(openai.APIConnectionError) as ei:
        ask(dead)
    assert ferrule.transient(ei.value)
    server.serve(ok())
    server.delay = 0.5
    try:
        with pytest.raises(openai.APITimeoutError) as et:
            ask(client(server, timeout=0.05))
    finally:
        server.delay = 0.0
    assert ferrule.transient(et.value)
    assert isinstance(caught(server, error(429)), openai.RateLimitError)
    assert isinstance(caught(server, error(500)), openai.InternalServerError)
    assert not ferrule.transient(ValueError("x"))
    assert ferrule.transient(ConnectionResetError()) and ferrule.transient(ferrule.TimeoutError("t"))


def test_server_hints_are_read_from_real_responses(server: ScriptedServer) -> None:
    from ferrule.transient import retry_after_of

    assert retry_after_of(caught(server, error(429, headers={"retry-after": "7"}))) == 7.0
    assert retry_after_of(caught(server, error(503, headers={"retry-after-ms": "250"}))) == 0.25
    date = formatdate(time.time() + 30, usegmt=True)
    hint = retry_after_of(caught(server, error(503, headers={"Retry-After": date})))
    assert hint is not None and 28.0 <= hint <= 30.0
    reset = {"x-ratelimit-reset-requests": "1m30s", "x-ratelimit-remaining-requests": "0",
             "x-ratelimit-reset-tokens": "250ms", "x-ratelimit-remaining-tokens": "1000"}
    assert retry_after_of(caught(server, error(429, headers=reset))) == 90.0
    # The reset headers ride on every response: a 500 does not read them.
    assert retry_after_of(caught(server, error(500, headers=reset))) is None
    assert retry_after_of(caught(server, error(429))) is None


# ---- the retry loop, sync, on a manual clock ---------------------------------------------------------


def test_retries_real_failures_then_succeeds(server: ScriptedServer) -> None:
    clock = ManualClock()
    p = policy(clock, attempts=4, delay=2.0)
    c = client(server)
    server.serve(error(503), error(429), ok("fine"))
    t0 = clock.now()
    assert p(ask)(c) == "fine"
    assert server.requests == 3
    assert clock.now() - t0 == pytest.approx(4.0)
    s = p.stats()
    assert (s["calls"], s["attempts"], s["retries"], s["successes"], s["failures"]) == (1, 3, 2, 1, 0)


def test_exponential_waits_on_the_manual_clock() -> None:
    clock = ManualClock()
    waits: List[float] = []
    p = ferrule.Policy(
        retry=ferrule.Retry(5, backoff=ferrule.Backoff.exponential(initial=0.5, max=3.0, jitter="none"),
                            on_retry=lambda a, d, e: waits.append(d), budget_ratio=None),
        clock=clock,
    )
    with pytest.raises(ferrule.RetryError) as ei:
        p.call(_fail_conn)
    assert waits == [0.5, 1.0, 2.0, 3.0]
    assert ei.value.attempts == 5 and ei.value.reason == "attempts"


def _fail_conn() -> None:
    raise ConnectionError("down")


def test_retry_error_carries_every_attempt_and_the_last_cause(server: ScriptedServer) -> None:
    clock = ManualClock()
    gave_up: List[BaseException] = []
    p = policy(clock, attempts=3, delay=0.1, on_give_up=gave_up.append)
    server.serve(error(500, "a"), error(502, "b"), error(503, "c"))
    with pytest.raises(ferrule.RetryError) as ei:
        p(ask)(client(server))
    e = ei.value
    assert isinstance(e, ferrule.FerruleError)
    assert e.attempts == 3 and len(e.errors) == 3
    assert [x.status_code for x in e.errors] == [500, 502, 503]  # type: ignore[union-attr]
    assert e.__cause__ is e.errors[-1] and e.last_error is e.errors[-1]
    assert gave_up == [e]
    assert p.stats()["gave_up_attempts"] == 1 and p.stats()["failures"] == 1


def test_client_errors_are_raised_at_once(server: ScriptedServer) -> None:
    p = policy(ManualClock(), attempts=5)
    server.serve(error(401, "bad key"))
    with pytest.raises(openai.AuthenticationError):
        p(ask)(client(server))
    assert server.requests == 1
    assert p.stats()["not_retryable"] == 1 and p.stats()["retries"] == 0


def test_server_hint_is_waited_exactly(server: ScriptedServer) -> None:
    clock = ManualClock()
    p = policy(clock, attempts=3, delay=0.1)
    server.serve(error(429, headers={"retry-after": "5"}), ok())
    t0 = clock.now()
    assert p(ask)(client(server)) == "hello"
    assert clock.now() - t0 == pytest.approx(5.0)


def test_a_hint_beyond_the_cap_gives_up_at_once(server: ScriptedServer) -> None:
    clock = ManualClock()
    p = policy(clock, attempts=5, max_retry_after_seconds=10.0)
    server.serve(error(429, headers={"retry-after": "3600"}))
    t0 = clock.now()
    with pytest.raises(ferrule.RetryError) as ei:
        p(ask)(client(server))
    assert ei.value.reason == "retry_after_too_long" and ei.value.attempts == 1
    assert clock.now() == t0 and server.requests == 1


def test_no_wait_overshoots_the_deadline(server: ScriptedServer) -> None:
    clock = ManualClock()
    p = policy(clock, attempts=100, delay=3.0, max_elapsed_seconds=10.0)
    server.serve(error(503))
    t0 = clock.now()
    with pytest.raises(ferrule.RetryError) as ei:
        p(ask)(client(server))
    assert ei.value.reason == "deadline"
    assert clock.now() - t0 == pytest.approx(9.0)  # waits at 3, 6, 9; a fourth would end at 12
    assert server.requests == 4
    # A server hint past the deadline gives up at once, without sleeping.
    server.serve(error(503, headers={"retry-after": "11"}))
    t1 = clock.now()
    with pytest.raises(ferrule.RetryError) as ei:
        p(ask)(client(server))
    assert ei.value.reason == "deadline" and clock.now() == t1


def test_retry_on_result_retries_an_empty_completion(server: ScriptedServer) -> None:
    clock = ManualClock()
    p = policy(clock, attempts=3, delay=0.5, retry_on_result=lambda text: text == "")
    server.serve(ok(""), ok(""), ok("finally"))
    assert p(ask)(client(server)) == "finally"
    server.serve(ok(""))
    with pytest.raises(ferrule.RetryError) as ei:
        p(ask)(client(server))
    assert ei.value.errors == [None, None, None] and ei.value.last_result == ""
    assert ei.value.__cause__ is None


def test_user_predicates_choose_what_to_retry() -> None:
    class Flaky(Exception):
        pass

    n = [0]

    def f() -> str:
        n[0] += 1
        if n[0] < 3:
            raise Flaky()
        return "ok"

    p = policy(ManualClock(), attempts=3, retry_on=Flaky)
    assert p.call(f) == "ok"
    p2 = policy(ManualClock(), attempts=3, retry_on=lambda e: "again" in str(e))
    with pytest.raises(ValueError):
        p2.call(_raise, ValueError("stop"))
    with pytest.raises(ferrule.RetryError):
        p2.call(_raise, ValueError("again"))


def _raise(e: BaseException) -> None:
    raise e


def test_hooks_see_each_retry_and_a_broken_hook_is_counted(caplog: pytest.LogCaptureFixture) -> None:
    seen: List[Tuple[int, float, Optional[BaseException]]] = []

    def on_retry(attempt: int, delay: float, err: Optional[BaseException]) -> None:
        seen.append((attempt, delay, err))
        raise RuntimeError("broken hook")

    p = policy(ManualClock(), attempts=3, delay=0.25, on_retry=on_retry)
    with caplog.at_level(logging.WARNING, logger="ferrule"), pytest.raises(ferrule.RetryError):
        p.call(_fail_conn)
    assert [(a, d) for a, d, _ in seen] == [(1, 0.25), (2, 0.25)]
    assert all(isinstance(e, ConnectionError) for _, _, e in seen)
    assert p.stats()["hook_errors"] == 2
    # The warning goes through the core's logger: masked, and the identical second one within the
    # dedup window is counted (hook_errors) rather than written again.
    hooks = [r for r in caplog.records if getattr(r, "event", None) == "policy.hook_error"]
    assert len(hooks) == 1 and "RuntimeError" in hooks[0].getMessage() and "broken hook" in hooks[0].getMessage()


# ---- the budget ---------------------------------------------------------------------------------------


def test_the_retry_budget_stops_a_retry_storm() -> None:
    clock = ManualClock()
    p = ferrule.Policy(
        retry=ferrule.Retry(5, backoff=const(0.0), budget_ratio=0.1, min_retries_per_second=0.2,
                            budget_window_seconds=10.0),
        clock=clock,
    )
    calls = [0]

    def down() -> None:
        calls[0] += 1
        raise ConnectionError("outage")

    reasons = []
    for _ in range(100):
        with pytest.raises(ferrule.RetryError) as ei:
            p.call(down)
        reasons.append(ei.value.reason)
    s = p.stats()
    # 100 requests: 0.1 × 100 + 0.2/s × 10 s = 12 retries in all, not 400.
    assert s["retries"] == 12 and calls[0] == 112
    # Calls come one at a time and the budget grows by 0.1 per request: every call ends denied.
    assert s["budget_denied"] == 100 and reasons == ["budget"] * 100


# ---- async, cancellation, timeouts ----------------------------------------------------------------------


async def test_async_retries_real_failures(server: ScriptedServer) -> None:
    clock = ManualClock()
    p = policy(clock, attempts=3, delay=1.5)
    c = aclient(server)
    server.serve(error(500), ok("async ok"))
    assert await p(aask)(c) == "async ok"
    assert server.requests == 2 and p.stats()["retries"] == 1
    server.serve(error(400))
    with pytest.raises(openai.BadRequestError):
        await p(aask)(c)


async def test_cancellation_cuts_a_wait_short() -> None:
    waiting = asyncio.Event()
    p = ferrule.Policy(retry=ferrule.Retry(3, backoff=const(30.0), budget_ratio=None,
                                           on_retry=lambda a, d, e: waiting.set()))
    calls = [0]

    @p
    async def down() -> None:
        calls[0] += 1
        raise ConnectionError("down")

    task = asyncio.ensure_future(down())
    await asyncio.wait_for(waiting.wait(), 5)
    t0 = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - t0 < 1.0
    assert calls[0] == 1
    assert p.stats()["fallbacks"] == 0


async def test_async_attempt_timeout_cancels_and_retries() -> None:
    cancelled = [0]
    p = ferrule.Policy(retry=ferrule.Retry(2, backoff=const(0.0), budget_ratio=None), timeout_seconds=0.05)

    @p
    async def hangs() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled[0] += 1
            raise

    with pytest.raises(ferrule.RetryError) as ei:
        await hangs()
    assert cancelled[0] == 2
    assert all(isinstance(e, ferrule.TimeoutError) and isinstance(e, TimeoutError) for e in ei.value.errors)
    assert p.stats()["timeouts"] == 2


async def test_async_total_timeout_covers_waits() -> None:
    p = ferrule.Policy(retry=ferrule.Retry(10, backoff=const(0.02), budget_ratio=None), total_timeout_seconds=0.2)

    @p
    async def slow_fail() -> None:
        await asyncio.sleep(0.15)
        raise ConnectionError("x")

    t0 = time.monotonic()
    with pytest.raises((ferrule.TimeoutError, ferrule.RetryError)):
        await slow_fail()
    assert time.monotonic() - t0 < 1.0


def test_remaining_tells_a_sync_call_its_budget() -> None:
    clock = ManualClock()
    seen: List[Optional[float]] = []
    p = ferrule.Policy(timeout_seconds=10.0, total_timeout_seconds=25.0, clock=clock,
                       retry=ferrule.Retry(3, backoff=const(1.0), budget_ratio=None))
    n = [0]

    @p
    def f() -> str:
        seen.append(ferrule.remaining())
        clock.advance(9.0)
        seen.append(ferrule.remaining())
        n[0] += 1
        if n[0] < 3:
            raise ConnectionError("x")
        return "ok"

    assert ferrule.remaining() is None
    assert f() == "ok"
    # Attempt 1: 10 s; attempt 2 starts at 10 s (9 + 1 wait): 10 s; attempt 3 at 20 s: 5 s of the total.
    assert seen == pytest.approx([10.0, 1.0, 10.0, 1.0, 5.0, 0.0])
    assert ferrule.remaining() is None


def test_hard_timeout_abandons_a_stuck_sync_call() -> None:
    release = threading.Event()
    p = ferrule.Policy(timeout_seconds=0.05, hard_timeout=True)

    @p
    def stuck() -> str:
        release.wait(5)
        return "late"

    t0 = time.monotonic()
    with pytest.raises(ferrule.TimeoutError):
        stuck()
    assert time.monotonic() - t0 < 1.0
    release.set()
    s = p.stats()
    assert s["abandoned"] == 1 and s["timeouts"] == 1
    q = ferrule.Policy(timeout_seconds=1.0, hard_timeout=True)
    assert q.call(lambda: "fast") == "fast"
    with pytest.raises(ZeroDivisionError):
        q.call(lambda: 1 / 0)


def test_timeout_error_is_both_classes_and_pickles() -> None:
    e = ferrule.TimeoutError("t", 1.5)
    assert isinstance(e, ferrule.FerruleError) and isinstance(e, TimeoutError)
    e2 = pickle.loads(pickle.dumps(e))
    assert e2.timeout_seconds == 1.5 and str(e2) == "t"


# ---- fallback ---------------------------------------------------------------------------------------------


def test_fallback_value_callable_and_chain(caplog: pytest.LogCaptureFixture, server: ScriptedServer) -> None:
    server.serve(error(503))
    c = client(server)
    p = ferrule.Policy(fallback="busy")
    with caplog.at_level(logging.WARNING, logger="ferrule"):
        assert p(ask)(c) == "busy"
    assert any("fallback taken" in r.message for r in caplog.records)

    got: List[Any] = []
    q = ferrule.Policy(fallback=lambda exc, cl: got.append((type(exc), cl)) or "fn")
    assert q(ask)(c) == "fn" and got == [(openai.InternalServerError, c)]

    cheaper_calls = []

    def cheaper(exc: BaseException, cl: openai.OpenAI) -> str:
        cheaper_calls.append(exc)
        raise ConnectionError("cheaper model down too")

    chain = ferrule.Policy(fallback=[cheaper, lambda exc, cl: "canned"])
    assert chain(ask)(c) == "canned" and len(cheaper_calls) == 1
    s = chain.stats()
    assert (s["fallbacks"], s["fallback_failures"]) == (1, 0)

    none_left = ferrule.Policy(fallback=[cheaper])
    with pytest.raises(ConnectionError) as ei:
        none_left(ask)(c)
    assert isinstance(ei.value.__cause__, openai.InternalServerError)
    assert none_left.stats()["fallback_failures"] == 1


def test_fallback_on_limits_what_falls_back() -> None:
    p = ferrule.Policy(fallback="x", fallback_on=ConnectionError)
    assert p.call(_fail_conn) == "x"
    with pytest.raises(KeyError):
        p.call(_raise, KeyError("k"))
    assert p.stats()["failures"] == 1


async def test_the_issue_decorator_stack(server: ScriptedServer) -> None:
    c = aclient(server)

    @ferrule.retry(attempts=4, backoff=ferrule.Backoff.exponential(initial=0.001, max=0.002, jitter="full"),
                   max_elapsed_seconds=30)
    @ferrule.timeout(10.0)
    @ferrule.fallback(lambda exc, prompt: "The assistant is busy; please retry.")
    async def answer(prompt: str) -> str:
        return await aask(c)

    server.serve(error(500))
    assert await answer("hi") == "The assistant is busy; please retry."
    server.serve(ok("yes"))
    assert await answer("hi") == "yes"


async def test_async_fallback_alternatives_may_be_coroutines() -> None:
    async def cheaper(exc: BaseException) -> str:
        return "cheap"

    p = ferrule.Policy(fallback=[cheaper])

    @p
    async def f() -> str:
        raise ConnectionError("x")

    assert await f() == "cheap"


# ---- the pipeline: breaker and rate limiter slots ------------------------------------------------------


def test_breaker_in_the_pipeline_is_waited_out_when_it_fits(server: ScriptedServer) -> None:
    clock = ManualClock()
    breaker = ferrule.CircuitBreaker("llm", consecutive_failures=2, failure_rate=None, min_calls=1,
                                     open_seconds=5.0, clock=clock)
    p = policy(clock, attempts=4, delay=1.0, breaker=breaker, max_elapsed_seconds=60.0)
    server.serve(error(503), error(503), ok("recovered"))
    t0 = clock.now()
    assert p(ask)(client(server)) == "recovered"
    # fail, wait 1, fail → open 5 s; refused, wait 5 s; half-open probe succeeds.
    assert clock.now() - t0 == pytest.approx(6.0)
    assert breaker.state == "closed" and server.requests == 3
    assert p.stats()["rejected"] == 1


def test_an_open_breaker_past_the_deadline_gives_up_at_once() -> None:
    clock = ManualClock()
    breaker = ferrule.CircuitBreaker("llm", consecutive_failures=1, failure_rate=None, min_calls=1,
                                     open_seconds=100.0, clock=clock)
    breaker.force_open()
    p = policy(clock, attempts=4, breaker=breaker, max_elapsed_seconds=10.0)
    with pytest.raises(ferrule.RetryError) as ei:
        p.call(lambda: "never")
    assert ei.value.reason == "refused" and isinstance(ei.value.__cause__, ferrule.CircuitOpenError)
    # Without retry, the refusal itself reaches the fallback.
    fb = ferrule.Policy(breaker=breaker, fallback="cached", clock=clock)
    assert fb.call(lambda: "never") == "cached"
    assert fb.stats()["rejected"] == 1 and fb.stats()["fallbacks"] == 1


def test_breaker_outcome_rules_are_the_breakers_own() -> None:
    clock = ManualClock()
    breaker = ferrule.CircuitBreaker("b", consecutive_failures=2, failure_rate=None, min_calls=1,
                                     ignore=KeyError, clock=clock)
    p = ferrule.Policy(breaker=breaker, clock=clock)
    for _ in range(5):
        with pytest.raises(KeyError):
            p.call(_raise, KeyError("ignored by the breaker"))
    assert breaker.state == "closed" and breaker.stats()["ignored"] == 5


class FakeLimiter:
    """Honours the rate-limiter protocol: refuses the first `refusals` acquires."""

    def __init__(self, refusals: int, retry_after: Optional[float]) -> None:
        self.refusals = refusals
        self.retry_after = retry_after
        self.calls: List[Tuple[int, Any, Any]] = []

    def acquire(self, n: int = 1, key: Any = None, timeout: Optional[float] = None) -> None:
        self.calls.append((n, key, timeout))
        if len(self.calls) <= self.refusals:
            raise ferrule.RateLimitedError("limited", self.retry_after)

    async def acquire_async(self, n: int = 1, key: Any = None, timeout: Optional[float] = None) -> None:
        self.acquire(n, key, timeout)


def test_the_rate_limiter_slot_waits_out_refusals() -> None:
    clock = ManualClock()
    lim = FakeLimiter(refusals=2, retry_after=0.5)
    breaker = ferrule.CircuitBreaker("b", consecutive_failures=1, failure_rate=None, min_calls=1, clock=clock)
    p = policy(clock, attempts=4, delay=10.0, rate_limiter=lim, breaker=breaker, total_timeout_seconds=30.0)
    t0 = clock.now()
    assert p.call(lambda: "through") == "through"
    assert clock.now() - t0 == pytest.approx(1.0)  # two 0.5 s waits, not the 10 s backoff
    assert [c[:2] for c in lim.calls] == [(1, None)] * 3
    assert lim.calls[0][2] == pytest.approx(30.0) and lim.calls[2][2] == pytest.approx(29.0)
    # A limiter refusal is neither success nor failure for the breaker.
    assert breaker.state == "closed" and breaker.stats()["ignored"] == 2


async def test_the_rate_limiter_slot_async_and_unknown_wait() -> None:
    clock = ManualClock()
    p = policy(clock, attempts=4, rate_limiter=FakeLimiter(refusals=1, retry_after=0.25))

    @p
    async def f() -> str:
        return "ok"

    assert await f() == "ok"
    q = policy(clock, attempts=4, rate_limiter=FakeLimiter(refusals=5, retry_after=None))
    with pytest.raises(ferrule.RetryError) as ei:
        q.call(lambda: "x")
    assert ei.value.reason == "refused" and isinstance(ei.value.__cause__, ferrule.RateLimitedError)


# ---- chaos ---------------------------------------------------------------------------------------------


def test_chaos_is_deterministic_with_a_seed() -> None:
    def run(seed: int) -> List[bool]:
        chaos = ferrule.Chaos(error_rate=0.3, seed=seed)
        f = chaos(lambda: "ok")
        out = []
        for _ in range(200):
            try:
                f()
                out.append(True)
            except ConnectionError:
                out.append(False)
        return out

    a, b, c = run(11), run(11), run(12)
    assert a == b and a != c
    assert 30 <= a.count(False) <= 90
    off = ferrule.Chaos()
    assert all(off(lambda: 1)() == 1 for _ in range(100))


def test_chaos_inside_a_policy_is_retried_and_counted() -> None:
    clock = ManualClock()
    chaos = ferrule.Chaos(error_rate=0.5, latency_rate=1.0, latency_seconds=0.2, seed=3,
                          error=lambda: ConnectionError("injected"))
    p = policy(clock, attempts=10, delay=0.0, chaos=chaos)
    t0 = clock.now()
    for _ in range(20):
        assert p.call(lambda: "ok") == "ok"
    s = p.stats()
    assert s["retries"] == s["chaos_errors_injected"] > 0
    assert clock.now() - t0 == pytest.approx(0.2 * s["chaos_calls"])


# ---- bad configuration and concurrency -----------------------------------------------------------------


@pytest.mark.parametrize(
    "make, needle",
    [
        (lambda: ferrule.Retry(0), "attempts=0 is out of range; allowed: an integer in [1, 1000]"),
        (lambda: ferrule.Backoff.exponential(multiplier=0.5), "multiplier=0.5 is out of range; allowed: [1, 1000]"),
        (lambda: ferrule.Backoff.constant(-1.0), "delay=-1 is out of range"),
        (lambda: ferrule.Backoff.exponential(jitter="fulll"), "jitter=\"fulll\" is out of range"),
        (lambda: ferrule.Retry(3, budget_ratio=-1.0), "budget_ratio=-1 is out of range"),
        (lambda: ferrule.Retry(3, max_elapsed_seconds=0.0), "max_elapsed_seconds=0 is out of range"),
        (lambda: ferrule.Policy(timeout_seconds=-1.0), "timeout_seconds=-1 is out of range"),
        (lambda: ferrule.Policy(hard_timeout=True), "hard_timeout=True conflicts"),
        (lambda: ferrule.Chaos(error_rate=2.0), "error_rate=2 is out of range; allowed: [0, 1]"),
    ],
)
def test_bad_configuration_names_parameter_value_and_range(make: Any, needle: str) -> None:
    with pytest.raises(ferrule.ConfigError) as ei:
        make()
    assert needle in str(ei.value)
    assert isinstance(ei.value, ValueError)


def test_wrong_types_are_refused_at_construction() -> None:
    with pytest.raises(TypeError, match="backoff"):
        ferrule.Retry(3, backoff="exponential")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="rate_limiter"):
        ferrule.Policy(rate_limiter=object())
    with pytest.raises(TypeError, match="retry_on_result"):
        ferrule.Retry(3, retry_on_result=5)  # type: ignore[arg-type]


def test_eight_threads_count_exactly() -> None:
    clock = ManualClock()
    p = ferrule.Policy(retry=ferrule.Retry(3, backoff=const(0.0), budget_ratio=None), clock=clock)
    local = threading.local()

    @p
    def every_other() -> int:
        local.n = getattr(local, "n", 0) + 1
        if local.n % 2:
            raise ConnectionError("odd")
        return 1

    def work() -> None:
        for _ in range(2000):
            assert every_other() == 1

    ts = [threading.Thread(target=work) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    s = p.stats()
    assert (s["calls"], s["attempts"], s["retries"], s["successes"]) == (16000, 32000, 16000, 16000)


def test_backoff_reports_its_shape() -> None:
    b = ferrule.Backoff.exponential(initial=0.2, max=8.0, jitter="full")
    assert (b.kind, b.jitter, b.initial, b.max) == ("exponential", "full", 0.2, 8.0)
    assert [b.nominal(n) for n in (1, 2, 3, 10)] == [0.2, 0.4, 0.8, 8.0]
    assert b.sample(5, seed=1) == b.sample(5, seed=1)
    assert all(0 <= d <= b.nominal(i + 1) for i, d in enumerate(b.sample(20, seed=2)))
    assert completion("x")["choices"][0]["message"]["content"] == "x"


async def test_nested_deadlines_answer_the_tighter() -> None:
    clock = ManualClock()
    outer = ferrule.Policy(timeout_seconds=5.0, clock=clock)
    inner = ferrule.Policy(timeout_seconds=10.0, clock=clock)
    seen: List[Optional[float]] = []

    @inner
    def leaf() -> None:
        seen.append(ferrule.remaining())

    outer.call(leaf)

    @outer
    async def async_outer() -> None:
        leaf()
        seen.append(ferrule.remaining())

    await async_outer()
    assert seen == [5.0, 5.0, 5.0]
    assert ferrule.remaining() is None


def test_remaining_in_hard_mode_and_no_deadline_left_behind() -> None:
    p = ferrule.Policy(timeout_seconds=5.0, hard_timeout=True)
    seen: List[Optional[float]] = []
    p.call(lambda: seen.append(ferrule.remaining()))
    assert seen[0] is not None and 4.0 < seen[0] <= 5.0
    assert ferrule.remaining() is None

    def broken_classifier(exc: BaseException) -> bool:
        raise RuntimeError("classifier bug")

    b = ferrule.CircuitBreaker("c", failure_on=broken_classifier)
    q = ferrule.Policy(breaker=b, timeout_seconds=5.0)

    @q
    def fails() -> None:
        raise ValueError("x")

    with pytest.raises(RuntimeError):
        fails()
    with pytest.raises(KeyboardInterrupt):
        q.call(_raise, KeyboardInterrupt())
    assert ferrule.remaining() is None
    assert q.call(lambda: ferrule.remaining()) is not None
