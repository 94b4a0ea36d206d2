"""``ferrule.AnomalyDetector``: streaming anomaly detection on one metric, one series per (model,
prompt template). The core scores, judges and caps the series; this module dispatches events."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from .._ferrule import AnomalyCore, ManualClock
from .event import Dispatch, EventCallback, WatchEvent
from .summary import table
from .synthetic import IN_PROBE as _IN_PROBE

__all__ = ["AnomalyDetector"]


class AnomalyDetector:
    """Watches ``metric`` (latency, cost, tokens, output length...) per (model, template) series.

    ``method="ewma"``: an EWMA control chart against a baseline that forgets over
    ``baseline_seconds`` (``smoothing`` weighs the newest value; scores in chart standard
    deviations, default threshold 3). ``method="mad"``: the median of the last ``recent`` values
    against a median/MAD baseline of ``window`` values sampled at most every ``sample_seconds``
    (robust z, default threshold 3.5). ``method="seasonal"``, for operations series sampled
    minutes apart: a robust score against a short view (``window`` values) and a long one (one value
    per 30 minutes), the milder of the two, and the same time of day once learned; averaged over 6
    values it fires above the threshold (default 4, direction ``"both"``) when it beats 80% of the
    largest recent average, and a lone value 30 spreads out fires alone; an episode resolves after
    12 quiet values and an hour (see docs/detection.md). Nothing is judged before ``warm_up`` values. A series fires
    when ``fire_count`` of its last ``hysteresis_window`` scores pass the threshold (``direction``:
    ``"up"``, ``"down"``, ``"both"``) in an episode at least ``min_duration_seconds`` old, and
    resolves when at most ``resolve_count`` do. Unset parameters take the method's defaults
    (ewma/mad: warm-up 30, window 64, 16 of 32 for at least 60 s to fire, 4 to resolve). At most ``max_series`` series; later ones share
    ``other`` (counted, and reported once as a ``watch.series_overflow`` event).
    """

    __slots__ = ("_core", "_dispatch", "synthetic_excluded", "__weakref__")

    def __init__(
        self,
        name: str,
        metric: str,
        *,
        method: str = "ewma",
        direction: Optional[str] = None,
        threshold: Optional[float] = None,
        warm_up: Optional[int] = None,
        baseline_seconds: float = 1800.0,
        smoothing: float = 0.25,
        clip_sigmas: float = 4.0,
        window: Optional[int] = None,
        sample_seconds: float = 30.0,
        recent: int = 7,
        hysteresis_window: Optional[int] = None,
        fire_count: Optional[int] = None,
        resolve_count: Optional[int] = None,
        min_duration_seconds: Optional[float] = None,
        severity: str = "warning",
        max_series: int = 1000,
        on_event: Optional[EventCallback] = None,
        clock: Optional[ManualClock] = None,
    ) -> None:
        self._dispatch = Dispatch("AnomalyDetector", on_event)
        # Values observed inside a synthetic probe: kept out of the baseline.
        self.synthetic_excluded = 0
        self._core = AnomalyCore(
            name,
            metric,
            method=method,
            direction=direction,
            threshold=threshold,
            warm_up=warm_up,
            baseline_seconds=baseline_seconds,
            smoothing=smoothing,
            clip_sigmas=clip_sigmas,
            window=window,
            sample_seconds=sample_seconds,
            recent=recent,
            hysteresis_window=hysteresis_window,
            fire_count=fire_count,
            resolve_count=resolve_count,
            min_duration_seconds=min_duration_seconds,
            severity=severity,
            max_series=max_series,
            clock=clock,
        )

    def observe(self, value: float, *, model: str = "", template: str = "", at: Optional[float] = None) -> List[WatchEvent]:
        """Scores one value of the (model, template) series; returns the events it caused. Values
        observed inside a synthetic probe are skipped (counted as ``synthetic_excluded``)."""
        if _IN_PROBE.get():
            self.synthetic_excluded += 1
            return []
        raw = self._core.observe(value, model, template, at)
        if raw is None:
            return []
        return self._dispatch(raw)

    def on_event(self, callback: EventCallback) -> EventCallback:
        return self._dispatch.add(callback)

    @property
    def name(self) -> str:
        return self._core.name

    @property
    def metric(self) -> str:
        return self._core.metric

    @property
    def callback_errors(self) -> int:
        return self._dispatch.errors

    def series(self) -> List[Dict[str, Any]]:
        """Per series: model, template, baseline, spread, latest score, firing, counts."""
        return self._core.series()

    def stats(self) -> Dict[str, Any]:
        d = self._core.stats()
        d["callback_errors"] = self._dispatch.errors
        d["synthetic_excluded"] = self.synthetic_excluded
        return d

    def gauges(self) -> List[Tuple[str, Dict[str, str], float]]:
        """``(name, labels, value)`` rows: exactly what a metrics scrape shows for this watcher."""
        return self._core.gauges()

    def reset(self) -> None:
        self._core.reset()

    def __repr__(self) -> str:
        s = self._core.stats()
        return f"<AnomalyDetector {s['name']!r} {s['metric']} method={s['method']} series={s['series']}>"

    def _repr_html_(self) -> str:
        s = self._core.stats()
        rows: List[Sequence[Any]] = [
            (r["model"], r["template"], r["baseline"], r["spread"], r["score"], "FIRING" if r["firing"] else "ok", r["observations"])
            for r in self._core.series()
        ]
        return table(
            f"AnomalyDetector {s['name']} ({s['metric']}, {s['method']}, threshold {self._core.threshold}; "
            f"{s['series']}/{s['max_series']} series, {s['bytes_per_series']} B each)",
            ("model", "template", "baseline", "spread", "score", "state", "values"),
            rows,
        )
