"""Rate limiters from Python: decisions and exact waits on a manual clock, blocking waits that release
the GIL, async waits that cancel cleanly, keys and eviction, Limits with reservations, the decorator,
errors and bad input."""

from __future__ import annotations

import asyncio
import pickle
import threading
import time
from typing import Any

import pytest

import ferrule
from ferrule.testing import ManualClock


@pytest.fixture
def every_log() -> Any:
    # Warnings go through the core's logger, which writes an identical event once per second; a test
    # that reads one must not depend on whether an earlier test wrote the same line just before.
    ferrule.configure(log_dedup_seconds=0)
    yield
    ferrule.configure(log_dedup_seconds=1.0)


def bucket(clock: ManualClock | None = None, **kw):  # type: ignore[no-untyped-def]
    opts = dict(rate=50, per_seconds=1.0, burst=10)
    opts.update(kw)
    return ferrule.RateLimiter.token_bucket(clock=clock or ManualClock(), name="t", **opts)


# ---- decisions ------------------------------------------------------------------------------------


def test_token_bucket_admits_the_burst_then_refills_one_per_interval() -> None:
    clock = ManualClock()
    lim = bucket(clock)
    assert [lim.try_acquire() for _ in range(11)] == [True] * 10 + [False]
    assert lim.peek() == pytest.approx(0.02)
    clock.advance(0.019)
    assert not lim.try_acquire()
    clock.advance(0.001)
    assert lim.try_acquire()
    s = lim.stats()
    assert (s["admitted"], s["rejected"], s["waits"], s["algorithm"]) == (11, 2, 0, "token_bucket")


def test_weighted_requests_and_the_default_burst() -> None:
    clock = ManualClock()
    lim = ferrule.RateLimiter.token_bucket(rate=5, per_seconds=1.0, clock=clock)  # burst = 5
    assert lim.try_acquire(n=3)
    assert not lim.try_acquire(n=3)
    assert lim.try_acquire(n=2)
    assert lim.stats()["admitted_units"] == 5


def test_sliding_window_weights_the_previous_window() -> None:
    clock = ManualClock()
    lim = ferrule.RateLimiter.sliding_window(limit=100, window_seconds=60, clock=clock)
    clock.advance(60 - clock.now() % 60)  # to a window start
    assert sum(lim.try_acquire() for _ in range(150)) == 100
    clock.advance(75)  # a quarter into the next window: 75 of the previous 100 still count
    assert sum(lim.try_acquire() for _ in range(150)) == 25
    assert lim.algorithm == "sliding_window"


def test_sliding_log_is_exact() -> None:
    clock = ManualClock()
    lim = ferrule.RateLimiter.sliding_log(limit=3, window_seconds=10, clock=clock)
    assert lim.try_acquire(2)
    clock.advance(5)
    assert lim.try_acquire(1)
    assert not lim.try_acquire(1)
    assert lim.peek() == pytest.approx(5.0)
    clock.advance(5)
    assert lim.try_acquire(2)
    assert not lim.try_acquire(1)


def test_eight_threads_admit_exactly_the_burst() -> None:
    lim = bucket(burst=500)
    admitted = [0] * 8
    barrier = threading.Barrier(8)

    def run(i: int) -> None:
        barrier.wait()
        for _ in range(1000):
            if lim.try_acquire():
                admitted[i] += 1

    ts = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sum(admitted) == 500
    assert lim.stats()["rejected"] == 8000 - 500


# ---- waiting ----------------------------------------------------------------------------------------


def test_acquire_waits_exactly_the_returned_wait() -> None:
    clock = ManualClock()
    lim = bucket(clock, burst=1)
    lim.acquire()
    t0 = clock.now()
    lim.acquire(n=1)  # on a manual clock the wait moves the clock instead of sleeping
    assert clock.now() - t0 == pytest.approx(0.02)
    s = lim.stats()
    assert (s["admitted"], s["waits"], s["rejected"]) == (2, 1, 0)
    assert s["wait_seconds_total"] == pytest.approx(0.02)


