"""``ferrule.ErrorPredictor``: the probability that the error rate passes a threshold within the
next minutes, from leading indicators, learned online in the core."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .._ferrule import ManualClock, PredictorCore
from .event import Dispatch, EventCallback, WatchEvent
from .summary import table
from .synthetic import IN_PROBE as _IN_PROBE

__all__ = ["ErrorPredictor"]


def _header(headers: Mapping[str, str], prefix: str) -> Optional[float]:
    # `x-ratelimit-remaining-requests` / `-tokens`: the scarcer of the two is the headroom that matters,
    # so take the requests one when present, else tokens.
    for suffix in ("requests", "tokens"):
        v = headers.get(f"{prefix}-{suffix}")
        if v is not None:
            try:
                return float(v)
            except ValueError:
                return None
    return None


class ErrorPredictor:
    """Online logistic regression on leading indicators (latency trend, 429 share, rate-limit headroom,
    timeout share, error-rate level and slope), per ``interval_seconds``; it gives the probability that
    some interval within ``horizon_seconds`` has an error rate of at least ``error_rate_threshold``,
    warns when that reaches ``warn_probability`` and resolves below ``resolve_probability``. It labels
    its own past predictions as the horizon passes and learns from them; ``model`` (from
    ``export()``) starts it from a previous process's model.
    """

    __slots__ = ("_core", "_dispatch", "synthetic_excluded", "__weakref__")

    def __init__(
        self,
        name: str,
        *,
        interval_seconds: float = 60.0,
        horizon_seconds: float = 300.0,
        error_rate_threshold: float = 0.25,
        warn_probability: float = 0.7,
        resolve_probability: float = 0.3,
        min_calls: int = 5,
        learning_rate: float = 0.05,
        l2: float = 1e-4,
        positive_weight: float = 3.0,
        prior: float = 0.01,
        severity: str = "warning",
        model: Optional[Sequence[float]] = None,
        on_event: Optional[EventCallback] = None,
        clock: Optional[ManualClock] = None,
    ) -> None:
        self._dispatch = Dispatch("ErrorPredictor", on_event)
        # Values observed inside a synthetic probe: kept out of the baseline.
        self.synthetic_excluded = 0
        self._core = PredictorCore(
            name,
            interval_seconds=interval_seconds,
            horizon_seconds=horizon_seconds,
            error_rate_threshold=error_rate_threshold,
            warn_probability=warn_probability,
            resolve_probability=resolve_probability,
            min_calls=min_calls,
            learning_rate=learning_rate,
            l2=l2,
            positive_weight=positive_weight,
            prior=prior,
            severity=severity,
            model=None if model is None else [float(x) for x in model],
            clock=clock,
        )

    def observe(
        self,
        outcome: str = "ok",
        latency_seconds: float = float("nan"),
        *,
        ratelimit_remaining: Optional[float] = None,
        ratelimit_limit: Optional[float] = None,
        headers: Optional[Mapping[str, str]] = None,
        at: Optional[float] = None,
    ) -> List[WatchEvent]:
        """Records one finished call. ``outcome``: ``"ok"``, ``"rate_limited"`` (or ``"429"``),
        ``"timeout"``, ``"error"``. Rate-limit headroom comes from ``ratelimit_remaining`` /
        ``ratelimit_limit`` or from the response ``headers`` (``x-ratelimit-remaining-*``,
        ``x-ratelimit-limit-*``, lower-case names). Calls inside a synthetic probe are skipped
        (counted as ``synthetic_excluded``)."""
        if _IN_PROBE.get():
            self.synthetic_excluded += 1
            return []
        if headers is not None and ratelimit_remaining is None:
            ratelimit_remaining = _header(headers, "x-ratelimit-remaining")
            ratelimit_limit = _header(headers, "x-ratelimit-limit")
        raw = self._core.observe(outcome, latency_seconds, ratelimit_remaining, ratelimit_limit, at)
        if raw is None:
            return []
        return self._dispatch(raw)

    def tick(self, *, at: Optional[float] = None) -> List[WatchEvent]:
        """Closes the intervals that ended (call from a timer when traffic may stop)."""
        return self._dispatch(self._core.tick(at))

    def on_event(self, callback: EventCallback) -> EventCallback:
        return self._dispatch.add(callback)

    @property
    def name(self) -> str:
        return self._core.name

    @property
    def probability(self) -> Optional[float]:
        """The latest probability, or None before the first judged interval."""
        return self._core.probability

    def export(self) -> List[float]:
        """The trained model (weights, bias, feature scaling), for ``model=`` or ``load()``."""
        return self._core.export()

    def load(self, model: Sequence[float]) -> None:
        self._core.load([float(x) for x in model])

    def stats(self) -> Dict[str, Any]:
        d = self._core.stats()
        d["callback_errors"] = self._dispatch.errors
        d["synthetic_excluded"] = self.synthetic_excluded
        return d

    def gauges(self) -> List[Tuple[str, Dict[str, str], float]]:
        """``(name, labels, value)`` rows: exactly what a metrics scrape shows for this watcher."""
        return self._core.gauges()

    def __repr__(self) -> str:
        return f"<ErrorPredictor {self.name!r} probability={self._core.probability}>"

    def _repr_html_(self) -> str:
        s = self._core.stats()
        rows: List[Sequence[Any]] = [
            ("probability", s["probability"]),
            ("state", "WARNING" if s["warning"] else "ok"),
            ("intervals / examples / positives", f"{s['intervals']} / {s['examples']} / {s['positives']}"),
        ]
        rows += [(f"feature {k}", v) for k, v in s["features"].items()]
        return table(f"ErrorPredictor {s['name']}", ("", "value"), rows)
