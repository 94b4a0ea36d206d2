"""Watchers from Python, on a manual clock: SLO burn alerts and the budget hook, anomaly detectors and
their series cap, drift with the built-in embedder and baseline policies, the error predictor, event
dispatch that never breaks the caller, bad configuration."""

from __future__ import annotations

import logging
import random
from typing import List

import pytest

import ferrule
from ferrule import WatchEvent
from ferrule.testing import ManualClock


def test_slo_pages_on_an_outage_and_the_budget_hook_runs_on_exhaustion_and_recovery() -> None:
    clock = ManualClock()
    seen: List[WatchEvent] = []
    budget: List[bool] = []
    slo = ferrule.SLO(
        "checkout", objective=0.99, window_days=3, on_event=seen.append, on_budget=lambda ex, e: budget.append(ex), clock=clock
    )
    for _ in range(600):  # 10 minutes, one call a second
        clock.advance(1.0)
        assert slo.record(True, 0.2) == []
    # An outage: the page comes at once; the 3-day budget (1% of the calls a 3-day window holds at
    # this rate, 2592) is spent after about 43 minutes of it, not after two.
    for i in range(50 * 60):
        clock.advance(1.0)
        slo.record(False, 0.2)
        if i == 120:
            assert budget == [] and slo.stats()["budget_basis"] == "extrapolated"
    names = [(e.name, e.state) for e in seen]
    # One page; the ticket rule (3 d / 6 h) is not armed before six hours of watching.
    assert names.count(("slo.burn_rate", "firing")) == 1, names
    assert ("slo.budget_exhausted", "firing") in names
    page = next(e for e in seen if e.name == "slo.burn_rate" and e.severity == "critical")
    assert page.labels == {"slo": "checkout", "alert": "page"}
    assert page.dedup_key == "slo.burn_rate:checkout:checkout:page"
    exhausted = next(e for e in seen if e.name == "slo.budget_exhausted")
    assert 42 * 60 <= exhausted.at - 600 <= 45 * 60
    assert budget == [True]
    assert slo.budget_remaining() < 0
    assert slo.burn_rate(300) > 14.4
    clock.advance(3 * 86400 + 3600)
    events = slo.evaluate()
    assert [e.state for e in events if e.name == "slo.budget_exhausted"] == ["resolved"]
    assert budget == [True, False]
    assert "error budget remaining" in slo._repr_html_()
    gauges = {(n, tuple(sorted(l.items()))): v for n, l, v in slo.gauges()}
    assert gauges[("ferrule_slo_budget_remaining_ratio", (("slo", "checkout"),))] == 1.0


def test_slo_excludes_synthetic_calls_and_counts_calls_outside_the_selector() -> None:
    slo = ferrule.SLO("s", objective=0.9, selector={"model": "gpt-a"}, clock=ManualClock())
    slo.record(False, 0.1, synthetic=True, labels={"model": "gpt-a"})
    slo.record(False, 0.1, labels={"model": "gpt-b"})
    slo.record(True, 0.1, labels={"model": "gpt-a"})
    s = slo.stats()
    assert (s["total"], s["bad"], s["synthetic_excluded"], s["ignored_by_selector"]) == (1, 0, 1, 1)
    # A call dated before anything the buckets can hold is counted as dropped, not lost silently.
    slo.record(False, 0.1, at=0.5, labels={"model": "gpt-a"})
    slo.record(True, 0.1, at=4321 * 60.0 + 1.0, labels={"model": "gpt-a"})  # one lap of the minute ring later
    slo.record(False, 0.1, at=1.0, labels={"model": "gpt-a"})
    assert slo.stats()["stale_dropped"] == 1


def test_latency_slo_counts_slow_and_failed_calls_bad() -> None:
    slo = ferrule.SLO("lat", objective=0.9, kind="latency", threshold_seconds=1.0, clock=ManualClock())
    for ok, lat in [(True, 0.5), (True, 1.5), (False, 0.1), (True, 0.9)]:
        slo.record(ok, lat)
    assert slo.stats()["bad"] == 2


