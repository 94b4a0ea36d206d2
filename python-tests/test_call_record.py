"""The call record end to end: the real OpenAI SDK against the mock, wrapped by ferrule with
``observe()`` on. Three prompt templates become three profile rows with no template named; an
injected outage pages the SLO and the upstream-outage alert, an injected slowdown fires the latency
anomaly (and nothing fires before them); a dead-letter backlog alerts; alerts reach an ``on_alert``
callback. Also: the GenAI span attributes the core fills, and the inference log row."""

from __future__ import annotations

import time
from typing import Any, Dict, Iterator, List

import openai
import pytest

import ferrule
from ferrule import AlertRouter
from ferrule.alerting import installed_router
from ferrule.testing import ManualClock, MockLLMServer

SYSTEMS = [
    "You are the triage assistant for ticket {n} of customer \"{c}\". Answer with one label.",
    "Summarise document {id} in 3 bullet points for the weekly report.",
    "Translate the user's message to French, keeping the tone.",
]


def messages(i: int) -> List[Dict[str, str]]:
    sys = SYSTEMS[i % 3].format(n=1000 + i, c=f"client {i * 7}", id=f"{0xBEEF0000 + i:x}deadbeef")
    return [{"role": "system", "content": sys}, {"role": "user", "content": f"request {i}: what now?"}]


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    ferrule.reset_profile()
    yield
    ferrule.observe(enabled=False)
    r = installed_router()
    if r is not None:
        r.uninstall()
    ferrule._ferrule.AlertRouterCore.uninstall()


