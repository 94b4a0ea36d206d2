"""ferrule.Router: strategies, cooldowns, ejection, failover/failback on a manual clock, hedging,
normalisation, composition with a Policy, and two mock LLM servers as two regions where the primary
goes down mid-run (RTO reported, no request lost)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Dict, List

import openai
import pytest

import ferrule
from ferrule.testing import ManualClock, MockLLMServer


class StatusError(Exception):
    def __init__(self, status: int, headers: Dict[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status_code = status
        self.headers = headers or {}


def const(v: Any) -> Any:
    return lambda *a, **k: v


def test_weighted_distribution_within_three_percent() -> None:
    r = ferrule.Router([ferrule.Endpoint("a", const("a"), weight=1), ferrule.Endpoint("b", const("b"), weight=3)], seed=7)
    n = 8000
    share = sum(r.call() == "b" for _ in range(n)) / n
    assert abs(share - 0.75) < 0.03, share


def test_round_robin_exact_and_stats() -> None:
    r = ferrule.Router([ferrule.Endpoint(x, const(x)) for x in "abc"], "round_robin")
    got = [r.call() for _ in range(300)]
    assert got.count("a") == got.count("b") == got.count("c") == 100
    s = r.stats()
    assert [e["requests"] for e in s["endpoints"]] == [100, 100, 100]
    assert s["strategy"] == "round_robin" and s["active_region"] == "priority-0"
    assert all(e["health"] == "healthy" and e["latency_ewma_seconds"] is not None for e in s["endpoints"])


def test_round_robin_is_smooth_weighted_with_exact_shares() -> None:
    r = ferrule.Router(
        [ferrule.Endpoint("a", const("a"), weight=5), ferrule.Endpoint("b", const("b")), ferrule.Endpoint("c", const("c"))],
        "round_robin",
    )
    # nginx's smooth weighted round robin: interleaved, and exact over every 7 calls.
    assert "".join(r.call() for _ in range(7)) == "aabacaa"
    got = [r.call() for _ in range(700)]
    assert (got.count("a"), got.count("b"), got.count("c")) == (500, 100, 100)


def test_cost_strategy_prefers_the_cheapest() -> None:
    r = ferrule.Router(
        [
            ferrule.Endpoint("gpt-big", const("big"), cost_per_1k_input=0.01, cost_per_1k_output=0.03),
            ferrule.Endpoint("gpt-mini", const("mini"), cost_per_1k_input=0.00015, cost_per_1k_output=0.0006),
        ],
        "cost",
    )
    assert {r.call() for _ in range(50)} == {"mini"}


def test_a_failed_attempt_moves_to_the_next_endpoint_in_the_same_call() -> None:
    calls: List[str] = []

    def bad(x: int) -> int:
        calls.append("bad")
        raise StatusError(503)

    def good(x: int) -> int:
        calls.append("good")
        return x * 2

    r = ferrule.Router([ferrule.Endpoint("bad", bad, weight=1000), ferrule.Endpoint("good", good)], seed=1, eject_after_failures=0)
    assert r.call(21) == 42
    assert calls[-1] == "good"
    # Every endpoint failing: the last error, each endpoint tried once.
    r2 = ferrule.Router([ferrule.Endpoint("x", bad), ferrule.Endpoint("y", bad)], eject_after_failures=0)
    calls.clear()
    with pytest.raises(StatusError):
        r2.call(1)
    assert calls == ["bad", "bad"]


def test_errors_not_blamed_on_the_endpoint_are_raised_at_once() -> None:
    def bad_request() -> None:
        raise ValueError("your prompt is wrong")

    r = ferrule.Router(
        [ferrule.Endpoint("a", bad_request), ferrule.Endpoint("b", bad_request)],
        failure_on=StatusError,
    )
    with pytest.raises(ValueError):
        r.call()
    s = r.stats()
    assert sum(e["requests"] for e in s["endpoints"]) == 1
    assert sum(e["released"] for e in s["endpoints"]) == 1 and sum(e["errors"] for e in s["endpoints"]) == 0


def test_429_with_retry_after_cools_the_endpoint_down_on_the_manual_clock() -> None:
    clock = ManualClock()
    events: List[Dict[str, Any]] = []
    state = {"limited": True}

    def a() -> str:
        if state["limited"]:
            state["limited"] = False
            raise StatusError(429, {"retry-after": "3"})
        return "a"

    r = ferrule.Router(
        [ferrule.Endpoint("a", a, weight=1000), ferrule.Endpoint("b", const("b"))], clock=clock, seed=3, on_event=events.append
    )
    assert r.call() == "b"  # a said 429, the call moved on
    assert [e["event"] for e in events] == ["router.cooldown"]
    assert events[0]["endpoint"] == "a" and events[0]["seconds"] == 3.0
    for _ in range(30):
        clock.advance(0.099)
        assert r.call() == "b"
    clock.advance(0.1)
    assert r.call() == "a"
    assert r.stats()["endpoints"][0]["cooldowns"] == 1


def test_ejection_and_return_on_the_manual_clock() -> None:
    clock = ManualClock()
    fail = {"on": True}

    def flaky() -> str:
        if fail["on"]:
            raise ConnectionError("reset")
        return "flaky"

    r = ferrule.Router(
        [ferrule.Endpoint("flaky", flaky), ferrule.Endpoint("steady", const("steady"))],
        "round_robin",
        clock=clock,
        eject_after_failures=3,
        ejection_seconds=10,
        failure_rate=1.0,
        min_calls=20,
    )
    for _ in range(20):
        assert r.call() == "steady"
    flaky_stats = r.stats()["endpoints"][0]
    assert flaky_stats["ejections"] == 1 and flaky_stats["health"] == "ejected"
    assert flaky_stats["requests"] == 3, "never called while ejected and a healthy endpoint exists"
    fail["on"] = False
    clock.advance(10)
    assert {r.call() for _ in range(4)} == {"flaky", "steady"}


def test_failover_and_hysteretic_failback_on_the_manual_clock() -> None:
    clock = ManualClock()
    primary_up = {"v": True}
    events: List[Dict[str, Any]] = []

    def primary() -> str:
        if not primary_up["v"]:
            raise ConnectionError("region down")
        return "eu"

    r = ferrule.Router(
        [
            ferrule.Endpoint("eu-1", primary, region="eu", priority=0),
            ferrule.Endpoint("us-1", const("us"), region="us", priority=1),
        ],
        clock=clock,
        eject_after_failures=2,
        ejection_seconds=5,
        failback_seconds=20,
        probe_interval_seconds=4,
        on_event=events.append,
    )
    assert r.call() == "eu"
    primary_up["v"] = False
    assert [r.call() for _ in range(5)] == ["us"] * 5, "no request lost"
    assert r.active_region == "us"
    assert [e["event"] for e in events if e["event"].startswith("router.fail")] == ["router.failover"]
    primary_up["v"] = True
    clock.advance(5)
    answers = []
    for _ in range(19):
        answers.append(r.call())
        clock.advance(1)
        assert r.active_region == "us", "not before 20 s healthy"
    assert "eu" in answers, "trickle probes reached the recovering primary"
    for _ in range(3):
        r.call()
        clock.advance(1)
    assert r.active_region == "eu"
    assert [e["event"] for e in events if e["event"].startswith("router.fail")] == ["router.failover", "router.failback"]
    s = r.stats()
    assert (s["failovers"], s["failbacks"]) == (1, 1)
    assert r.call() == "eu"


def test_no_endpoint_left_raises_circuit_open_named_after_the_router() -> None:
    clock = ManualClock()

    def limited() -> None:
        raise StatusError(429, {"retry-after": "7"})

    r = ferrule.Router([ferrule.Endpoint("a", limited)], name="solo", clock=clock)
    with pytest.raises(StatusError):
        r.call()
    with pytest.raises(ferrule.CircuitOpenError) as ei:
        r.call()
    assert ei.value.breaker == "router solo"
    assert ei.value.retry_after == pytest.approx(7.0)


def test_router_as_the_callee_of_a_policy() -> None:
    clock = ManualClock()
    n = {"calls": 0}

    def sometimes() -> str:
        n["calls"] += 1
        if n["calls"] <= 2:
            raise StatusError(503)
        return "ok"

    r = ferrule.Router([ferrule.Endpoint("a", sometimes), ferrule.Endpoint("b", sometimes)], eject_after_failures=0)
    policy = ferrule.Policy(retry=ferrule.Retry(attempts=3), clock=clock)
    assert policy.call(r.call) == "ok"
    assert policy.stats()["retries"] == 1, "round 1 tried both endpoints, round 2 succeeded"


async def test_async_endpoints_and_hedging() -> None:
    clock = ManualClock()
    gate = asyncio.Event()
    mode = {"slow_first": False}

    async def fast(tag: str) -> str:
        clock.advance(0.01)  # 10 ms on the manual clock: the p95 the hedge waits for
        return tag + ":fast"

    async def hang(tag: str) -> str:
        if mode["slow_first"]:
            await gate.wait()  # never set: only a hedge can answer
        clock.advance(0.01)
        return tag + ":hang"

    r = ferrule.Router(
        [ferrule.Endpoint("hang", hang), ferrule.Endpoint("fast", fast)],
        "round_robin",
        clock=clock,
        hedge=True,
        hedge_min_samples=5,
        hedge_max_ratio=1.0,
    )
    for i in range(20):
        assert (await r.call("w")).startswith("w:")
    mode["slow_first"] = True
    results = [await r.call(f"h{i}") for i in range(4)]
    assert all(x.endswith(":fast") for x in results), results
    s = r.stats()
    assert s["hedges"] == 2, "the two calls that went to the hanging endpoint were hedged"
    hang_stats = s["endpoints"][0]
    assert hang_stats["released"] == 2 and hang_stats["outstanding"] == 0, "losers cancelled and released"


def _hedge_router(hedge_threads: int = 16) -> tuple[ferrule.Router, ManualClock, threading.Event, Dict[str, Any]]:
    """Two sync endpoints on a manual clock: ``hang`` blocks on a gate once told to; ``fast`` answers."""
    clock = ManualClock()
    gate = threading.Event()
    state: Dict[str, Any] = {"hang": False, "late": []}

    def fast(tag: str) -> str:
        clock.advance(0.01)  # 10 ms on the manual clock
        return tag + ":fast"

    def hang(tag: str) -> str:
        if state["hang"]:
            gate.wait(30)
            state["late"].append(tag)
        clock.advance(0.01)
        return tag + ":hang"

    r = ferrule.Router(
        [ferrule.Endpoint("hang", hang), ferrule.Endpoint("fast", fast)],
        "round_robin",
        clock=clock,
        hedge=True,
        hedge_min_samples=5,
        hedge_max_ratio=1.0,
        # The core's p95 is 10 ms of manual clock; the real wait before hedging is at least this, so
        # the fast endpoint always answers before a hedge on a loaded machine.
        hedge_min_delay_seconds=0.3,
        hedge_threads=hedge_threads,
    )
    for _ in range(20):
        assert r.call("w").startswith("w:")
    return r, clock, gate, state


def test_sync_hedging_races_a_pool_thread_and_discards_the_loser() -> None:
    r, _, gate, state = _hedge_router()
    state["hang"] = True
    try:
        results = [r.call(f"h{i}") for i in range(4)]
        assert results == ["h0:fast", "h1:fast", "h2:fast", "h3:fast"], results
        s = r.stats()
        assert s["hedges"] == 2, "the two calls that went to the hanging endpoint were hedged"
        assert s["hedges_lost"] == 2 and s["hedge_pool_full"] == 0
        hang = s["endpoints"][0]
        assert hang["released"] == 2 and hang["outstanding"] == 0 and hang["hedges"] == 2
    finally:
        gate.set()
    # The losers run to their end on their pool threads; their results go nowhere.
    deadline = time.monotonic() + 10
    while len(state["late"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(state["late"]) == ["h0", "h2"]
    s = r.stats()
    assert s["endpoints"][0]["successes"] == 10, "a discarded result is never recorded as a success"


def test_sync_hedging_with_the_pool_busy_runs_unhedged_and_counts_it() -> None:
    r, _, gate, state = _hedge_router(hedge_threads=2)
    state["hang"] = True
    try:
        assert r.call("h0") == "h0:fast"  # hang first, hedged; the loser keeps one of the 2 threads
        assert r.call("h1") == "h1:fast"  # one thread free: runs unhedged in the caller's thread
        s = r.stats()
        assert s["hedge_pool_full"] == 1 and s["hedges"] == 1
    finally:
        gate.set()


def test_the_p95_behind_the_hedge_delay_follows_a_regime_change_on_the_manual_clock() -> None:
    clock = ManualClock()
    latency = {"s": 0.010}

    def ep(x: int) -> int:
        clock.advance(latency["s"])
        return x

    r = ferrule.Router([ferrule.Endpoint("a", ep)], clock=clock, latency_window_seconds=10)

    def p95() -> float:
        v = r.stats()["endpoints"][0]["latency_p95_seconds"]
        assert v is not None
        return float(v)

    for _ in range(2000):
        r.call(1)
    assert p95() == pytest.approx(0.010, rel=0.07)
    latency["s"] = 0.100  # the provider slows down: 100 slow calls against 2000 fast ones
    for _ in range(100):
        r.call(1)
    assert p95() == pytest.approx(0.100, rel=0.07)
    latency["s"] = 0.010  # and recovers: three windows later the slow history is gone
    for _ in range(3000):
        r.call(1)
    assert p95() == pytest.approx(0.010, rel=0.07)


def test_config_errors_name_the_parameter() -> None:
    with pytest.raises(ferrule.ConfigError, match="attempts=1.*second attempt"):
        ferrule.Router([ferrule.Endpoint("a", const(1)), ferrule.Endpoint("b", const(1))], hedge=True, attempts=1)
    with pytest.raises(ferrule.ConfigError, match="hedge_threads=1"):
        ferrule.Router([ferrule.Endpoint("a", const(1))], hedge=True, hedge_threads=1)
    with pytest.raises(ferrule.ConfigError, match="latency_window_seconds=0"):
        ferrule.Router([ferrule.Endpoint("a", const(1))], latency_window_seconds=0)

    async def co() -> int:
        return 1

    with pytest.raises(ferrule.ConfigError, match="mix def and async def"):
        ferrule.Router([ferrule.Endpoint("a", const(1)), ferrule.Endpoint("b", co)])
    with pytest.raises(ferrule.ConfigError, match="strategy"):
        ferrule.Router([ferrule.Endpoint("a", const(1))], "fastest")
    with pytest.raises(ferrule.ConfigError, match="weight=-2"):
        ferrule.Router([ferrule.Endpoint("a", const(1), weight=-2)])
    with pytest.raises(ferrule.ConfigError, match="attempts=5"):
        ferrule.Router([ferrule.Endpoint("a", const(1))], attempts=5)
    with pytest.raises(ferrule.ConfigError, match="one region has one priority"):
        ferrule.Router([ferrule.Endpoint("a", const(1), region="eu"), ferrule.Endpoint("b", const(1), region="eu", priority=1)])


def test_normalize_chat_shapes() -> None:
    anthropic_like = {
        "role": "assistant",
        "model": "claude-x",
        "content": [{"type": "text", "text": "hello "}, {"type": "text", "text": "there"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 3, "output_tokens": 2},
    }
    r = ferrule.Router([ferrule.Endpoint("anthropic", const(anthropic_like))], normalize="openai")
    out = r.call()
    assert isinstance(out, ferrule.ChatResponse)
    assert (out.content, out.model, out.input_tokens, out.output_tokens, out.endpoint) == ("hello there", "claude-x", 3, 2, "anthropic")
    with pytest.raises(TypeError, match="not a chat response"):
        ferrule.normalize_chat(42, "x")


def test_metrics_exported_at_scrape_time() -> None:
    r = ferrule.Router([ferrule.Endpoint("m-a", const(1)), ferrule.Endpoint("m-b", const(2))], "round_robin", name="scrape")
    for _ in range(4):
        r.call()
    text = ferrule.metrics_text()
    assert 'ferrule_router_requests_total{router="scrape",endpoint="m-a"} 2' in text
    assert 'ferrule_router_active_region{router="scrape",region="priority-0"} 1' in text
    assert 'ferrule_router_failovers_total{router="scrape"} 0' in text
    assert "<b>Router</b>" in r._repr_html_()


def _region_client(server: MockLLMServer) -> Any:
    client = openai.OpenAI(base_url=server.url, api_key="test", max_retries=0, timeout=2.0)

    def chat(prompt: str) -> Any:
        return client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])

    return chat


@pytest.mark.parametrize("outage", ["stop", "503"])
def test_two_mock_regions_primary_goes_down_mid_run(outage: str) -> None:
    """Two mock LLM servers as regions; the primary goes down at request 100 of 300 (stopped, or every
    answer a 503). Every request is answered; RTO (primary failing → first success on the standby)
    is measured and printed."""
    faults = [{"kind": "503", "rate": 1.0, "from": 100}] if outage == "503" else []
    events: List[Dict[str, Any]] = []
    with MockLLMServer(faults, seed=1) as eu, MockLLMServer(seed=2) as us:
        r = ferrule.Router(
            [
                ferrule.Endpoint("eu-gpt", _region_client(eu), region="eu", priority=0),
                ferrule.Endpoint("us-gpt", _region_client(us), region="us", priority=1),
            ],
            normalize="openai",
            on_event=events.append,
        )
        answered = 0
        failed_at = None
        rto = None
        for i in range(300):
            if i == 100 and outage == "stop":
                eu.stop()
            if i == 100:
                failed_at = time.perf_counter()
            out = r.call(f"request {i}")
            assert isinstance(out, ferrule.ChatResponse) and out.content
            answered += 1
            if failed_at is not None and rto is None and out.endpoint == "us-gpt":
                rto = time.perf_counter() - failed_at
        assert answered == 300, "no request lost"
        assert rto is not None
        s = r.stats()
        assert s["active_region"] == "us" and s["failovers"] == 1
        eu_stats, us_stats = s["endpoints"]
        assert eu_stats["successes"] == 100
        assert us_stats["successes"] == 200
        assert any(e["event"] == "router.failover" for e in events)
        print(f"\nRTO ({outage}): {rto * 1000:.2f} ms; primary errors {eu_stats['errors']}, standby answers {us_stats['successes']}")
