"""Spans from Python: parent/child structure and GenAI attributes on real spans, errors, sampling,
content capture, context ids across threads and asyncio tasks, traceparent, and OTLP/HTTP export
to a local receiver that decodes what it gets with opentelemetry-proto (also from a forked child)."""

from __future__ import annotations

import asyncio
import contextvars
import http.server
import json
import os
import re
import sys
import threading
from typing import Any, Dict, Iterator, List

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

import ferrule
from telemetry_state import reset


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    reset()
    yield
    reset()


def by_name() -> Dict[str, Dict[str, Any]]:
    return {s["name"]: s for s in ferrule.recent_spans()}


def test_call_span_with_attempt_and_fallback_children() -> None:
    with ferrule.span(operation="chat", model="gpt-4o", provider="openai") as call:
        with ferrule.span("attempt 1", role="attempt") as a1:
            a1.set_attribute("http.response.status_code", 503)
            a1.set_status("error", "upstream 503")
        with ferrule.span("fallback", role="fallback", attributes={"gen_ai.request.model": "gpt-4o-mini"}):
            pass
        call.set_usage(input_tokens=12, output_tokens=34)
        call.set_attribute("tags", ["x", "y"])
    spans = by_name()
    assert set(spans) == {"chat gpt-4o", "attempt 1", "fallback"}
    root, att, fb = spans["chat gpt-4o"], spans["attempt 1"], spans["fallback"]
    # The documented read-back shape (status_message is added when the status carries one).
    assert {"name", "trace_id", "span_id", "parent_span_id", "start_ns", "end_ns", "status", "attributes"} <= set(root)
    assert isinstance(root["start_ns"], int) and isinstance(root["attributes"], dict)
    assert root["parent_span_id"] is None
    assert re.fullmatch(r"[0-9a-f]{32}", root["trace_id"]) and re.fullmatch(r"[0-9a-f]{16}", root["span_id"])
    for child in (att, fb):
        assert child["trace_id"] == root["trace_id"]
        assert child["parent_span_id"] == root["span_id"]
        assert child["attributes"]["ferrule.request_id"] == root["attributes"]["ferrule.request_id"]
        assert root["start_ns"] <= child["start_ns"] <= child["end_ns"] <= root["end_ns"]
    a = root["attributes"]
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.request.model"] == "gpt-4o"
    assert a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.usage.input_tokens"] == 12 and a["gen_ai.usage.output_tokens"] == 34
    assert a["tags"] == ["x", "y"]
    assert a["ferrule.span.role"] == "call"
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", a["ferrule.request_id"])
    assert att["status"] == "error" and att["status_message"] == "upstream 503"
    assert att["attributes"]["http.response.status_code"] == 503
    assert att["attributes"]["ferrule.span.role"] == "attempt"
    assert fb["attributes"]["gen_ai.request.model"] == "gpt-4o-mini"
    assert root["status"] == "unset"


def test_exception_marks_span_error_with_type_and_propagates() -> None:
    class RateLimitError(Exception):
        pass

    with pytest.raises(RateLimitError):
        with ferrule.span("chat m"):
            raise RateLimitError("429 for user bob@example.com")
    (s,) = ferrule.recent_spans()
    assert s["status"] == "error"
    assert s["status_message"] == "429 for user [EMAIL]"
    assert s["attributes"]["error.type"].endswith("RateLimitError")
    assert ferrule.current_span() is None


def test_string_attributes_are_masked_and_bad_values_refused() -> None:
    with ferrule.span("x") as s:
        s.set_attribute("note", "key sk-abcdefghijklmnopqrstuvwx and 10.1.2.3")
        with pytest.raises(TypeError, match="note2"):
            s.set_attribute("note2", {"a": 1})
    assert ferrule.recent_spans()[0]["attributes"]["note"] == "key [SECRET] and [IP]"
    with pytest.raises(ferrule.ConfigError, match="role"):
        ferrule.span("x", role="retry")
    with pytest.raises(ferrule.ConfigError, match="name"):
        ferrule.span()


def test_content_is_captured_only_when_opted_in() -> None:
    with ferrule.span("a") as s:
        assert s.set_content(input="hi jane@example.com", output="hello") is False
    ferrule.configure(capture_content=True, content_max_chars=10)
    with ferrule.span("b") as s:
        assert s.set_content(input="hi jane@example.com", output="hello")
    spans = by_name()
    assert "gen_ai.input.messages" not in spans["a"]["attributes"]
    assert spans["b"]["attributes"]["gen_ai.input.messages"] == "hi [EMAIL]"
    assert spans["b"]["attributes"]["gen_ai.output.messages"] == "hello"


