"""Metrics from Python: handles, the series cap, both exposition formats (checked by promtool and by
prometheus_client's strict OpenMetrics parser), the scrape endpoint scraped by a real Prometheus
server, the prometheus_client bridge, the breaker's metrics and the prompt profile."""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from typing import Iterator, Optional

import pytest

import ferrule
from ferrule import ConfigError

_n = itertools.count()


def uniq(prefix: str) -> str:
    """Metric names are process-wide; each test declares its own."""
    return f"t{os.getpid()}_{next(_n)}_{prefix}"


def value(text: str, series: str) -> Optional[float]:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line[len(series) + 1 :].split(" ")[0])
    return None


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{tool} is not installed; `make tools-apt` installs it (Debian package prometheus)")
        pytest.skip(f"{tool} not on PATH; run `make tools-apt`")
    return path


# ---- the API ------------------------------------------------------------------------------------


def test_labelled_counter_handles_count_and_accept_keyword_or_positional_values() -> None:
    name = uniq("calls_total")
    c = ferrule.Counter(name, "Calls.", ["model", "route"])
    h = c.labels(model="gpt-4o", route="chat")
    h.inc()
    h.inc(2)
    c.labels("gpt-4o", "chat").inc(0.25)
    assert h.value == 3.25
    assert value(ferrule.metrics_text(), f'{name}{{model="gpt-4o",route="chat"}}') == 3.25
    with pytest.raises(ConfigError, match="amount=-1"):
        h.inc(-1)
    with pytest.raises(ConfigError, match=r"exactly 2 values, for \(model, route\)"):
        c.labels("only-one")
    with pytest.raises(ConfigError, match="exactly the label names"):
        c.labels(model="x", nope="y")
    with pytest.raises(ConfigError, match="through .labels"):
        c.inc()


def test_unlabelled_metrics_and_gauges() -> None:
    c = ferrule.Counter(uniq("jobs"), "Jobs.")
    c.inc()
    c.inc(4)
    g = ferrule.Gauge(uniq("queue"), "Queue depth.")
    g.set(10)
    g.inc()
    g.dec(3)
    lg = ferrule.Gauge(uniq("temp"), "t", ["room"])
    lg.labels("a").set(-1.5)
    text = ferrule.metrics_text()
    assert value(text, f"{c.name}") == 5
    assert c.name.endswith("_total")
    assert value(text, g.name) == 8
    assert value(text, f'{lg.name}{{room="a"}}') == -1.5


def test_histogram_buckets_and_exemplars() -> None:
    name = uniq("latency_seconds")
    h = ferrule.Histogram(name, "Latency.", ["model"], buckets=[0.1, 1.0, float("inf")])
    assert h.buckets == [0.1, 1.0]
    child = h.labels(model="m")
    child.observe(0.05)
    child.observe(0.5, exemplar={"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"})
    child.observe(3.0)
    assert (child.count, child.sum) == (3, 3.55)
    om = ferrule.metrics_text(openmetrics=True)
    assert f'{name}_bucket{{model="m",le="1.0"}} 2 # {{trace_id="4bf92f3577b34da6a3ce929d0e0e4736"}} 0.5' in om
    assert om.endswith("# EOF\n")
    assert "# {" not in ferrule.metrics_text()
    with pytest.raises(ConfigError, match="buckets"):
        ferrule.Histogram(uniq("bad"), "x", buckets=[2.0, 1.0])


def test_a_metric_needs_help_text() -> None:
    with pytest.raises(ConfigError, match='help="" conflicts'):
        ferrule.Counter(uniq("nohelp_total"), "")


def test_high_cardinality_ids_never_become_labels() -> None:
    for label in ("trace_id", "session_id", "request_id"):
        with pytest.raises(ConfigError, match=f'labels="{label}"'):
            ferrule.Counter(uniq("x_total"), "x", [label])


def test_the_series_cap_folds_overflow_into_other_and_counts_it() -> None:
    name = uniq("capped_total")
    c = ferrule.Counter(name, "Capped.", ["user_tier"], max_series=5)
    for i in range(50):
        c.labels(f"tier{i}").inc()
    text = ferrule.metrics_text()
    series = [l for l in text.splitlines() if l.startswith(name + "{")]
    assert len(series) == 6, series
    assert value(text, f'{name}{{user_tier="other"}}') == 45
    base = name[: -len("_total")]
    assert value(text, f'ferrule_metric_series_overflow_total{{metric="{base}"}}') == 45
    with pytest.raises(ConfigError, match="max_series=0"):
        ferrule.Counter(uniq("x_total"), "x", ["a"], max_series=0)


def test_the_first_overflow_of_a_metric_is_logged_at_warning(caplog: pytest.LogCaptureFixture) -> None:
    name = uniq("logged_total")
    c = ferrule.Counter(name, "x", ["k"], max_series=1)
    with caplog.at_level(logging.WARNING, logger="ferrule"):
        for k in ("a", "b", "c"):
            c.labels(k).inc()
    hits = [r for r in caplog.records if name[: -len("_total")] in r.getMessage()]
    assert len(hits) == 1, [r.getMessage() for r in caplog.records]
    assert hits[0].levelno == logging.WARNING and hits[0].name.startswith("ferrule")
    assert "other" in hits[0].getMessage()


