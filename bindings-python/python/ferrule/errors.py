"""ferrule's exception tree, rooted at FerruleError. The native module raises these classes."""

from __future__ import annotations

from typing import Optional

__all__ = ["FerruleError", "ConfigError", "CircuitOpenError", "InternalError", "StorageError"]


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
