"""Rate limiting for the host: ``RateLimiter`` (token bucket, sliding window, sliding log), ``Limits``
(several limits all-or-nothing, with token reservations) and the ``@rate_limit`` decorator. The core
decides and says how long to wait; this module only waits (``asyncio.sleep``) and calls the user's
function. Blocking waits happen in the core's binding with the GIL released."""

from __future__ import annotations

import asyncio
import functools
import inspect
from typing import Any, Callable, Mapping, Optional, Protocol, TypeVar, Union, cast

from ._ferrule import LimitsCore, ManualClock, RateLimiterCore, Reservation
from ._log import warn
from .redis_backend import RedisBackend

__all__ = ["RateLimiter", "Limits", "Reservation", "rate_limit"]


F = TypeVar("F", bound=Callable[..., Any])
Key = Optional[object]


class _TryAcquire(Protocol):
    def __call__(self, n: int = 1, key: Key = None) -> bool: ...


class _Acquire(Protocol):
    def __call__(self, n: int = 1, key: Key = None, timeout: Optional[float] = None) -> None: ...


def _on_event(kind: str, message: str, count: int) -> None:
    """Where the core reports lost state (also counted in ``stats()``): logged at warning."""
    warn(f"rate_limit.{kind}", message, count=count)


def _backend(backend: Optional[RedisBackend]) -> Any:
    if backend is None:
        return None
    if not isinstance(backend, RedisBackend):
        raise TypeError(f"RateLimiter: backend={backend!r} is not a ferrule.RedisBackend")
    return backend._core


async def _sleep(seconds: float, clock: Optional[ManualClock]) -> None:
    """Sleeps exactly the wait the core returned; on a manual clock, in virtual time."""
    if clock is not None:
        clock.advance(seconds)
        await asyncio.sleep(0)
    else:
        await asyncio.sleep(seconds)


