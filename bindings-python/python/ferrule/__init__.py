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
from .errors import StorageError
from ._ferrule import emit, flush, redact, telemetry_stats
from .inference import InferenceLog, inference_log
from .settings import LogFile, configure
from .otel import use_opentelemetry
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
from .watch import SLO, AnomalyDetector, DriftDetector, ErrorPredictor, WatchEvent
from .errors import RateLimitedError
from .rate_limit import Limits, RateLimiter, Reservation, rate_limit
from .errors import ValidationError
from .validate import JsonSchema, Repair, Repaired, parse_json, repair_json, validated, validation_stats

__all__ = [
    "__version__",
    "use_opentelemetry",
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
    "SLO",
    "AnomalyDetector",
    "DriftDetector",
    "ErrorPredictor",
    "WatchEvent",
    "Limits",
    "RateLimitedError",
    "RateLimiter",
    "Reservation",
    "rate_limit",
]

from ._ferrule import Backoff
from .chaos import Chaos
from .deadline import remaining
from .errors import RetryError, TimeoutError
from .policy import Policy, fallback, resilient, retry, timeout
from .retry import Retry
from .transient import transient

__all__ += [
    "Backoff",
    "Chaos",
    "Policy",
    "Retry",
    "RetryError",
    "TimeoutError",
    "fallback",
    "remaining",
    "resilient",
    "retry",
    "timeout",
    "transient",
    "JsonSchema",
    "Repair",
    "Repaired",
    "ValidationError",
    "parse_json",
    "repair_json",
    "validated",
    "validation_stats",
]

from .integrations import wrap_anthropic, wrap_openai

__all__ += ["wrap_anthropic", "wrap_openai"]

from .integrations.stream import StreamInterrupted, StreamPolicy, StreamTimeoutError

__all__ += ["StreamInterrupted", "StreamPolicy", "StreamTimeoutError"]

from .streaming_json import PartialJson, apartial_values, astream_validated, partial_values, stream_validated

__all__ += ["PartialJson", "apartial_values", "astream_validated", "partial_values", "stream_validated"]

from .normalize import ChatResponse, ToolCall, normalize_chat
from .router import Endpoint, Router

__all__ += ["ChatResponse", "Endpoint", "Router", "ToolCall", "normalize_chat"]
from .dead_letter import DeadLetter, DeadLetterQueue, ReplayReport

__all__ += ["DeadLetter", "DeadLetterQueue", "ReplayReport"]
from .redis_backend import RedisBackend

__all__ += ["RedisBackend"]
from .alerting import AlertRouter, Alertmanager, JsonWebhook, PagerDuty, Slack, Webhook, on_alert
from .dead_mans_switch import DeadMansSwitch
from .synthetic_probe import SyntheticProbe

__all__ += ["AlertRouter", "Alertmanager", "DeadMansSwitch", "JsonWebhook", "PagerDuty", "Slack", "SyntheticProbe", "Webhook", "on_alert"]
from .alerting import AlertSubscription
from .watch.synthetic import in_probe

__all__ += ["AlertSubscription", "in_probe"]
from .observer import check_observed, observe, observing
from .prompt_template import prompt

__all__ += ["check_observed", "observe", "observing", "prompt"]
# `ferrule.testing` (ManualClock, MockLLMServer) works after a plain `import ferrule`, as other
# subpackages do; it imports nothing beyond the native module.
from . import testing as testing

# Wrong-type arguments to the public constructors and set-up functions are refused with a
# ConfigError naming the parameter, the type given and what is allowed (checked against each
# signature's annotations). The per-request paths below are checked only after they fail.
from . import _argcheck

_argcheck.install(
    globals(),
    __all__,
    per_call=frozenset({"emit", "redact", "context", "current_context", "current_span", "remaining", "span", "start_span",
                    "traceparent", "record_llm_call", "in_probe", "check_observed"}),
)
del _argcheck
