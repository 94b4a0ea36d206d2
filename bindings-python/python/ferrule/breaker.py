"""The circuit breaker as a decorator. The core decides (admit or reject, trip or not); this module
runs the user's function, classifies its outcome and dispatches state-change events."""

from __future__ import annotations

import functools
import inspect
import logging
import os
import weakref
from typing import Any, Callable, NamedTuple, Optional, Tuple, Type, TypeVar, Union, cast

from ._ferrule import CircuitBreakerCore, ManualClock, emit
from .redis_backend import RedisBackend

__all__ = ["CircuitBreaker", "BreakerTransition"]

_log = logging.getLogger("ferrule")

# Outcome codes, as the core's `record` takes them.
SUCCESS, FAILURE, IGNORED = 0, 1, 2

F = TypeVar("F", bound=Callable[..., Any])
ExcMatcher = Union[Type[BaseException], Tuple[Type[BaseException], ...], Callable[[BaseException], bool], None]


class BreakerTransition(NamedTuple):
    """Why a breaker moved, for listeners that take a third argument: ``reason`` (``"failure_rate"``,
    ``"shared"``, ``"backend_down"``, ...), ``open_seconds`` for a move to open, and ``peer``: True
    when the move came from another process (its open arrived through Redis)."""

    reason: str
    open_seconds: Optional[float]
    peer: bool


StateListener = Union[Callable[[str, str], Any], Callable[[str, str, BreakerTransition], Any]]


def _takes_info(listener: Callable[..., Any]) -> bool:
    """Does ``listener`` accept a third positional argument? Decided once, at registration."""
    try:
        params = inspect.signature(listener).parameters.values()
    except (TypeError, ValueError):
        return False
    n = 0
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            return True
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            n += 1
    return n >= 3


def _matcher(spec: ExcMatcher, param: str, component: str = "CircuitBreaker") -> Optional[Callable[[BaseException], bool]]:
    """Normalises exception types or a predicate into one predicate, once, at construction."""
    if spec is None or spec == ():
        return None
    if isinstance(spec, type) and issubclass(spec, BaseException):
        types: Tuple[Type[BaseException], ...] = (spec,)
    elif isinstance(spec, (tuple, list)):
        types = tuple(spec)
        for t in types:
            if not (isinstance(t, type) and issubclass(t, BaseException)):
                raise TypeError(f"{component}: {param} must hold exception classes; got {t!r}")
    elif callable(spec):
        return cast(Callable[[BaseException], bool], spec)
    else:
        raise TypeError(
            f"{component}: {param}={spec!r} is not allowed; allowed: an exception class, a tuple of them, or a predicate"
        )
    return lambda exc: isinstance(exc, types)


class _Listeners:
    """Receives transitions from the core and calls the user's listeners. Held by the core, it keeps no
    reference to the breaker, so breaker and core form no reference cycle."""

    __slots__ = ("callbacks", "errors", "name")

    def __init__(self, name: str) -> None:
        # (listener, whether it takes the BreakerTransition as a third argument)
        self.callbacks: list[tuple[Callable[..., Any], bool]] = []
        self.errors = 0
        self.name = name

    def __call__(self, old: str, new: str, reason: str, open_for: Optional[float]) -> None:
        # Only transitions reach here, never the closed-state success path; the core has already
        # logged the transition (`breaker.transition`). A peer's open or a backend hold arrives on
        # the breaker's sync thread, not on a caller's.
        if not self.callbacks:
            return
        info = BreakerTransition(reason, open_for, reason == "shared")
        for cb, takes_info in self.callbacks:
            try:
                if takes_info:
                    cb(old, new, info)
                else:
                    cb(old, new)
            except Exception as exc:
                # A broken listener must not break the caller's call; it is counted and logged.
                self.errors += 1
                emit(
                    "breaker.listener_error",
                    level="warning",
                    message=f"circuit breaker {self.name!r}: state-change listener {cb!r} raised",
                    breaker=self.name,
                    error=exc,
                )
                _log.debug("state-change listener traceback", exc_info=True)


def _backend(backend: RedisBackend) -> Any:
    if not isinstance(backend, RedisBackend):
        raise TypeError(f"CircuitBreaker: backend={backend!r} is not a ferrule.RedisBackend")
    return backend._core


