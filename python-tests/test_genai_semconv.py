"""Every ``gen_ai.*`` span attribute and metric ferrule emits is a name of the OpenTelemetry
registry (``opentelemetry-semantic-conventions``, pinned in requirements-dev.txt), and the
required/recommended ones are present on sync, async and streamed chat calls."""

from __future__ import annotations

import asyncio
import re
from typing import Any, Dict, List, Set

import openai

import ferrule
from ferrule.testing import MockLLMServer
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes, server_attributes
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics


def registry(module: Any) -> Set[str]:
    return {v for k, v in vars(module).items() if k.isupper() and isinstance(v, str)}


ATTRIBUTES = registry(gen_ai_attributes) | registry(server_attributes)
METRICS = registry(gen_ai_metrics)
MSG = [{"role": "system", "content": "You answer briefly."}, {"role": "user", "content": "hi"}]
WANTED = {
    "gen_ai.operation.name",
    "gen_ai.provider.name",
    "gen_ai.request.model",
    "gen_ai.request.temperature",
    "gen_ai.request.max_tokens",
    "gen_ai.response.id",
    "gen_ai.response.model",
    "gen_ai.response.finish_reasons",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "server.address",
    "server.port",
}


def call_spans() -> List[Dict[str, Any]]:
    return [s for s in ferrule.recent_spans() if s["attributes"].get("ferrule.span.role") == "call"]


def check(spans: List[Dict[str, Any]], stream: bool) -> None:
    assert spans
    for s in spans:
        a = s["attributes"]
        unknown = {k for k in a if k.startswith(("gen_ai.", "server.")) and k not in ATTRIBUTES}
        assert unknown == set(), unknown
        assert WANTED <= set(a), WANTED - set(a)
        if stream:
            assert "gen_ai.response.time_to_first_chunk" in a


def test_sync_async_and_streamed_calls_carry_the_registry_names() -> None:
    ferrule.clear_recent_spans()
    kw: Dict[str, Any] = {"model": "gpt-4o-mini", "messages": MSG, "temperature": 0.1, "max_tokens": 64}
    with MockLLMServer() as s:
        c = ferrule.wrap_openai(openai.OpenAI(base_url=s.url, api_key="k"))
        c.chat.completions.create(**kw)
        check(call_spans(), stream=False)
        ferrule.clear_recent_spans()
        for _ in c.chat.completions.create(**kw, stream=True, stream_options={"include_usage": True}):
            pass
        check(call_spans(), stream=True)
        ferrule.clear_recent_spans()

        async def run() -> None:
            ac = ferrule.wrap_openai(openai.AsyncOpenAI(base_url=s.url, api_key="k"))
            await ac.chat.completions.create(**kw)
            check(call_spans(), stream=False)
            ferrule.clear_recent_spans()
            stream = await ac.chat.completions.create(**kw, stream=True, stream_options={"include_usage": True})
            async for _ in stream:
                pass
            check(call_spans(), stream=True)
            await ac.close()

        asyncio.run(run())


def test_every_gen_ai_metric_family_is_a_registry_metric() -> None:
    with MockLLMServer() as s:
        c = ferrule.wrap_openai(openai.OpenAI(base_url=s.url, api_key="k"))
        for _ in c.chat.completions.create(model="m", messages=MSG, stream=True):  # type: ignore[arg-type]
            pass
    families = set(re.findall(r"^# TYPE (gen_ai_\w+) ", ferrule.metrics_text(), re.M))
    assert "gen_ai_client_operation_time_to_first_chunk_seconds" in families
    # Prometheus naming: dots become underscores and the unit ("_seconds") is appended.
    as_registry = {re.sub(r"_seconds$", "", f).replace("_", ".") for f in families}
    registry_flat = {m.replace("_", ".") for m in METRICS}
    assert as_registry <= registry_flat, as_registry - registry_flat
