"""Chaos: fault injection for your own tests, as the innermost strategy of a policy (Polly's Simmy).
The core decides, from a seed when given, which calls fail and which are slowed; this module sleeps
and raises. Off unless configured."""

from __future__ import annotations

import asyncio
import copy
import functools
import inspect
import time
from typing import Any, Callable, Optional, TypeVar, Union, cast

from ._ferrule import ChaosCore, ManualClock

__all__ = ["Chaos"]

F = TypeVar("F", bound=Callable[..., Any])
ErrorSpec = Union[BaseException, type, Callable[[], BaseException], None]

_ERROR, _LATENCY = 1, 2


def _error_factory(error: ErrorSpec) -> Callable[[], BaseException]:
    if error is None:
        return lambda: ConnectionError("ferrule.Chaos: injected fault")
    if isinstance(error, BaseException):
        # A fresh copy each time, so tracebacks do not pile up on one shared instance.
        return lambda: copy.copy(error)
    if isinstance(error, type) and issubclass(error, BaseException):
        return lambda: error("ferrule.Chaos: injected fault")
    if callable(error):
        return cast(Callable[[], BaseException], error)
    raise TypeError(
        f"Chaos: error={error!r} is not allowed; allowed: an exception, an exception class, or a callable returning one"
    )


class Chaos:
    """Injects faults: ``error_rate`` of calls raise ``error`` (default a ``ConnectionError``, which
    ``ferrule.transient`` retries) instead of running; ``latency_rate`` of calls first wait
    ``latency_seconds``. With ``seed`` the same calls fail on every run. Use as ``@chaos`` or as
    ``ferrule.Policy(chaos=...)``, where it sits innermost, inside the attempt timeout."""

    __slots__ = ("_core", "_make_error", "_latency", "_clock")

    def __init__(
        self,
        *,
        error_rate: float = 0.0,
        error: ErrorSpec = None,
        latency_seconds: float = 0.0,
        latency_rate: float = 0.0,
        seed: Optional[int] = None,
        clock: Optional[ManualClock] = None,
    ) -> None:
        self._make_error = _error_factory(error)
        self._core = ChaosCore(
            error_rate=error_rate, latency_rate=latency_rate, latency_seconds=latency_seconds, seed=seed
        )
        self._latency = latency_seconds
        self._clock = clock

    def _wrap(self, fn: F, clock: Optional[ManualClock] = None) -> F:
        """``fn`` with faults injected before it runs; sleeps on ``clock`` when it is a manual one."""
        nxt, make, latency = self._core.next, self._make_error, self._latency
        clock = clock if clock is not None else self._clock

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                f = nxt()
                if f & _LATENCY:
                    if clock is not None:
                        clock.advance(latency)
                        await asyncio.sleep(0)
                    else:
                        await asyncio.sleep(latency)
                if f & _ERROR:
                    raise make()
                return await fn(*args, **kwargs)

            return cast(F, async_wrapper)

        sleep = clock.advance if clock is not None else time.sleep

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            f = nxt()
            if f & _LATENCY:
                sleep(latency)
            if f & _ERROR:
                raise make()
            return fn(*args, **kwargs)

        return cast(F, wrapper)

    def __call__(self, fn: F) -> F:
        return self._wrap(fn)

    def stats(self) -> dict[str, Any]:
        """calls, errors_injected, latency_injected."""
        return self._core.stats()

    def __repr__(self) -> str:
        s = self._core.stats()
        return f"<Chaos calls={s['calls']} errors_injected={s['errors_injected']} latency_injected={s['latency_injected']}>"