class CircuitBreaker:
    """Stops calling a failing dependency for a while, then probes it.

    Trips on ``consecutive_failures`` in a row or on ``failure_rate`` (or ``slow_call_rate``) over a
    window of the last ``window`` calls or the last ``window_seconds``, once ``min_calls`` were seen.
    Use as ``@breaker`` on ``def`` or ``async def``, or ``breaker.call(fn, *args, **kwargs)``.

    Outcomes: an exception matching ``ignore`` (and any ``BaseException`` that is not an ``Exception``,
    such as cancellation) counts as neither success nor failure; otherwise it is a failure when it
    matches ``failure_on`` (default: every exception), else a success. ``failure_on_result(value)``
    marks a returned value as a failure.

    With ``backend=RedisBackend(...)``, breakers of the same ``name`` in every process share state: a
    background thread exchanges opens and window counts every ``sync_seconds``, so an open breaker
    anywhere opens it everywhere within that delay, and failures summed over processes trip it. Calls
    never wait on Redis. While it is down the backend's ``on_backend_error`` decides: ``"local"``
    keeps deciding with this process's state, ``"fail_open"`` admits every call, ``"fail_closed"``
    refuses every call, until Redis answers (counted in ``sync_stats()``, logged at warning, raised as
    a watch event). Listeners hear a peer's open too (``BreakerTransition.peer``). A forked worker
    starts its own sync thread.
    """

    __slots__ = ("_core", "_listeners", "_is_failure", "_is_ignored", "_failure_on_result", "__weakref__")

    def __init__(
        self,
        name: str = "default",
        *,
        failure_rate: Optional[float] = 0.5,
        consecutive_failures: Optional[int] = None,
        window: Optional[int] = None,
        window_seconds: Optional[float] = None,
        window_buckets: int = 10,
        min_calls: int = 10,
        slow_call_seconds: Optional[float] = None,
        slow_call_rate: Optional[float] = None,
        open_seconds: float = 30.0,
        max_open_seconds: Optional[float] = None,
        open_multiplier: float = 2.0,
        half_open_calls: int = 1,
        ignore: ExcMatcher = (),
        failure_on: ExcMatcher = None,
        failure_on_result: Optional[Callable[[Any], bool]] = None,
        clock: Optional[ManualClock] = None,
        backend: Optional[RedisBackend] = None,
        sync_seconds: float = 0.5,
    ) -> None:
        if failure_on_result is not None and not callable(failure_on_result):
            raise TypeError(f"CircuitBreaker: failure_on_result={failure_on_result!r} is not callable")
        self._is_ignored = _matcher(ignore, "ignore")
        self._is_failure = _matcher(failure_on, "failure_on")
        self._failure_on_result = failure_on_result
        self._listeners = _Listeners(name)
        self._core = CircuitBreakerCore(
            name,
            failure_rate=failure_rate,
            consecutive_failures=consecutive_failures,
            window=window,
            window_seconds=window_seconds,
            window_buckets=window_buckets,
            min_calls=min_calls,
            slow_call_seconds=slow_call_seconds,
            slow_call_rate=slow_call_rate,
            open_seconds=open_seconds,
            max_open_seconds=max_open_seconds,
            open_multiplier=open_multiplier,
            half_open_calls=half_open_calls,
            clock=clock,
            on_transition=self._listeners,
            backend=None if backend is None else _backend(backend),
            sync_seconds=sync_seconds,
        )
        if backend is not None:
            _SHARED.add(self)

    # -- outcome classification ------------------------------------------------------------------

    def _outcome(self, exc: BaseException) -> int:
        """How ``exc`` counts: 0 success, 1 failure, 2 ignored. Shared with ``ferrule.Policy``, which
        records its breaker's outcomes through the pipeline core."""
        if not isinstance(exc, Exception) or (self._is_ignored is not None and self._is_ignored(exc)):
            return IGNORED
        if self._is_failure is None or self._is_failure(exc):
            return FAILURE
        return SUCCESS

    def _record_exception(self, token: int, exc: BaseException) -> None:
        core = self._core
        outcome = self._outcome(exc)
        if outcome == IGNORED:
            core.ignored(token)
        elif outcome == FAILURE:
            core.failure(token)
        else:
            core.success(token)

    # -- wrapping --------------------------------------------------------------------------------

    def __call__(self, fn: F) -> F:
        """Decorates ``fn`` (``def`` or ``async def``)."""
        core = self._core
        acquire, success, failure = core.acquire, core.success, core.failure
        record_exception = self._record_exception
        on_result = self._failure_on_result

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                token = acquire()
                try:
                    result = await fn(*args, **kwargs)
                except BaseException as exc:
                    record_exception(token, exc)
                    raise
                if on_result is not None and on_result(result):
                    failure(token)
                else:
                    success(token)
                return result

            return cast(F, async_wrapper)

        if on_result is None:

            @functools.wraps(fn)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                token = acquire()
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:
                    record_exception(token, exc)
                    raise
                success(token)
                return result

        else:

            @functools.wraps(fn)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                token = acquire()
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:
                    record_exception(token, exc)
                    raise
                if on_result(result):
                    failure(token)
                else:
                    success(token)
                return result

        return cast(F, wrapper)

    def call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Calls ``fn(*args, **kwargs)`` through the breaker; for an ``async def`` returns an awaitable
        that acquires when awaited, like the decorator."""
        if inspect.iscoroutinefunction(fn):
            return self(fn)(*args, **kwargs)
        core = self._core
        token = core.acquire()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            self._record_exception(token, exc)
            raise
        if self._failure_on_result is not None and self._failure_on_result(result):
            core.failure(token)
        else:
            core.success(token)
        return result

    # -- control and inspection --------------------------------------------------------------------

    def on_state_change(self, listener: StateListener) -> StateListener:
        """Registers ``listener(old_state, new_state)`` or ``listener(old_state, new_state, info)``
        (``info``: a ``BreakerTransition`` with ``reason``, ``open_seconds``, ``peer``); usable as a
        decorator. With a backend, a peer's open and a backend hold reach it from the sync thread."""
        if not callable(listener):
            raise TypeError(f"CircuitBreaker.on_state_change: {listener!r} is not callable")
        self._listeners.callbacks.append((listener, _takes_info(listener)))
        return listener

    def sync_stats(self) -> Optional[dict[str, Any]]:
        """With a backend: syncs, errors, published_opens, applied_opens, sync_age_seconds, held,
        held_admitted, held_rejected, restarts (after fork); None without one."""
        return self._core.sync_stats()

    def force_open(self) -> None:
        """Opens and stays open until ``force_closed()`` or ``reset()``."""
        self._core.force_open()

    def force_closed(self) -> None:
        """Closes and stays closed, whatever fails, until ``force_open()`` or ``reset()``."""
        self._core.force_closed()

    def reset(self) -> None:
        """Back to a fresh closed breaker."""
        self._core.reset()

    @property
    def name(self) -> str:
        return self._core.name

    @property
    def state(self) -> str:
        """``"closed"``, ``"open"`` or ``"half_open"`` (an open breaker whose time is up reads half-open)."""
        return self._core.state

    @property
    def listener_errors(self) -> int:
        """How many times a state-change listener raised (each was logged)."""
        return self._listeners.errors

    def stats(self) -> dict[str, Any]:
        """Counters: calls, successes, failures, ignored, slow, rejected, transitions, window totals."""
        d = self._core.stats()
        d["listener_errors"] = self._listeners.errors
        return d

    def __repr__(self) -> str:
        s = self._core.stats()
        return (
            f"<CircuitBreaker {s['name']!r} state={s['state']} calls={s['calls']} "
            f"failures={s['failures']} rejected={s['rejected']}>"
        )

    def _repr_html_(self) -> str:
        from .html_table import stats_html

        s = self.stats()
        return stats_html("CircuitBreaker", str(s["name"]), s, str(s["state"]))


# Breakers sharing state through Redis. A forked child (gunicorn, celery, multiprocessing) has their
# memory but not their sync threads: each restarts its own in the child (the core also checks at
# acquire; this covers breakers used only inside a Policy).
_SHARED: "weakref.WeakSet[CircuitBreaker]" = weakref.WeakSet()


def _restart_sync_after_fork() -> None:
    for b in list(_SHARED):
        b._core.ensure_sync()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_restart_sync_after_fork)
