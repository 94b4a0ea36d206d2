"""ferrule: make LLM calls survivable and visible from inside the process that makes them."""

from ._ferrule import __version__
from .breaker import CircuitBreaker
from .errors import CircuitOpenError, ConfigError, FerruleError, InternalError
from .errors import StorageError
from ._ferrule import emit, flush, redact, telemetry_stats
from .inference import InferenceLog, inference_log
from .settings import LogFile, configure
from .tracing import (
    CallContext,
    Span,
    clear_recent_spans,
    context,
    current_context,
    current_span,
    recent_spans,
    span,
    start_span,
    traceparent,
)

__all__ = [
    "__version__",
    "CircuitBreaker",
    "CircuitOpenError",
    "ConfigError",
    "FerruleError",
    "InternalError",
    "StorageError",
    "CallContext",
    "InferenceLog",
    "LogFile",
    "Span",
    "clear_recent_spans",
    "configure",
    "context",
    "current_context",
    "current_span",
    "emit",
    "flush",
    "inference_log",
    "recent_spans",
    "redact",
    "span",
    "start_span",
    "telemetry_stats",
    "traceparent",
]
