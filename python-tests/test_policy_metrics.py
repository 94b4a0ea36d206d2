"""Retries, fallbacks, timeouts and rate-limit decisions reach the metrics exposition (read at
scrape time from each primitive's own counters)."""

from __future__ import annotations

import re

import ferrule
from ferrule.testing import ManualClock


def value(text: str, series: str) -> float:
    m = re.search("^" + re.escape(series) + r" (\S+)$", text, re.M)
    assert m, f"{series} not in exposition"
    return float(m.group(1))


def test_policy_and_limiter_counts_are_exported() -> None:
    calls = {"n": 0}

    def flaky() -> str:
        calls["n"] += 1
        if calls["n"] % 3:
            raise ConnectionError("reset")
        return "ok"

    p = ferrule.Policy(
        name="export-test",
        retry=ferrule.Retry(attempts=3, backoff=ferrule.Backoff.constant(0.0)),
        fallback="busy",
        clock=ManualClock(),
    )
    f = p(flaky)
    assert [f() for _ in range(3)] == ["ok", "ok", "ok"]  # 2 retries each
    g = p(lambda: (_ for _ in ()).throw(ConnectionError("down")))
    assert g() == "busy"

    lim = ferrule.RateLimiter.token_bucket(rate=1, per_seconds=1.0, burst=1, name="export-limiter")
    assert lim.try_acquire() and not lim.try_acquire()

    text = ferrule.metrics_text()
    assert value(text, 'ferrule_retries_total{name="export-test"}') == 8
    assert value(text, 'ferrule_fallbacks_total{name="export-test",reason="call_failed"}') == 1
    assert value(text, 'ferrule_calls_total{component="policy",name="export-test",outcome="success"}') == 3
    assert value(text, 'ferrule_calls_total{component="rate_limiter",name="export-limiter",outcome="admitted"}') == 1
    assert value(text, 'ferrule_rejections_total{component="rate_limiter",name="export-limiter",reason="rate_limited"}') == 1