def test_a_wait_longer_than_the_timeout_raises_at_once_and_takes_nothing() -> None:
    clock = ManualClock()
    lim = ferrule.RateLimiter.token_bucket(rate=1, per_seconds=60, burst=1, clock=clock, name="openai")
    lim.acquire()
    t0 = clock.now()
    with pytest.raises(ferrule.RateLimitedError) as ei:
        lim.acquire(timeout=10)
    assert clock.now() == t0, "no pointless sleep before giving up"
    assert ei.value.retry_after == pytest.approx(60.0)
    assert ei.value.limiter == "openai"
    assert ei.value.key is None
    assert isinstance(ei.value, ferrule.FerruleError)
    assert ei.value.code == "FERRULE_RATE_LIMITED"
    assert "retry after 60.000s" in str(ei.value)
    with pytest.raises(ferrule.RateLimitedError):
        lim.acquire(timeout=0)
    assert lim.stats()["rejected"] == 2
    clock.advance(60)
    assert lim.try_acquire(), "the refused calls took nothing"
    assert lim.try_acquire(key="acme")
    with pytest.raises(ferrule.RateLimitedError) as ek:
        lim.acquire(key="acme", timeout=0)
    assert ek.value.key == "acme", "the limited key is named"


def test_blocking_acquire_releases_the_gil() -> None:
    lim = ferrule.RateLimiter.token_bucket(rate=5, per_seconds=1.0, burst=1)  # real clock: 0.2 s wait
    lim.acquire()
    done = threading.Event()
    waited: list[float] = []

    def blocked() -> None:
        t0 = time.perf_counter()
        lim.acquire()
        waited.append(time.perf_counter() - t0)
        done.set()

    t = threading.Thread(target=blocked)
    t.start()
    spins = 0
    while not done.is_set():  # pure-Python work: it only progresses if the waiting thread let go
        spins += 1
    t.join()
    assert waited[0] > 0.1
    assert spins > 1000
    assert lim.stats()["waits"] >= 1


async def test_acquire_async_waits_exactly_on_a_manual_clock() -> None:
    clock = ManualClock()
    lim = bucket(clock, burst=2)
    await lim.acquire_async(2)
    t0 = clock.now()
    await lim.acquire_async(2)
    assert clock.now() - t0 == pytest.approx(0.04)
    with pytest.raises(ferrule.RateLimitedError):
        await lim.acquire_async(2, timeout=0.01)


async def test_cancelling_acquire_async_cuts_the_wait_short_and_takes_nothing() -> None:
    lim = ferrule.RateLimiter.token_bucket(rate=1, per_seconds=60, burst=1)  # real clock: 60 s wait
    await lim.acquire_async()
    task = asyncio.ensure_future(lim.acquire_async())
    await asyncio.sleep(0.01)
    t0 = time.perf_counter()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.perf_counter() - t0 < 1.0
    s = lim.stats()
    assert (s["admitted"], s["waits"]) == (1, 1)
    assert lim.peek() > 59.0, "the cancelled waiter took nothing: still one interval to go, not two"


# ---- keys -------------------------------------------------------------------------------------------


def test_keys_are_limited_independently_and_any_hashable_key_works() -> None:
    lim = bucket(burst=2)
    for key in ("acme", 42, ("model", "gpt")):
        assert lim.try_acquire(key=key) and lim.try_acquire(key=key)
        assert not lim.try_acquire(key=key)
    assert lim.try_acquire(), "no key: its own allowance"
    assert lim.stats()["keys"] == 3
    with pytest.raises(UnicodeEncodeError):
        lim.try_acquire(key="\udc80")  # a lone surrogate has no UTF-8 form


def test_a_full_key_map_evicts_idle_keys_and_counts_it() -> None:
    clock = ManualClock()
    lim = ferrule.RateLimiter.token_bucket(rate=1, per_seconds=1.0, burst=1, max_keys=2, clock=clock)
    assert lim.try_acquire(key="a") and lim.try_acquire(key="b")
    clock.advance(1.0)  # both refilled: idle
    assert lim.try_acquire(key="c")
    s = lim.stats()
    assert (s["keys"], s["evicted_idle"], s["evicted_active"]) == (1, 2, 0)
    assert lim.try_acquire(key="d")
    assert lim.try_acquire(key="e"), "the map is full of active keys: the one closest to idle goes"
    s = lim.stats()
    assert (s["keys"], s["evicted_active"]) == (2, 1)
    clock.advance(5)
    assert lim.evict_idle() == 2


# ---- Limits and reservations ---------------------------------------------------------------------------


