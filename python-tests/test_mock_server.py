"""The mock LLM server through the real OpenAI SDK (sync and async): answers, usage, streaming,
each fault as the SDK sees it, recorded requests, and the CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import httpx2
import openai
import pytest

from ferrule.testing import MockLLMServer

MSG = [{"role": "user", "content": "What is a circuit breaker?"}]


def client(server: MockLLMServer, **kw: object) -> openai.OpenAI:
    kw.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=server.url, api_key="test-key", **kw)  # type: ignore[arg-type]


def test_chat_completion_usage_and_recorded_request() -> None:
    with MockLLMServer() as s:
        r = client(s).chat.completions.create(model="mock-gpt-4o-mini", messages=MSG)  # type: ignore[arg-type]
        assert r.choices[0].message.content == "Mock answer to: What is a circuit breaker?"
        assert r.usage is not None and r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
        assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
        req = s.requests[0]
        assert req["path"] == "/v1/chat/completions"
        assert req["json"]["messages"] == MSG
        assert req["headers"]["authorization"] == "Bearer test-key"


def test_rate_limit_error_carries_retry_hints() -> None:
    with MockLLMServer([{"kind": "429", "rate": 0, "retry_after_seconds": 2.5}], script=["429"]) as s:
        with pytest.raises(openai.RateLimitError) as ei:
            client(s).chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]
        h = ei.value.response.headers
        assert h["retry-after"] == "3" and h["retry-after-ms"] == "2500"
        assert h["x-ratelimit-reset-requests"] == "2500ms"
        assert ei.value.code == "rate_limit_exceeded"


def test_server_errors_map_to_sdk_exceptions() -> None:
    with MockLLMServer(script=["500", "503"]) as s:
        c = client(s)
        with pytest.raises(openai.InternalServerError) as e1:
            c.chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]
        assert e1.value.status_code == 500
        with pytest.raises(openai.InternalServerError) as e2:
            c.chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]
        assert e2.value.status_code == 503


def test_sdk_retries_are_visible_as_requests() -> None:
    # With the SDK's own retries on, the server sees every attempt: what ferrule's wrapper turns off.
    with MockLLMServer([{"kind": "429", "rate": 0, "retry_after_seconds": 0}], script=["429", "429"]) as s:
        r = client(s, max_retries=2).chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]
        assert r.choices[0].message.content
        assert s.stats()["requests"] == 3


def test_reset_and_hang_become_connection_and_timeout_errors() -> None:
    with MockLLMServer(script=["reset", "hang"], hang_seconds=30) as s:
        c = client(s)
        with pytest.raises(openai.APIConnectionError):
            c.chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]
        t0 = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            c.chat.completions.create(model="m", messages=MSG, timeout=0.3)  # type: ignore[arg-type]
        assert time.monotonic() - t0 < 5


def test_streaming_with_usage_and_a_truncated_stream() -> None:
    with MockLLMServer(script=["ok", "truncated_stream"]) as s:
        c = client(s)
        stream = c.chat.completions.create(
            model="m", messages=MSG, stream=True, stream_options={"include_usage": True}  # type: ignore[arg-type]
        )
        text, usage = "", None
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                text += chunk.choices[0].delta.content
            if chunk.usage:
                usage = chunk.usage
        assert text == "Mock answer to: What is a circuit breaker?"
        assert usage is not None and usage.completion_tokens > 0
        with pytest.raises((httpx2.HTTPError, openai.APIError)):
            for _ in c.chat.completions.create(model="m", messages=MSG, stream=True):  # type: ignore[arg-type]
                pass


def test_malformed_json_content_and_json_mode() -> None:
    with MockLLMServer(script=["ok", "malformed_json"]) as s:
        c = client(s)
        good = c.chat.completions.create(model="m", messages=MSG, response_format={"type": "json_object"})  # type: ignore[arg-type]
        assert json.loads(good.choices[0].message.content or "")["confidence"] == 0.87
        bad = c.chat.completions.create(model="m", messages=MSG, response_format={"type": "json_object"})  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            json.loads(bad.choices[0].message.content or "")


def test_embeddings_models_and_responses() -> None:
    with MockLLMServer() as s:
        c = client(s)
        e = c.embeddings.create(model="mock-embedding", input=["a b c", "d e f"], dimensions=8)
        assert len(e.data) == 2 and len(e.data[0].embedding) == 8
        assert {m.id for m in c.models.list()} >= {"mock-gpt-4o-mini"}
        r = c.responses.create(model="m", input="hello")
        assert r.output_text == "Mock answer to: hello"
        assert r.usage is not None and r.usage.input_tokens > 0


def test_forced_fault_and_content_headers() -> None:
    with MockLLMServer() as s:
        c = client(s)
        r = c.chat.completions.create(model="m", messages=MSG, extra_headers={"x-mock-content": '{"a": 1}'})  # type: ignore[arg-type]
        assert r.choices[0].message.content == '{"a": 1}'
        with pytest.raises(openai.RateLimitError):
            c.chat.completions.create(model="m", messages=MSG, extra_headers={"x-mock-fault": "429"})  # type: ignore[arg-type]


def test_rate_faults_are_deterministic_for_a_seed() -> None:
    def run() -> list[str]:
        with MockLLMServer([{"kind": "503", "rate": 0.4}], seed=42) as s:
            c = client(s)
            for _ in range(30):
                try:
                    c.chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]
                except openai.InternalServerError:
                    pass
            return [r["fault"] for r in s.requests]

    a, b = run(), run()
    assert a == b
    assert 5 < a.count("unavailable") < 20


async def test_async_client_many_concurrent_requests() -> None:
    with MockLLMServer(latency_seconds=0.01) as s:
        c = openai.AsyncOpenAI(base_url=s.url, api_key="k", max_retries=0)
        rs = await asyncio.gather(*(c.chat.completions.create(model="m", messages=MSG) for _ in range(100)))  # type: ignore[arg-type]
        assert len(rs) == 100 and s.stats()["requests"] == 100
        await c.close()


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="host=0.0.0.0 is out of range"):
        MockLLMServer(host="0.0.0.0")
    with pytest.raises(ValueError, match='kind="teapot"'):
        MockLLMServer([{"kind": "teapot"}])
    with pytest.raises(ValueError, match="rate=1.5"):
        MockLLMServer([{"kind": "429", "rate": 1.5}])
    with pytest.raises(ValueError, match="latency_seconds=-1"):
        MockLLMServer(latency_seconds=-1)


def test_cli_serves_until_terminated() -> None:
    p = subprocess.Popen(
        [sys.executable, "-m", "ferrule.mock", "--port", "0", "--script", "429"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = p.stdout.readline() if p.stdout else ""
        assert "ferrule mock LLM server on http://127.0.0.1:" in line
        url = line.split(" on ")[1].split()[0]
        c = openai.OpenAI(base_url=url, api_key="k", max_retries=0)
        with pytest.raises(openai.RateLimitError):
            c.chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]
        assert c.chat.completions.create(model="m", messages=MSG).choices  # type: ignore[arg-type]
    finally:
        p.terminate()
        _, err = p.communicate(timeout=10)
    assert json.loads(err.strip().splitlines()[-1])["requests"] == 2