def test_a_raising_callback_is_counted_and_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock()

    def broken(e: WatchEvent) -> None:
        raise RuntimeError("listener bug")

    slo = ferrule.SLO("b", objective=0.99, on_event=broken, clock=clock)
    with caplog.at_level(logging.WARNING, logger="ferrule"):
        for _ in range(3000):
            clock.advance(0.1)
            slo.record(False, 0.1)
    assert slo.callback_errors >= 1
    assert any("event callback" in r.message for r in caplog.records)
    assert any(r.levelno == logging.WARNING and "burning" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        (dict(objective=1.5), "SLO: objective=1.5 is out of range; allowed: (0, 1)"),
        (dict(window_days=0), "SLO: window_days=0 is out of range"),
        (dict(kind="latency"), "SLO: threshold_seconds=None conflicts"),
        (dict(kind="speed"), 'SLO: kind="speed" is out of range'),
        (dict(rules=[(300.0, 3600.0, 14.4, "page")]), "SLO: short_seconds=3600 is out of range"),
        (dict(rules=[(3600.0, 300.0, 14.4, "loud")]), 'SLO: severity="loud" is out of range'),
    ],
)
def test_slo_bad_configuration(kwargs: dict, needle: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ferrule.ConfigError) as ei:
        ferrule.SLO("x", **kwargs)
    assert needle in str(ei.value)
    assert isinstance(ei.value, ValueError)


@pytest.mark.parametrize("method", ["ewma", "mad"])
def test_anomaly_detector_fires_on_a_sustained_shift_not_on_outliers(method: str) -> None:
    clock = ManualClock()
    events: List[WatchEvent] = []
    d = ferrule.AnomalyDetector("latency", "latency_seconds", method=method, on_event=events.append, clock=clock)
    r = random.Random(1)
    for i in range(3600):
        clock.advance(1.0)
        d.observe(50.0 if i % 300 == 299 else 1.0 + 0.2 * (r.random() - 0.5), model="gpt", template="faq")
    assert events == []
    onset = clock.now()
    for _ in range(600):
        clock.advance(1.0)
        d.observe(1.5 + 0.2 * (r.random() - 0.5), model="gpt", template="faq")
    firing = [e for e in events if e.firing]
    assert len(firing) == 1
    assert 60 <= firing[0].at - onset <= 180
    assert firing[0].labels == {"metric": "latency_seconds", "model": "gpt", "template": "faq"}
    (s,) = d.series()
    assert s["firing"] and s["observations"] == 4200
    assert "gpt" in d._repr_html_()


def test_anomaly_series_are_capped_with_one_overflow_event() -> None:
    events: List[WatchEvent] = []
    d = ferrule.AnomalyDetector("cost", "cost_usd", max_series=10, on_event=events.append, clock=ManualClock())
    for i in range(1000):
        d.observe(1.0, model=f"m{i}", template="t")
    d.observe(float("nan"), model="m0", template="t")
    s = d.stats()
    assert (s["series"], s["overflowed"], s["non_finite"]) == (10, 991, 1)
    assert [e.name for e in events] == ["watch.series_overflow"]
    assert s["bytes_per_series"] < 512


def test_anomaly_bad_configuration() -> None:
    with pytest.raises(ferrule.ConfigError, match='method="zscore" is out of range'):
        ferrule.AnomalyDetector("x", "m", method="zscore")
    with pytest.raises(ferrule.ConfigError, match="resolve_count=16 conflicts"):
        ferrule.AnomalyDetector("x", "m", resolve_count=16)
    with pytest.raises(ferrule.ConfigError, match='direction="sideways"'):
        ferrule.AnomalyDetector("x", "m", direction="sideways")


USUAL = [
    "Your order has shipped and should arrive by Friday.",
    "The invoice for March is 120 dollars, due on Monday.",
    "To reset your password open Settings and choose Security.",
    "The refund was approved and reaches your card in five days.",
]
DRIFTED = [
    '{"status": "shipped", "eta": "friday"}',
    "As an AI language model I cannot access your account.",
    '{"invoice": "march", "amount": 120}',
]


def _texts(r: random.Random, pool: List[str], n: int) -> List[str]:
    return [f"{r.choice(pool)} (ref {r.randrange(1000)})" for _ in range(n)]


