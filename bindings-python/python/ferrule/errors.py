"""ferrule's exception tree, rooted at FerruleError. The native module raises these classes."""

from __future__ import annotations

import builtins
from typing import Optional

__all__ = ["FerruleError", "ConfigError", "CircuitOpenError", "InternalError", "RateLimitedError", "StorageError"]


class FerruleError(Exception):
    """Base of every error ferrule raises."""

    code: str = "FERRULE_ERROR"


class ConfigError(FerruleError, ValueError):
    """Invalid configuration, raised at construction. The message names the parameter, its value and
    the allowed range."""

    code = "FERRULE_INVALID_CONFIG"


class CircuitOpenError(FerruleError):
    """A circuit breaker refused the call.

    ``breaker`` is the breaker's name; ``retry_after`` the seconds it stays open, or ``None`` when that
    cannot be known (forced open, or every half-open probe slot is taken)."""

    code = "FERRULE_CIRCUIT_OPEN"

    def __init__(self, message: str, breaker: str, retry_after: Optional[float]) -> None:
        super().__init__(message)
        self.breaker = breaker
        self.retry_after = retry_after

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.args[0], self.breaker, self.retry_after))


class InternalError(FerruleError):
    """A bug inside ferrule (a Rust panic, caught at the boundary). Please report it."""

    code = "FERRULE_INTERNAL"


class StorageError(FerruleError):
    """A durable store (the inference log) could not open, write or answer a query; the message
    names the store and SQLite's reason."""

    code = "FERRULE_STORAGE"


class RateLimitedError(FerruleError):
    """A rate limiter refused the call: it would pass after ``retry_after`` seconds (``None`` when
    unknown), longer than the caller was willing to wait (``timeout``). ``key`` is the key that was
    limited, if any; ``limiter`` names the limiter (in ``Limits``, the limit) that refused."""

    code = "FERRULE_RATE_LIMITED"

    def __init__(self, message: str, retry_after: Optional[float] = None, key: Optional[str] = None,
                 limiter: Optional[str] = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.key = key
        self.limiter = limiter

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.args[0], self.retry_after, self.key, self.limiter))


__all__ += ["RetryError", "TimeoutError"]


class RetryError(FerruleError):
    """A retry loop gave up. ``attempts`` is how many tries were made; ``errors`` holds every
    attempt's exception in order (``None`` for an attempt whose *result* was rejected by
    ``retry_on_result``; that value is ``last_result``); ``reason`` is why it stopped: ``"attempts"``,
    ``"deadline"``, ``"retry_after_too_long"``, ``"refused"`` or ``"budget"``. ``__cause__`` is the last
    exception."""

    code = "FERRULE_RETRY_EXHAUSTED"

    def __init__(
        self,
        message: str,
        attempts: int,
        errors: "list[Optional[BaseException]]",
        reason: str,
        last_result: object = None,
    ) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.errors = errors
        self.reason = reason
        self.last_result = last_result

    @property
    def last_error(self) -> Optional[BaseException]:
        for e in reversed(self.errors):
            if e is not None:
                return e
        return None


class TimeoutError(FerruleError, builtins.TimeoutError):  # noqa: A001 - the name users expect
    """A call or an attempt ran out of time. Also a builtin ``TimeoutError``, so existing
    ``except TimeoutError`` code catches it. ``timeout_seconds`` is the bound that was hit."""

    code = "FERRULE_TIMEOUT"

    def __init__(self, message: str, timeout_seconds: Optional[float] = None) -> None:
        super().__init__(message)
        self.timeout_seconds = timeout_seconds

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.args[0], self.timeout_seconds))
