"""The composed policy. One fixed order, outside in:

    fallback → total timeout → retry → circuit breaker → rate limiter → attempt timeout → (chaos) → call

The core decides (admits, records, counts, says how long to wait or to give up); this module runs
the call, the limiter, the sleeps and the timeouts, and the fallback. A policy is built once, its
options normalised at construction; the success path is one call into the core before the user's
function and one after.

Timeouts: ``async def`` calls are cancelled when their time is up. Sync calls are not interrupted
(Python cannot stop a thread): ``ferrule.remaining()`` tells the call its budget, to hand to the
SDK's own ``timeout=``; ``hard_timeout=True`` runs each attempt on a worker thread and abandons it
(the thread runs on, counted as ``abandoned``) when time is up.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
import threading
import time
from typing import Any, Callable, Optional, Tuple, TypeVar, cast

from ._ferrule import ManualClock, PolicyCore
from .breaker import FAILURE, IGNORED, SUCCESS, CircuitBreaker, ExcMatcher, _matcher
from .chaos import Chaos
from .dead_letter import DeadLetterQueue
from .deadline import _deadline, _tighter, system_now
from ._log import warn
from .errors import CircuitOpenError, RateLimitedError, RetryError, TimeoutError
from .fallback import UNSET, Fallback
from .policy_spans import traced_async, traced_sync
from .retry import Retry
from .transient import retry_after_of
from .watch import synthetic as _synthetic_marker
from .watch.synthetic import IN_PROBE as _IN_PROBE

__all__ = ["Policy", "resilient", "retry", "timeout", "fallback"]

_log = logging.getLogger("ferrule")

F = TypeVar("F", bound=Callable[..., Any])

_REFUSALS = (CircuitOpenError, RateLimitedError)
# ``configure(trace_policies=...)`` (set through policy_spans.set_trace_policies): a module global,
# so the untraced hot path pays one global load and a branch.
_TRACE_POLICIES = False
_HAS_ASYNC_TIMEOUT = hasattr(asyncio, "timeout")  # 3.11+: no task per attempt
# True while any synthetic probe runs (watch.synthetic keeps the count): only then does a call read
# the probe context variable, to send a probe's calls through the policy's synthetic twin.
_SYNTHETIC = False
# _TRACE_POLICIES or _SYNTHETIC: the wrappers' one branch off the steady state, so the synthetic
# mark costs an untraced call nothing while no probe runs.
_DIVERT = False


def _set_synthetic(on: bool) -> None:
    global _SYNTHETIC, _DIVERT
    _SYNTHETIC = on
    _DIVERT = on or _TRACE_POLICIES


_TWIN_LOCK = threading.Lock()


def _set_trace_policies(on: bool) -> None:
    global _TRACE_POLICIES, _DIVERT
    _TRACE_POLICIES = on
    _DIVERT = on or _SYNTHETIC


_synthetic_marker.on_active(_set_synthetic)


class _Rejected:
    """Marks an attempt whose returned value ``retry_on_result`` rejected."""

    __slots__ = ()


_REJECTED = _Rejected()


class Policy:
    """Fallback, timeouts, retry, circuit breaker, rate limiter and chaos, composed in one fixed order.

    ``retry``: a ``ferrule.Retry`` (``None``: one attempt). ``breaker``: a ``ferrule.CircuitBreaker``
    (its outcome rules classify each attempt). ``rate_limiter``: any object with
    ``acquire(n=1, key=None, timeout=None)`` (blocking, GIL released) and
    ``async acquire_async(n=1, key=None, timeout=None)``, raising ``ferrule.RateLimitedError``.
    ``timeout_seconds`` bounds each attempt, ``total_timeout_seconds`` the whole call with its
    retries and waits. ``fallback``: a value, a callable ``(error, *args, **kwargs)`` or a list of
    them tried in order, taken for errors matching ``fallback_on`` (default every ``Exception``).
    ``chaos``: a ``ferrule.Chaos``, innermost. ``heartbeat``: a ``ferrule.DeadMansSwitch`` beaten on
    every successful call. ``clock``: a ``ferrule.testing.ManualClock`` for tests
    (waits then advance it instead of sleeping). ``dead_letter``: a ``ferrule.DeadLetterQueue`` that
    stores every call that exhausted its retries and fallbacks (arguments, error chain, attempts,
    trace id); the caller still gets the error.

    Use as ``@policy`` on ``def`` or ``async def``, or ``policy.call(fn, *args, **kwargs)``.
    """

    __slots__ = (
        "name",
        "_core",
        "_retry",
        "_breaker",
        "_limiter",
        "_fallback",
        "_chaos",
        "_clock",
        "_hard",
        "_timeout",
        "_total_timeout",
        "_bounded",
        "_hook_errors",
        "_sleep",
        "_asleep",
        "_now",
        "_dlq",
        "_options",
        "_twin",
        "__weakref__",
    )

    def __init__(
        self,
        *,
        retry: Optional[Retry] = None,
        breaker: Optional[CircuitBreaker] = None,
        rate_limiter: Any = None,
        timeout_seconds: Optional[float] = None,
        total_timeout_seconds: Optional[float] = None,
        hard_timeout: bool = False,
        fallback: Any = UNSET,
        fallback_on: ExcMatcher = Exception,
        chaos: Optional[Chaos] = None,
        clock: Optional[ManualClock] = None,
        name: str = "policy",
        dead_letter: Optional[DeadLetterQueue] = None,
        heartbeat: Any = None,
        _synthetic: bool = False,
    ) -> None:
        if dead_letter is not None and not isinstance(dead_letter, DeadLetterQueue):
            raise TypeError(
                f"Policy: dead_letter={dead_letter!r} is not allowed; allowed: a ferrule.DeadLetterQueue or None"
            )
        if retry is not None and not isinstance(retry, Retry):
            raise TypeError(f"Policy: retry={retry!r} is not allowed; allowed: a ferrule.Retry or None")
        if breaker is not None and not isinstance(breaker, CircuitBreaker):
            raise TypeError(f"Policy: breaker={breaker!r} is not allowed; allowed: a ferrule.CircuitBreaker or None")
        if rate_limiter is not None and not callable(getattr(rate_limiter, "acquire", None)):
            raise TypeError(
                f"Policy: rate_limiter={rate_limiter!r} is not allowed; allowed: an object with "
                "acquire(n=1, key=None, timeout=None) and async acquire_async(...)"
            )
        if chaos is not None and not isinstance(chaos, Chaos):
            raise TypeError(f"Policy: chaos={chaos!r} is not allowed; allowed: a ferrule.Chaos or None")
        self._core = PolicyCore(
            retry=retry._options if retry is not None else None,
            breaker=breaker._core if breaker is not None else None,
            timeout_seconds=timeout_seconds,
            total_timeout_seconds=total_timeout_seconds,
            clock=clock,
            name=name,
            synthetic=_synthetic,
        )
        # A synthetic probe's calls go through a twin made from the same options (same breaker,
        # limiter and rules; counted as synthetic traffic), built on first use. It beats no switch
        # and keeps nothing in the dead-letter queue: a probe reports its own failures.
        self._options = dict(
            retry=retry, breaker=breaker, rate_limiter=rate_limiter, timeout_seconds=timeout_seconds,
            total_timeout_seconds=total_timeout_seconds, hard_timeout=hard_timeout, fallback=fallback,
            fallback_on=fallback_on, chaos=chaos, clock=clock, name=name,
        )
        self._twin: Optional[Policy] = self if _synthetic else None
        if hard_timeout and timeout_seconds is None and total_timeout_seconds is None:
            from .errors import ConfigError

            raise ConfigError(
                "Policy: hard_timeout=True conflicts: it needs timeout_seconds or total_timeout_seconds"
            )
        if heartbeat is not None and not callable(getattr(heartbeat, "watch", None)):
            raise TypeError(f"Policy: heartbeat={heartbeat!r} is not allowed; allowed: a ferrule.DeadMansSwitch or None")
        self.name = name
        self._dlq = dead_letter
        if heartbeat is not None:
            # Every successful call beats the switch, in the core (one atomic load per success).
            heartbeat.watch(self)
        self._retry = retry
        self._breaker = breaker
        self._limiter = rate_limiter
        self._chaos = chaos
        self._clock = clock
        self._hard = bool(hard_timeout)
        self._timeout = timeout_seconds
        self._total_timeout = total_timeout_seconds
        self._bounded = self._core.bounded
        self._hook_errors = 0
        on = _matcher(fallback_on, "fallback_on", "Policy")
        self._fallback = None if fallback is UNSET else Fallback(fallback, on, f"policy {name!r}")
        # Manual clocks and the core's clock read the same seconds; see deadline.system_now.
        self._now = clock.now if clock is not None else system_now
        if clock is not None:
            advance = clock.advance

            async def asleep(d: float) -> None:
                advance(d)
                await asyncio.sleep(0)

            self._sleep: Callable[[float], Any] = advance
            self._asleep: Callable[[float], Any] = asleep
        else:
            self._sleep = time.sleep
            self._asleep = asyncio.sleep

    # -- synthetic traffic -------------------------------------------------------------

    def _synthetic_twin(self) -> "Policy":
        twin = self._twin
        if twin is None:
            # Built once, on a probe's first call; the lock keeps two probe threads from building
            # two twins (and one's counts being lost with it).
            with _TWIN_LOCK:
                twin = self._twin
                if twin is None:
                    twin = self._twin = Policy(**self._options, _synthetic=True)
        return twin

    def _routed(self) -> "Policy":
        """The policy a call in this context goes through: the synthetic twin inside a probe."""
        if _SYNTHETIC and _IN_PROBE.get():
            return self._synthetic_twin()
        return self

    def _synthetic_sync(self, fn: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        twin = self._synthetic_twin()
        if _TRACE_POLICIES:
            return traced_sync(twin, fn, args, kwargs)
        return twin._call_sync(fn, args, kwargs)

    def _synthetic_async(self, fn: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        twin = self._synthetic_twin()
        if _TRACE_POLICIES:
            return traced_async(twin, fn, args, kwargs)
        return twin._call_async(fn, args, kwargs)

    def _diverted_sync(self, fn: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        """A call off the steady state: inside a probe, traced, or neither (a probe runs elsewhere)."""
        if _SYNTHETIC and _IN_PROBE.get():
            return self._synthetic_sync(fn, args, kwargs)
        if _TRACE_POLICIES:
            return traced_sync(self, fn, args, kwargs)
        return self._call_sync(fn, args, kwargs)

    async def _diverted_async(self, fn: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        if _SYNTHETIC and _IN_PROBE.get():
            return await self._synthetic_async(fn, args, kwargs)
        if _TRACE_POLICIES:
            return await traced_async(self, fn, args, kwargs)
        return await self._call_async(fn, args, kwargs)

    # -- hooks ------------------------------------------------------------------------------------

    def _hook(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except Exception as e:
            # A broken hook must not break the call; it is counted and logged.
            self._hook_errors += 1
            warn("policy.hook_error", f"{self.name}: hook {getattr(fn, '__qualname__', fn)!r} raised", error=e,
                 policy=self.name)

    # -- the dead-letter queue: off the success path, only after the call failed for good ---------

    def _dead_letter(self, exc: BaseException, args: Any, kwargs: Any) -> None:
        dlq = self._dlq
        assert dlq is not None
        attempts = 1
        e: Optional[BaseException] = exc
        while e is not None:  # the RetryError may sit under a fallback's error
            if isinstance(e, RetryError):
                attempts = e.attempts
                break
            e = e.__cause__ or e.__context__
        dlq._store_failure(self.name, exc, args, kwargs, attempts)

    async def _dead_letter_async(self, exc: BaseException, args: Any, kwargs: Any) -> None:
        # The store fsyncs: off the event loop. Context copied so the trace id is the caller's.
        ctx = contextvars.copy_context()
        await asyncio.get_running_loop().run_in_executor(None, ctx.run, self._dead_letter, exc, args, kwargs)

    # -- the retry decision, shared by sync and async ------------------------------------------

    def _decide(
        self, start: int, attempts: int, prev: float, failure: Any
    ) -> Tuple[Any, Optional[BaseException]]:
        """After a failed attempt: (delay in seconds, or the give-up reason; the exception or None)."""
        core, r = self._core, self._retry
        if failure is _REJECTED:
            return core.decide(start, attempts, prev, True), None
        if isinstance(failure, _REFUSALS):
            return core.decide(start, attempts, prev, True, failure.retry_after, True), failure
        retryable = r is not None and r.retry_on(failure)
        wait = retry_after_of(failure) if retryable else None
        return core.decide(start, attempts, prev, retryable, wait), failure

    def _give_up(
        self, reason: str, attempts: int, errors: list[Optional[BaseException]], exc: Optional[BaseException], result: Any
    ) -> BaseException:
        """The exception to raise when the loop stops without success."""
        if reason == "not_retryable" or self._retry is None:
            assert exc is not None
            return exc
        last = next((e for e in reversed(errors) if e is not None), None)
        what = f"{type(last).__name__}: {last}" if last is not None else f"result rejected: {result!r}"
        err = RetryError(
            f"{self.name}: gave up after {attempts} attempt(s) ({reason}); last: {what}",
            attempts,
            errors,
            reason,
            result,
        )
        err.__cause__ = last
        if self._retry.on_give_up is not None:
            self._hook(self._retry.on_give_up, err)
        return err

    def _outcome(self, exc: BaseException) -> int:
        b = self._breaker
        if b is not None:
            return b._outcome(exc)
        return FAILURE if isinstance(exc, Exception) else IGNORED

    def _result_outcome(self, result: Any) -> int:
        b = self._breaker
        if b is not None and b._failure_on_result is not None and b._failure_on_result(result):
            return FAILURE
        return SUCCESS

    # -- sync ---------------------------------------------------------------------------------------

    def _hard_call(self, fn: Callable[..., Any], args: Any, kwargs: Any, start: int, at: int) -> Any:
        core = self._core
        budget = core.until(at)
        box: list[Tuple[bool, Any]] = []
        done = threading.Event()
        ctx = contextvars.copy_context()

        def run() -> None:
            core.enter_at(start, at)  # the worker answers remaining() with its caller's deadline
            try:
                box.append((True, ctx.run(fn, *args, **kwargs)))
            except BaseException as e:  # handed to the caller's thread
                box.append((False, e))
            finally:
                core.leave()
                done.set()

        threading.Thread(target=run, name=f"ferrule-hard-timeout-{self.name}", daemon=True).start()
        if not done.wait(budget if budget > 0.0 else 0.0):
            core.note("abandoned")
            warn("policy.abandoned", f"{self.name}: attempt abandoned on its worker thread after {budget:.3f}s "
                 "(hard timeout); it runs on", policy=self.name)
            raise TimeoutError(f"{self.name}: attempt timed out after {budget:.3f}s", budget)
        ok, value = box[0]
        if ok:
            return value
        raise value

    def _invoke_sync(self, fn: Callable[..., Any], args: Any, kwargs: Any, start: int) -> Any:
        core = self._core
        at = core.enter(start)
        if at is None:
            return fn(*args, **kwargs)
        try:
            if self._hard:
                try:
                    return self._hard_call(fn, args, kwargs, start, at)
                except TimeoutError:
                    core.note("timeout")
                    raise
            return fn(*args, **kwargs)
        finally:
            core.leave()

    def _loop_sync(
        self, fn: Callable[..., Any], args: Any, kwargs: Any, attempts: int, start: int, failure: Any, result: Any
    ) -> Any:
        core, bounded, limiter = self._core, self._bounded, self._limiter
        r = self._retry
        check_result = r.retry_on_result if r is not None else None
        errors: list[Optional[BaseException]] = []
        prev = 0.0
        while True:
            if failure is None:
                try:
                    if attempts == 0:
                        if bounded:
                            tok, start, _ = core.begin_at()
                        else:
                            tok = core.begin()
                    else:
                        tok = core.attempt()
                except CircuitOpenError as e:
                    if attempts == 0 and bounded:
                        start = core.now_nanos()
                    attempts += 1
                    failure = e
                else:
                    attempts += 1
                    try:
                        if limiter is not None:
                            limiter.acquire(1, None, core.call_remaining(start) if bounded else None)
                        result = self._invoke_sync(fn, args, kwargs, start) if bounded else fn(*args, **kwargs)
                    except BaseException as e:
                        core.record(tok, IGNORED if isinstance(e, RateLimitedError) else self._outcome(e))
                        if not isinstance(e, Exception):
                            raise
                        failure = e
                    else:
                        if check_result is not None and check_result(result):
                            core.record(tok, self._result_outcome(result))
                            failure = _REJECTED
                        elif self._result_outcome(result) == FAILURE:
                            core.record(tok, FAILURE)
                            return result
                        else:
                            core.success(tok)
                            return result
            d, exc = self._decide(start, attempts, prev, failure)
            errors.append(exc)
            failure = None
            if d.__class__ is float:
                if r is not None and r.on_retry is not None:
                    self._hook(r.on_retry, attempts, d, exc)
                _log.debug("%s: attempt %d failed; retrying in %.3fs", self.name, attempts, d)
                self._sleep(d)
                prev = d
                continue
            raise self._give_up(d, attempts, errors, exc, result)

    def _call_sync(
        self, fn: Callable[..., Any], args: Any, kwargs: Any, attempts: int = 0, start: int = 0, failure: Any = None
    ) -> Any:
        try:
            return self._loop_sync(fn, args, kwargs, attempts, start, failure, None)
        except Exception as exc:
            fb = self._fallback
            if fb is None or (fb.matches is not None and not fb.matches(exc)):
                self._core.note("failed")
                if self._dlq is not None:
                    self._dead_letter(exc, args, kwargs)
                raise
            if self._dlq is None:
                return fb.run_sync(self._core, exc, args, kwargs)
            try:
                return fb.run_sync(self._core, exc, args, kwargs)
            except Exception as fb_exc:
                self._dead_letter(fb_exc, args, kwargs)
                raise

    def _wrap_sync(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        call = self._call_sync
        r = self._retry
        simple = self._limiter is None and (r is None or r.retry_on_result is None)
        if simple and self._bounded and not self._hard:
            return self._wrap_sync_bounded(fn)
        if not (simple and not self._bounded):

            @functools.wraps(fn)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                if _DIVERT:
                    return self._diverted_sync(fn, args, kwargs)
                return call(fn, args, kwargs)

            return wrapper

        core = self._core
        begin, success, record = core.begin, core.success, core.record
        outcome = self._outcome
        b = self._breaker
        on_result = b._failure_on_result if b is not None else None

        # The steady state: one crossing before the call, one after; any failure continues in the
        # general loop from attempt 1.
        @functools.wraps(fn)
        def fast_wrapper(*args: Any, **kwargs: Any) -> Any:
            if _DIVERT:
                return self._diverted_sync(fn, args, kwargs)
            try:
                tok = begin()
            except CircuitOpenError as exc:
                return call(fn, args, kwargs, 1, 0, exc)
            try:
                result = fn(*args, **kwargs)
            except Exception as exc:
                record(tok, outcome(exc))
                return call(fn, args, kwargs, 1, 0, exc)
            except BaseException:
                record(tok, IGNORED)
                raise
            if on_result is not None and on_result(result):
                record(tok, FAILURE)
            else:
                success(tok)
            return result

        return fast_wrapper

    def _wrap_sync_bounded(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """The steady state with a soft timeout: the core enters the first attempt's deadline on this
        thread as it admits the call and leaves it as it records the outcome, so the success path is
        still one crossing before the call and one after. Any failure continues in the general loop
        from attempt 1."""
        call = self._call_sync
        core = self._core
        begin, success, fail, now_nanos = core.begin_sync, core.success_sync, core.fail_sync, core.now_nanos
        outcome = self._outcome
        b = self._breaker
        on_result = b._failure_on_result if b is not None else None

        @functools.wraps(fn)
        def bounded_wrapper(*args: Any, **kwargs: Any) -> Any:
            if _DIVERT:
                return self._diverted_sync(fn, args, kwargs)
            try:
                tok = begin()
            except CircuitOpenError as exc:
                return call(fn, args, kwargs, 1, now_nanos(), exc)
            try:
                result = fn(*args, **kwargs)
            except Exception as exc:
                try:
                    o = outcome(exc)
                except BaseException:
                    fail(tok, FAILURE)  # a raising classifier must not leave the deadline entered
                    raise
                return call(fn, args, kwargs, 1, fail(tok, o), exc)
            except BaseException:
                fail(tok, IGNORED)
                raise
            if on_result is not None:
                try:
                    bad = on_result(result)
                except BaseException:
                    fail(tok, FAILURE)
                    raise
                if bad:
                    fail(tok, FAILURE)
                    return result
            success(tok)
            return result

        return bounded_wrapper

    # -- async ----------------------------------------------------------------------------------------

    async def _invoke_async(self, fn: Callable[..., Any], args: Any, kwargs: Any, deadline: Optional[float]) -> Any:
        if deadline is None:
            return await fn(*args, **kwargs)
        now = self._now
        at = _tighter(now, deadline)
        token = _deadline.set((now, at))
        try:
            budget = at - now()
            if budget <= 0.0:
                self._core.note("timeout")
                raise TimeoutError(f"{self.name}: no time left for the attempt", 0.0)
            if _HAS_ASYNC_TIMEOUT:
                try:
                    async with asyncio.timeout(budget) as cm:
                        return await fn(*args, **kwargs)
                except builtins_TimeoutError:
                    if cm.expired():
                        self._core.note("timeout")
                        raise TimeoutError(f"{self.name}: attempt timed out after {budget:.3f}s", budget) from None
                    raise
            try:
                return await asyncio.wait_for(fn(*args, **kwargs), budget)
            except asyncio.TimeoutError:
                self._core.note("timeout")
                raise TimeoutError(f"{self.name}: attempt timed out after {budget:.3f}s", budget) from None
        finally:
            _deadline.reset(token)

    async def _loop_async(
        self, fn: Callable[..., Any], args: Any, kwargs: Any, attempts: int, start: int, failure: Any
    ) -> Any:
        core, bounded, limiter = self._core, self._bounded, self._limiter
        r = self._retry
        check_result = r.retry_on_result if r is not None else None
        errors: list[Optional[BaseException]] = []
        prev = 0.0
        result: Any = None
        while True:
            if failure is None:
                deadline: Optional[float] = None
                try:
                    if attempts == 0:
                        if bounded:
                            tok, start, deadline = core.begin_at()
                        else:
                            tok = core.begin()
                    else:
                        tok = core.attempt()
                        if bounded:
                            deadline = core.attempt_deadline(start)
                except CircuitOpenError as e:
                    if attempts == 0 and bounded:
                        start = core.now_nanos()
                    attempts += 1
                    failure = e
                else:
                    attempts += 1
                    try:
                        if limiter is not None:
                            await limiter.acquire_async(1, None, core.call_remaining(start) if bounded else None)
                            if bounded:
                                deadline = core.attempt_deadline(start)
                        result = await self._invoke_async(fn, args, kwargs, deadline)
                    except BaseException as e:
                        core.record(tok, IGNORED if isinstance(e, RateLimitedError) else self._outcome(e))
                        if not isinstance(e, Exception):
                            raise
                        failure = e
                    else:
                        if check_result is not None and check_result(result):
                            core.record(tok, self._result_outcome(result))
                            failure = _REJECTED
                        elif self._result_outcome(result) == FAILURE:
                            core.record(tok, FAILURE)
                            return result
                        else:
                            core.success(tok)
                            return result
            d, exc = self._decide(start, attempts, prev, failure)
            errors.append(exc)
            failure = None
            if d.__class__ is float:
                if r is not None and r.on_retry is not None:
                    self._hook(r.on_retry, attempts, d, exc)
                _log.debug("%s: attempt %d failed; retrying in %.3fs", self.name, attempts, d)
                await self._asleep(d)  # cancellable: a cancelled task stops here at once
                prev = d
                continue
            raise self._give_up(d, attempts, errors, exc, result)

    async def _run_async(self, fn: Callable[..., Any], args: Any, kwargs: Any, attempts: int, start: int, failure: Any) -> Any:
        """The retry loop under the total timeout; the fallback is the caller's."""
        total = self._total_timeout
        if total is not None and _HAS_ASYNC_TIMEOUT and attempts == 0:
            # The total timeout also cancels a wait or a limiter queue, not only an attempt.
            try:
                async with asyncio.timeout(total) as cm:
                    return await self._loop_async(fn, args, kwargs, attempts, start, failure)
            except builtins_TimeoutError:
                if cm.expired():
                    self._core.note("timeout")
                    raise TimeoutError(f"{self.name}: call timed out after {total:.3f}s", total) from None
                raise
        return await self._loop_async(fn, args, kwargs, attempts, start, failure)

    async def _call_async(
        self, fn: Callable[..., Any], args: Any, kwargs: Any, attempts: int = 0, start: int = 0, failure: Any = None
    ) -> Any:
        try:
            return await self._run_async(fn, args, kwargs, attempts, start, failure)
        except Exception as exc:
            fb = self._fallback
            if fb is None or (fb.matches is not None and not fb.matches(exc)):
                self._core.note("failed")
                if self._dlq is not None:
                    await self._dead_letter_async(exc, args, kwargs)
                raise
            if self._dlq is None:
                return await fb.run_async(self._core, exc, args, kwargs)
            try:
                return await fb.run_async(self._core, exc, args, kwargs)
            except Exception as fb_exc:
                await self._dead_letter_async(fb_exc, args, kwargs)
                raise

    def _wrap_async(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        call = self._call_async
        r = self._retry
        fast = not self._bounded and self._limiter is None and (r is None or r.retry_on_result is None)
        if not fast:

            @functools.wraps(fn)
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                if _DIVERT:
                    return await self._diverted_async(fn, args, kwargs)
                return await call(fn, args, kwargs)

            return wrapper

        core = self._core
        begin, success, record = core.begin, core.success, core.record
        outcome = self._outcome
        b = self._breaker
        on_result = b._failure_on_result if b is not None else None

        @functools.wraps(fn)
        async def fast_wrapper(*args: Any, **kwargs: Any) -> Any:
            if _DIVERT:
                return await self._diverted_async(fn, args, kwargs)
            try:
                tok = begin()
            except CircuitOpenError as exc:
                return await call(fn, args, kwargs, 1, 0, exc)
            try:
                result = await fn(*args, **kwargs)
            except Exception as exc:
                record(tok, outcome(exc))
                return await call(fn, args, kwargs, 1, 0, exc)
            except BaseException:
                record(tok, IGNORED)
                raise
            if on_result is not None and on_result(result):
                record(tok, FAILURE)
            else:
                success(tok)
            return result

        return fast_wrapper

    # -- public -----------------------------------------------------------------------------------------

    def __call__(self, fn: F) -> F:
        """Decorates ``fn`` (``def`` or ``async def``)."""
        if not callable(fn):
            raise TypeError(f"{self.name}: cannot decorate {fn!r}: not callable")
        inner = self._chaos._wrap(fn, self._clock) if self._chaos is not None else fn
        if inspect.iscoroutinefunction(fn):
            return cast(F, self._wrap_async(inner))
        return cast(F, self._wrap_sync(inner))

    def call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Calls ``fn(*args, **kwargs)`` through the policy; for an ``async def`` returns an awaitable."""
        inner = self._chaos._wrap(fn, self._clock) if self._chaos is not None else fn
        if _SYNTHETIC and _IN_PROBE.get():
            if inspect.iscoroutinefunction(fn):
                return self._synthetic_async(inner, args, kwargs)
            return self._synthetic_sync(inner, args, kwargs)
        if inspect.iscoroutinefunction(fn):
            if _TRACE_POLICIES:
                return traced_async(self, inner, args, kwargs)
            return self._call_async(inner, args, kwargs)
        if _TRACE_POLICIES:
            return traced_sync(self, inner, args, kwargs)
        return self._call_sync(inner, args, kwargs)

    def stats(self) -> dict[str, Any]:
        """Counters: calls, attempts, successes, failures, retries, budget_denied, gave_up_*, rejected,
        fallbacks, fallback_failures, timeouts, abandoned, hook_errors (and chaos_* with chaos)."""
        d = self._core.stats()
        d["hook_errors"] = self._hook_errors
        if self._chaos is not None:
            for k, v in self._chaos.stats().items():
                d[f"chaos_{k}"] = v
        return d

    def __repr__(self) -> str:
        s = self._core.stats()
        return (
            f"<Policy {self.name!r} calls={s['calls']} retries={s['retries']} "
            f"fallbacks={s['fallbacks']} failures={s['failures']}>"
        )

    def _repr_html_(self) -> str:
        from .html_table import stats_html

        state = self._breaker.state if self._breaker is not None else None
        return stats_html("Policy", self.name, self.stats(), state)


import builtins as _builtins  # noqa: E402

builtins_TimeoutError = _builtins.TimeoutError


# -- decorator factories: each is a one-strategy Policy ----------------------------------------------


def resilient(**options: Any) -> Policy:
    """``@ferrule.resilient(retry=..., breaker=..., timeout_seconds=..., fallback=...)``: a ``Policy``."""
    return Policy(**options)


def retry(
    attempts: int = 3,
    *,
    clock: Optional[ManualClock] = None,
    name: str = "retry",
    **options: Any,
) -> Policy:
    """``@ferrule.retry(attempts=4, backoff=..., max_elapsed_seconds=30)``: ``Retry`` options, as a
    decorator. ``max_elapsed_seconds`` bounds the loop."""
    return Policy(retry=Retry(attempts, **options), clock=clock, name=name)


def timeout(
    seconds: float, *, hard: bool = False, clock: Optional[ManualClock] = None, name: str = "timeout"
) -> Policy:
    """``@ferrule.timeout(10.0)``: bounds each call. Cancels ``async def`` calls; sync calls see the
    bound through ``ferrule.remaining()``, or with ``hard=True`` run on a worker thread that is
    abandoned when time is up."""
    return Policy(timeout_seconds=seconds, hard_timeout=hard, clock=clock, name=name)


def fallback(value: Any, *, on: ExcMatcher = Exception, name: str = "fallback") -> Policy:
    """``@ferrule.fallback(lambda exc, prompt: "busy")``: what a failed call returns instead."""
    return Policy(fallback=value, fallback_on=on, name=name)