def test_drift_with_the_builtin_embedder_fires_within_200_outputs_and_manual_accept_resolves() -> None:
    events: List[WatchEvent] = []
    d = ferrule.DriftDetector("answers", baseline="manual", dim=128, on_event=events.append, clock=ManualClock())
    r = random.Random(2)
    for t in _texts(r, USUAL, 500):
        d.observe(t, tokens=20)
    assert events == []
    fired_at = None
    for i, t in enumerate(_texts(r, DRIFTED, 300)):
        if d.observe(t, tokens=12) and fired_at is None:
            fired_at = i
    assert fired_at is not None and fired_at < 200
    assert [e.state for e in events] == ["firing"]
    assert events[0].name == "drift.output" and events[0].value < 0.01
    assert [e.state for e in d.accept()] == ["resolved"]
    for t in _texts(r, DRIFTED, 300):
        d.observe(t, tokens=12)
    assert [e.state for e in events] == ["firing", "resolved"]
    s = d.stats()
    assert s["memory_bytes"] <= s["max_memory_bytes"]
    assert "manual" in d._repr_html_()


def test_drift_user_embedder_errors_are_counted_and_dimensions_checked() -> None:
    calls = []

    def embed(text: str) -> List[float]:
        calls.append(text)
        if text == "boom":
            raise RuntimeError("model down")
        return [1.0, float(len(text)), 0.5]

    d = ferrule.DriftDetector("u", embedder=embed, clock=ManualClock())
    assert d.observe("hello") == []
    assert d.observe("boom") == []
    assert d.stats()["embedder_errors"] == 1
    with pytest.raises(ferrule.ConfigError, match="3 dimensions"):
        d.observe_vector([1.0, 2.0])
    with pytest.raises(ferrule.ConfigError, match='baseline="sometimes"'):
        ferrule.DriftDetector("x", baseline="sometimes")
    with pytest.raises(TypeError):
        ferrule.DriftDetector("x", embedder="not callable")  # type: ignore[arg-type]


def _episode(p: ferrule.ErrorPredictor, clock: ManualClock, r: random.Random, degrade: bool) -> List[WatchEvent]:
    out: List[WatchEvent] = []
    for minute in range(40):
        for _ in range(60):
            clock.advance(1.0)
            if degrade and 20 <= minute < 30:
                p429, fail, remaining = 0.03 * (minute - 19), 0.0, "5"
            elif degrade and minute >= 30:
                p429, fail, remaining = 0.3, 0.4, "1"
            else:
                p429, fail, remaining = 0.0, 0.0, "80"
            x = r.random()
            outcome = "rate_limited" if x < p429 else ("error" if x < p429 + fail else "ok")
            out += p.observe(outcome, 1.0, headers={"x-ratelimit-remaining-requests": remaining, "x-ratelimit-limit-requests": "100"})
    return out


def test_error_predictor_learns_to_warn_before_failures_and_its_model_moves() -> None:
    clock = ManualClock()
    p = ferrule.ErrorPredictor("provider", clock=clock)
    r = random.Random(3)
    for i in range(30):
        _episode(p, clock, r, degrade=i % 2 == 0)
    start = clock.now()
    warn = [e for e in _episode(p, clock, r, degrade=True) if e.firing]
    assert warn and 20 <= (warn[0].at - start) / 60 < 31
    assert warn[0].name == "predict.error_rate" and warn[0].severity == "warning"
    assert p.stats()["features"]["headroom_deficit"] > 0.5
    q = ferrule.ErrorPredictor("copy", model=p.export(), clock=ManualClock())
    assert q.export() == p.export()
    with pytest.raises(ferrule.ConfigError, match="20 finite numbers"):
        q.load([1.0, 2.0])
    with pytest.raises(ferrule.ConfigError, match='outcome="teapot"'):
        q.observe("teapot", 1.0)
    with pytest.raises(ferrule.ConfigError, match="resolve_probability=0.9"):
        ferrule.ErrorPredictor("x", resolve_probability=0.9)
    assert "probability" in p._repr_html_()
