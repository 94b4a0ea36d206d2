"""Synthetic traffic stays out of the user's series: a probe whose function calls through a
user's ``Policy`` (sync and async) or a wrapped OpenAI client leaves the user's SLO, the policy's
``ferrule_calls_total`` series and the GenAI metrics untouched; the probe's own results are visible
in ``ferrule_synthetic_calls_total``, the probe's stats and its ``ferrule_probe_*`` families."""

from __future__ import annotations

import asyncio
import re
from typing import Iterator

import pytest

import ferrule
from ferrule import SyntheticProbe
from ferrule.alerting import installed_router
from ferrule.testing import ManualClock


@pytest.fixture(autouse=True)
def no_router() -> Iterator[None]:
    yield
    r = installed_router()
    if r is not None:
        r.uninstall()
    ferrule._ferrule.AlertRouterCore.uninstall()


def value(series: str) -> float:
    m = re.search("^" + re.escape(series) + r" (\S+)$", ferrule.metrics_text(), re.M)
    return float(m.group(1)) if m else 0.0


def calls(name: str, outcome: str) -> float:
    return value(f'ferrule_calls_total{{component="policy",name="{name}",outcome="{outcome}"}}')


def synthetic(component: str, name: str, outcome: str) -> float:
    return value(f'ferrule_synthetic_calls_total{{component="{component}",name="{name}",outcome="{outcome}"}}')


def test_a_probe_through_a_wrapped_policy_leaves_user_slo_and_metrics_untouched() -> None:
    clock = ManualClock()
    slo = ferrule.SLO("iso-slo", objective=0.99, clock=clock)
    breaker = ferrule.CircuitBreaker(name="iso-breaker", clock=clock)
    policy = ferrule.Policy(name="iso-policy", breaker=breaker, clock=clock)
    answers = {"fail": False}

    @policy
    def ask() -> str:
        if answers["fail"]:
            raise ConnectionError("down")
        return "pong"

    def user_request() -> str:
        # What the user's own code does: call through the policy, feed the SLO.
        try:
            out = ask()
        except ConnectionError:
            slo.record(False, 0.1)
            raise
        slo.record(True, 0.1)
        return out

    for _ in range(3):
        assert user_request() == "pong"
    assert policy.stats()["successes"] == 3 and calls("iso-policy", "success") == 3
    assert slo.stats()["total"] == 3

    probe = SyntheticProbe("iso-probe", user_request, every_seconds=10, timeout_seconds=5,
                           expect=lambda r: r == "pong", jitter=0, clock=clock)
    assert probe.run_once() is True
    answers["fail"] = True
    for _ in range(2):
        clock.advance(10)
        assert probe.run_once() is False

    # The user's series did not move...
    assert calls("iso-policy", "success") == 3 and calls("iso-policy", "failure") == 0
    assert policy.stats()["calls"] == 3 and policy.stats()["failures"] == 0
    st = slo.stats()
    assert (st["total"], st["bad"], st["synthetic_excluded"]) == (3, 0, 3)
    # ...and the probe's traffic is visible, as synthetic.
    assert synthetic("policy", "iso-policy", "success") == 1
    assert synthetic("policy", "iso-policy", "failure") == 2
    s = probe.stats()
    assert (s["runs"], s["ok"], s["failed"]) == (3, 1, 2)
    assert value('ferrule_probe_runs_total{probe="iso-probe",result="failed"}') == 2
    rows = {(n, tuple(sorted(lab.items()))): v for n, lab, v in probe.gauges()}
    assert rows[("ferrule_probe_runs_total", (("probe", "iso-probe"), ("result", "ok")))] == 1
    # The breaker is shared: the probe's failures are real evidence about the endpoint.
    assert breaker.stats()["failures"] >= 2

    # Outside a probe, the user's calls count again.
    answers["fail"] = False
    assert user_request() == "pong"
    assert calls("iso-policy", "success") == 4 and slo.stats()["total"] == 4


