"""LangChain with ferrule: ``with_policy`` around a real ``ChatOpenAI`` against the mock server (exact
request counts, so the SDK's own retries do not stack), and ``FerruleCallbackHandler`` recording each
run with its model, tokens, time to first token and error."""

from __future__ import annotations

from typing import Any, Dict, List, NamedTuple, Optional

import pytest
from langchain_openai import ChatOpenAI

import ferrule
from ferrule.integrations import llm_call
from ferrule.integrations.langchain import FerruleCallbackHandler, with_policy
from ferrule.testing import ManualClock, MockLLMServer
from ferrule.transient import status_of

NO_WAIT_429 = [{"kind": "429", "rate": 0, "retry_after_seconds": 0}]


def retrying(attempts: int = 3) -> ferrule.Policy:
    return ferrule.Policy(
        retry=ferrule.Retry(attempts, backoff=ferrule.Backoff.constant(0.0), budget_ratio=None), clock=ManualClock()
    )


def chat(server: MockLLMServer, **kw: Any) -> ChatOpenAI:
    return ChatOpenAI(model="mock-gpt-4o-mini", base_url=server.url, api_key="k", **kw)  # type: ignore[arg-type]


class Rec(NamedTuple):
    """One run's call record: what the handler handed the core, and the span the core filled."""

    operation: str
    model: Optional[str]
    provider: str
    error: Optional[BaseException]
    attributes: Dict[str, Any]
    duration: float

    @property
    def ttft(self) -> Optional[float]:
        return self.attributes.get("gen_ai.response.time_to_first_chunk")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> List[Rec]:
    seen: List[Rec] = []
    real = llm_call.record_call

    def spy(span: Any, operation: str, provider: str, **k: Any) -> float:
        cost = real(span, operation, provider, **k)
        s = next(x for x in reversed(ferrule.recent_spans()) if x["span_id"] == span.span_id)
        a = dict(s["attributes"])
        seen.append(Rec(operation, a.get("gen_ai.request.model"), provider, k.get("error"), a, (s["end_ns"] - s["start_ns"]) / 1e9))
        return cost

    monkeypatch.setattr(llm_call, "record_call", spy)
    return seen


def test_invoke_retries_exactly_without_the_sdks_retries(calls: List[Rec]) -> None:
    with MockLLMServer(script=["503", "503", "ok"]) as s:
        model = chat(s, max_retries=4)
        h = FerruleCallbackHandler()
        r = with_policy(model, retrying(3)).invoke("hi", {"callbacks": [h]})
        assert r.content == "Mock answer to: hi"
        assert s.stats()["requests"] == 3
        assert model.root_client is not None and model.root_client.max_retries == 4  # the user's model is untouched
    # langchain-openai re-raises the SDK's error as its own OpenAIAPIError, still carrying the status
    assert [(c.operation, c.model, status_of(c.error) if c.error else None) for c in calls] == [
        ("chat", "mock-gpt-4o-mini", 503),
        ("chat", "mock-gpt-4o-mini", 503),
        ("chat", "mock-gpt-4o-mini", None),
    ]
    a = calls[-1].attributes
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (r.usage_metadata["input_tokens"], r.usage_metadata["output_tokens"])  # type: ignore[index]
    assert {c.provider for c in calls} == {"openai"} and a["gen_ai.provider.name"] == "openai"
    assert h.recorded == 3 and h.dropped == 0


def test_giving_up_raises_retry_error_after_exactly_attempts() -> None:
    with MockLLMServer(script=["503"] * 5) as s:
        with pytest.raises(ferrule.RetryError):
            with_policy(chat(s), retrying(2)).invoke("hi")
        assert s.stats()["requests"] == 2


def test_stream_is_retried_before_the_first_chunk_and_times_its_first_token(calls: List[Rec]) -> None:
    with MockLLMServer(NO_WAIT_429, script=["429", "ok"]) as s:
        h = FerruleCallbackHandler()
        text = "".join(str(c.content) for c in with_policy(chat(s), retrying(3)).stream("hi", {"callbacks": [h]}))
        assert text == "Mock answer to: hi"
        assert s.stats()["requests"] == 2
    ok = calls[-1]
    assert ok.error is None and ok.ttft is not None and 0.0 <= ok.ttft <= ok.duration


