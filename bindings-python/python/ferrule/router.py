"""The router: one call, many endpoints (models, providers, regions). The core chooses the endpoint
for each attempt and learns from the outcome (breakers, cooldowns, ejection, failover, latency); this
module calls the endpoint, classifies what happened, runs the hedges the core asks for (asyncio tasks,
or a small pool of threads for ``def`` endpoints), and logs every event.

Composition (one documented order): inside ``router.call`` a failed attempt moves straight on to the
next endpoint, each endpoint at most once per call (``attempts``, default: all of them), without
sleeping. For backoff between rounds, timeouts or a fallback, make the router the callee of a
``ferrule.Policy``: ``policy.call(router.call, ...)``; the policy's retries then start new rounds
and the router keeps learning from every attempt.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import weakref
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures import TimeoutError as FuturesTimeout
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple, Union

from ._ferrule import ManualClock, RouterCore, emit
from ._hedge_pool import HedgePool
from .breaker import ExcMatcher, _backend, _matcher
from .errors import CircuitOpenError, ConfigError
from .normalize import normalize_chat
from .redis_backend import RedisBackend
from .transient import retry_after_of, status_of

__all__ = ["Endpoint", "Router"]

_log = logging.getLogger("ferrule")

EventListener = Callable[[Dict[str, Any]], Any]
Normalizer = Callable[[Any, str], Any]


def _is_async(fn: Any) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))


class Endpoint:
    """One target of a router: ``call(*args, **kwargs)`` (a ``def`` or an ``async def``) and how to
    route to it. ``weight`` is its share under ``strategy="weighted"``; ``region`` its failover group
    (``None``: its ``priority`` level is its group); ``priority`` the failover order, lower first;
    ``cost_per_1k_input`` / ``cost_per_1k_output`` drive ``strategy="cost"``; ``max_concurrency``
    caps its calls in flight (a full endpoint is skipped)."""

    __slots__ = (
        "name",
        "call",
        "weight",
        "region",
        "priority",
        "cost_per_1k_input",
        "cost_per_1k_output",
        "max_concurrency",
        "is_async",
    )

    def __init__(
        self,
        name: str,
        call: Callable[..., Any],
        weight: float = 1,
        region: Optional[str] = None,
        priority: int = 0,
        cost_per_1k_input: Optional[float] = None,
        cost_per_1k_output: Optional[float] = None,
        max_concurrency: Optional[int] = None,
    ) -> None:
        if not callable(call):
            raise TypeError(f"Endpoint: call={call!r} is not callable")
        self.name = name
        self.call = call
        self.weight = float(weight)
        self.region = region
        self.priority = int(priority)
        self.cost_per_1k_input = cost_per_1k_input
        self.cost_per_1k_output = cost_per_1k_output
        self.max_concurrency = max_concurrency
        self.is_async = _is_async(call)

    def __repr__(self) -> str:
        return f"<Endpoint {self.name!r} weight={self.weight} region={self.region!r} priority={self.priority}>"


class Router:
    """Routes each call to one of ``endpoints`` and fails over between them.

    ``strategy``: ``"weighted"``, ``"round_robin"``, ``"least_outstanding"``, ``"p2c_ewma"``,
    ``"cost"`` or ``"latency"``. Each endpoint has its own breaker (``failure_rate`` over the last
    ``window`` calls once ``min_calls`` were seen, open ``open_seconds``); ``eject_after_failures``
    failures in a row eject it for ``ejection_seconds`` (growing to ``max_ejection_seconds``, never
    more than ``max_ejection_percent`` of the endpoints at once); a 429 or a Retry-After hint cools it
    down that long (``cooldown_seconds`` when the 429 named no wait, at most ``max_cooldown_seconds``).
    Regions fail over in priority order and fail back after ``failback_seconds`` healthy, probed every
    ``probe_interval_seconds`` meanwhile.

    ``failure_on``: exceptions that count against an endpoint and move the call on (default: every
    ``Exception``); others are re-raised at once. ``normalize``: ``"openai"`` (``ferrule.normalize_chat``)
    or a callable ``(response, endpoint_name)``. ``on_event``: called with each event dict.

    ``hedge=True``: once an attempt has run past its endpoint's ``hedge_quantile`` latency (over the
    last one to two ``latency_window_seconds``, so it follows a provider that slows down or recovers;
    never before ``hedge_min_samples`` calls, never sooner than ``hedge_min_delay_seconds``), a second
    endpoint is called and the first success wins; at most ``hedge_max_ratio`` of calls are hedged, and
    a hedge counts as one of the call's ``attempts``. With ``async def`` endpoints the loser is
    cancelled; with ``def`` endpoints both attempts run on a pool of ``hedge_threads`` daemon threads
    while the caller waits, the loser's result is discarded (``stats()["hedges_lost"]``), and a call
    finding fewer than two free threads runs unhedged (``stats()["hedge_pool_full"]``, logged).

    With ``backend=RedisBackend(...)``, routers of the same ``name`` in every process share endpoint
    health: a cooldown (429 / Retry-After) or an ejection made here is published at once, and what
    the others published is applied every ``sync_seconds`` (the longest cooldown wins; an ejection
    ends everywhere at the same moment; a region switch is followed). Picks never wait on Redis; while
    it is down each process routes on its own view (``sync_stats()["errors"]``).

    Each failover measures its recovery time (first failure to first success on the new region):
    the ``router.recovered`` event's ``seconds``, ``stats()["last_failover_rto_seconds"]`` and the
    ``ferrule_router_failover_rto_seconds`` histogram.
    """

    __slots__ = (
        "name",
        "endpoints",
        "_core",
        "_calls",
        "_names",
        "_is_failure",
        "_normalize",
        "_listeners",
        "_listener_errors",
        "_hedge",
        "_hedge_threads",
        "_hedge_pool_full",
        "_pool",
        "_async",
        "__weakref__",
    )

    def __init__(
        self,
        endpoints: Sequence[Endpoint],
        strategy: str = "weighted",
        *,
        name: str = "router",
        attempts: Optional[int] = None,
        failure_on: ExcMatcher = None,
        normalize: Union[None, str, Normalizer] = None,
        on_event: Optional[EventListener] = None,
        failure_rate: float = 0.5,
        window: int = 20,
        min_calls: int = 10,
        open_seconds: float = 30.0,
        eject_after_failures: int = 5,
        ejection_seconds: float = 30.0,
        max_ejection_seconds: float = 300.0,
        max_ejection_percent: float = 0.5,
        cooldown_seconds: float = 5.0,
        max_cooldown_seconds: float = 300.0,
        failback_seconds: float = 30.0,
        probe_interval_seconds: float = 5.0,
        ewma_seconds: float = 10.0,
        hedge: bool = False,
        hedge_quantile: float = 0.95,
        hedge_min_samples: int = 20,
        hedge_max_ratio: float = 0.1,
        hedge_min_delay_seconds: float = 0.0,
        hedge_threads: int = 16,
        latency_window_seconds: float = 30.0,
        seed: Optional[int] = None,
        clock: Optional[ManualClock] = None,
        backend: Optional[RedisBackend] = None,
        sync_seconds: float = 0.25,
    ) -> None:
        eps = list(endpoints)
        for e in eps:
            if not isinstance(e, Endpoint):
                raise TypeError(f"Router: endpoints must be ferrule.Endpoint; got {e!r}")
        kinds = {e.is_async for e in eps}
        if len(kinds) > 1:
            raise ConfigError(
                "Router: endpoints mix def and async def; allowed: all def (router.call returns the value) "
                "or all async def (router.call returns an awaitable)"
            )
        self._async = kinds == {True}
        if isinstance(hedge_threads, bool) or not isinstance(hedge_threads, int) or not 2 <= hedge_threads <= 1024:
            raise ConfigError.out_of_range("Router", "hedge_threads", hedge_threads, "an integer in [2, 1024]")
        if isinstance(attempts, bool):
            raise ConfigError.out_of_range("Router", "attempts", attempts, f"an integer in [1, {len(eps)}]")
        self._core = RouterCore(
            name,
            strategy,
            [
                (e.name, e.weight, e.region, e.priority, e.cost_per_1k_input, e.cost_per_1k_output, e.max_concurrency)
                for e in eps
            ],
            failure_rate=failure_rate,
            window=window,
            min_calls=min_calls,
            open_seconds=open_seconds,
            eject_after_failures=eject_after_failures,
            ejection_seconds=ejection_seconds,
            max_ejection_seconds=max_ejection_seconds,
            max_ejection_percent=max_ejection_percent,
            cooldown_seconds=cooldown_seconds,
            max_cooldown_seconds=max_cooldown_seconds,
            failback_seconds=failback_seconds,
            probe_interval_seconds=probe_interval_seconds,
            ewma_seconds=ewma_seconds,
            hedge=hedge,
            hedge_quantile=hedge_quantile,
            hedge_min_samples=hedge_min_samples,
            hedge_max_ratio=hedge_max_ratio,
            hedge_min_delay_seconds=hedge_min_delay_seconds,
            seed=seed,
            clock=clock,
            attempts=attempts,
            latency_window_seconds=latency_window_seconds,
            backend=None if backend is None else _backend(backend),
            sync_seconds=sync_seconds,
        )
        if backend is not None:
            _SHARED.add(self)
        if isinstance(normalize, str):
            if normalize != "openai":
                raise ConfigError(f"Router: normalize={normalize!r} is out of range; allowed: \"openai\", a callable or None")
            normalize = normalize_chat
        elif normalize is not None and not callable(normalize):
            raise TypeError(f"Router: normalize={normalize!r} is not callable")
        if on_event is not None and not callable(on_event):
            raise TypeError(f"Router: on_event={on_event!r} is not callable")
        self.name = name
        self.endpoints: Tuple[Endpoint, ...] = tuple(eps)
        self._calls = tuple(e.call for e in eps)
        self._names = tuple(e.name for e in eps)
        self._is_failure = _matcher(failure_on, "failure_on", "Router")
        self._normalize: Optional[Normalizer] = normalize
        self._listeners: List[EventListener] = [on_event] if on_event is not None else []
        self._listener_errors = 0
        self._hedge = hedge
        self._hedge_threads = hedge_threads
        self._hedge_pool_full = 0
        self._pool: Optional[HedgePool] = None

    # -- events --------------------------------------------------------------------------------------

    def on_event(self, listener: EventListener) -> EventListener:
        """Adds a listener for router events (usable as a decorator)."""
        self._listeners.append(listener)
        return listener

    def _drain(self) -> None:
        # Every event is a log line (structured, through the core's logger) and reaches the listeners.
        for ev in self._core.drain_events():
            emit(
                ev["event"],
                level="warning" if ev["warning"] else "info",
                message=ev["message"],
                router=ev["router"],
                endpoint=ev["endpoint"] or None,
                from_state=ev["from"] or None,
                to_state=ev["to"] or None,
                reason=ev["reason"],
                seconds=ev["seconds"],
            )
            for cb in self._listeners:
                try:
                    cb(ev)
                except Exception as exc:
                    # A broken listener must not break the call; counted and logged.
                    self._listener_errors += 1
                    emit(
                        "router.listener_error",
                        level="warning",
                        message=f"router {self.name!r}: event listener {cb!r} raised",
                        router=self.name,
                        error=exc,
                    )

    # -- one attempt's outcome -------------------------------------------------------------------------

    def _failed(self, tok: int, exc: BaseException) -> bool:
        """Records ``exc``; True when it counts against the endpoint (move on), False to re-raise."""
        core = self._core
        if not isinstance(exc, Exception):
            if core.release(tok):
                self._drain()
            return False
        if self._is_failure is not None and not self._is_failure(exc):
            if core.release(tok):
                self._drain()
            return False
        if core.failure(tok, status_of(exc), retry_after_of(exc)):
            self._drain()
        return True

    def _done(self, tok: int, value: Any) -> Any:
        if self._core.success(tok):
            self._drain()
        norm = self._normalize
        return value if norm is None else norm(value, self._names[tok & 63])

    # -- calls ---------------------------------------------------------------------------------------
    # The core decides every step (which endpoint, when to give up, whether to hedge now and where);
    # this layer only calls, waits and cancels. See core/src/route/router.rs for the protocol.

    def call(self, *args: Any, **kwargs: Any) -> Any:
        """Calls the chosen endpoint with these arguments; an awaitable when the endpoints are
        ``async def``. Raises the last endpoint's error when every attempt failed, or
        ``CircuitOpenError`` (named ``router <name>``) when no endpoint could take the call."""
        if self._async:
            return self._acall(args, kwargs)
        core = self._core
        tok = core.pick(0)
        if self._hedge:
            return self._sync_rounds(tok, 0, args, kwargs)
        # The first attempt inline (the common, successful case): one pick, the call, one success.
        try:
            value = self._calls[tok & 63](*args, **kwargs)
        except BaseException as exc:
            if not self._failed(tok, exc):
                raise
            nxt = core.next(1 << (tok & 63))
            if nxt is None:
                raise
            return self._sync_rounds(nxt, 1 << (tok & 63), args, kwargs, exc)
        if core.success(tok):
            self._drain()
        norm = self._normalize
        return value if norm is None else norm(value, self._names[tok & 63])

    __call__ = call

    def _sync_rounds(
        self, tok: int, tried: int, args: Tuple[Any, ...], kwargs: Dict[str, Any], last: Optional[BaseException] = None
    ) -> Any:
        """Attempt ``tok`` and, while they fail, the attempts the core names next."""
        core = self._core
        calls = self._calls
        while True:
            delay = core.hedge_delay(tok) if self._hedge else None
            if delay is not None:
                ok, value, tok, tried = self._race_sync(tok, tried, delay, args, kwargs)
                if ok:
                    return self._done(tok, value)
                last = value
            else:
                i = tok & 63
                tried |= 1 << i
                try:
                    value = calls[i](*args, **kwargs)
                except BaseException as exc:
                    if not self._failed(tok, exc):
                        raise
                    last = exc
                else:
                    return self._done(tok, value)
            nxt = core.next(tried)
            if nxt is None:
                assert last is not None
                raise last
            tok = nxt

    def _race_sync(
        self, tok: int, tried: int, delay: float, args: Tuple[Any, ...], kwargs: Dict[str, Any]
    ) -> Tuple[bool, Any, int, int]:
        """Runs attempt ``tok`` on a pool thread and, if it is still running after ``delay``, a hedge
        the core picks on a second one; the first success wins. Returns (True, value, winning token,
        tried) or (False, last error, token, tried); every token is recorded."""
        core = self._core
        calls = self._calls
        tried |= 1 << (tok & 63)
        pool = self._pool
        if pool is None:
            pool = self._pool = HedgePool(self._hedge_threads, self.name)
        if not pool.reserve(2):
            # Every pool thread is busy (slow calls, or losers still running): this call runs
            # unhedged in the caller's thread. Counted and logged (at powers of two: no flood).
            self._hedge_pool_full += 1
            n = self._hedge_pool_full
            if n & (n - 1) == 0:
                emit(
                    "router.hedge_pool_full",
                    level="warning",
                    message=f"router {self.name!r}: {n} calls ran unhedged, all {pool.size} hedge threads busy "
                    "(raise hedge_threads)",
                    router=self.name,
                )
            try:
                value = calls[tok & 63](*args, **kwargs)
            except BaseException as exc:
                if not self._failed(tok, exc):
                    raise
                return False, exc, tok, tried
            return True, value, tok, tried
        spare = 1
        first = pool.run(calls[tok & 63], args, kwargs)
        running: Dict[Future[Any], int] = {first: tok}
        won = False
        try:
            try:
                first.exception(timeout=delay)  # returns (not raises) the endpoint's own error
            except FuturesTimeout:
                tok2 = core.hedge(tok, tried)
                if tok2 is not None:
                    tried |= 1 << (tok2 & 63)
                    spare = 0
                    running[pool.run(calls[tok2 & 63], args, kwargs)] = tok2
            last: Any = None
            while running:
                if len(running) == 1:
                    done = set(running)
                    next(iter(done)).exception()  # waits
                else:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    t = running.pop(fut)
                    err = fut.exception()
                    if err is None:
                        won = True
                        return True, fut.result(), t, tried
                    if not self._failed(t, err):
                        raise err
                    last = err
            return False, last, tok, tried
        finally:
            pool.unreserve(spare)
            # A thread cannot be stopped: the loser runs on and its result is discarded. It is freed
            # and counted now (lost); an attempt abandoned because the caller was interrupted or an
            # error was re-raised is only released.
            for t in running.values():
                if (core.lost(t) if won else core.release(t)):
                    self._drain()

    async def _acall(self, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        core = self._core
        calls = self._calls
        tok = core.pick(0)
        tried = 0
        last: Optional[BaseException] = None
        while True:
            delay = core.hedge_delay(tok) if self._hedge else None
            if delay is not None:
                ok, value, tok, tried = await self._hedged(tok, tried, delay, args, kwargs)
                if ok:
                    return self._done(tok, value)
                last = value
            else:
                i = tok & 63
                tried |= 1 << i
                try:
                    value = await calls[i](*args, **kwargs)
                except BaseException as exc:
                    if not self._failed(tok, exc):
                        raise
                    last = exc
                else:
                    return self._done(tok, value)
            nxt = core.next(tried)
            if nxt is None:
                assert last is not None
                raise last
            tok = nxt

    async def _hedged(
        self, tok: int, tried: int, delay: float, args: Tuple[Any, ...], kwargs: Dict[str, Any]
    ) -> Tuple[bool, Any, int, int]:
        """Runs attempt ``tok`` and, if it is still running after ``delay``, a hedge the core picks;
        the first success wins and the loser is cancelled. Returns (True, value, winning token, tried)
        or (False, last error, token, tried); records every token."""
        core = self._core
        calls = self._calls
        tried |= 1 << (tok & 63)
        loop = asyncio.get_running_loop()
        first = loop.create_task(calls[tok & 63](*args, **kwargs))
        running: Dict[asyncio.Future[Any], int] = {first: tok}
        won = False
        try:
            # Wait up to `delay` for the first attempt: one future woken by whichever comes first,
            # the attempt or the timer (cheaper than asyncio.wait on this path every hedged call takes).
            waiter = loop.create_future()

            def wake(_: Any = None) -> None:
                if not waiter.done():
                    waiter.set_result(None)

            timer = loop.call_later(delay, wake)
            first.add_done_callback(wake)
            try:
                await waiter
            finally:
                timer.cancel()
                first.remove_done_callback(wake)
            if not first.done():
                tok2 = core.hedge(tok, tried)
                if tok2 is not None:
                    tried |= 1 << (tok2 & 63)
                    running[asyncio.ensure_future(calls[tok2 & 63](*args, **kwargs))] = tok2
            last: Any = None
            while running:
                done: "Set[asyncio.Future[Any]]"
                if len(running) == 1 and first.done():
                    done = {first}
                else:
                    done, _ = await asyncio.wait(running.keys(), return_when=asyncio.FIRST_COMPLETED)
                for fut in done:
                    t = running.pop(fut)
                    if fut.cancelled():
                        if core.release(t):
                            self._drain()
                        continue
                    exc = fut.exception()
                    if exc is None:
                        won = True
                        return True, fut.result(), t, tried
                    if not self._failed(t, exc):
                        raise exc
                    last = exc
            return False, last, tok, tried
        finally:
            # The loser is cancelled and counted as lost; everything still running when the caller
            # was cancelled (or an error was re-raised) is cancelled and released.
            for fut, t in running.items():
                fut.cancel()
                if (core.lost(t) if won else core.release(t)):
                    self._drain()

    # -- introspection --------------------------------------------------------------------------------

    @property
    def active_region(self) -> str:
        return self._core.active_region

    @property
    def strategy(self) -> str:
        return self._core.strategy

    def stats(self) -> Dict[str, Any]:
        """Per-endpoint counts (requests, successes, errors, released, outstanding, ejections,
        cooldowns, hedges, probes), latency EWMA and p95, health and breaker state; router-wide
        active region, failovers, failbacks, hedges, unavailable, listener_errors."""
        d = self._core.stats()
        d["listener_errors"] = self._listener_errors
        d["hedge_pool_full"] = self._hedge_pool_full
        return d

    def sync_stats(self) -> Optional[Dict[str, Any]]:
        """With a backend: syncs, errors, published, applied_cooldowns, applied_ejections,
        applied_regions, sync_age_seconds; else None."""
        return self._core.sync_stats()

    def sync_now(self) -> None:
        """With a backend: exchange endpoint health with Redis now (the background thread does it
        every ``sync_seconds`` and at once after a local cooldown, ejection or region switch)."""
        self._core.sync_now()

    def __repr__(self) -> str:
        return (
            f"<Router {self.name!r} strategy={self.strategy} endpoints={len(self.endpoints)} "
            f"active_region={self.active_region!r}>"
        )

    def _repr_html_(self) -> str:
        from .html_table import stats_html

        s = self.stats()
        rows: Dict[str, Any] = {
            k: v for k, v in s.items() if k not in ("endpoints", "name")
        }
        for e in s["endpoints"]:
            rows[e["name"]] = {
                "health": e["health"],
                "requests": e["requests"],
                "errors": e["errors"],
                "outstanding": e["outstanding"],
                "ewma_s": e["latency_ewma_seconds"],
                "p95_s": e["latency_p95_seconds"],
            }
        return stats_html("Router", self.name, rows, None)


# Routers sharing health through Redis: a forked child restarts each one's sync thread (it has their
# memory, not their threads).
_SHARED: "weakref.WeakSet[Router]" = weakref.WeakSet()


def _restart_sync_after_fork() -> None:
    for r in list(_SHARED):
        r._core.ensure_sync()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_restart_sync_after_fork)