def test_redeclaring_is_idempotent_and_conflicts_are_refused() -> None:
    name = uniq("same_total")
    a = ferrule.metrics.counter(name, "h", ["k"])
    a.labels("v").inc()
    b = ferrule.metrics.counter(name, "h", ["k"])
    assert b.labels("v").value == 1
    with pytest.raises(ConfigError, match="already registered as a counter"):
        ferrule.Counter(name, "h", ["other"])


def test_eight_threads_lose_no_increment() -> None:
    h = ferrule.Counter(uniq("threads_total"), "x", ["k"]).labels("v")

    def work() -> None:
        for _ in range(50_000):
            h.inc()

    ts = [threading.Thread(target=work) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert h.value == 400_000


def test_the_breaker_reports_its_state_transitions_and_rejections() -> None:
    name = uniq("breaker")
    from ferrule.testing import ManualClock

    clock = ManualClock()
    b = ferrule.CircuitBreaker(name, failure_rate=None, consecutive_failures=2, clock=clock, open_seconds=5)

    @b
    def boom() -> None:
        raise RuntimeError("down")

    for _ in range(2):
        with pytest.raises(RuntimeError):
            boom()
    for _ in range(3):
        with pytest.raises(ferrule.CircuitOpenError):
            boom()
    text = ferrule.metrics_text()
    assert value(text, f'ferrule_breaker_state{{name="{name}",state="open"}}') == 1
    assert value(text, f'ferrule_breaker_transitions_total{{name="{name}",from="closed",to="open"}}') == 1
    assert value(text, f'ferrule_calls_total{{component="breaker",name="{name}",outcome="failure"}}') == 2
    assert value(text, f'ferrule_rejections_total{{component="breaker",name="{name}",reason="breaker_open"}}') == 3


# ---- the formats, checked by their own tools --------------------------------------------------------


def _populate() -> None:
    ferrule.record_llm_call(
        model="gpt-4o", duration_seconds=0.7, input_tokens=1200, output_tokens=300,
        template="fmt-check", trace_id="abc",
    )
    ferrule.record_llm_call(model="gpt-4o", duration_seconds=2.0, error_type="RateLimitError")
    c = ferrule.Counter(uniq("fmt_total"), 'Help with "quotes" and \\ and\nnewline.', ["v"])
    c.labels('we"ird\\va\nlue').inc(1.5)
    ferrule.Histogram(uniq("fmt_seconds"), "h").observe(0.2, exemplar={"trace_id": "t"})
    ferrule.CircuitBreaker(uniq("fmt_breaker"))


def test_prometheus_text_passes_promtool_check_metrics() -> None:
    promtool = need("promtool")
    _populate()
    out = subprocess.run(
        [promtool, "check", "metrics"], input=ferrule.metrics_text(), capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_openmetrics_parses_with_the_strict_openmetrics_parser() -> None:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    _populate()
    fams = {f.name: f for f in text_string_to_metric_families(ferrule.metrics_text(openmetrics=True))}
    dur = fams["gen_ai_client_operation_duration_seconds"]
    assert dur.type == "histogram"
    assert any(s.exemplar is not None and s.exemplar.labels == {"trace_id": "abc"} for s in dur.samples)
    assert fams["ferrule_calls"].type == "counter"


def test_prometheus_client_collector_serves_ferrule_metrics_from_an_existing_registry() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    name = uniq("bridge_total")
    ferrule.Counter(name, "Bridged.", ["k"]).labels("v").inc(7)
    reg = CollectorRegistry()
    ferrule.register_prometheus_collector(reg)
    text = generate_latest(reg).decode()
    assert value(text, f'{name}{{k="v"}}') == 7
    assert "# TYPE gen_ai_client_operation_duration_seconds histogram" in text


# ---- the endpoint -------------------------------------------------------------------------------


def test_serve_metrics_on_loopback_with_a_free_port_then_stop() -> None:
    name = uniq("served_total")
    ferrule.Counter(name, "x").inc(3)
    with ferrule.serve_metrics(port=0) as srv:
        assert srv.host == "127.0.0.1" and srv.port > 0 and srv.running
        body = urllib.request.urlopen(srv.url, timeout=10).read().decode()
        assert value(body, name) == 3
        req = urllib.request.Request(srv.url, headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.headers["Content-Type"].startswith("application/openmetrics-text")
            assert r.read().decode().endswith("# EOF\n")
        with pytest.raises(ConfigError, match=f"port={srv.port}"):
            ferrule.serve_metrics(port=srv.port)
    assert not srv.running
    srv.stop()  # idempotent
    with pytest.raises(ConfigError, match="port=70000"):
        ferrule.serve_metrics(port=70000)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_neither_serves_nor_hangs_stopping_the_parents_threads() -> None:
    srv = ferrule.serve_metrics(port=0)
    pusher = ferrule.push_metrics("http://127.0.0.1:9", interval_seconds=3600, timeout_seconds=0.2)
    try:
        pid = os.fork()
        if pid == 0:  # the child: the threads stayed in the parent
            ok = not srv.running and not pusher.running
            srv.stop()
            pusher.stop()
            os._exit(0 if ok else 1)
        deadline = time.monotonic() + 20
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                pytest.fail("the child hung stopping threads it does not have")
            time.sleep(0.05)
        assert os.waitstatus_to_exitcode(status) == 0, "the child saw the parent's threads as its own"
        assert srv.running and pusher.running
        assert urllib.request.urlopen(srv.url, timeout=10).status == 200, "the parent still serves"
    finally:
        srv.stop()
        pusher.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def prometheus_server() -> Iterator[tuple[int, ferrule.MetricsServer]]:
    """A real Prometheus (Debian package) on loopback, scraping serve_metrics every second."""
    binary = need("prometheus")
    srv = ferrule.serve_metrics(port=0)
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write(
                "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                "scrape_configs:\n"
                "  - job_name: ferrule\n"
                f"    static_configs: [{{targets: ['127.0.0.1:{srv.port}']}}]\n"
            )
        proc = subprocess.Popen(
            [binary, f"--config.file={cfg}", f"--storage.tsdb.path={tmp}/data",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "log"), "w"),
        )
        try:
            yield port, srv
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            srv.stop()


def _query(port: int, promql: str) -> list[dict[str, object]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as r:
        body = json.load(r)
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def test_a_real_prometheus_scrapes_serve_metrics_and_answers_promql(
    prometheus_server: tuple[int, ferrule.MetricsServer],
) -> None:
    port, srv = prometheus_server
    name = uniq("scraped_total")
    ferrule.Counter(name, "Scraped by a real Prometheus.", ["model"]).labels("gpt-4o").inc(1234)
    ferrule.Histogram(uniq("scraped_seconds"), "h").observe(0.3, exemplar={"trace_id": "x"})
    deadline = time.monotonic() + 60
    result: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        try:
            result = _query(port, f'sum({name}{{model="gpt-4o"}})')
        except OSError:
            result = []  # Prometheus still starting
        if result:
            break
        time.sleep(0.5)
    assert result, "Prometheus never returned the series"
    value_pair = result[0]["value"]
    assert isinstance(value_pair, list) and float(value_pair[1]) == 1234
    up = _query(port, 'up{job="ferrule"}')
    assert up and isinstance(up[0]["value"], list) and up[0]["value"][1] == "1", up


# ---- the prompt profile ---------------------------------------------------------------------------


def test_the_profile_ranks_templates_and_renders() -> None:
    ferrule.reset_profile()
    for i in range(20):
        ferrule.record_llm_call(model="gpt-4o", duration_seconds=0.1 + i / 100, input_tokens=500,
                                output_tokens=100, template="cheap-fast")
    for i in range(5):
        ferrule.record_llm_call(model="claude-opus-4", duration_seconds=4.0, input_tokens=4000,
                                output_tokens=2000, template="costly", error_type="Timeout" if i < 2 else None)
    text_template = "Translate {text} into French."
    ferrule.record_llm_call(model="gpt-4o-mini", duration_seconds=9.0, input_tokens=10,
                            output_tokens=10, template_text=text_template)
    report = ferrule.profile()
    assert [r["template"] for r in report][0] == "costly"
    costly = report[0]
    assert costly["calls"] == 5 and costly["errors"] == 2 and costly["error_rate"] == 0.4
    assert costly["cost_usd"] == pytest.approx(5 * (4000 * 15 + 2000 * 75) / 1e6)
    assert costly["p50_seconds"] == 4.0
    key = ferrule.metrics.template_key(text=text_template)
    assert report.top(1, by="latency")[0]["template"] == key
    assert report.top(1, by="tokens")[0]["template"] == "costly"
    assert report.top(1, by="calls")[0]["template"] == "cheap-fast"
    with pytest.raises(ConfigError, match='by="price"'):
        report.top(3, by="price")
    plain = str(report)
    assert plain.splitlines()[0].split()[:2] == ["template", "calls"]
    assert "costly" in plain and key in plain
    html = report._repr_html_()
    assert html.startswith("<table") and "<td>costly</td>" in html
    df = pytest.importorskip("pandas") and report.to_dataframe()
    assert list(df["template"])[0] == "costly" and int(df["calls"].sum()) == 26


def test_prices_can_be_overridden() -> None:
    ferrule.set_price("acme-llm", 1.0, 2.0)
    assert ferrule.metrics.prices()["acme-llm"] == (1.0, 2.0)
    cost = ferrule.record_llm_call(model="acme-llm-v2", duration_seconds=0.1, input_tokens=1_000_000,
                                   output_tokens=500_000)
    assert cost == pytest.approx(2.0)
    with pytest.raises(ConfigError, match="input_per_million=-1"):
        ferrule.set_price("acme-llm", -1, 0)
    with pytest.raises(ConfigError, match="duration_seconds"):
        ferrule.record_llm_call(model="x", duration_seconds=-1)