class RateLimiter:
    """A rate limiter, optionally keyed (per tenant, user, model: pass ``key=``).

    Build with ``RateLimiter.token_bucket(rate, per_seconds, burst)``,
    ``RateLimiter.sliding_window(limit, window_seconds)`` or ``RateLimiter.sliding_log(...)`` (exact).
    ``try_acquire`` never waits; ``acquire`` blocks with the GIL released; ``acquire_async`` awaits.
    Both raise ``RateLimitedError`` at once when the wait would outlast ``timeout``. Built on a
    ``ferrule.testing.ManualClock``, a wait moves that clock forward instead of sleeping, so tests of
    code that waits run instantly and deterministically.
    """

    __slots__ = ("_core", "_clock", "try_acquire", "acquire", "__weakref__")

    try_acquire: _TryAcquire
    """``try_acquire(n=1, key=None) -> bool``: takes ``n`` now if it fits; never waits."""
    acquire: _Acquire
    """``acquire(n=1, key=None, timeout=None)``: blocks (GIL released) until ``n`` is taken."""

    def __init__(self, core: RateLimiterCore, clock: Optional[ManualClock] = None) -> None:
        self._core = core
        self._clock = clock
        # The native methods themselves, bound once: the hot path is one call into the core.
        self.try_acquire = core.try_acquire
        self.acquire = core.acquire

    @classmethod
    def token_bucket(cls, rate: float, per_seconds: float = 1.0, burst: Optional[int] = None, *,
                     name: str = "rate_limiter", max_keys: int = 10_000,
                     clock: Optional[ManualClock] = None,
                     backend: Optional[RedisBackend] = None) -> RateLimiter:
        """``rate`` units per ``per_seconds``, up to ``burst`` at once (default: ``ceil(rate)``).
        With ``backend=RedisBackend(...)`` the bucket is shared by every limiter of this ``name``."""
        return cls(RateLimiterCore.token_bucket(rate, per_seconds, burst, name=name, max_keys=max_keys,
                                                clock=clock, on_event=_on_event,
                                                backend=_backend(backend)), clock)

    @classmethod
    def sliding_window(cls, limit: int, window_seconds: float, *, name: str = "rate_limiter",
                       max_keys: int = 10_000, clock: Optional[ManualClock] = None,
                       backend: Optional[RedisBackend] = None) -> RateLimiter:
        """About ``limit`` units per ``window_seconds``: an estimate from two fixed windows (O(1)),
        which assumes the previous window's units were spread evenly. Bursty traffic can pass more
        than ``limit`` in some true window of that length (at worst close to ``2 * limit``, all of
        one window's units at its end and the next window filling up); use ``sliding_log`` for an
        exact "at most ``limit`` in any window". With ``backend=RedisBackend(...)`` the window is
        shared by every limiter of this ``name``."""
        return cls(RateLimiterCore.sliding_window(limit, window_seconds, name=name, max_keys=max_keys,
                                                  clock=clock, on_event=_on_event,
                                                  backend=_backend(backend)), clock)

    @classmethod
    def sliding_log(cls, limit: int, window_seconds: float, *, name: str = "rate_limiter",
                    max_keys: int = 10_000, clock: Optional[ManualClock] = None,
                    backend: Optional[RedisBackend] = None) -> RateLimiter:
        """At most ``limit`` units in any ``window_seconds``, exactly (a log bounded by ``limit``).
        Local only: a ``backend`` is refused (use ``sliding_window`` or ``token_bucket`` to share)."""
        return cls(RateLimiterCore.sliding_log(limit, window_seconds, name=name, max_keys=max_keys,
                                               clock=clock, on_event=_on_event,
                                               backend=_backend(backend)), clock)

    async def acquire_async(self, n: int = 1, key: Key = None, timeout: Optional[float] = None) -> None:
        """Awaits until ``n`` is taken. Cancelling the task cuts the wait short and takes nothing: the
        core charges only when it admits."""
        core = self._core
        deadline = None if timeout is None else core.deadline(timeout)
        while True:
            wait = core.step(n, key, deadline)
            if not wait:
                return
            await _sleep(wait, self._clock)

    def peek(self, n: int = 1, key: Key = None) -> float:
        """Seconds until ``n`` would pass (0.0: now); takes and counts nothing."""
        return self._core.peek(n, key)

    def evict_idle(self) -> int:
        """Drops every key whose state equals a new key's (nothing is lost); returns how many."""
        return self._core.evict_idle()

    @property
    def name(self) -> str:
        return self._core.name

    @property
    def algorithm(self) -> str:
        return self._core.algorithm

    def stats(self) -> dict[str, Any]:
        """Counters: admitted, rejected, waits, wait_seconds_total, refunds, keys and evictions."""
        return self._core.stats()

    def __repr__(self) -> str:
        s = self._core.stats()
        return (f"<RateLimiter {s['name']!r} {s['algorithm']} admitted={s['admitted']} "
                f"rejected={s['rejected']} waits={s['waits']}>")

    def _repr_html_(self) -> str:
        from .html_table import stats_html

        s = self.stats()
        return stats_html(f"RateLimiter ({s['algorithm']})", str(s["name"]), s)


class Limits:
    """Several limiters checked all-or-nothing: ``Limits(requests=rpm, tokens=tpm)``. A denial by one
    takes nothing from the others. Limiters built with one ``backend=RedisBackend`` are decided together
    in one Redis script (one round trip); a mix of shared and local limiters is refused. ``acquire`` returns a ``Reservation``: settle it with the real usage
    (``r.settle(tokens=usage.total_tokens)``) to refund or charge the difference."""

    __slots__ = ("_core", "_names", "_clock", "__weakref__")

    def __init__(self, **limiters: RateLimiter) -> None:
        for name, lim in limiters.items():
            if not isinstance(lim, RateLimiter):
                raise TypeError(f"Limits: {name}={lim!r} is not a ferrule.RateLimiter")
        self._names = tuple(limiters)
        self._clock = next(iter(limiters.values()))._clock if limiters else None
        self._core = LimitsCore(list(self._names), [lim._core for lim in limiters.values()])

    def _costs(self, where: str, costs: Mapping[str, int]) -> list[int]:
        unknown = set(costs) - set(self._names)
        if unknown:
            raise TypeError(f"Limits.{where}: unknown limit {sorted(unknown)[0]!r}; allowed: {', '.join(self._names)}")
        return [costs.get(n, 0) for n in self._names]

    def try_acquire(self, *, key: Key = None, **costs: int) -> bool:
        """Takes every cost now, or nothing."""
        return self._core.try_acquire(self._costs("try_acquire", costs), key)

    def acquire(self, *, key: Key = None, timeout: Optional[float] = None, **costs: int) -> Reservation:
        """Blocks (GIL released) until every cost is taken; returns the ``Reservation``."""
        return self._core.acquire(self._costs("acquire", costs), key, timeout)

    async def acquire_async(self, *, key: Key = None, timeout: Optional[float] = None, **costs: int) -> Reservation:
        """Awaits until every cost is taken. Cancelling cuts the wait short and takes nothing."""
        c = self._costs("acquire_async", costs)
        core = self._core
        deadline = None if timeout is None else core.deadline(timeout)
        while True:
            got = core.step(c, key, deadline)
            if type(got) is not float:
                return cast(Reservation, got)
            await _sleep(got, self._clock)

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    def stats(self) -> dict[str, Any]:
        return self._core.stats()

    def _repr_html_(self) -> str:
        from .html_table import stats_html

        return stats_html("Limits", ", ".join(self._names), self.stats())


