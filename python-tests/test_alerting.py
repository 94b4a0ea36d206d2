"""Alerting from Python: on_alert, AlertRouter on a manual clock, watchers wired into the router,
the dead man's switch (and a policy beating it), synthetic probes (schedule without overlap, SLO
isolation), a webhook retried after a 500, and the background runtime calling Python callbacks."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
import time
from typing import Any, Dict, Iterator, List

import pytest

import ferrule
from ferrule import AlertRouter, DeadMansSwitch, SyntheticProbe, Webhook
from ferrule.alerting import installed_router
from ferrule.testing import ManualClock


@pytest.fixture(autouse=True)
def no_router() -> Iterator[None]:
    yield
    r = installed_router()
    if r is not None:
        r.uninstall()
    ferrule._ferrule.AlertRouterCore.uninstall()


def wait_for(pred: Any, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, "condition not reached in time"
        time.sleep(0.01)


def test_on_alert_one_line_gets_every_notification_as_a_dict() -> None:
    # A fast router so the real background runtime delivers within a test's patience.
    AlertRouter(group_wait_seconds=0, group_interval_seconds=0.05)
    got: List[Dict[str, Any]] = []
    ferrule.on_alert(got.append)
    switch = DeadMansSwitch("one-line", within_seconds=0.1)
    wait_for(lambda: len(got) >= 1)
    n = got[0]
    assert set(["name", "severity", "labels", "status", "summary", "starts_at", "count"]) <= set(n)
    assert n["name"] == "deadman.missed"
    assert n["severity"] == "critical"
    assert n["status"] == "firing"
    assert n["labels"]["switch"] == "one-line"
    assert n["count"] == 1
    assert abs(n["starts_at"] - time.time()) < 60, "starts_at is Unix time on the system clock"
    switch.beat()
    wait_for(lambda: any(x["status"] == "resolved" for x in got))


def test_on_alert_without_a_router_installs_the_default_one() -> None:
    assert installed_router() is None
    seen: List[Any] = []

    @ferrule.on_alert
    def cb(n: Dict[str, Any]) -> None:
        seen.append(n)

    r = installed_router()
    assert r is not None
    cfg = r.stats()
    assert cfg["active"] == 0
    with pytest.raises(TypeError):
        ferrule.on_alert(42)  # type: ignore[arg-type]


def test_router_grouping_silence_ack_escalation_on_a_manual_clock() -> None:
    clock = ManualClock()
    chat: List[Dict[str, Any]] = []
    oncall: List[Dict[str, Any]] = []
    r = AlertRouter(
        routes=[
            {
                "name": "llm",
                "sinks": [chat.append],
                "severity": "warning",
                "group_by": ["alertname"],
                "escalate": [(600, oncall.append)],
            }
        ],
        install=False,
        clock=clock,
    )
    t0 = clock.now()
    fp_a = r.fire("ProviderDown", "critical", {"model": "a"}, "a is down")
    r.fire("ProviderDown", "critical", {"model": "b"}, "b is down")
    r.fire("Noise", "info", {}, "below the route's severity: not routed")
    assert r.tick(at=t0 + 29) == []
    ns = r.tick(at=t0 + 30)
    assert len(ns) == 1 and len(ns[0]["alerts"]) == 2 and ns[0]["kind"] == "group"
    assert chat == ns
    sid = r.silence({"model": "b"}, 3600, "maintenance", at=t0 + 31)
    assert r.silences()[0]["id"] == sid
    assert r.ack(fp_a)
    ns = r.tick(at=t0 + 700)
    assert ns == [], "a acknowledged, b silenced: no escalation"
    assert r.expire_silence(sid)
    ns = r.tick(at=t0 + 701)
    assert [n["kind"] for n in ns] == ["escalation"]
    assert oncall[0]["level"] == 1 and oncall[0]["labels"]["model"] == "b"
    assert r.resolve(fp_a, at=t0 + 800)
    ns = r.tick(at=t0 + 1100)
    assert any(a["status"] == "resolved" for n in ns for a in n["alerts"])
    s = r.stats()
    assert s["escalations"] == 1
    assert "AlertRouter" in r._repr_html_()


def test_cap_and_digest_from_python() -> None:
    clock = ManualClock()
    got: List[Dict[str, Any]] = []
    r = AlertRouter(
        routes=[{"sinks": [got.append], "group_by": ["alertname", "series"]}],
        cap=2,
        cap_window_seconds=60,
        install=False,
        clock=clock,
    )
    t0 = clock.now()
    for i in range(10):
        r.fire("Spike", "warning", {"series": str(i)})
    assert len(r.tick(at=t0 + 30)) == 2
    ns = r.tick(at=t0 + 90)
    digest = [n for n in ns if n["kind"] == "digest"]
    assert digest and digest[0]["held"] == 8 and digest[0]["count"] == 8


def test_bad_configuration_names_the_parameter() -> None:
    with pytest.raises(ferrule.ConfigError, match="cap"):
        AlertRouter(cap=0, install=False)
    with pytest.raises(ferrule.ConfigError, match="severity"):
        AlertRouter(routes=[{"severity": "urgent"}], install=False)
    with pytest.raises(ferrule.ConfigError, match="key 'sink'"):
        AlertRouter(routes=[{"sink": print}], install=False)
    with pytest.raises(ferrule.ConfigError, match="within_seconds"):
        DeadMansSwitch("x", 0)
    with pytest.raises(ferrule.ConfigError, match="severity"):
        DeadMansSwitch("x", 10, severity="loud")
    with pytest.raises(ferrule.ConfigError, match="timeout_seconds"):
        SyntheticProbe("p", lambda: None, every_seconds=1, timeout_seconds=5, start=False)
    with pytest.raises(ferrule.ConfigError, match="jitter"):
        SyntheticProbe("p", lambda: None, every_seconds=1, timeout_seconds=1, jitter=1.5, start=False)
    with pytest.raises(ferrule.ConfigError, match="url"):
        Webhook("ftp://example.com/hook")


def test_watchers_publish_into_the_installed_router() -> None:
    clock = ManualClock()
    got: List[Dict[str, Any]] = []
    r = AlertRouter(sinks=[got.append], clock=clock)
    slo = ferrule.SLO("checkout", objective=0.99, clock=clock)
    t0 = clock.now()
    # A hard outage: every call fails for 10 minutes; the fast-burn and burn-rate rules page.
    for i in range(600):
        slo.record(False, 0.1, at=t0 + i)
    names = {a["name"] for a in r.alerts()}
    assert any(n.startswith("slo.") for n in names), names
    clock.advance(700)
    r.tick()
    assert got and got[0]["labels"]["source"] == "checkout"
    assert got[0]["severity"] in ("critical", "warning")
    # And the SLO's gauges are in the registry, read at scrape time.
    text = ferrule.metrics_text()
    assert 'ferrule_slo_budget_remaining_ratio{slo="checkout"}' in text
    assert 'ferrule_slo_burn_rate{slo="checkout",window=' in text


def test_dead_mans_switch_fires_and_resolves_and_a_policy_beats_it() -> None:
    clock = ManualClock()
    got: List[Dict[str, Any]] = []
    r = AlertRouter(sinks=[got.append], group_wait_seconds=0, clock=clock)
    switch = DeadMansSwitch("worker", within_seconds=60, severity="page", clock=clock)
    clock.advance(59)
    assert switch.check() == []
    clock.advance(1)
    ev = switch.check()
    assert ev and ev[0]["state"] == "firing" and switch.firing
    r.tick()
    assert got[-1]["severity"] == "page" and got[-1]["status"] == "firing"
    policy = ferrule.Policy(clock=clock, heartbeat=switch, name="beating")
    assert policy.call(lambda: 42) == 42
    assert not switch.firing and switch.beats == 1
    clock.advance(301)
    r.tick()
    assert got[-1]["status"] == "resolved"
    with pytest.raises(ferrule.ConfigError, match="already beats"):
        switch.watch(policy)
    with pytest.raises(TypeError):
        ferrule.Policy(heartbeat=object())
    assert 'ferrule_deadman_firing{switch="worker"} 0' in ferrule.metrics_text()


def test_probe_results_alert_feed_the_switch_and_stay_out_of_slos() -> None:
    clock = ManualClock()
    r = AlertRouter(sinks=[], group_wait_seconds=0, clock=clock)
    slo = ferrule.SLO("user-traffic", objective=0.99, clock=clock)
    switch = DeadMansSwitch("probe-beat", within_seconds=600, clock=clock)
    answers = iter([True, False, False, True])

    def probe() -> bool:
        ok = next(answers)
        slo.record(ok, 0.2)  # the probe's own call goes through an SLO-watched path
        clock.advance(0.5)
        return ok

    p = SyntheticProbe("chat", probe, every_seconds=10, timeout_seconds=5, expect=bool, jitter=0, deadman=switch, clock=clock)
    assert p.run_once() is True
    assert p.run_once() is None, "not due yet"
    outcomes = []
    for _ in range(3):
        clock.advance(10)
        outcomes.append(p.run_once())
    assert outcomes == [False, False, True]
    s = p.stats()
    assert (s["runs"], s["ok"], s["failed"], s["synthetic"]) == (4, 2, 2, True)
    assert switch.beats == 2
    st = slo.stats()
    assert st["total"] == 0 and st["synthetic_excluded"] == 4, "probe traffic never counts in an SLO"
    # The two failures raised a probe.failed alert; the success resolved it.
    assert r.stats()["alerts_fired"] == 1 and r.stats()["alerts_resolved"] == 1
    assert 'ferrule_probe_runs_total{probe="chat",result="failed"} 2' in ferrule.metrics_text()


def test_probe_thread_schedule_never_overlaps_itself() -> None:
    lock = threading.Lock()
    state = {"now": 0, "max": 0, "calls": 0}

    def slow() -> None:
        with lock:
            state["now"] += 1
            state["calls"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.12)  # longer than the interval and the timeout
        with lock:
            state["now"] -= 1

    p = SyntheticProbe("slow", slow, every_seconds=0.03, timeout_seconds=0.03, jitter=0)
    try:
        wait_for(lambda: state["calls"] >= 4)
    finally:
        p.stop()
    assert state["max"] == 1
    s = p.stats()
    assert s["timed_out"] >= 3 and s["ok"] == 0


def test_async_probe_runs_on_the_event_loop_without_overlap() -> None:
    state = {"now": 0, "max": 0, "calls": 0, "cancelled": 0}

    async def probe() -> str:
        state["now"] += 1
        state["calls"] += 1
        state["max"] = max(state["max"], state["now"])
        try:
            await asyncio.sleep(0.05 if state["calls"] % 2 else 0.001)
        except asyncio.CancelledError:
            state["cancelled"] += 1
            raise
        finally:
            state["now"] -= 1
        return "pong"

    async def main() -> Dict[str, Any]:
        p = SyntheticProbe("async", probe, every_seconds=0.02, timeout_seconds=0.02, expect=lambda r: r == "pong", jitter=0)
        for _ in range(400):
            if state["calls"] >= 6:
                break
            await asyncio.sleep(0.01)
        p.stop()
        return p.stats()

    s = asyncio.run(main())
    assert state["max"] == 1 and state["calls"] >= 6
    assert s["timed_out"] >= 1 and s["ok"] >= 1 and state["cancelled"] >= 1
    with pytest.raises(RuntimeError, match="running event loop"):
        SyntheticProbe("no-loop", probe, every_seconds=1, timeout_seconds=1)


def test_webhook_sink_retries_after_a_500() -> None:
    seen: List[Any] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(json.loads(body))
            self.send_response(500 if len(seen) == 1 else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a: Any) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        clock = ManualClock()
        hook = Webhook(f"http://127.0.0.1:{srv.server_address[1]}/alerts")
        r = AlertRouter(sinks=[hook], webhook_backoff_seconds=0.05, install=False, clock=clock)
        r.fire("Quota", "warning", {"model": "m"}, "429s rising")
        r.tick(at=clock.now() + 30)
        assert r.flush(10)
        w = r.stats()["webhooks"][hook.name]
        assert (w["delivered"], w["retries"], w["failed"]) == (1, 1, 0)
        assert len(seen) == 2 and seen[0] == seen[1]
        assert seen[1]["name"] == "Quota" and seen[1]["status"] == "firing"
    finally:
        srv.shutdown()


def test_on_alert_adds_beside_other_subscribers_and_unsubscribes() -> None:
    clock = ManualClock()
    r = AlertRouter(group_wait_seconds=0, clock=clock)
    first: List[Dict[str, Any]] = []
    second: List[Dict[str, Any]] = []
    sub1 = ferrule.on_alert(first.append)
    sub2 = ferrule.on_alert(second.append)
    assert installed_router() is r, "on_alert adds to the installed router, never replaces it"
    assert sub1.sink != sub2.sink, "two callbacks with one name get two sinks"
    t0 = clock.now()
    r.fire("Down", "critical", {"model": "a"}, at=t0)
    r.tick(at=t0 + 1)
    assert len(first) == 1 and len(second) == 1
    assert first[0]["sink"] == sub1.sink
    assert sub1.unsubscribe() is True
    assert sub1.unsubscribe() is False, "the second unsubscribe finds nothing"
    r.fire("Slow", "critical", {"model": "b"}, at=t0 + 2)  # a new group: no group_interval wait
    r.tick(at=t0 + 3)
    assert len(first) == 1 and len(second) == 2
    sub1({"name": "direct"})  # the handle still calls the callback, as a decorator leaves it
    assert first[-1] == {"name": "direct"}


def test_alert_storm_from_python_is_a_handful_per_sink_plus_a_digest() -> None:
    # 10,000 raw anomaly events in one minute over 300 series, some resolving again at once.
    clock = ManualClock()
    chat: List[Dict[str, Any]] = []
    pager: List[Dict[str, Any]] = []
    r = AlertRouter(
        routes=[{"name": "anomalies", "sinks": [chat.append, pager.append], "group_by": ["alertname", "series"]}],
        install=False,
        clock=clock,
    )
    t0 = clock.now()
    for i in range(10_000):
        at = t0 + i * 60 / 10_000
        series = str(i * 7919 % 300)
        fp = r.fire("anomaly.ewma", "warning", {"series": series}, f"latency z=5 on series {series}", at=at)
        if i % 7 == 6:
            r.resolve(fp, at=at)
        if i % 100 == 0:
            r.tick(at=at)
    for t in range(60, 3601, 10):
        r.tick(at=t0 + t)
    for got in (chat, pager):
        normal = [n for n in got if n["kind"] != "digest"]
        held = sum(n["held"] for n in got if n["kind"] == "digest")
        # Defaults: 5 notifications per sink per 15 minutes, then a digest per window.
        assert len(normal) <= 5 * 4, len(normal)
        assert len(got) <= 5 * 4 + 4, len(got)
        assert held > 250, f"the digest counts the rest ({held})"
    s = r.stats()
    assert s["alerts_fired"] >= 300 and s["held_by_cap"] > 250


def test_every_alerting_object_reports_what_a_scrape_shows() -> None:
    clock = ManualClock()
    r = AlertRouter(routes=[{"name": "gauges-router"}], install=False, clock=clock)
    sw = DeadMansSwitch("gauges-switch", within_seconds=60, clock=clock)
    rows = {(n, tuple(sorted(lab.items()))) for n, lab, _ in r.gauges()}
    assert ("ferrule_alerts_active", (("router", "gauges-router"),)) in rows
    assert ("ferrule_alert_notifications_total", (("router", "gauges-router"),)) in rows
    sw_rows = {n: v for n, _, v in sw.gauges()}
    assert sw_rows["ferrule_deadman_firing"] == 0.0
    text = ferrule.metrics_text()
    assert 'ferrule_deadman_firing{switch="gauges-switch"} 0' in text
    drift = ferrule.DriftDetector("gauges-drift", clock=clock)
    assert [n for n, _, _ in drift.gauges()] == ["ferrule_drift_firing"]


def test_real_alertmanager_receives_and_resolves_an_alert_from_python() -> None:
    import os

    from alertmanager_server import AlertmanagerServer, binary

    exe = binary()
    if exe is None:
        assert not os.environ.get("CI"), "prometheus-alertmanager is not installed: `make tools-apt` installs it"
        pytest.skip("prometheus-alertmanager not installed (make tools-apt)")
    am = AlertmanagerServer(exe)
    try:
        clock = ManualClock()
        sink = ferrule.Alertmanager(am.url)
        r = AlertRouter(sinks=[sink], install=False, clock=clock)
        t0 = clock.now()
        fp = r.fire("FerrulePyProviderDown", "page", {"model": "gpt-py"}, "every call failed for 5 minutes", at=t0)
        assert len(r.tick(at=t0 + 30)) == 1
        assert r.flush(10)
        ours = [a for a in am.alerts() if a["labels"]["alertname"] == "FerrulePyProviderDown"]
        assert len(ours) == 1
        assert ours[0]["labels"]["severity"] == "page" and ours[0]["labels"]["model"] == "gpt-py"
        assert ours[0]["annotations"]["summary"] == "every call failed for 5 minutes"
        assert ours[0]["status"]["state"] == "active"
        # Resolve from Python: the router sends endsAt and Alertmanager stops listing it.
        assert r.resolve(fp, at=t0 + 100)
        assert len(r.tick(at=t0 + 330)) == 1
        assert r.flush(10)
        assert r.stats()["webhooks"][sink.name]["delivered"] == 2
        wait_for(lambda: not [a for a in am.alerts() if a["labels"]["alertname"] == "FerrulePyProviderDown"])
    finally:
        am.stop()


def test_inhibition_and_repeat_on_a_manual_clock_with_custom_rules() -> None:
    clock = ManualClock()
    got: List[Dict[str, Any]] = []
    # A firing critical silences warnings of the same model (the default compares the group labels).
    r = AlertRouter(routes=[{"sinks": [got.append], "group_by": ["alertname", "model"]}],
                    inhibit=[("critical", "warning", ["model"])], repeat_interval_seconds=3600, install=False, clock=clock)
    t0 = clock.now()
    r.fire("Slow", "warning", {"model": "a"}, at=t0)
    r.fire("Down", "critical", {"model": "a"}, at=t0)
    assert [n["name"] for n in r.tick(at=t0 + 30)] == ["Down"], "the firing critical inhibits the warning of its model"
    assert r.stats()["inhibited"] == 1
    assert r.tick(at=t0 + 3000) == []
    assert [(n["name"], n["kind"]) for n in r.tick(at=t0 + 30 + 3600)] == [("Down", "repeat")]
    # inhibit=[] turns inhibition off.
    r2 = AlertRouter(routes=[{"sinks": [got.append], "group_by": ["alertname", "model"]}], inhibit=[], install=False, clock=clock)
    r2.fire("Slow", "warning", {"model": "a"}, at=t0)
    r2.fire("Down", "critical", {"model": "a"}, at=t0)
    assert sorted(n["name"] for n in r2.tick(at=t0 + 30)) == ["Down", "Slow"]
    with pytest.raises(ferrule.ConfigError, match="inhibit"):
        AlertRouter(inhibit=[("loud", "warning", None)], install=False)