def test_head_sampling_off_still_keeps_errors() -> None:
    ferrule.configure(sample_ratio=0.0)
    before = ferrule.telemetry_stats()["spans_unsampled"]
    with ferrule.span("kept-nothing"):
        with ferrule.span("child"):
            pass
    with pytest.raises(ValueError):
        with ferrule.span("failed"):
            raise ValueError("x")
    assert [s["name"] for s in ferrule.recent_spans()] == ["failed"]
    assert ferrule.telemetry_stats()["spans_unsampled"] == before + 2


def test_configure_rejects_bad_values_naming_them() -> None:
    with pytest.raises(ferrule.ConfigError, match=r"sample_ratio=2 is out of range; allowed: \[0, 1\]"):
        ferrule.configure(sample_ratio=2)
    with pytest.raises(ferrule.ConfigError, match="otlp_endpoint"):
        ferrule.configure(otlp_endpoint="localhost:4318")
    with pytest.raises(ferrule.ConfigError, match="log_sink"):
        ferrule.configure(log_sink="syslog")
    with pytest.raises(ferrule.ConfigError, match="log_level"):
        ferrule.configure(log_level="loud")
    with pytest.raises(ferrule.ConfigError, match="redact_patterns"):
        ferrule.configure(redact_patterns=["("])
    assert ferrule.telemetry_stats()["sample_ratio"] == 1.0


def test_context_ids_on_every_span_nested_and_generated() -> None:
    with ferrule.context(user_id="u-1", tags=["beta"]) as outer:
        assert outer.session_generated and len(outer.session_id) == 36
        with ferrule.span("one"):
            pass
        with ferrule.context(session_id="s-2", tags=["eu"]):
            with ferrule.span("two"):
                pass
    with ferrule.span("three"):
        pass
    s = by_name()
    assert s["one"]["attributes"]["gen_ai.conversation.id"] == outer.session_id
    assert s["one"]["attributes"]["user.id"] == "u-1"
    assert s["two"]["attributes"]["gen_ai.conversation.id"] == "s-2"
    assert s["two"]["attributes"]["user.id"] == "u-1"
    assert s["two"]["attributes"]["ferrule.tags"] == ["beta", "eu"]
    assert "gen_ai.conversation.id" not in s["three"]["attributes"]


def test_context_follows_asyncio_tasks_independently() -> None:
    async def request(session: str, user: str) -> str:
        async with ferrule.context(session_id=session, user_id=user):
            with ferrule.span(f"call {session}") as sp:
                await asyncio.sleep(0)
                with ferrule.span(f"attempt {session}", role="attempt"):
                    await asyncio.sleep(0)
                return sp.trace_id

    async def main() -> List[str]:
        return await asyncio.gather(*(request(f"s{i}", f"u{i}") for i in range(20)))

    traces = asyncio.run(main())
    assert len(set(traces)) == 20
    s = by_name()
    for i in range(20):
        call, att = s[f"call s{i}"], s[f"attempt s{i}"]
        assert call["attributes"]["gen_ai.conversation.id"] == f"s{i}"
        assert att["attributes"]["user.id"] == f"u{i}"
        assert att["parent_span_id"] == call["span_id"] and att["trace_id"] == traces[i]


def test_context_crosses_threads_when_the_context_is_copied() -> None:
    seen: Dict[str, Any] = {}

    def work(tag: str) -> None:
        with ferrule.span(f"thread {tag}") as sp:
            seen[tag] = sp.parent_span_id

    with ferrule.context(session_id="s-threads", user_id="u"):
        with ferrule.span("parent") as parent:
            copied = [threading.Thread(target=contextvars.copy_context().run, args=(work, f"c{i}")) for i in range(8)]
            plain = threading.Thread(target=work, args=("plain",))
            for t in copied + [plain]:
                t.start()
            for t in copied + [plain]:
                t.join()
    s = by_name()
    for i in range(8):
        assert seen[f"c{i}"] == parent.span_id
        assert s[f"thread c{i}"]["attributes"]["gen_ai.conversation.id"] == "s-threads"
    # A thread started without copying the context starts its own trace, as contextvars dictate.
    assert seen["plain"] is None
    assert "gen_ai.conversation.id" not in s["thread plain"]["attributes"]


