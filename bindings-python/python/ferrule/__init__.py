"""ferrule: make LLM calls survivable and visible from inside the process that makes them."""

from ._ferrule import __version__
from .breaker import CircuitBreaker
from .errors import CircuitOpenError, ConfigError, FerruleError, InternalError
from .errors import ValidationError
from .validate import JsonSchema, Repair, Repaired, parse_json, repair_json, validated, validation_stats

__all__ = [
    "__version__",
    "CircuitBreaker",
    "CircuitOpenError",
    "ConfigError",
    "FerruleError",
    "InternalError",
    "JsonSchema",
    "Repair",
    "Repaired",
    "ValidationError",
    "parse_json",
    "repair_json",
    "validated",
    "validation_stats",
]
