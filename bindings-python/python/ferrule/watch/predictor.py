"""``ferrule.ErrorPredictor``: the probability that the error rate passes a threshold within the
next minutes, from leading indicators, learned online in the core."""

from __future__ import annotations

import math
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from .._ferrule import ManualClock, PredictorCore
from ..errors import ConfigError
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


def _field(r: Any, key: str) -> Any:
    if isinstance(r, Mapping):
        return r.get(key)
    return getattr(r, key, None)


def _past_call(i: int, r: Any) -> Tuple[int, str, Optional[str], float, Optional[float]]:
    """One record as ``(at_nanos, outcome, error_type, latency_seconds, headroom)``."""
    t = _field(r, "time_unix_ns")
    if t is not None:
        at = int(t)
    else:
        s = _field(r, "at")
        if s is None:
            raise ConfigError(
                f"ErrorPredictor.fit: records[{i}] has no time; allowed: time_unix_ns (an inference-log"
                " record) or at (seconds)"
            )
        at = int(float(s) * 1e9)
    if at < 0:
        raise ConfigError(f"ErrorPredictor.fit: records[{i}] time={at} is out of range; allowed: >= 0")
    outcome = _field(r, "outcome")
    if not isinstance(outcome, str):
        raise ConfigError(
            f"ErrorPredictor.fit: records[{i}] outcome={outcome!r} is out of range; allowed: a string"
        )
    error_type = _field(r, "error_type")
    latency = _field(r, "latency_seconds")
    latency_f = math.nan if latency is None else float(latency)
    h = _field(r, "headroom")
    if h is None:
        rem, lim = _field(r, "ratelimit_remaining"), _field(r, "ratelimit_limit")
        if rem is not None and lim is not None and float(lim) > 0:
            h = min(max(float(rem) / float(lim), 0.0), 1.0)
    return (at, outcome, None if error_type is None else str(error_type), latency_f, None if h is None else float(h))


class ErrorPredictor:
    """Online logistic regression on leading indicators (latency trend, 429 share, rate-limit headroom,
    timeout share, error-rate level and slope), per ``interval_seconds``; it gives the probability that
    some interval within ``horizon_seconds`` has an error rate of at least ``error_rate_threshold``,
    warns when that reaches ``warn_probability`` and resolves below ``resolve_probability``. It labels
    its own past predictions as the horizon passes and learns from them; ``fit(records)`` learns
    the same way from a log of past calls (the inference log) first; ``model`` (from ``export()``)
    starts it from a previous process's model.
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

    def fit(self, records: Iterable[Any], *, epochs: int = 5) -> Dict[str, int]:
        """Learns from past calls before (or between) online updates: ``records`` from
        ``ferrule.inference_log.records(...)`` (dicts or a pandas DataFrame; ``time_unix_ns``,
        ``outcome``, ``error_type``, ``latency_seconds``) or any iterable of mappings or objects with
        ``at`` (seconds) or ``time_unix_ns``, ``outcome`` (an inference-log outcome, or ``"ok"``,
        ``"rate_limited"``, ``"429"``, ``"timeout"``, ``"error"``), and optionally ``error_type``,
        ``latency_seconds``, ``headroom`` or ``ratelimit_remaining``/``ratelimit_limit``. An error
        whose type names a rate limit counts as a 429; ``rejected`` calls never reached the provider
        and are skipped; ``fallback`` counts as an error. The calls are folded into intervals in
        time order; each interval with ``min_calls`` calls and a full horizon after it is one
        labelled example, and the model trains on them ``epochs`` times. The live intervals,
        probability and warning are untouched and no event is raised. Returns the counts:
        ``calls``, ``skipped``, ``intervals``, ``examples``, ``positives``, ``epochs``."""
        if hasattr(records, "to_dict") and hasattr(records, "columns"):
            records = records.to_dict("records")  # a pandas DataFrame
        calls = [_past_call(i, r) for i, r in enumerate(records)]
        return self._core.fit(calls, epochs)

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