def wait_for(pred: Any, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, "condition not reached in time"
        time.sleep(0.01)


def test_observe_sees_templates_outage_slowdown_and_dead_letters(tmp_path: Any, request: Any) -> None:
    AlertRouter(group_wait_seconds=0, group_interval_seconds=0.05)
    alerts: List[Dict[str, Any]] = []
    ferrule.on_alert(alerts.append)
    clock = ManualClock()
    ferrule.observe(clock=clock, anomaly_min_duration_seconds=10, outage_for_seconds=20, dead_letter_max_depth=50)
    dlq = ferrule.DeadLetterQueue(str(tmp_path / "dlq.sqlite"), name="chat-dlq")
    # The queue may outlive the test (observe() watches every live queue): leave it empty, so a
    # later test's observe() does not see this test's backlog.
    request.addfinalizer(dlq.purge)
    policy = ferrule.Policy(name="observed", dead_letter=dlq)  # no retries: one request per call
    n_ok, outage, slow = 150, range(150, 230), range(230, 290)
    # Healthy calls take 20 ms (as a model's answer takes time), so the latency baseline is the
    # provider's and not a busy host's scheduling noise on a sub-millisecond loopback call.
    faults = [
        {"kind": "slow", "rate": 1.0, "from": 0, "to": outage.start, "latency_seconds": 0.02},
        {"kind": "500", "rate": 1.0, "from": outage.start, "to": outage.stop},
        {"kind": "slow", "rate": 1.0, "from": slow.start, "to": slow.stop, "latency_seconds": 0.1},
        {"kind": "slow", "rate": 1.0, "from": slow.stop, "latency_seconds": 0.02},
    ]
    fired_by: Dict[str, int] = {}
    with MockLLMServer(faults) as s:
        client = ferrule.wrap_openai(openai.OpenAI(base_url=s.url, api_key="k", max_retries=0), policy)
        for i in range(slow.stop + 30):
            clock.advance(1.0)
            try:
                client.chat.completions.create(model="gpt-4o-mini", messages=messages(i))  # type: ignore[arg-type]
            except openai.InternalServerError:
                assert i in outage
            ferrule.check_observed()  # the dead-letter backlog (the background runtime also does, every 100 ms)
            for a in list(alerts):
                fired_by.setdefault(a["name"], i)
            if i == n_ok - 1:
                time.sleep(0.2)  # the router delivers on its own thread
                assert [a for a in alerts if a["status"] == "firing"] == [], "nothing fires before the injected windows"
    wait_for(lambda: {"upstream_outage", "dead_letter_backlog"} <= {a["name"] for a in alerts})
    wait_for(lambda: any(a["name"].startswith("anomaly") for a in alerts))
    wait_for(lambda: any(a["name"].startswith("slo.") for a in alerts))
    names = {a["name"] for a in alerts}
    outage_alert = next(a for a in alerts if a["name"] == "upstream_outage")
    assert outage_alert["severity"] == "page" and outage_alert["labels"]["provider"] == "openai"
    anomaly = next(a for a in alerts if a["name"].startswith("anomaly"))
    assert anomaly["labels"]["metric"] == "latency_seconds", names
    assert fired_by["upstream_outage"] in outage or fired_by["upstream_outage"] >= outage.start

    rows = ferrule.profile(by="calls").rows
    named = [r for r in rows if r["template"] != "(unnamed)"]
    assert len(named) == 3, [r["template"] for r in rows]
    assert sorted(r["calls"] for r in named) == [106, 107, 107]
    assert {r["template"].split(" ")[0] for r in named} == {"You", "Summarise", "Translate"}


def test_an_explicit_template_wins_over_the_fingerprint() -> None:
    with MockLLMServer() as s:
        client = ferrule.wrap_openai(openai.OpenAI(base_url=s.url, api_key="k"))
        with ferrule.prompt("triage"):
            for i in range(5):
                client.chat.completions.create(model="m", messages=messages(i))  # type: ignore[arg-type]
        client.chat.completions.create(model="m", messages=messages(0), metadata={"template": "from-metadata"})  # type: ignore[arg-type]
    rows = {r["template"]: r["calls"] for r in ferrule.profile().rows}
    assert rows == {"triage": 5, "from-metadata": 1}


def role(s: Dict[str, Any]) -> Any:
    return s["attributes"].get("ferrule.span.role")


def span_attrs(name_prefix: str) -> Dict[str, Any]:
    spans = [s for s in ferrule.recent_spans() if s["name"].startswith(name_prefix) and role(s) == "call"]
    assert spans, [s["name"] for s in ferrule.recent_spans()]
    return dict(spans[-1]["attributes"])


def test_the_call_span_carries_the_genai_response_fields() -> None:
    ferrule.clear_recent_spans()
    with MockLLMServer() as s:
        client = ferrule.wrap_openai(openai.OpenAI(base_url=s.url, api_key="k"))
        r = client.chat.completions.create(
            model="gpt-4o-mini", messages=messages(1), temperature=0.3, max_tokens=50, top_p=0.9, seed=7  # type: ignore[arg-type]
        )
    a = span_attrs("chat gpt-4o-mini")
    assert a["gen_ai.response.id"] == r.id
    assert a["gen_ai.response.model"] == r.model
    assert a["gen_ai.response.finish_reasons"] == [r.choices[0].finish_reason]
    assert a["gen_ai.usage.input_tokens"] == r.usage.prompt_tokens  # type: ignore[union-attr]
    assert a["gen_ai.usage.output_tokens"] == r.usage.completion_tokens  # type: ignore[union-attr]
    assert a["gen_ai.request.temperature"] == 0.3
    assert a["gen_ai.request.max_tokens"] == 50
    assert a["gen_ai.request.top_p"] == 0.9
    assert a["gen_ai.request.seed"] == 7
    # The default redactor masks IP addresses in every span string, server.address included.
    assert a["server.address"] in ("127.0.0.1", "[IP]") and a["server.port"] == s.port
    assert a["ferrule.outcome"] == "success"
    attempts = [x for x in ferrule.recent_spans() if role(x) == "attempt"]
    assert attempts and all(not any(k.startswith("gen_ai.") for k in x["attributes"]) for x in attempts)


def test_two_tenants_share_one_tpm_budget_settled_to_the_reported_usage() -> None:
    clock = ManualClock()
    limit = 20_000
    tpm = ferrule.RateLimiter.sliding_log(limit, 60.0, name="callrec-tpm", clock=clock)
    rpm = ferrule.RateLimiter.sliding_log(1000, 60.0, name="callrec-rpm", clock=clock)
    used = {"alice": 0, "bob": 0}
    with MockLLMServer() as s:
        client = ferrule.wrap_openai(openai.OpenAI(base_url=s.url, api_key="k"), limits=ferrule.Limits(requests=rpm, tokens=tpm))
        # Alice bursts first: each request pre-charges its estimate (prompt + max_tokens = 2000+).
        for tenant, n in (("alice", 6), ("bob", 2)):
            with ferrule.context(user_id=tenant):
                for i in range(n):
                    r = client.chat.completions.create(model="m", messages=messages(i), max_tokens=2000)  # type: ignore[arg-type]
                    assert r.usage is not None
                    used[tenant] += r.usage.prompt_tokens + r.usage.completion_tokens
            if tenant == "alice":
                # Alice's burst spent none of Bob's keyed budget: all of it is still there.
                assert tpm.peek(limit, key="bob") == 0.0
    # Settled exactly: what is left in each tenant's window is the limit minus the mock's usage.
    for tenant, n in used.items():
        assert 0 < n < limit
        assert tpm.try_acquire(limit - n, key=tenant), tenant
        assert not tpm.try_acquire(1, key=tenant), tenant
    assert rpm.try_acquire(1000 - 6, key="alice") and not rpm.try_acquire(1, key="alice")


def test_token_budget_arguments_are_checked() -> None:
    with pytest.raises(TypeError, match="limits="):
        ferrule.wrap_openai(openai.OpenAI(api_key="k"), limits=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="key="):
        limits = ferrule.Limits(tokens=ferrule.RateLimiter.token_bucket(1000, 60.0))
        ferrule.wrap_openai(openai.OpenAI(api_key="k"), limits=limits, key="tenant")  # type: ignore[arg-type]


QUESTIONS = [
    "what is my balance on the {} account",
    "how do I change the billing date for plan {}",
    "can I get an invoice for order {} please",
    "why was card {} declined yesterday",
]
OFF_TOPIC = "Write a long poem about volcanoes, dragons and the stormy sea, verse {} with rhymes"


def test_observe_watches_answers_for_drift_per_template() -> None:
    AlertRouter(group_wait_seconds=0, group_interval_seconds=0.05)
    alerts: List[Dict[str, Any]] = []
    ferrule.on_alert(alerts.append)
    ferrule.observe(
        clock=ManualClock(), drift_sample_every=1, slo_objective=None, anomaly=False, predictor=False, outage_error_rate=None
    )
    with MockLLMServer() as s:
        client = ferrule.wrap_openai(openai.OpenAI(base_url=s.url, api_key="k"))

        def ask(template: str, text: str) -> None:
            with ferrule.prompt(template):
                client.chat.completions.create(model="m", messages=[{"role": "user", "content": text}])

        # The mock echoes the question: "support" answers go off topic after 100 calls, "billing" never.
        for i in range(220):
            n = 10 + (i * 7) % 90  # two digits: one template's questions keep one distribution
            ask("billing", QUESTIONS[i % 4].format(n))
            ask("support", (OFF_TOPIC if i >= 100 else QUESTIONS[(i + 1) % 4]).format(n))
            if i == 99:
                time.sleep(0.2)  # the router delivers on its own thread
                assert not [a for a in alerts if a["name"] == "drift.output"], "no drift before the answers change"
    wait_for(lambda: any(a["name"] == "drift.output" for a in alerts))
    drifted = {a["labels"]["detector"] for a in alerts if a["name"] == "drift.output" and a["status"] == "firing"}
    assert drifted == {"template:support"}


def test_observe_checks_the_drift_options() -> None:
    with pytest.raises(ferrule.ConfigError, match="drift_sample_every"):
        ferrule.observe(drift_sample_every=0)
    ferrule.observe(drift=False)
    assert ferrule.observing()