def rpm_tpm(clock: ManualClock):  # type: ignore[no-untyped-def]
    rpm = ferrule.RateLimiter.token_bucket(rate=500, per_seconds=60, burst=500, clock=clock, name="rpm")
    tpm = ferrule.RateLimiter.sliding_log(limit=30_000, window_seconds=60, clock=clock, name="tpm")
    return ferrule.Limits(requests=rpm, tokens=tpm), rpm, tpm


def test_limits_are_all_or_nothing() -> None:
    clock = ManualClock()
    limits, rpm, tpm = rpm_tpm(clock)
    assert limits.try_acquire(requests=1, tokens=29_000)
    assert not limits.try_acquire(requests=1, tokens=2_000)
    assert rpm.stats()["admitted"] == 1, "the denial by tokens took no request"
    assert rpm.peek(499) == 0.0
    with pytest.raises(ferrule.RateLimitedError) as ei:
        limits.acquire(requests=1, tokens=2_000, timeout=1)
    assert ei.value.limiter == "tokens"
    assert ei.value.retry_after == pytest.approx(60.0)
    assert ei.value.key is None
    r = limits.acquire(requests=1, tokens=1_000)
    assert r.charged == {"requests": 1, "tokens": 1_000}


def test_reservation_settles_by_refund_or_extra_charge_once() -> None:
    clock = ManualClock()
    limits, _rpm, tpm = rpm_tpm(clock)
    r = limits.acquire(requests=1, tokens=20_000, key="acme")
    assert r.key == "acme" and not r.settled
    r.settle(tokens=12_000)  # the provider counted less: 8,000 come back
    assert r.settled
    assert tpm.peek(18_000, key="acme") == 0.0
    with pytest.raises(ferrule.ConfigError, match="settles once"):
        r.settle(tokens=1)
    r2 = limits.acquire(requests=1, tokens=10_000, key="acme")
    r2.settle(tokens=20_000)  # more than estimated: a debt
    s = tpm.stats()
    assert (s["refunded_units"], s["charged_extra_units"]) == (8_000, 10_000)
    assert tpm.peek(1, key="acme") == pytest.approx(60.0)
    r3 = limits.acquire(requests=1, tokens=1, key="other")
    with pytest.raises(ferrule.ConfigError, match="unknown option limit=bogus"):
        r3.settle(bogus=3)


async def test_limits_acquire_async_and_cancel() -> None:
    clock = ManualClock()
    limits, rpm, _ = rpm_tpm(clock)
    await limits.acquire_async(tokens=30_000)
    t0 = clock.now()
    r = await limits.acquire_async(requests=1, tokens=10)
    assert clock.now() - t0 == pytest.approx(60.0)
    assert r.charged["tokens"] == 10

    real_rpm = ferrule.RateLimiter.token_bucket(rate=1, per_seconds=60, burst=1)
    real = ferrule.Limits(requests=real_rpm)
    await real.acquire_async(requests=1)
    task = asyncio.ensure_future(real.acquire_async(requests=1))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert real_rpm.stats()["admitted"] == 1


def test_eight_threads_on_limits_never_exceed() -> None:
    clock = ManualClock()
    limits, rpm, tpm = rpm_tpm(clock)
    admitted = [0] * 8

    def run(i: int) -> None:
        for _ in range(200):
            if limits.try_acquire(requests=1, tokens=700):
                admitted[i] += 1

    ts = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    rest = 0
    while limits.try_acquire(requests=1, tokens=700):
        rest += 1
    assert sum(admitted) <= 42 and sum(admitted) + rest == 42
    assert rpm.stats()["admitted"] == 42


# ---- the decorator ---------------------------------------------------------------------------------------


def test_decorator_on_def_and_async_def_with_cost_and_key() -> None:
    clock = ManualClock()
    lim = bucket(clock, burst=10)

    @ferrule.rate_limit(lim, cost=lambda prompt, **k: len(prompt), key=lambda prompt, user: user)
    def ask(prompt: str, user: str) -> str:
        """asks"""
        return prompt.upper()

    assert ask("abcdefgh", user="u1") == "ABCDEFGH"
    assert ask.__name__ == "ask" and ask.__doc__ == "asks"
    t0 = clock.now()
    assert ask("abcd", user="u1") == "ABCD"  # 2 short: waits 2 intervals
    assert clock.now() - t0 == pytest.approx(0.04)
    assert ask("abcdefgh", user="u2") == "ABCDEFGH", "another key"

    @ferrule.rate_limit(lim, timeout=0)
    async def aask() -> int:
        return 1

    async def go() -> None:
        assert await aask() == 1

    asyncio.run(go())
    with pytest.raises(ferrule.RateLimitedError):
        for _ in range(20):
            asyncio.run(go())


