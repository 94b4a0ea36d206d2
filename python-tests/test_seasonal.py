"""The seasonal anomaly detector from Python on a manual clock, on a series sampled every five
minutes: five days of a noisy daily cycle raise nothing, a jump far beyond it fires once and the
episode resolves at least an hour after it fired; unset hysteresis parameters take the method's defaults."""

from __future__ import annotations

import math
import random
from typing import List

import ferrule
from ferrule import WatchEvent
from ferrule.testing import ManualClock

STEP = 300.0  # five minutes


def value(i: int, rng: random.Random) -> float:
    return 50.0 + 30.0 * math.sin(i / 288 * 2 * math.pi) + rng.uniform(-1.0, 1.0)


def test_a_daily_cycle_is_quiet_and_a_jump_fires_once_then_resolves_after_an_hour() -> None:
    clock = ManualClock()
    det = ferrule.AnomalyDetector("cpu", "cpu_percent", method="seasonal", clock=clock)
    rng = random.Random(5)
    events: List[WatchEvent] = []
    for i in range(288 * 5):
        clock.advance(STEP)
        events += det.observe(value(i, rng), model="host", template="a")
    assert events == []
    start = clock.now()
    for i in range(288 * 5, 288 * 5 + 24):  # two hours far above the cycle, in either direction
        clock.advance(STEP)
        events += det.observe(value(i, rng) + 200.0, model="host", template="a")
    end = clock.now()
    for i in range(288 * 5 + 24, 288 * 6):
        clock.advance(STEP)
        events += det.observe(value(i, rng), model="host", template="a")
    states = [(e.name, e.state) for e in events]
    assert states == [("anomaly.seasonal", "firing"), ("anomaly.seasonal", "resolved")], states
    assert events[0].at - start <= 3600
    # The hysteresis holds the episode at least an hour past its last anomalous value. The
    # time-of-day profile learns from every sampled value, so two hours at the same level start to
    # look like that hour's norm before they end: the resolve comes within the hour after the end.
    assert events[1].at - events[0].at >= 3600, "resolves only after an hour without an anomalous value"
    assert events[1].at - end <= 3600


def test_ewma_and_mad_keep_their_defaults_when_hysteresis_is_unset() -> None:
    # The documented ewma/mad defaults: an episode needs 16 of 32 anomalous scores for 60 s.
    clock = ManualClock()
    det = ferrule.AnomalyDetector("lat", "latency_seconds", method="ewma", clock=clock)
    fired = []
    for i in range(200):
        clock.advance(1.0)
        fired += det.observe(1.0 + 0.01 * (i % 3), model="m", template="t")
    for _ in range(15):
        clock.advance(1.0)
        fired += det.observe(50.0, model="m", template="t")
    assert fired == [], "15 anomalous scores are below fire_count=16"
    for _ in range(90):
        clock.advance(1.0)
        fired += det.observe(50.0, model="m", template="t")
    assert [e.state for e in fired] == ["firing"]
