"""OTLP push from Python: a local OTLP/HTTP receiver decodes ferrule's registry with
opentelemetry-proto, as a collector would."""

from __future__ import annotations

import http.server
import threading
from typing import Any, Iterator

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric

import ferrule
from ferrule import ConfigError


class _Collector(http.server.BaseHTTPRequestHandler):
    bodies: list[dict[str, Any]] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 - the http.server hook name
        n = int(self.headers["Content-Length"])
        req = ExportMetricsServiceRequest()
        req.ParseFromString(self.rfile.read(n))
        type(self).bodies.append({"path": self.path, "req": req, "auth": self.headers.get("Authorization"),
                                  "type": self.headers.get("Content-Type")})
        self.send_response(type(self).status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, type[_Collector]]]:
    handler = type("Handler", (_Collector,), {"bodies": [], "status": 200})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}", handler
    finally:
        srv.shutdown()
        srv.server_close()


def _metric(req: ExportMetricsServiceRequest, name: str) -> Metric:
    for m in req.resource_metrics[0].scope_metrics[0].metrics:
        if m.name == name:
            return m
    raise AssertionError(f"no {name}")


def test_push_metrics_sends_the_registry_as_otlp_protobuf(collector: tuple[str, type[_Collector]]) -> None:
    url, handler = collector
    ferrule.Counter("otlp_py_jobs_total", "Jobs.", ["queue"]).labels("a").inc(9)
    ferrule.record_llm_call(model="gpt-4o", duration_seconds=0.25, input_tokens=10, output_tokens=5)
    with ferrule.push_metrics(url, interval_seconds=3600, service_name="py-test",
                              headers={"Authorization": "Bearer x"}) as pusher:
        assert pusher.push_now() is True
        assert pusher.pushes == 1
    assert not pusher.running
    assert len(handler.bodies) == 2, "push_now and the final push on stop"
    sent = handler.bodies[0]
    assert sent["path"] == "/v1/metrics" and sent["auth"] == "Bearer x"
    assert sent["type"] == "application/x-protobuf"
    req = sent["req"]
    res = req.resource_metrics[0].resource.attributes[0]
    assert (res.key, res.value.string_value) == ("service.name", "py-test")
    jobs = _metric(req, "otlp_py_jobs").sum
    assert jobs.is_monotonic and jobs.aggregation_temporality == 2
    point = jobs.data_points[0]
    assert point.as_double == 9
    assert [(a.key, a.value.string_value) for a in point.attributes] == [("queue", "a")]
    dur = _metric(req, "gen_ai.client.operation.duration")
    assert dur.unit == "s"
    points = dur.histogram.data_points
    keys = {a.key for p in points for a in p.attributes}
    assert {"gen_ai.request.model", "gen_ai.operation.name", "gen_ai.provider.name"} <= keys
    mine = [p for p in points if any(a.value.string_value == "gpt-4o" for a in p.attributes)]
    assert mine and sum(p.count for p in mine) >= 1 and len(mine[0].bucket_counts) == len(mine[0].explicit_bounds) + 1
    tokens = _metric(req, "gen_ai.client.token.usage").histogram.data_points
    types = {a.value.string_value for p in tokens for a in p.attributes if a.key == "gen_ai.token.type"}
    assert {"input", "output"} <= types


def test_a_failing_collector_is_counted(collector: tuple[str, type[_Collector]]) -> None:
    url, handler = collector
    handler.status = 400  # not retryable: one attempt, counted
    pusher = ferrule.push_metrics(url, interval_seconds=3600)
    try:
        assert pusher.push_now() is False
        assert pusher.failures == 1
    finally:
        pusher.stop()
    assert 'ferrule_telemetry_dropped_total{kind="otlp_export"}' in ferrule.metrics_text()


def test_bad_push_configuration_fails_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="endpoint"):
        ferrule.push_metrics("grpc://collector:4317")
    with pytest.raises(ConfigError, match="interval_seconds"):
        ferrule.push_metrics("http://127.0.0.1:4318", interval_seconds=0)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", raising=False)
    with pytest.raises(ConfigError, match="OTEL_EXPORTER_OTLP_ENDPOINT"):
        ferrule.push_metrics()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    p = ferrule.push_metrics(interval_seconds=3600, timeout_seconds=0.5)
    assert p.endpoint == "http://127.0.0.1:9/v1/metrics"  # the general endpoint gets the signal path
    p.stop()
