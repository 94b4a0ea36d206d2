"""Per-call cost of feeding the watchers from Python, side by side with the obvious hand-rolled
alternative (a pure-Python EWMA z-score and a per-minute error counter), same process."""

from __future__ import annotations

import math
from typing import Dict, List, Tuple

from timing import ns_per_call, table

import ferrule


class PyEwma:
    """What a user writes instead: EWMA mean/variance and a z-score, no warm-up or hysteresis."""

    def __init__(self, alpha: float = 0.02) -> None:
        self.alpha, self.mean, self.var, self.n = alpha, 0.0, 0.0, 0

    def observe(self, x: float) -> bool:
        self.n += 1
        d = x - self.mean
        z = d / math.sqrt(self.var) if self.var > 0 else 0.0
        self.mean += self.alpha * d
        self.var = (1 - self.alpha) * (self.var + self.alpha * d * d)
        return self.n > 30 and z > 3.0


class PyMinuteCounter:
    """Per-minute good/bad counts in a dict, the start of a hand-rolled SLO."""

    def __init__(self) -> None:
        self.buckets: Dict[int, List[int]] = {}
        self.t = 0.0

    def record(self, ok: bool) -> None:
        self.t += 0.01
        b = self.buckets.setdefault(int(self.t // 60), [0, 0])
        b[0] += 1
        b[1] += not ok


def main() -> None:
    slo = ferrule.SLO("bench", objective=0.999)
    ewma = ferrule.AnomalyDetector("lat", "latency_seconds", method="ewma")
    mad = ferrule.AnomalyDetector("lat", "latency_seconds", method="mad")
    pred = ferrule.ErrorPredictor("p")
    py_ewma = PyEwma()
    py_slo = PyMinuteCounter()
    vals = [0.8, 1.1, 0.9, 1.3, 1.0, 0.7, 1.2, 0.95]
    i = [0]

    def nxt() -> float:
        i[0] = (i[0] + 1) & 7
        return vals[i[0]]

    rows: List[Tuple[str, float]] = [
        ("python: EWMA z-score (hand-rolled)", ns_per_call(lambda: py_ewma.observe(nxt()))),
        ("ferrule AnomalyDetector(ewma).observe", ns_per_call(lambda: ewma.observe(nxt(), model="m", template="t"))),
        ("ferrule AnomalyDetector(mad).observe", ns_per_call(lambda: mad.observe(nxt(), model="m", template="t"))),
        ("python: per-minute counter (hand-rolled)", ns_per_call(lambda: py_slo.record(True))),
        ("ferrule SLO.record", ns_per_call(lambda: slo.record(True, 0.8))),
        ("ferrule ErrorPredictor.observe", ns_per_call(lambda: pred.observe("ok", 0.8))),
    ]
    table("watchers: cost of feeding one call", rows, against="python: EWMA z-score (hand-rolled)")


if __name__ == "__main__":
    main()
