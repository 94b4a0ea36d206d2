"""OpenTelemetry interop with the real SDK (``opentelemetry-sdk``, ``InMemorySpanExporter``): an app
span → a wrapped OpenAI call on the mock server → its attempts → an app span started inside the
attempt (an httpx event hook, where an HTTP instrumentation would start its span) form one trace
with the right parents, both when ferrule keeps its own spans (context bridge) and when it hands
them to the app's TracerProvider. Without ``use_opentelemetry()`` nothing of OpenTelemetry is
touched."""

from __future__ import annotations

import subprocess
import sys
from typing import Any, Dict, Iterator, List

import httpx
import openai
import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import ferrule
from ferrule.testing import ManualClock, MockLLMServer
from telemetry_state import reset


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    reset()
    yield
    ferrule.use_opentelemetry(enabled=False)
    reset()


def app() -> "tuple[TracerProvider, InMemorySpanExporter]":
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def wrapped(server: MockLLMServer, provider: TracerProvider) -> Any:
    tracer = provider.get_tracer("app.http")

    def on_request(request: httpx.Request) -> None:
        # What an HTTP client instrumentation does: a span for the request, under the current span.
        with tracer.start_as_current_span("POST /chat/completions"):
            pass

    sdk = openai.OpenAI(base_url=server.url, api_key="k", http_client=httpx.Client(event_hooks={"request": [on_request]}))
    retry = ferrule.Retry(3, backoff=ferrule.Backoff.constant(0.0), budget_ratio=None)
    return ferrule.wrap_openai(sdk, ferrule.Policy(retry=retry, clock=ManualClock()))


def hexid(n: int, width: int) -> str:
    return f"{n:0{width}x}"


def run_call(provider: TracerProvider) -> "tuple[str, str, List[str]]":
    """app span → wrapped call (one 503, then ok); returns (trace id, app span id, traceparents sent)."""
    tracer = provider.get_tracer("app")
    with MockLLMServer(script=["503", "ok"]) as s:
        c = wrapped(s, provider)
        with tracer.start_as_current_span("handle /checkout") as root:
            c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        sent = [q["headers"]["traceparent"] for q in s.requests]
    ctx = root.get_span_context()
    return hexid(ctx.trace_id, 32), hexid(ctx.span_id, 16), sent


def test_context_bridge_one_trace_ferrule_spans_under_the_app_span_and_app_spans_under_attempts() -> None:
    provider, exporter = app()
    ferrule.use_opentelemetry()
    trace_id, root_id, sent = run_call(provider)
    mine = {s["span_id"]: s for s in ferrule.recent_spans()}
    call = next(s for s in mine.values() if s["attributes"]["ferrule.span.role"] == "call")
    attempts = sorted(
        (s for s in mine.values() if s["attributes"]["ferrule.span.role"] == "attempt"), key=lambda s: s["start_ns"]
    )
    assert call["trace_id"] == trace_id and call["parent_span_id"] == root_id
    assert len(attempts) == 2 and all(a["parent_span_id"] == call["span_id"] for a in attempts)
    assert all(a["trace_id"] == trace_id for a in attempts)
    # The app's HTTP spans: one per attempt, each a child of that attempt, in the same trace.
    http = sorted((s for s in exporter.get_finished_spans() if s.name == "POST /chat/completions"), key=lambda s: s.start_time or 0)
    assert len(http) == 2
    for a, h in zip(attempts, http):
        assert hexid(h.context.trace_id, 32) == trace_id
        assert h.parent is not None and hexid(h.parent.span_id, 16) == a["span_id"]
    # The attempt's ids also went out as traceparent.
    assert [tp.split("-")[2] for tp in sent] == [a["span_id"] for a in attempts]
    # The ferrule spans stayed with ferrule (no provider given): the app exported only its own.
    assert {s.name for s in exporter.get_finished_spans()} == {"handle /checkout", "POST /chat/completions"}


def test_provider_mode_hands_ferrule_spans_to_the_apps_pipeline_one_trace_right_parents() -> None:
    provider, exporter = app()
    ferrule.use_opentelemetry(tracer_provider=provider)
    trace_id, root_id, _ = run_call(provider)
    spans = exporter.get_finished_spans()
    by_id = {hexid(s.context.span_id, 16): s for s in spans}
    assert {hexid(s.context.trace_id, 32) for s in spans} == {trace_id}
    call = next(s for s in spans if s.name == "chat gpt-4o-mini" and (s.attributes or {}).get("ferrule.span.role") == "call")
    attempts = sorted(
        (s for s in spans if (s.attributes or {}).get("ferrule.span.role") == "attempt"), key=lambda s: s.start_time or 0
    )
    http = sorted((s for s in spans if s.name == "POST /chat/completions"), key=lambda s: s.start_time or 0)
    assert call.parent is not None and hexid(call.parent.span_id, 16) == root_id
    assert call.kind.name == "CLIENT" and call.resource.attributes["service.name"] == "checkout"
    assert call.instrumentation_scope is not None and call.instrumentation_scope.name == "ferrule"
    assert (call.attributes or {})["gen_ai.request.model"] == "gpt-4o-mini"
    assert len(attempts) == 2 and len(http) == 2
    for a, h in zip(attempts, http):
        assert a.parent is not None and a.parent.span_id == call.context.span_id
        assert h.parent is not None and h.parent.span_id == a.context.span_id
        assert hexid(h.parent.span_id, 16) in by_id
    assert attempts[0].status.status_code.name == "ERROR"
    assert call.end_time is not None and call.start_time is not None and call.end_time >= call.start_time


def test_async_call_joins_the_app_trace_too() -> None:
    import asyncio

    provider, exporter = app()
    ferrule.use_opentelemetry(tracer_provider=provider)
    tracer = provider.get_tracer("app")

    async def main() -> str:
        with MockLLMServer() as s:
            c = ferrule.wrap_openai(openai.AsyncOpenAI(base_url=s.url, api_key="k"), ferrule.Policy())
            with tracer.start_as_current_span("async handler") as root:
                await c.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
            return hexid(root.get_span_context().span_id, 16)

    root_id = asyncio.run(main())
    call = next(s for s in exporter.get_finished_spans() if (s.attributes or {}).get("ferrule.span.role") == "call")
    assert call.parent is not None and hexid(call.parent.span_id, 16) == root_id


def test_a_failing_bridge_hook_is_reported_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        _active_span_processor = None
        resource = None

    with pytest.raises(ferrule.ConfigError, match="tracer_provider"):
        ferrule.use_opentelemetry(tracer_provider=Broken())
    provider, _ = app()
    ferrule.use_opentelemetry(tracer_provider=provider)

    class Exploding:
        def on_end(self, span: Any) -> None:
            raise RuntimeError("exporter down")

    real = provider._active_span_processor
    provider._active_span_processor = Exploding()  # type: ignore[assignment]
    try:
        ferrule.use_opentelemetry(tracer_provider=provider)
        with caplog.at_level("WARNING", logger="ferrule"):
            with ferrule.span("work"):
                pass
    finally:
        provider._active_span_processor = real
    assert any("otel_bridge_failed" in r.getMessage() for r in caplog.records)


def test_without_use_opentelemetry_nothing_of_opentelemetry_is_imported() -> None:
    code = "import sys, ferrule\nwith ferrule.span('x'):\n    pass\nprint(any(m.startswith('opentelemetry') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
