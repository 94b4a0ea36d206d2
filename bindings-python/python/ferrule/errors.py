"""ferrule's exception tree, rooted at FerruleError. The native module raises these classes."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

__all__ = ["FerruleError", "ConfigError", "CircuitOpenError", "InternalError", "ValidationError"]


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
