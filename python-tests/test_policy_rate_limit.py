"""The real rate limiter in the policy pipeline's limiter slot (the two were built in parallel
against a protocol; this checks they meet)."""

from __future__ import annotations

import pytest

import ferrule


def test_limiter_slot_waits_within_the_deadline_and_refuses_beyond_it() -> None:
    lim = ferrule.RateLimiter.token_bucket(rate=2, per_seconds=1.0, burst=2)  # third waits ~0.5 s (real time: slack)
    p = ferrule.Policy(retry=ferrule.Retry(attempts=1), rate_limiter=lim, total_timeout_seconds=1.0)
    f = p(lambda: "ok")
    assert [f(), f(), f()] == ["ok", "ok", "ok"]  # the third waits, inside the deadline
    assert lim.stats()["waits"] >= 1, "the third call had to wait"

    slow = ferrule.RateLimiter.token_bucket(rate=1, per_seconds=10.0, burst=1)
    q = ferrule.Policy(retry=ferrule.Retry(attempts=1), rate_limiter=slow, total_timeout_seconds=0.2)
    g = q(lambda: "ok")
    assert g() == "ok"
    with pytest.raises(ferrule.RetryError) as ei:
        g()
    last = ei.value.last_error
    assert isinstance(last, ferrule.RateLimitedError)
    assert last.retry_after is not None and last.retry_after > 9


async def test_limiter_slot_async() -> None:
    lim = ferrule.RateLimiter.token_bucket(rate=50, per_seconds=1.0, burst=1)
    p = ferrule.Policy(retry=ferrule.Retry(attempts=1), rate_limiter=lim, total_timeout_seconds=2.0)

    @p
    async def ask() -> str:
        return "ok"

    assert [await ask() for _ in range(3)] == ["ok"] * 3
    assert lim.stats()["admitted"] == 3