def test_decorator_with_limits_settles_real_usage() -> None:
    clock = ManualClock()
    limits, _rpm, tpm = rpm_tpm(clock)

    @ferrule.rate_limit(limits, cost=lambda p, max_tokens: {"requests": 1, "tokens": len(p) + max_tokens},
                        usage=lambda result: {"tokens": result["total_tokens"]})
    def complete(p: str, max_tokens: int) -> dict[str, int]:
        return {"total_tokens": len(p) + 10}

    complete("hello", max_tokens=1000)
    s = tpm.stats()
    assert (s["admitted_units"], s["refunded_units"]) == (1005, 990)


# ---- bad input and errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: ferrule.RateLimiter.token_bucket(rate=0), "rate=0 is out of range; allowed: a finite number > 0"),
        (lambda: ferrule.RateLimiter.token_bucket(rate=-2.5), "rate=-2.5 is out of range"),
        (lambda: ferrule.RateLimiter.token_bucket(rate=5, burst=0), "burst=0 is out of range"),
        (lambda: ferrule.RateLimiter.token_bucket(rate=5, per_seconds=0), "per_seconds=0 is out of range"),
        (lambda: ferrule.RateLimiter.sliding_window(limit=0, window_seconds=1), "limit=0 is out of range"),
        (lambda: ferrule.RateLimiter.sliding_window(limit=5, window_seconds=0), "window_seconds=0 is out of range"),
        (lambda: ferrule.RateLimiter.sliding_log(limit=5, window_seconds=-1), "window_seconds=-1 is out of range"),
        (lambda: ferrule.RateLimiter.token_bucket(rate=5, max_keys=0), "max_keys=0 is out of range"),
    ],
)
def test_bad_configuration_fails_at_construction(build, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ferrule.ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as ei:
        build()
    assert isinstance(ei.value, ValueError)


def test_bad_requests_fail_at_once() -> None:
    lim = bucket(burst=10)
    with pytest.raises(ferrule.ConfigError, match=r"n=11 is out of range; allowed: an integer in \[1, 10\] \(the burst"):
        lim.try_acquire(11)
    with pytest.raises(ferrule.ConfigError, match="n=0"):
        lim.acquire(0)
    with pytest.raises(ferrule.ConfigError, match="n=-1"):
        asyncio.run(lim.acquire_async(-1))
    with pytest.raises(ferrule.ConfigError, match="timeout=-1"):
        lim.acquire(timeout=-1)
    with pytest.raises(ferrule.ConfigError, match="timeout=NaN"):
        ferrule.rate_limit(lim, timeout=float("nan"))
    limits = ferrule.Limits(requests=lim)
    with pytest.raises(TypeError, match="unknown limit 'tokens'"):
        limits.try_acquire(tokens=5)
    with pytest.raises(ferrule.ConfigError, match="at least one cost > 0"):
        limits.try_acquire(requests=0)
    with pytest.raises(TypeError):
        ferrule.Limits(requests=object())  # type: ignore[arg-type]


def test_rate_limited_error_pickles() -> None:
    e = ferrule.RateLimitedError("refused", 1.5, "acme", "openai")
    e2 = pickle.loads(pickle.dumps(e))
    assert (str(e2), e2.retry_after, e2.key, e2.limiter) == ("refused", 1.5, "acme", "openai")


def test_a_lossy_eviction_is_logged_at_warning(caplog: pytest.LogCaptureFixture, every_log: None) -> None:
    clock = ManualClock()
    lim = ferrule.RateLimiter.token_bucket(rate=1, per_seconds=60, burst=1, max_keys=2, clock=clock, name="tenants")
    for key in ("a", "b", "c"):
        assert lim.try_acquire(key=key)
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and r.name == "ferrule"]
    assert len(warnings) == 1
    assert "rate limiter 'tenants': all 2 keys (max_keys) are still limited; evicted 1" in warnings[0].getMessage()
    assert warnings[0].event == "rate_limit.evicted_active"  # type: ignore[attr-defined]
    assert lim.stats()["evicted_active"] == 1
