"""ferrule's exception tree, rooted at FerruleError. The native module raises these classes."""

from __future__ import annotations

import builtins
from typing import Any, Dict, List, Optional, Sequence

__all__ = ["FerruleError", "ConfigError", "CircuitOpenError", "InternalError", "RateLimitedError", "StorageError"]


class FerruleError(Exception):
    """Base of every error ferrule raises."""

    code: str = "FERRULE_ERROR"


class ConfigError(FerruleError, ValueError, TypeError):
    """Invalid configuration, raised at construction. A ``ValueError`` and a ``TypeError``, so code
    that catches either (as it would for a builtin refusal) catches it.

    The refusal is data: ``param`` is the parameter's name, ``value`` what was given (for
    ``kind == "type"``, the name of its type), ``allowed`` what would have been accepted, ``kind`` one
    of ``"range"``, ``"type"``, ``"missing"``, ``"conflict"``, ``"unknown"``, and ``component`` the
    class or function that refused. The message is rendered from these fields. Errors raised with a
    message only (older code paths) have the fields ``None``."""

    code = "FERRULE_INVALID_CONFIG"
    # The value as shown in the message, while a native refusal waits for its parameter's name.
    _shown: Optional[str] = None

    def __init__(
        self,
        message: str,
        param: Optional[str] = None,
        value: Any = None,
        allowed: Optional[str] = None,
        kind: Optional[str] = None,
        component: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.param = param
        self.value = value
        self.allowed = allowed
        self.kind = kind
        self.component = component

    @classmethod
    def out_of_range(cls, component: str, param: str, value: Any, allowed: str) -> "ConfigError":
        """The refusal of a value outside what is allowed, worded like the core's."""
        return cls(f"{component}: {param}={value!r} is out of range; allowed: {allowed}", param, value, allowed,
                   "range", component)

    @classmethod
    def wrong_type(cls, component: str, param: str, value: Any, allowed: str) -> "ConfigError":
        """The refusal of a value of the wrong type, worded like the core's."""
        tname = type(value).__name__
        try:
            shown = repr(value)
        except Exception:
            shown = f"<{tname}>"
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return cls(f"{component}: {param}={shown} must be {allowed}, not {tname}", param, tname, allowed, "type",
                   component)

    @classmethod
    def unnamed_wrong_type(cls, shown: str, tname: str, allowed: str) -> "ConfigError":
        """A wrong type refused by a native argument (``value`` its type's name), before the parameter
        is known: PyO3 names it next, through ``add_note``."""
        err = cls(f"{shown} must be {allowed}, not {tname}", None, tname, allowed, "type")
        err._shown = shown
        return err

    @classmethod
    def unnamed_out_of_range(cls, shown: str, value: Any, allowed: str) -> "ConfigError":
        """An int a native argument's type cannot hold (``2**70`` for a count, ``-1`` for an
        unsigned one), before the parameter is known: PyO3 names it next, through ``add_note``."""
        err = cls(f"{shown} is out of range; allowed: {allowed}", None, value, allowed, "range")
        err._shown = shown
        return err

    def add_note(self, note: str) -> None:
        # PyO3 notes the parameter whose extraction failed ("while processing 'window'"): a
        # refusal made without its parameter takes it from there, and names it in the message.
        shown = self._shown
        if shown is not None and self.param is None and note.startswith("while processing '") and note.endswith("'"):
            self.param = note[len("while processing '") : -1]
            if self.kind == "range":
                self.args = (f"{self.param}={shown} is out of range; allowed: {self.allowed}",)
            else:
                self.args = (f"{self.param}={shown} must be {self.allowed}, not {self.value}",)
            self._shown = None
            return
        super().add_note(note)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.args[0], self.param, self.value, self.allowed, self.kind, self.component))


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


__all__ += ["ValidationError"]


class ValidationError(FerruleError, ValueError):
    """A model's output was refused: not JSON even after repair (``kind == "parse"``), against the
    schema (``"schema"``), or over a size or depth limit (``"limit"``).

    ``errors`` lists every violation as ``{"path": <JSON pointer>, "message": ...}``; ``repairs`` the
    repairs applied before refusing; ``raw`` the text as the model wrote it; ``line`` / ``column``
    locate a parse error (1-based)."""

    code = "FERRULE_VALIDATION"

    def __init__(
        self,
        message: str,
        errors: Sequence[Dict[str, str]] = (),
        repairs: Sequence[Any] = (),
        raw: Optional[str] = None,
        kind: str = "schema",
        line: Optional[int] = None,
        column: Optional[int] = None,
    ) -> None:
        super().__init__(message)
        self.errors: List[Dict[str, str]] = list(errors)
        self.repairs: List[Any] = list(repairs)
        self.raw = raw
        self.kind = kind
        self.line = line
        self.column = column

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.args[0], self.errors, [], self.raw, self.kind, self.line, self.column))