def test_batch_runs_each_input_through_the_policy() -> None:
    with MockLLMServer(script=["503"]) as s:
        out = with_policy(chat(s), retrying(3)).batch(["a", "b", "c"], {"max_concurrency": 1})
        assert sorted(str(m.content) for m in out) == ["Mock answer to: a", "Mock answer to: b", "Mock answer to: c"]
        assert s.stats()["requests"] == 4


async def test_async_invoke_and_stream(calls: List[Rec]) -> None:
    with MockLLMServer(NO_WAIT_429, script=["503", "ok", "429", "ok"]) as s:
        h = FerruleCallbackHandler()
        guarded = with_policy(chat(s), retrying(3))
        r = await guarded.ainvoke("hi", {"callbacks": [h]})
        assert r.content == "Mock answer to: hi"
        chunks = [str(c.content) async for c in guarded.astream("yo", {"callbacks": [h]})]
        assert "".join(chunks) == "Mock answer to: yo"
        assert s.stats()["requests"] == 4
    assert [c.error is None for c in calls] == [False, True, False, True]


def test_the_handler_is_bounded_and_counts_what_it_drops(caplog: pytest.LogCaptureFixture, calls: List[Rec]) -> None:
    from uuid import uuid4

    h = FerruleCallbackHandler(max_runs=1)
    a, b = uuid4(), uuid4()
    h.on_chat_model_start({}, [], run_id=a, invocation_params={"model": "m1"})
    h.on_chat_model_start({}, [], run_id=b, invocation_params={"model": "m2"})
    h.on_llm_end(object(), run_id=b)  # never started: nothing to record
    h.on_llm_end(object(), run_id=a)
    assert h.dropped == 1 and h.recorded == 1 and [c.model for c in calls] == ["m1"]
    assert "not recorded" in caplog.text


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ferrule.ConfigError, match="max_runs=0"):
        FerruleCallbackHandler(max_runs=0)
    with MockLLMServer() as s:
        with pytest.raises(TypeError, match="policy="):
            with_policy(chat(s), "retry")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="runnable="):
        with_policy(lambda x: x, retrying())  # type: ignore[arg-type]


def test_chains_tools_and_retrievers_are_nested_spans_and_the_llm_call_is_a_record() -> None:
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.tools import tool

    @tool
    def lookup(q: str) -> str:
        """Looks q up."""
        return f"found {q}"

    ferrule.clear_recent_spans()
    with MockLLMServer() as s:
        h = FerruleCallbackHandler()
        chain = ChatPromptTemplate.from_messages([("system", "You are terse."), ("user", "{q}")]) | chat(s)
        chain.invoke({"q": "hi"}, {"callbacks": [h]})
        lookup.invoke("x", {"callbacks": [h]})
    spans = {x["span_id"]: x for x in ferrule.recent_spans()}
    chat_span = next(x for x in spans.values() if x["attributes"].get("gen_ai.operation.name") == "chat")
    parent = spans[chat_span["parent_span_id"]]
    assert parent["name"] == "invoke_workflow RunnableSequence"
    assert parent["attributes"]["gen_ai.operation.name"] == "invoke_workflow"
    assert chat_span["attributes"]["gen_ai.provider.name"] == "openai"
    assert chat_span["attributes"]["gen_ai.usage.output_tokens"] > 0
    tool_span = next(x for x in spans.values() if x["attributes"].get("gen_ai.operation.name") == "execute_tool")
    assert tool_span["attributes"]["gen_ai.tool.name"] == "lookup" and tool_span["name"] == "execute_tool lookup"
    assert h._spans == {} and h._runs == {}


def test_a_named_prompt_template_names_the_call() -> None:
    from langchain_core.prompts import ChatPromptTemplate

    ferrule.clear_recent_spans()
    with MockLLMServer() as s:
        h = FerruleCallbackHandler()
        prompt = ChatPromptTemplate.from_messages([("system", "You are terse."), ("user", "{q}")]).with_config(run_name="triage")
        (prompt | chat(s)).invoke({"q": "hi"}, {"callbacks": [h]})
    chat_span = next(x for x in ferrule.recent_spans() if x["attributes"].get("gen_ai.operation.name") == "chat")
    assert chat_span["attributes"]["ferrule.prompt.template"] == "triage"
    assert h._templates == {}