Cost = Callable[..., Union[int, Mapping[str, int]]]


def rate_limit(limiter: Union[RateLimiter, Limits], *, cost: Optional[Cost] = None,
               key: Optional[Callable[..., Key]] = None, timeout: Optional[float] = None,
               usage: Optional[Callable[[Any], Mapping[str, int]]] = None) -> Callable[[F], F]:
    """Decorates ``def`` or ``async def`` so each call first waits for the limiter.

    ``cost(*args, **kwargs)`` gives the units (an int for a ``RateLimiter``, ``{"tokens": n, ...}`` for
    ``Limits``; default 1 request); ``key(*args, **kwargs)`` the key. With ``Limits``,
    ``usage(result)`` gives the real units (``{"tokens": r.usage.total_tokens}``) and the reservation is
    settled with them.
    """
    if cost is not None and not callable(cost):
        raise TypeError(f"rate_limit: cost={cost!r} is not callable")
    if key is not None and not callable(key):
        raise TypeError(f"rate_limit: key={key!r} is not callable")
    if isinstance(limiter, (RateLimiter, Limits)) and timeout is not None:
        limiter._core.deadline(timeout)  # a bad timeout fails here, at decoration

    if isinstance(limiter, Limits):
        return _limits_decorator(limiter, cost, key, timeout, usage)
    if not isinstance(limiter, RateLimiter):
        raise TypeError(f"rate_limit: {limiter!r} is not a ferrule.RateLimiter or ferrule.Limits")
    if usage is not None:
        raise TypeError("rate_limit: usage= needs ferrule.Limits (a reservation to settle)")
    acquire, acquire_async = limiter.acquire, limiter.acquire_async

    def decorate(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                n = 1 if cost is None else cast(int, cost(*args, **kwargs))
                await acquire_async(n, None if key is None else key(*args, **kwargs), timeout)
                return await fn(*args, **kwargs)

            return cast(F, async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            n = 1 if cost is None else cast(int, cost(*args, **kwargs))
            acquire(n, None if key is None else key(*args, **kwargs), timeout)
            return fn(*args, **kwargs)

        return cast(F, wrapper)

    return decorate


def _limits_decorator(limits: Limits, cost: Optional[Cost], key: Optional[Callable[..., Key]],
                      timeout: Optional[float], usage: Optional[Callable[[Any], Mapping[str, int]]]) -> Callable[[F], F]:
    first = limits.names[0]

    def costs_of(args: Any, kwargs: Any) -> Mapping[str, int]:
        if cost is None:
            return {first: 1}
        c = cost(*args, **kwargs)
        return {first: c} if isinstance(c, int) else c

    def settle(r: Reservation, result: Any) -> None:
        if usage is not None:
            r.settle(**usage(result))

    def decorate(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                k = None if key is None else key(*args, **kwargs)
                r = await limits.acquire_async(key=k, timeout=timeout, **costs_of(args, kwargs))
                result = await fn(*args, **kwargs)
                settle(r, result)
                return result

            return cast(F, async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            k = None if key is None else key(*args, **kwargs)
            r = limits.acquire(key=k, timeout=timeout, **costs_of(args, kwargs))
            result = fn(*args, **kwargs)
            settle(r, result)
            return result

        return cast(F, wrapper)

    return decorate