def test_session_reused_by_another_user_is_reported() -> None:
    lines: List[str] = []
    ferrule.configure(log_sink=lines.append)
    before = ferrule.telemetry_stats()["session_conflicts"]
    with ferrule.context(session_id="shared-session", user_id="alice"):
        pass
    with ferrule.context(session_id="shared-session", user_id="mallory"):
        pass
    assert ferrule.telemetry_stats()["session_conflicts"] == before + 1
    events = [json.loads(x) for x in lines]
    conflict = [e for e in events if e["event"] == "context.session_conflict"]
    assert conflict and conflict[0]["level"] == "warning"
    assert conflict[0]["first_user_id"] == "alice" and conflict[0]["user_id"] == "mallory"


def test_traceparent_for_outgoing_and_incoming_requests() -> None:
    assert ferrule.traceparent() is None
    with ferrule.span("client") as s:
        header = ferrule.traceparent()
        assert header == f"00-{s.trace_id}-{s.span_id}-01"
    incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    with ferrule.span("server", traceparent=incoming) as srv:
        assert srv.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
        assert srv.parent_span_id == "00f067aa0ba902b7"
    # A malformed header starts a fresh trace instead of failing.
    with ferrule.span("fresh", traceparent="garbage") as fresh:
        assert fresh.parent_span_id is None


def test_start_span_and_end_for_callback_integrations() -> None:
    with ferrule.span("outer") as outer:
        s = ferrule.start_span(operation="chat", model="m", role="attempt")
        assert ferrule.current_span() is outer
    s.end(status="error", attributes={"error.type": "Timeout"})
    s.end()  # idempotent
    got = by_name()["chat m"]
    assert got["parent_span_id"] == outer.span_id
    assert got["status"] == "error" and got["attributes"]["error.type"] == "Timeout"


# ---- OTLP/HTTP export to a local receiver ----------------------------------------------------------


class _Receiver(http.server.BaseHTTPRequestHandler):
    requests: List[ExportTraceServiceRequest] = []
    paths: List[str] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        req = ExportTraceServiceRequest()
        req.ParseFromString(body)
        type(self).requests.append(req)
        type(self).paths.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def receiver() -> Iterator[str]:
    _Receiver.requests = []
    _Receiver.paths = []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def exported() -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for req in _Receiver.requests:
        for rs in req.resource_spans:
            service = {a.key: a.value.string_value for a in rs.resource.attributes}.get("service.name")
            for ss in rs.scope_spans:
                for sp in ss.spans:
                    out[sp.name] = (service, ss.scope.name, sp)
    return out


def test_spans_are_exported_over_otlp_http_and_decoded(receiver: str) -> None:
    ferrule.configure(otlp_endpoint=receiver, service_name="otlp-test")
    with ferrule.context(session_id="s-otlp", user_id="u-otlp"):
        with ferrule.span(operation="chat", model="gpt-4o", provider="openai") as call:
            with ferrule.span("attempt 1", role="attempt"):
                pass
    assert ferrule.flush(10.0)
    got = exported()
    assert _Receiver.paths and all(p == "/v1/traces" for p in _Receiver.paths)
    service, scope, root = got["chat gpt-4o"]
    assert (service, scope) == ("otlp-test", "ferrule")
    assert root.trace_id.hex() == call.trace_id and root.span_id.hex() == call.span_id
    assert root.parent_span_id == b""
    attrs = {a.key: a.value for a in root.attributes}
    assert attrs["gen_ai.provider.name"].string_value == "openai"
    assert attrs["gen_ai.conversation.id"].string_value == "s-otlp"
    assert attrs["user.id"].string_value == "u-otlp"
    _, _, child = got["attempt 1"]
    assert child.parent_span_id.hex() == call.span_id and child.trace_id == root.trace_id
    assert child.end_time_unix_nano >= child.start_time_unix_nano > 1_600_000_000 * 10**9
    assert ferrule.telemetry_stats()["exported_spans"] >= 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_export_restarts_in_a_forked_child(receiver: str) -> None:
    ferrule.configure(otlp_endpoint=receiver)
    with ferrule.span("in-parent"):
        pass
    assert ferrule.flush(10.0)
    pid = os.fork()
    if pid == 0:  # child: the parent's export thread does not exist here
        code = 1
        try:
            with ferrule.span("in-child"):
                pass
            code = 0 if ferrule.flush(10.0) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert "in-child" in exported()


def test_unreachable_receiver_never_blocks_the_caller_and_counts_failures() -> None:
    ferrule.configure(otlp_endpoint="http://127.0.0.1:9")
    for _ in range(1000):
        with ferrule.span("x"):
            pass
    st = ferrule.telemetry_stats()
    assert st["export_queued"] <= st["export_capacity"]
    assert st["recent_len"] <= st["recent_capacity"]
    assert st["spans_ended"] >= 1000