SYSTEMS = [
    'You are the triage assistant for ticket {n} of customer "{c}". Answer with one label.',
    "Summarise document {id} in 3 bullet points for the weekly report.",
    "Translate the user's message to French, keeping the tone.",
]


def test_observe_over_langchain_runs_sees_templates_outage_slowdown_and_dead_letters(tmp_path: Any, request: Any) -> None:
    import time

    from langchain_core.prompts import ChatPromptTemplate

    from ferrule import AlertRouter
    from ferrule.alerting import installed_router

    ferrule.reset_profile()
    AlertRouter(group_wait_seconds=0, group_interval_seconds=0.05)
    alerts: List[Dict[str, Any]] = []
    ferrule.on_alert(alerts.append)
    clock = ManualClock()
    ferrule.observe(clock=clock, anomaly_min_duration_seconds=10, outage_for_seconds=20, dead_letter_max_depth=50)
    dlq = ferrule.DeadLetterQueue(str(tmp_path / "dlq.sqlite"), name="lc-dlq")
    # observe() watches every live queue: empty this one when done, so a later test's observe() does
    # not see this test's backlog.
    request.addfinalizer(dlq.purge)
    policy = ferrule.Policy(name="lc-observed", dead_letter=dlq)  # no retries: one request per call
    outage, slow = range(150, 230), range(230, 270)
    # A healthy call takes 20 ms, as a model's answer takes time: the latency baseline is then the
    # provider's, not the scheduling noise of a busy CI host (a sub-millisecond loopback call varies
    # by more than the dead band from one run to the next). The slowdown makes it 100 ms.
    faults = [
        {"kind": "slow", "rate": 1.0, "from": 0, "to": outage.start, "latency_seconds": 0.02},
        {"kind": "500", "rate": 1.0, "from": outage.start, "to": outage.stop},
        {"kind": "slow", "rate": 1.0, "from": slow.start, "to": slow.stop, "latency_seconds": 0.1},
        {"kind": "slow", "rate": 1.0, "from": slow.stop, "latency_seconds": 0.02},
    ]
    try:
        with MockLLMServer(faults) as s:
            h = FerruleCallbackHandler()
            model = chat(s, max_retries=0)
            chains = [with_policy(ChatPromptTemplate.from_messages([("system", sys), ("user", "{q}")]) | model, policy) for sys in SYSTEMS]
            for i in range(slow.stop + 20):
                clock.advance(1.0)
                v = {"n": 1000 + i, "c": f"client {i * 7}", "id": f"{0xBEEF0000 + i:x}deadbeef", "q": f"request {i}: what now?"}
                try:
                    chains[i % 3].invoke(v, {"callbacks": [h]})
                except Exception:
                    assert i in outage
                ferrule.check_observed()
                if i == outage.start - 1:
                    time.sleep(0.2)  # the router delivers on its own thread
                    assert [a for a in alerts if a["status"] == "firing"] == [], "nothing fires before the injected windows"
        end = time.monotonic() + 10
        while not all(any(a["name"].startswith(n) for a in alerts) for n in ("upstream_outage", "dead_letter_backlog", "slo.", "anomaly")):
            assert time.monotonic() < end, sorted({a["name"] for a in alerts})
            time.sleep(0.01)
        assert next(a for a in alerts if a["name"] == "upstream_outage")["severity"] == "page"
        assert next(a for a in alerts if a["name"].startswith("anomaly"))["labels"]["metric"] == "latency_seconds"
        named = [r for r in ferrule.profile(by="calls").rows if r["template"] != "(unnamed)"]
        assert sorted(r["calls"] for r in named) == [96, 97, 97], [r["template"] for r in named]
    finally:
        ferrule.observe(enabled=False)
        r = installed_router()
        if r is not None:
            r.uninstall()
        ferrule._ferrule.AlertRouterCore.uninstall()
        ferrule.reset_profile()
