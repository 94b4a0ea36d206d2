"""``ferrule.DeadMansSwitch``: silence is a failure too. If no ``beat()`` arrives within
``within_seconds``, an alert fires (to the installed router / ``on_alert``); the next beat resolves
it. The check runs on the core's background runtime; a policy can beat on every success."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from ._ferrule import DeadMansSwitchCore, ManualClock
from .watch.summary import table

__all__ = ["DeadMansSwitch"]


class DeadMansSwitch:
    """``DeadMansSwitch("nightly-batch", within_seconds=3600)``; call ``.beat()`` on every sign of
    life, or ``switch.watch(policy)`` / ``Policy(heartbeat=switch)`` so each successful call beats.
    ``severity`` is one of ``info``, ``warning``, ``critical``, ``page``."""

    __slots__ = ("_core", "beat", "__weakref__")

    def __init__(
        self,
        name: str,
        within_seconds: float,
        severity: str = "critical",
        *,
        clock: Optional[ManualClock] = None,
    ) -> None:
        self._core = DeadMansSwitchCore(name, within_seconds, severity, clock)
        # The hot path is the core method itself: one call, two atomics.
        self.beat = self._core.beat

    def watch(self, policy: Any) -> Any:
        """Makes every successful call through ``policy`` beat this switch; returns the policy."""
        core = getattr(policy, "_core", None)
        if core is None or not hasattr(core, "beat_on_success"):
            raise TypeError(f"DeadMansSwitch.watch: {policy!r} is not a ferrule.Policy")
        if not core.beat_on_success(self._core):
            from .errors import ConfigError

            raise ConfigError(f"DeadMansSwitch.watch: policy {policy.name!r} already beats a switch")
        return policy

    def check(self, *, at: Optional[float] = None) -> List[Dict[str, Any]]:
        """Checks for silence now (the runtime does this every 100 ms); returns the events caused."""
        return self._core.tick(at) or []

    @property
    def name(self) -> str:
        return self._core.name

    @property
    def within_seconds(self) -> float:
        return self._core.within_seconds

    @property
    def severity(self) -> str:
        return self._core.severity

    @property
    def firing(self) -> bool:
        return self._core.firing

    @property
    def beats(self) -> int:
        return self._core.beats

    @property
    def dedup_key(self) -> str:
        return self._core.dedup_key

    def silent_seconds(self) -> float:
        return self._core.silent_seconds()

    def gauges(self) -> List[Tuple[str, Dict[str, str], float]]:
        """``(name, labels, value)`` rows: exactly what a metrics scrape shows for this one."""
        return self._core.gauges()

    def stats(self) -> Dict[str, Any]:
        c = self._core
        return {
            "name": c.name,
            "within_seconds": c.within_seconds,
            "severity": c.severity,
            "firing": c.firing,
            "beats": c.beats,
            "times_fired": c.times_fired,
            "silent_seconds": c.silent_seconds(),
        }

    def __repr__(self) -> str:
        c = self._core
        return f"<DeadMansSwitch {c.name!r} within={c.within_seconds}s firing={c.firing} beats={c.beats}>"

    def _repr_html_(self) -> str:
        rows: List[Sequence[Any]] = list(self.stats().items())
        return table(f"DeadMansSwitch {self.name}", ("", "value"), rows)
