"""``ferrule.SyntheticProbe``: runs a probe function on a schedule (a host thread for ``def``, the
running event loop for ``async def``), never overlapping itself. Everything the probe's function
calls is synthetic traffic (``ferrule.in_probe()``): it stays out of SLOs and the other watchers'
baselines, a ``Policy`` counts it in ``ferrule_synthetic_calls_total`` instead of
``ferrule_calls_total`` and the LLM wrappers keep it out of the GenAI metrics (see
``ferrule.watch.synthetic``); the probe's own results are its ``ferrule_probe_*`` families. Results
feed a dead man's switch and alert after consecutive failures. The schedule and judgement are the
core's."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import threading
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence, Tuple, Union

from ._ferrule import ManualClock, SyntheticProbeCore
from .dead_mans_switch import DeadMansSwitch
from .watch.summary import table
from .watch import synthetic as _marker
from .watch.synthetic import in_probe
from ._log import warn

__all__ = ["SyntheticProbe", "in_probe"]



ProbeFn = Callable[[], Union[Any, Awaitable[Any]]]


class SyntheticProbe:
    """``SyntheticProbe("chat", fn, every_seconds=60, timeout_seconds=10, expect=lambda r: ...)``.

    ``fn`` takes no argument; ``expect(result)`` returning falsy counts as a failure (as does an
    exception or running past ``timeout_seconds``). ``jitter`` spreads runs by ``± jitter *
    every_seconds``. After ``failures_to_alert`` consecutive failures a ``probe.failed`` alert fires
    (``severity``); the next success resolves it. ``deadman``: a ``DeadMansSwitch`` beaten on each
    success. ``start=True`` starts the schedule at once (an ``async def`` needs a running loop, or
    call ``await probe.run_forever()``)."""

    __slots__ = ("_core", "_fn", "_expect", "_async", "_clock", "_stop", "_thread", "_task", "_stuck", "__weakref__")

    def __init__(
        self,
        name: str,
        fn: ProbeFn,
        every_seconds: float,
        timeout_seconds: float,
        expect: Optional[Callable[[Any], Any]] = None,
        jitter: float = 0.1,
        *,
        failures_to_alert: int = 2,
        severity: str = "critical",
        deadman: Optional[DeadMansSwitch] = None,
        seed: Optional[int] = None,
        start: bool = True,
        clock: Optional[ManualClock] = None,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"SyntheticProbe: fn={fn!r} is not callable")
        if expect is not None and not callable(expect):
            raise TypeError(f"SyntheticProbe: expect={expect!r} is not callable")
        if deadman is not None and not isinstance(deadman, DeadMansSwitch):
            raise TypeError(f"SyntheticProbe: deadman={deadman!r} is not a ferrule.DeadMansSwitch")
        self._core = SyntheticProbeCore(
            name,
            every_seconds,
            timeout_seconds,
            jitter=jitter,
            failures_to_alert=failures_to_alert,
            severity=severity,
            seed=seed,
            deadman=deadman._core if deadman is not None else None,
            clock=clock,
        )
        self._fn = fn
        self._expect = expect
        self._async = inspect.iscoroutinefunction(fn)
        self._clock = clock
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._task: Optional["asyncio.Task[None]"] = None
        self._stuck: Optional[threading.Thread] = None
        if start and clock is None:
            self.start()

    # -- judging one result -------------------------------------------------------------------

    def _judge(self, result: Any) -> tuple[str, str]:
        if self._expect is None:
            return "ok", ""
        try:
            ok = self._expect(result)
        except Exception as e:  # the expectation itself failed: a probe failure, not a crash
            return "failed", f"expect raised {type(e).__name__}: {e}"
        return ("ok", "") if ok else ("failed", f"expect rejected the result {result!r:.200}")

    def _call_marked(self) -> Any:
        tok = _marker.enter()
        try:
            return self._fn()
        finally:
            _marker.leave(tok)

    # -- one run --------------------------------------------------------------------------------

    def run_once(self) -> Optional[bool]:
        """Runs the probe now if it is due and not running (``def`` probes); returns whether it
        passed, or None when it was not due. On a manual clock the duration is clock time."""
        if self._async:
            raise TypeError(f"SyntheticProbe {self.name!r}: an async probe runs with `await probe.run_once_async()`")
        if not self._core.try_start(None):
            return None
        if self._clock is not None:
            return self._finish_inline()
        done = threading.Event()
        box: List[Any] = []
        ctx = contextvars.copy_context()

        def work() -> None:
            try:
                box.append(("value", ctx.run(self._call_marked)))
            except BaseException as e:  # reported as the probe's failure
                box.append(("error", e))
            finally:
                done.set()

        t = threading.Thread(target=work, name=f"ferrule-probe-{self.name}", daemon=True)
        t.start()
        if not done.wait(self._core.timeout_seconds):
            self._stuck = t
            self._core.finish("timeout", f"no answer within {self._core.timeout_seconds} s", None)
            return False
        return self._report(box[0])

    def _finish_inline(self) -> bool:
        try:
            outcome: tuple[str, Any] = ("value", self._call_marked())
        except Exception as e:
            outcome = ("error", e)
        return self._report(outcome)

    def _report(self, outcome: tuple[str, Any]) -> bool:
        kind, v = outcome
        if kind == "error":
            result, err = "failed", f"{type(v).__name__}: {v}"
        else:
            result, err = self._judge(v)
        self._core.finish(result, err, None)
        return result == "ok"

    async def run_once_async(self) -> Optional[bool]:
        """Runs an ``async def`` (or ``def``) probe now if due; cancelled at ``timeout_seconds``."""
        if not self._core.try_start(None):
            return None
        tok = _marker.enter()
        try:
            r = self._fn()
            if inspect.isawaitable(r):
                r = await asyncio.wait_for(r, self._core.timeout_seconds)
            outcome: tuple[str, Any] = ("value", r)
        except asyncio.TimeoutError:
            self._core.finish("timeout", f"no answer within {self._core.timeout_seconds} s", None)
            return False
        except Exception as e:
            outcome = ("error", e)
        finally:
            _marker.leave(tok)
        return self._report(outcome)

    # -- the schedule ---------------------------------------------------------------------------

    def start(self) -> "SyntheticProbe":
        """Starts the schedule: a daemon thread for ``def``, a task on the running loop for ``async def``."""
        if self._clock is not None:
            raise TypeError(f"SyntheticProbe {self.name!r}: on a ManualClock, drive it with run_once()")
        self._stop.clear()
        if self._async:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                raise RuntimeError(
                    f"SyntheticProbe {self.name!r}: an async probe starts inside a running event loop "
                    "(or pass start=False and `await probe.run_forever()`)"
                ) from None
            if self._task is None or self._task.done():
                self._task = loop.create_task(self.run_forever())
        elif self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name=f"ferrule-probe-{self.name}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self._stuck is not None and self._stuck.is_alive():
                # A timed-out run is still going: never start a second one beside it.
                self._stop.wait(0.05)
                continue
            self._stuck = None
            delay = self._core.due_in(None)
            if delay > 0:
                self._stop.wait(min(delay, 1.0))
                continue
            try:
                self.run_once()
            except Exception as e:  # a bug in the probe plumbing must not kill the schedule
                warn("synthetic_probe.run_failed", f"SyntheticProbe {self.name!r}: run failed", error=e, probe=self.name)

    async def run_forever(self) -> None:
        while not self._stop.is_set():
            delay = self._core.due_in(None)
            if delay > 0:
                await asyncio.sleep(min(delay, 1.0))
                continue
            await self.run_once_async()

    # -- reading ---------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._core.name

    @property
    def running(self) -> bool:
        return self._core.running

    def due_in(self) -> float:
        return self._core.due_in(None)

    def gauges(self) -> List[Tuple[str, Dict[str, str], float]]:
        """``(name, labels, value)`` rows: exactly what a metrics scrape shows for this one."""
        return self._core.gauges()

    def stats(self) -> Dict[str, Any]:
        return self._core.stats()

    def __repr__(self) -> str:
        s = self._core.stats()
        return f"<SyntheticProbe {self.name!r} runs={s['runs']} ok={s['ok']} firing={s['firing']}>"

    def _repr_html_(self) -> str:
        rows: List[Sequence[Any]] = list(self._core.stats().items())
        return table(f"SyntheticProbe {self.name}", ("", "value"), rows)
