"""``ferrule.DriftDetector``: output drift against a baseline. The core embeds (hashing n-grams),
keeps the windows and runs the tests; with a user ``embedder`` this module calls it and hands the
vectors to the core."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .._ferrule import DriftCore, ManualClock, emit
from .event import Dispatch, EventCallback, WatchEvent
from .summary import table
from .synthetic import IN_PROBE as _IN_PROBE

__all__ = ["DriftDetector", "Embedder"]


Embedder = Callable[[str], Sequence[float]]


class DriftDetector:
    """Watches model outputs for drift: ``baseline_size`` outputs form the baseline, the last
    ``window_size`` the current window; every ``check_every`` outputs the centroid cosine distance
    and MMD (permutation p-value over ``permutations``) compare their vectors, and PSI their lengths
    and token counts. Drift fires after ``consecutive`` checks agree (p < ``p_value`` with distance at
    least ``min_distance``, or a PSI above ``psi_threshold`` and above chance).

    ``embedder``: a callable text -> vector (e.g. a sentence-transformers model's ``encode``); default
    the built-in hashing n-gram embedder with ``dim`` dimensions. ``baseline``: ``"fixed"`` (the
    first outputs), ``"rolling"`` (the outputs just before the window) or ``"manual"`` (only
    ``accept()`` moves it).
    """

    __slots__ = ("_core", "_dispatch", "synthetic_excluded", "_embedder", "embedder_errors", "__weakref__")

    def __init__(
        self,
        name: str,
        *,
        embedder: Optional[Embedder] = None,
        dim: int = 256,
        baseline_size: int = 200,
        window_size: int = 100,
        check_every: int = 25,
        permutations: int = 200,
        p_value: float = 0.01,
        min_distance: float = 0.01,
        psi_threshold: float = 0.25,
        psi_bins: int = 8,
        consecutive: int = 3,
        baseline: str = "fixed",
        severity: str = "warning",
        seed: int = 0xD51F7A,
        on_event: Optional[EventCallback] = None,
        clock: Optional[ManualClock] = None,
    ) -> None:
        if embedder is not None and not callable(embedder):
            raise TypeError(f"DriftDetector: embedder={embedder!r} is not callable")
        self._embedder = embedder
        self.embedder_errors = 0
        self._dispatch = Dispatch("DriftDetector", on_event)
        # Values observed inside a synthetic probe: kept out of the baseline.
        self.synthetic_excluded = 0
        self._core = DriftCore(
            name,
            dim=dim,
            baseline_size=baseline_size,
            window_size=window_size,
            check_every=check_every,
            permutations=permutations,
            p_value=p_value,
            min_distance=min_distance,
            psi_threshold=psi_threshold,
            psi_bins=psi_bins,
            consecutive=consecutive,
            baseline=baseline,
            severity=severity,
            seed=seed,
            clock=clock,
        )

    def observe(self, text: str, *, tokens: Optional[float] = None, at: Optional[float] = None) -> List[WatchEvent]:
        """Observes one output text (embedded by ``embedder`` or the built-in one); outputs inside a
        synthetic probe are skipped (counted as ``synthetic_excluded``)."""
        if _IN_PROBE.get():
            self.synthetic_excluded += 1
            return []
        if self._embedder is None:
            return self._dispatch(self._core.observe_text(text, tokens, at))
        try:
            vector = [float(x) for x in self._embedder(text)]
        except Exception as e:
            # The user's embedder failed: this output is skipped, counted and logged, the call goes on.
            self.embedder_errors += 1
            emit("drift.embedder_error", level="warning", message=f"DriftDetector {self.name!r}: embedder raised; output skipped", error=e)
            return []
        return self._dispatch(self._core.observe_vector(vector, float(len(text)), tokens, at))

    def observe_vector(
        self, vector: Sequence[float], *, length: float = float("nan"), tokens: Optional[float] = None, at: Optional[float] = None
    ) -> List[WatchEvent]:
        """Observes an output already embedded; every vector must have the first one's dimension."""
        if _IN_PROBE.get():
            self.synthetic_excluded += 1
            return []
        return self._dispatch(self._core.observe_vector([float(x) for x in vector], length, tokens, at))

    def accept(self, *, at: Optional[float] = None) -> List[WatchEvent]:
        """Makes the current window the baseline (the only way it moves with ``baseline="manual"``)."""
        return self._dispatch(self._core.accept(at))

    def on_event(self, callback: EventCallback) -> EventCallback:
        return self._dispatch.add(callback)

    @property
    def name(self) -> str:
        return self._core.name

    def stats(self) -> Dict[str, Any]:
        d = self._core.stats()
        d["embedder_errors"] = self.embedder_errors
        d["callback_errors"] = self._dispatch.errors
        d["synthetic_excluded"] = self.synthetic_excluded
        return d

    def gauges(self) -> List[Tuple[str, Dict[str, str], float]]:
        """``(name, labels, value)`` rows: exactly what a metrics scrape shows for this watcher."""
        return self._core.gauges()

    def __repr__(self) -> str:
        s = self._core.stats()
        return f"<DriftDetector {s['name']!r} baseline={s['baseline']} outputs={s['outputs']} firing={s['firing']}>"

    def _repr_html_(self) -> str:
        s = self._core.stats()
        rows: List[Sequence[Any]] = [
            ("baseline policy", s["baseline"]),
            ("embedder", "user" if self._embedder is not None else f"hashing n-grams ({s['dim']} dims)"),
            ("baseline / window outputs", f"{s['baseline_len']} / {s['window_len']}"),
            ("outputs / checks", f"{s['outputs']} / {s['checks']}"),
            ("centroid distance", s["distance"]),
            ("MMD p-value", s["p_value"]),
            ("length PSI / token PSI", f"{s['psi_length']} / {s['psi_tokens']}"),
            ("state", "DRIFT" if s["firing"] else "ok"),
            ("memory (max)", f"{s['memory_bytes']} B ({s['max_memory_bytes']} B)"),
        ]
        return table(f"DriftDetector {s['name']}", ("", "value"), rows)
