"""``ferrule.observe()``: one line that puts every LLM call the integrations see under watch. The
watchers live in the core and are fed by each call record (see ``docs/call-record.md``):

=====================  ==========================================  ==================================
watcher                default                                     change / turn off
=====================  ==========================================  ==================================
SLO per model          availability, objective 99%, 30 days,       ``slo_objective=0.995`` / ``None``
                       multi-window burn-rate pages and tickets
anomaly per (model,    EWMA on latency, output tokens and cost;    ``anomaly_threshold``,
template)              fires when half of the last 16 are beyond   ``anomaly_warm_up``,
                       3 sigma for 30 s                            ``anomaly_min_duration_seconds`` /
                                                                   ``anomaly=False``
drift per template     one answer in 10 embedded (hashing, 64      ``drift_sample_every``,
                       dims); MMD + PSI against the template's     ``drift_max_templates`` /
                       first 100 sampled answers, windows of 50    ``drift=False``
error predictor per    logistic model on 60 s intervals, warns     ``predictor=False``
provider               at p >= 0.7 of an error-rate spike
upstream outage per    pages when >= 50% of >= 20 calls in 60 s    ``outage_error_rate``,
provider               fail for 30 s; resolves below 25%           ``outage_min_calls``,
                                                                   ``outage_window_seconds``,
                                                                   ``outage_for_seconds``,
                                                                   ``outage_severity`` / ``None``
dead-letter backlog    warns when a queue holds > 100 items or     ``dead_letter_max_depth``,
                       its oldest is > 1 h old                     ``dead_letter_max_age_seconds`` /
                                                                   ``None``
=====================  ==========================================  ==================================

Alerts go to the installed ``AlertRouter`` (``ferrule.on_alert`` callbacks, webhooks,
Alertmanager); with none installed, each is logged at warning level through the core's logger."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, List, Optional

from . import _ferrule

if TYPE_CHECKING:
    from .dead_letter import DeadLetterQueue

__all__ = ["check_observed", "observe", "observing"]

# Every dead-letter queue made in this process, so observe() watches those made before it too.
_QUEUES: "weakref.WeakSet[DeadLetterQueue]" = weakref.WeakSet()


def _queue_made(q: "DeadLetterQueue") -> None:
    _QUEUES.add(q)
    _ferrule.observe_dead_letters(q.name, q._core)  # a no-op until observe() is on


def observe(
    *,
    enabled: bool = True,
    slo_objective: Optional[float] = 0.99,
    anomaly: bool = True,
    anomaly_threshold: Optional[float] = None,
    anomaly_warm_up: Optional[int] = None,
    anomaly_min_duration_seconds: Optional[float] = None,
    drift: bool = True,
    drift_sample_every: int = 10,
    drift_max_templates: int = 50,
    predictor: bool = True,
    outage_error_rate: Optional[float] = 0.5,
    outage_min_calls: int = 20,
    outage_window_seconds: float = 60.0,
    outage_for_seconds: float = 30.0,
    outage_severity: str = "page",
    dead_letter_max_depth: Optional[int] = 100,
    dead_letter_max_age_seconds: float = 3600.0,
    max_series: int = 200,
    clock: Any = None,
) -> None:
    """Turns the call-record watchers on (again: replaces them); ``enabled=False`` turns them off.
    Raises ``ConfigError`` naming a parameter out of range."""
    _ferrule.observe(
        enabled=enabled,
        slo_objective=slo_objective,
        anomaly=anomaly,
        anomaly_threshold=anomaly_threshold,
        anomaly_warm_up=anomaly_warm_up,
        anomaly_min_duration_seconds=anomaly_min_duration_seconds,
        drift=drift,
        drift_sample_every=drift_sample_every,
        drift_max_templates=drift_max_templates,
        predictor=predictor,
        outage_error_rate=outage_error_rate,
        outage_min_calls=outage_min_calls,
        outage_window_seconds=outage_window_seconds,
        outage_for_seconds=outage_for_seconds,
        outage_severity=outage_severity,
        dead_letter_max_depth=dead_letter_max_depth,
        dead_letter_max_age_seconds=dead_letter_max_age_seconds,
        max_series=max_series,
        clock=clock,
    )
    if enabled:
        for q in list(_QUEUES):
            _ferrule.observe_dead_letters(q.name, q._core)


def observing() -> bool:
    """Whether ``observe()`` is on."""
    return _ferrule.observing()


def check_observed() -> List[Any]:
    """Runs the periodic checks (dead-letter backlog, predictor intervals) now; the background
    runtime runs them every 100 ms. Returns the events (as dicts)."""
    return _ferrule.observe_check() or []
