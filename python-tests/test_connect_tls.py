"""The Python surface of TLS connectivity against a local HTTPS receiver with a CA made by the
``openssl`` CLI: ``configure(otlp_endpoint="https://...", ca_file=, otlp_headers=,
otlp_compression="gzip", otlp_logs=True)`` delivers spans and log records (decoded with
opentelemetry-proto), and a ``PagerDuty`` sink posts a trigger and then a resolve with one dedup key."""

from __future__ import annotations

import gzip
import json
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

import ferrule
from ferrule.testing import ManualClock
from telemetry_state import reset

Request = Tuple[str, Dict[str, str], bytes]


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=ferrule test CA", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1", cwd=d)
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "san.ext", cwd=d)
    return d


@pytest.fixture()
def receiver(pki: Path) -> Iterator[Tuple[str, List[Request]]]:
    got: List[Request] = []

    class H(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            got.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(202)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *a: Any) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki / "server.pem", pki / "server.key")
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{srv.server_address[1]}", got
    finally:
        srv.shutdown()


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    reset()
    yield
    # configure() keeps settings a call does not name, so later tests start from plain OTLP.
    ferrule.configure(otlp_endpoint=False, otlp_logs=False, otlp_compression="none", otlp_headers={})
    reset()


def test_spans_and_log_records_over_https_with_headers_and_gzip(pki: Path, receiver: Tuple[str, List[Request]]) -> None:
    url, got = receiver
    with pytest.raises(ferrule.ConfigError, match="ca_file"):
        ferrule.configure(otlp_endpoint=url, ca_file=pki / "missing.pem")
    ferrule.configure(otlp_endpoint=url, ca_file=pki / "ca.pem", otlp_headers={"x-api-key": "s3cret"},
                      otlp_compression="gzip", otlp_logs=True)
    with ferrule.span("handle", role="call") as s:
        ferrule.emit("app.step", "warning", "half way", attempt=2)
    assert ferrule.flush(10)
    by_path = {p: (h, b) for p, h, b in got}
    assert set(by_path) == {"/v1/traces", "/v1/logs"}
    for h, _ in by_path.values():
        assert h["x-api-key"] == "s3cret" and h["content-encoding"] == "gzip"
    traces = ExportTraceServiceRequest.FromString(by_path["/v1/traces"][1])
    span = traces.resource_spans[0].scope_spans[0].spans[0]
    assert span.name == "handle" and span.trace_id.hex() == s.trace_id
    logs = ExportLogsServiceRequest.FromString(by_path["/v1/logs"][1])
    rec = next(r for r in logs.resource_logs[0].scope_logs[0].log_records if r.event_name == "app.step")
    assert rec.severity_text == "WARNING" and rec.body.string_value == "half way"
    assert rec.trace_id.hex() == s.trace_id and rec.span_id.hex() == s.span_id
    with pytest.raises(ferrule.ConfigError, match="otlp_compression"):
        ferrule.configure(otlp_compression="zstd")


def test_pagerduty_trigger_then_resolve_over_https(pki: Path, receiver: Tuple[str, List[Request]]) -> None:
    url, got = receiver
    clock = ManualClock()
    pd = ferrule.PagerDuty("R0UT1NGKEY", url=f"{url}/v2/enqueue", source="checkout@test", ca_file=str(pki / "ca.pem"))
    r = ferrule.AlertRouter(sinks=[pd], install=False, clock=clock, group_wait_seconds=0, group_interval_seconds=1)
    fp = r.fire("LLMErrors", "critical", {"model": "gpt-4o"}, "35% errors", at=clock.now())
    r.tick(at=clock.now() + 1)
    assert r.resolve(fp, at=clock.now() + 2)
    r.tick(at=clock.now() + 5)
    assert r.flush(10)
    events = [json.loads(b) for p, _, b in got if p == "/v2/enqueue"]
    assert [e["event_action"] for e in events] == ["trigger", "resolve"]
    assert events[0]["dedup_key"] == events[1]["dedup_key"] and events[0]["dedup_key"].startswith("ferrule-")
    assert events[0]["routing_key"] == "R0UT1NGKEY"
    p = events[0]["payload"]
    assert p["severity"] == "critical" and p["source"] == "checkout@test" and p["summary"].startswith("LLMErrors")
    assert p["custom_details"]["model"] == "gpt-4o"
