"""``ferrule.SLO``: an objective over the calls ferrule sees, its error budget and burn-rate alerts.
The core keeps the per-minute buckets and decides; this module selects calls, dispatches events and
runs the budget policy hook."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .._ferrule import ManualClock, SloCore, emit
from .event import Dispatch, EventCallback, WatchEvent
from .summary import table
from .synthetic import IN_PROBE as _IN_PROBE

__all__ = ["SLO", "BurnRule"]


# (long_seconds, short_seconds, factor, severity)
BurnRule = Tuple[float, float, float, str]
Selector = Union[Mapping[str, str], Callable[[Mapping[str, str]], bool], None]
BudgetHook = Callable[[bool, WatchEvent], Any]


class SLO:
    """A service level objective: ``objective`` of the calls over ``window_days`` are good.

    ``kind="availability"``: a call is good when it succeeded; ``kind="latency"``: when it succeeded
    within ``threshold_seconds``. Synthetic probes (``synthetic=True``) are excluded. ``selector``
    (labels that must match, or a predicate on the labels) picks the calls this SLO counts.

    Alerts follow the Google SRE Workbook: ``rules`` of ``(long_seconds, short_seconds, factor,
    severity)``, default 14.4x over 1 h and 5 min (page), 6x over 6 h and 30 min (page), 1x over 3 d
    and 6 h (ticket); a rule is armed once its short window has been watched. Rules of severity
    ``critical``/``page`` raise one ``slo.burn_rate`` event labelled ``alert="page"``, the others one
    labelled ``alert="ticket"``: each fires once per episode and resolves once, when none of its
    rules holds at ``factor * resolve_ratio``. ``fast_burn`` adds a sequential test of a
    ``fast_burn_factor`` burn against ``fast_burn_baseline_factor`` (6x, the lowest page rule) that
    pages a 14.4x burn within minutes and never a burn below 6x.

    The budget is measured over the SLO window; a process younger than the window extrapolates its
    traffic to a whole window (``stats()["budget_basis"]`` says ``"extrapolated"`` or ``"window"``).
    ``on_budget(exhausted, event)`` runs when the budget is exhausted and when it recovers to
    ``budget_recover``: switch to a conservative model, freeze risky features.
    ``prometheus_rules()`` renders the same rules for a fleet's Prometheus.
    """

    __slots__ = ("_core", "_dispatch", "_select", "_budget_hooks", "ignored", "__weakref__")

    def __init__(
        self,
        name: str,
        objective: float = 0.999,
        window_days: int = 30,
        kind: str = "availability",
        threshold_seconds: Optional[float] = None,
        selector: Selector = None,
        *,
        rules: Optional[Sequence[BurnRule]] = None,
        min_calls: int = 10,
        confidence_sigmas: float = 0.0,
        fast_burn: bool = True,
        fast_burn_factor: float = 14.4,
        fast_burn_baseline_factor: float = 6.0,
        fast_burn_threshold: float = 12.0,
        budget_recover: float = 0.05,
        resolve_ratio: float = 0.5,
        on_event: Optional[EventCallback] = None,
        on_budget: Optional[BudgetHook] = None,
        clock: Optional[ManualClock] = None,
    ) -> None:
        self._dispatch = Dispatch("SLO", on_event)
        self._budget_hooks: List[BudgetHook] = []
        if on_budget is not None:
            self.on_budget(on_budget)
        if selector is None:
            self._select: Optional[Callable[[Mapping[str, str]], bool]] = None
        elif callable(selector):
            self._select = selector
        elif isinstance(selector, Mapping):
            want = dict(selector)
            self._select = lambda labels: all(labels.get(k) == v for k, v in want.items())
        else:
            raise TypeError(f"SLO: selector={selector!r} is not allowed; allowed: a mapping of labels or a predicate")
        self.ignored = 0
        self._core = SloCore(
            name,
            objective=objective,
            window_days=window_days,
            kind=kind,
            threshold_seconds=threshold_seconds,
            rules=None if rules is None else [(float(a), float(b), float(c), str(d)) for a, b, c, d in rules],
            min_calls=min_calls,
            confidence_sigmas=confidence_sigmas,
            fast_burn=fast_burn,
            fast_burn_factor=fast_burn_factor,
            fast_burn_baseline_factor=fast_burn_baseline_factor,
            fast_burn_threshold=fast_burn_threshold,
            budget_recover=budget_recover,
            resolve_ratio=resolve_ratio,
            clock=clock,
        )

    def record(
        self,
        ok: bool,
        latency_seconds: float = float("nan"),
        synthetic: bool = False,
        *,
        at: Optional[float] = None,
        labels: Optional[Mapping[str, str]] = None,
    ) -> List[WatchEvent]:
        """Counts one finished call; returns (and dispatches) the events it caused."""
        if self._select is not None and not self._select(labels or {}):
            self.ignored += 1
            return []
        # Calls made inside a synthetic probe are synthetic whatever the caller said.
        raw = self._core.record(ok, latency_seconds, synthetic or _IN_PROBE.get(), at)
        if raw is None:
            return []
        return self._handle(raw)

    def evaluate(self, *, at: Optional[float] = None) -> List[WatchEvent]:
        """Judges the rules and the budget now (done on the first call of every 10 seconds anyway);
        call it from a timer so a quiet service's alerts can resolve."""
        return self._handle(self._core.evaluate(at))

    def _handle(self, raw: Optional[List[Dict[str, Any]]]) -> List[WatchEvent]:
        events = self._dispatch(raw)
        for e in events:
            if e.name == "slo.budget_exhausted":
                for hook in self._budget_hooks:
                    try:
                        hook(e.firing, e)
                    except Exception as exc:
                        self._dispatch.errors += 1
                        emit("slo.hook_error", level="warning", message=f"SLO {self.name!r}: budget hook {hook!r} raised", error=exc)
        return events

    def on_event(self, callback: EventCallback) -> EventCallback:
        """Registers ``callback(event)``; usable as a decorator."""
        return self._dispatch.add(callback)

    def on_budget(self, hook: BudgetHook) -> BudgetHook:
        """Registers ``hook(exhausted, event)``, the budget policy; usable as a decorator."""
        if not callable(hook):
            raise TypeError(f"SLO.on_budget: {hook!r} is not callable")
        self._budget_hooks.append(hook)
        return hook

    def burn_rate(self, window_seconds: float, *, at: Optional[float] = None) -> float:
        """How many times faster than sustainable the budget burned over the last ``window_seconds``."""
        return self._core.burn_rate(window_seconds, at)

    def budget_remaining(self, *, at: Optional[float] = None) -> float:
        """The fraction of the error budget left over the SLO window (negative when overspent)."""
        return self._core.budget_remaining(at)

    @property
    def name(self) -> str:
        return self._core.name

    @property
    def objective(self) -> float:
        return self._core.objective

    def prometheus_rules(self) -> str:
        """The same SLO as Prometheus recording and alerting rules (YAML text): the fleet's error ratio
        per window from every replica's ``ferrule_slo_calls_total`` / ``ferrule_slo_bad_calls_total``,
        and one page and one ticket alert (``FerruleSLOBurnRate``) on the multi-window rules."""
        return self._core.prometheus_rules()

    @property
    def callback_errors(self) -> int:
        return self._dispatch.errors

    def stats(self) -> Dict[str, Any]:
        d = self._core.stats()
        d["ignored_by_selector"] = self.ignored
        d["callback_errors"] = self._dispatch.errors
        return d

    def gauges(self) -> List[Tuple[str, Dict[str, str], float]]:
        """``(name, labels, value)`` rows: exactly what a metrics scrape shows for this watcher."""
        return self._core.gauges()

    def __repr__(self) -> str:
        s = self._core.stats()
        return f"<SLO {s['name']!r} objective={s['objective']} budget_remaining={s['budget_remaining']:.3f} calls={s['total']}>"

    def _repr_html_(self) -> str:
        s = self._core.stats()
        rows: List[Sequence[Any]] = [
            ("objective", s["objective"]),
            ("calls (synthetic excluded)", f"{s['total']} ({s['synthetic_excluded']})"),
            ("bad calls", s["bad"]),
            ("error budget remaining", f"{s['budget_remaining'] * 100:.1f}% ({s['budget_basis']})"),
            ("budget exhausted", s["budget_exhausted"]),
        ]
        rows += [
            (f"burn {r['window']}", f"{r['long_burn_rate']:.2f}x / {r['short_burn_rate']:.2f}x" + (" FIRING" if r["firing"] else ""))
            for r in s["rules"]
        ]
        return table(f"SLO {s['name']}", ("", "value"), rows)
