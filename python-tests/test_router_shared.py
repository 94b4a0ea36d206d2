"""Router health shared through a real ``redis-server`` on loopback: a 429 with Retry-After seen by
one router cools the endpoint in its namesake (another backend, as in another process) within
``sync_seconds``, and a failover reports its recovery time on the ``router.recovered`` event and in
``stats()``. The four-process measurement lives in the core's tests (redis_router_health.rs)."""

from __future__ import annotations

import os
import shutil
import time
from typing import Any, Dict, Iterator, List

import pytest

import ferrule
from ferrule.testing import ManualClock
from redis_server import RedisServer

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None and not os.environ.get("CI"),
                                reason="redis-server missing: `make tools-redis` installs it")


class StatusError(Exception):
    def __init__(self, status: int, headers: Dict[str, str]) -> None:
        super().__init__(f"HTTP {status}")
        self.status_code = status
        self.headers = headers


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.dir, ignore_errors=True)


def test_a_429_in_one_router_cools_the_endpoint_in_its_namesake(redis: RedisServer) -> None:
    name = f"shared-{os.getpid()}-{time.monotonic_ns()}"
    sent: List[str] = []

    def endpoint(label: str, fail: bool = False) -> Any:
        def call() -> str:
            sent.append(label)
            if fail:
                raise StatusError(429, {"retry-after": "5"})
            return label
        return call

    sync = 0.1
    first = ferrule.Router([ferrule.Endpoint("a", endpoint("1a", fail=True)), ferrule.Endpoint("b", endpoint("1b"))],
                           "round_robin", name=name, backend=ferrule.RedisBackend(redis.url, prefix="rs"),
                           sync_seconds=sync)
    events: List[Dict[str, Any]] = []
    second = ferrule.Router([ferrule.Endpoint("a", endpoint("2a")), ferrule.Endpoint("b", endpoint("2b"))],
                            "round_robin", name=name, backend=ferrule.RedisBackend(redis.url, prefix="rs"),
                            sync_seconds=sync, on_event=events.append)
    # The first router's call goes to "a", gets the 429 and moves on to "b".
    while "1a" not in sent:
        first.call()
    t0 = time.monotonic()
    while second.stats()["endpoints"][0]["cooldown_remaining_seconds"] == 0:
        assert time.monotonic() - t0 < sync + 0.5, "the cooldown did not reach the other router"
        time.sleep(0.005)
    assert 4.5 < second.stats()["endpoints"][0]["cooldown_remaining_seconds"] <= 5.0
    sent.clear()
    for _ in range(10):
        assert second.call() == "2b"
    assert sent == ["2b"] * 10, "nothing sent to the cooling endpoint"
    s = second.sync_stats()
    assert s is not None and s["applied_cooldowns"] == 1 and s["errors"] == 0, s
    assert first.sync_stats()["published"] >= 1  # type: ignore[index]
    assert any(e["event"] == "router.cooldown" and e["reason"] == "shared" for e in events)
    assert ferrule.Router([ferrule.Endpoint("x", endpoint("x"))]).sync_stats() is None


def test_bad_sync_seconds_fails_at_construction_by_name(redis: RedisServer) -> None:
    with pytest.raises(ferrule.ConfigError) as e:
        ferrule.Router([ferrule.Endpoint("a", lambda: 1)], backend=ferrule.RedisBackend(redis.url), sync_seconds=0)
    assert "sync_seconds" in str(e.value)


def test_a_failover_reports_its_recovery_time() -> None:
    clock = ManualClock()
    state = {"primary_down": False}

    def primary() -> str:
        clock.advance(0.1)
        if state["primary_down"]:
            raise StatusError(503, {})
        return "primary"

    def standby() -> str:
        clock.advance(0.1)
        return "standby"

    events: List[Dict[str, Any]] = []
    r = ferrule.Router([ferrule.Endpoint("p", primary, region="eu"),
                        ferrule.Endpoint("s", standby, region="us", priority=1)],
                       "round_robin", name="rto-py", eject_after_failures=2, clock=clock, on_event=events.append)
    assert r.call() == "primary"
    assert r.stats()["last_failover_rto_seconds"] is None
    state["primary_down"] = True
    # Call 1: the primary fails (outage begins at its start + 0.1 s), the call moves to the standby.
    assert r.call() == "standby"
    # Call 2: the second failure ejects the primary; the call fails over and succeeds on the standby.
    assert r.call() == "standby"
    assert r.active_region == "us"
    rec = [e for e in events if e["event"] == "router.recovered"]
    assert len(rec) == 1, events
    assert (rec[0]["from"], rec[0]["to"]) == ("eu", "us")
    rto = r.stats()["last_failover_rto_seconds"]
    assert rto == pytest.approx(rec[0]["seconds"])
    # From the first failure (t=0.2, end of the first failing call's primary attempt) to the
    # failover's success (t=0.5: standby, primary, standby attempts of 0.1 s each later).
    assert rto == pytest.approx(0.3)
