"""The event every watcher emits, and the dispatcher that hands events to the user's callbacks (and,
once alerting lands, to the alert router) without ever breaking the caller's call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional

from .. import _ferrule

__all__ = ["WatchEvent", "EventCallback"]


@dataclass(frozen=True)
class WatchEvent:
    """A condition that started (``state == "firing"``) or ended (``"resolved"``).

    ``name`` is the kind (``slo.burn_rate`` with label ``alert`` ``page`` or ``ticket``,
    ``slo.budget_exhausted``, ``anomaly.ewma``, ``anomaly.mad``, ``anomaly.seasonal``,
    ``drift.output``, ``predict.error_rate``,
    ``watch.series_overflow``); ``source`` the watcher's name; ``severity`` ``"info"``, ``"warning"``
    or ``"critical"``; ``labels`` low-cardinality labels; ``dedup_key`` the same for the firing and
    the resolved event of one condition; ``value`` what crossed ``threshold``; ``at`` the time in
    seconds on the watcher's clock."""

    name: str
    source: str
    severity: str
    state: str
    labels: Mapping[str, str] = field(default_factory=dict)
    dedup_key: str = ""
    value: float = 0.0
    threshold: float = 0.0
    message: str = ""
    at: float = 0.0

    @property
    def firing(self) -> bool:
        return self.state == "firing"


EventCallback = Callable[[WatchEvent], Any]


class Dispatch:
    """Turns the core's event dicts into ``WatchEvent``s, logs them (firing at warning, resolved at
    info) and calls the callbacks; a callback that raises is counted and logged, never re-raised."""

    __slots__ = ("callbacks", "errors", "events", "kind")

    def __init__(self, kind: str, on_event: Optional[EventCallback]) -> None:
        if on_event is not None and not callable(on_event):
            raise TypeError(f"{kind}: on_event={on_event!r} is not callable")
        self.kind = kind
        self.callbacks: List[EventCallback] = [on_event] if on_event is not None else []
        self.errors = 0
        self.events = 0

    def add(self, callback: EventCallback) -> EventCallback:
        if not callable(callback):
            raise TypeError(f"{self.kind}.on_event: {callback!r} is not callable")
        self.callbacks.append(callback)
        return callback

    def __call__(self, raw: Optional[List[Dict[str, Any]]]) -> List[WatchEvent]:
        if raw is None:
            return []
        out = [WatchEvent(**d) for d in raw]
        for e in out:
            self.events += 1
            # Through the core's logger (masked, deduplicated) to the configured sink.
            _ferrule.emit(
                e.name,
                level="warning" if e.firing else "info",
                message=e.message,
                state=e.state,
                severity=e.severity,
                dedup_key=e.dedup_key,
            )
            for cb in self.callbacks:
                try:
                    cb(e)
                except Exception as exc:
                    # A broken callback must not break the call that fed the watcher.
                    self.errors += 1
                    _ferrule.emit(
                        "watch.callback_error",
                        level="warning",
                        message=f"{self.kind}: event callback {cb!r} raised",
                        error=exc,
                    )
        return out
