"""ferrule: make LLM calls survivable and visible from inside the process that makes them."""

from ._ferrule import __version__
from .breaker import CircuitBreaker
from .errors import CircuitOpenError, ConfigError, FerruleError, InternalError
from . import metrics
from .metrics import (
    Counter,
    Gauge,
    Histogram,
    MetricsServer,
    metrics_text,
    push_metrics,
    record_llm_call,
    register_prometheus_collector,
    serve_metrics,
    set_price,
)
from .profile import ProfileReport, profile, reset_profile

__all__ = [
    "__version__",
    "CircuitBreaker",
    "CircuitOpenError",
    "ConfigError",
    "FerruleError",
    "InternalError",
    "Counter",
    "Gauge",
    "Histogram",
    "MetricsServer",
    "ProfileReport",
    "metrics",
    "metrics_text",
    "profile",
    "push_metrics",
    "record_llm_call",
    "register_prometheus_collector",
    "reset_profile",
    "serve_metrics",
    "set_price",
]