async def test_an_async_probe_through_a_policy_marks_only_its_own_task() -> None:
    clock = ManualClock()
    policy = ferrule.Policy(name="iso-async", clock=clock)
    slo = ferrule.SLO("iso-async-slo", objective=0.99, clock=clock)
    gate = asyncio.Event()

    @policy
    async def ask() -> str:
        await gate.wait()  # the probe and a user call are in flight together
        return "pong"

    async def user_request() -> str:
        out = await ask()
        slo.record(True, 0.1)
        return out

    probe = SyntheticProbe("iso-async-probe", user_request, every_seconds=10, timeout_seconds=5, jitter=0, clock=clock)
    probe_task = asyncio.ensure_future(probe.run_once_async())
    user_task = asyncio.ensure_future(user_request())
    await asyncio.sleep(0)
    assert ferrule.in_probe() is False
    gate.set()
    assert await probe_task is True
    assert await user_task == "pong"
    assert calls("iso-async", "success") == 1, "only the user's call is a user call"
    assert synthetic("policy", "iso-async", "success") == 1
    st = slo.stats()
    assert (st["total"], st["synthetic_excluded"]) == (1, 1)


def test_a_probe_through_a_wrapped_openai_client_stays_out_of_genai_metrics() -> None:
    openai = pytest.importorskip("openai")
    from ferrule.integrations.openai import wrap_openai
    from ferrule.testing import MockLLMServer

    with MockLLMServer() as server:
        client = wrap_openai(openai.OpenAI(base_url=server.url, api_key="test", max_retries=0),
                             policy=ferrule.Policy(name="iso-openai"))
        model = "iso-probe-model"

        def chat() -> str:
            r = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "ping"}])
            return r.choices[0].message.content or ""

        def genai_count() -> float:
            return sum(
                float(line.rsplit(" ", 1)[1])
                for line in ferrule.metrics_text().splitlines()
                if line.startswith("gen_ai_client_operation_duration_seconds_count{") and f'"{model}"' in line
            )

        chat()
        assert genai_count() == 1
        probe = SyntheticProbe("iso-openai-probe", chat, every_seconds=60, timeout_seconds=10, jitter=0, start=False)
        assert probe.run_once() is True
        assert probe.run_once() is None, "not due again yet"
        assert genai_count() == 1, "the probe's call is not in the user's GenAI histogram"
        assert synthetic("llm", model, "success") == 1
        assert calls("iso-openai", "success") == 1 and synthetic("policy", "iso-openai", "success") == 1


def test_watchers_fed_inside_a_probe_keep_the_probe_out_of_their_baselines() -> None:
    clock = ManualClock()
    anomaly = ferrule.AnomalyDetector("iso-anomaly", "latency", clock=clock)
    predictor = ferrule.ErrorPredictor("iso-predictor", clock=clock)

    def feed() -> bool:
        anomaly.observe(0.2, model="m")
        predictor.observe("error", 0.2)
        return True

    feed()
    probe = SyntheticProbe("iso-watchers", feed, every_seconds=10, timeout_seconds=5, jitter=0, clock=clock)
    assert probe.run_once() is True
    a, p = anomaly.stats(), predictor.stats()
    assert a["synthetic_excluded"] == 1 and p["synthetic_excluded"] == 1
    assert [s["observations"] for s in anomaly.series()] == [1], "only the user's value is in the baseline"


def test_many_user_threads_beside_a_probe_thread_count_exactly() -> None:
    import threading

    policy = ferrule.Policy(name="iso-threads")

    @policy
    def ask() -> int:
        return 1

    start = threading.Barrier(9)

    def user() -> None:
        start.wait()
        for _ in range(2000):
            ask()

    def probe_fn() -> bool:
        start.wait()  # the probe's calls run while the user threads run theirs
        for _ in range(500):
            ask()
        return True

    probe = SyntheticProbe("iso-threads-probe", probe_fn, every_seconds=60, timeout_seconds=30, jitter=0, start=False)
    threads = [threading.Thread(target=user) for _ in range(8)]
    for t in threads:
        t.start()
    assert probe.run_once() is True
    for t in threads:
        t.join()
    assert calls("iso-threads", "success") == 8 * 2000
    assert synthetic("policy", "iso-threads", "success") == 500
    assert policy.stats()["calls"] == 8 * 2000
