"""``ferrule.Retry``: what to retry and how. Numbers are validated by the core at construction (a bad
one raises ``ConfigError`` naming it); the predicates and hooks, which only the host can run, are
normalised here once."""

from __future__ import annotations

from typing import Any, Callable, Optional

from ._ferrule import Backoff, RetryOptions
from .breaker import ExcMatcher, _matcher
from .transient import transient

__all__ = ["Retry"]

OnRetry = Callable[[int, float, Optional[BaseException]], Any]
OnGiveUp = Callable[[BaseException], Any]


def _callable_or_none(v: Any, param: str) -> Any:
    if v is not None and not callable(v):
        raise TypeError(f"Retry: {param}={v!r} is not callable")
    return v


class Retry:
    """Retries a failing call.

    ``attempts`` counts every try (3 = one call and two retries). Waits follow ``backoff`` (default
    ``Backoff.exponential(initial=0.1, multiplier=2, max=10, jitter="full")``), or the server's
    ``Retry-After`` / ``retry-after-ms`` / ``x-ratelimit-reset-*`` when the error carries one, up to
    ``max_retry_after_seconds`` (a longer ask gives up at once). ``max_elapsed_seconds`` bounds the
    whole loop: no wait ends past it.

    ``retry_on`` (exception classes or a predicate; default ``ferrule.transient``) picks the errors
    to retry; others are raised as they are. ``retry_on_result(value)`` retries a returned value
    (an empty completion, say). A ``CircuitOpenError`` or ``RateLimitedError`` from inside the
    pipeline is waited out when its ``retry_after`` fits, else the loop gives up at once.

    Retries draw on a budget shared by every call of the policy: at most ``budget_ratio`` of recent
    requests plus ``min_retries_per_second`` (over ``budget_window_seconds``), so an outage does not
    become a retry storm; ``budget_ratio=None`` turns it off.

    Hooks: ``on_retry(attempt, delay, error)`` before each wait (``error`` is ``None`` for a rejected
    result) and ``on_give_up(retry_error)``. Giving up raises ``ferrule.RetryError``.
    """

    __slots__ = ("_options", "retry_on", "retry_on_result", "on_retry", "on_give_up", "backoff")

    def __init__(
        self,
        attempts: int = 3,
        *,
        backoff: Optional[Backoff] = None,
        max_elapsed_seconds: Optional[float] = None,
        max_retry_after_seconds: float = 60.0,
        retry_on: ExcMatcher = transient,
        retry_on_result: Optional[Callable[[Any], bool]] = None,
        on_retry: Optional[OnRetry] = None,
        on_give_up: Optional[OnGiveUp] = None,
        budget_ratio: Optional[float] = 0.2,
        min_retries_per_second: float = 10.0,
        budget_window_seconds: float = 10.0,
        seed: Optional[int] = None,
    ) -> None:
        if backoff is not None and not isinstance(backoff, Backoff):
            raise TypeError(
                f"Retry: backoff={backoff!r} is not allowed; allowed: a ferrule.Backoff "
                "(Backoff.constant, Backoff.linear or Backoff.exponential)"
            )
        if isinstance(attempts, bool) or not isinstance(attempts, int):
            raise TypeError(f"Retry: attempts={attempts!r} is not allowed; allowed: an integer in [1, 1000]")
        self._options = RetryOptions(
            attempts,
            backoff=backoff,
            max_elapsed_seconds=max_elapsed_seconds,
            max_retry_after_seconds=max_retry_after_seconds,
            budget_ratio=budget_ratio,
            min_retries_per_second=min_retries_per_second,
            budget_window_seconds=budget_window_seconds,
            seed=seed,
        )
        self.backoff = backoff
        matcher = _matcher(retry_on, "retry_on", "Retry")
        self.retry_on: Callable[[BaseException], bool] = matcher if matcher is not None else (lambda exc: False)
        self.retry_on_result = _callable_or_none(retry_on_result, "retry_on_result")
        self.on_retry = _callable_or_none(on_retry, "on_retry")
        self.on_give_up = _callable_or_none(on_give_up, "on_give_up")

    @property
    def attempts(self) -> int:
        return self._options.attempts

    @property
    def max_elapsed_seconds(self) -> Optional[float]:
        return self._options.max_elapsed_seconds

    def __repr__(self) -> str:
        return f"<Retry attempts={self.attempts} backoff={self.backoff!r}>"
