# Stub of the private native module; checked against the runtime by `mypy.stubtest` in `make test`.
from typing import Any, Callable, Optional, final
import os
from typing import Dict, List, Sequence, Tuple, Union


__all__ = [
    "CircuitBreakerCore",
    "ManualClock",
    "MockServerCore",
    "__version__",
    "CallContext",
    "InferenceLogCore",
    "Span",
    "bind_context_vars",
    "clear_recent_spans",
    "configure",
    "emit",
    "flush",
    "new_request_id",
    "recent_spans",
    "redact",
    "telemetry_stats",
]

__version__: str

@final
class ManualClock:
    def __new__(cls) -> ManualClock: ...
    def advance(self, seconds: float) -> None: ...
    def now(self) -> float: ...

@final
class CircuitBreakerCore:
    def __new__(
        cls,
        name: str,
        *,
        failure_rate: Optional[float] = None,
        consecutive_failures: Optional[int] = None,
        window: Optional[int] = None,
        window_seconds: Optional[float] = None,
        window_buckets: int = 10,
        min_calls: int = 10,
        slow_call_seconds: Optional[float] = None,
        slow_call_rate: Optional[float] = None,
        open_seconds: float = 30.0,
        max_open_seconds: Optional[float] = None,
        open_multiplier: float = 2.0,
        half_open_calls: int = 1,
        clock: Optional[ManualClock] = None,
        on_transition: Optional[Callable[[str, str, str, Optional[float]], Any]] = None,
    ) -> CircuitBreakerCore: ...
    def acquire(self) -> int: ...
    def success(self, token: int) -> None: ...
    def failure(self, token: int) -> None: ...
    def ignored(self, token: int) -> None: ...
    def force_open(self) -> None: ...
    def force_closed(self) -> None: ...
    def reset(self) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def state(self) -> str: ...
    def stats(self) -> dict[str, Any]: ...

# ---- telemetry (issue 5) ----------------------------------------------------------------------------

_AttrValue = Union[str, int, float, bool, List[str]]

@final
class CallContext:
    def __new__(
        cls,
        session_id: Optional[str] = None,
        user_id: Optional[str] = None,
        tags: Optional[Sequence[str]] = None,
        outer: Optional[CallContext] = None,
    ) -> CallContext: ...
    @property
    def session_id(self) -> str: ...
    @property
    def user_id(self) -> Optional[str]: ...
    @property
    def tags(self) -> List[str]: ...
    @property
    def session_generated(self) -> bool: ...

@final
class Span:
    def __new__(
        cls,
        name: Optional[str] = None,
        *,
        operation: Optional[str] = None,
        model: Optional[str] = None,
        provider: Optional[str] = None,
        role: str = "call",
        attributes: Optional[Dict[str, Any]] = None,
        parent: Optional[Span] = None,
        traceparent: Optional[str] = None,
    ) -> Span: ...
    def __enter__(self) -> Span: ...
    def __exit__(self, exc_type: Optional[type] = None, exc: Optional[BaseException] = None, _tb: Optional[Any] = None) -> bool: ...
    def end(self, *, status: Optional[str] = None, error: Optional[BaseException] = None, attributes: Optional[Dict[str, Any]] = None) -> None: ...
    def set_attribute(self, key: str, value: _AttrValue) -> None: ...
    def set_attributes(self, attributes: Dict[str, Any]) -> None: ...
    def set_usage(self, input_tokens: Optional[int] = None, output_tokens: Optional[int] = None) -> None: ...
    def set_content(self, input: Optional[str] = None, output: Optional[str] = None) -> bool: ...
    def set_status(self, status: str, description: Optional[str] = None) -> None: ...
    def record_exception(self, exc: BaseException) -> None: ...
    @property
    def trace_id(self) -> str: ...
    @property
    def span_id(self) -> str: ...
    @property
    def parent_span_id(self) -> Optional[str]: ...
    @property
    def request_id(self) -> str: ...
    @property
    def sampled(self) -> bool: ...
    @property
    def name(self) -> str: ...
    @property
    def ended(self) -> bool: ...
    @property
    def traceparent(self) -> str: ...

@final
class InferenceLogCore:
    def __new__(
        cls,
        path: Union[str, os.PathLike[str]],
        *,
        max_age_seconds: Optional[float] = None,
        max_rows: Optional[int] = None,
        capacity: int = 65536,
    ) -> InferenceLogCore: ...
    def record(
        self,
        *,
        request_id: str,
        outcome: str,
        model: Optional[str] = None,
        provider: Optional[str] = None,
        template: Optional[str] = None,
        parameters: Optional[str] = None,
        input: Optional[str] = None,
        output: Optional[str] = None,
        input_tokens: Optional[int] = None,
        output_tokens: Optional[int] = None,
        cost_usd: Optional[float] = None,
        latency_seconds: Optional[float] = None,
        error_type: Optional[str] = None,
        attempts: Optional[int] = None,
        trace_id: Optional[str] = None,
        span_id: Optional[str] = None,
        session_id: Optional[str] = None,
        user_id: Optional[str] = None,
        time_unix_ns: int = 0,
    ) -> bool: ...
    def query(self, sql: str, params: Optional[Sequence[Any]] = None) -> Tuple[List[str], List[Tuple[Any, ...]]]: ...
    def records(
        self,
        *,
        model: Optional[str] = None,
        since: Optional[float] = None,
        outcome: Optional[str] = None,
        limit: int = 1000,
    ) -> Tuple[List[str], List[Tuple[Any, ...]]]: ...
    def flush(self, timeout_seconds: float = 5.0) -> bool: ...
    def close(self) -> None: ...
    def take_error(self) -> Optional[str]: ...
    @property
    def path(self) -> str: ...
    def stats(self) -> Dict[str, int]: ...

def bind_context_vars(span: Any, context: Any) -> None: ...
def configure(
    *,
    service_name: Optional[str] = None,
    sample_ratio: Optional[float] = None,
    slow_span_seconds: Optional[float] = None,
    capture_content: Optional[bool] = None,
    content_max_chars: Optional[int] = None,
    otlp_endpoint: Optional[str] = None,
    disable_export: bool = False,
    log_sink: Optional[str] = None,
    log_callback: Optional[Callable[[int, str], Any]] = None,
    log_file: Optional[Union[str, os.PathLike[str]]] = None,
    log_max_bytes: int = 10000000,
    log_backups: int = 5,
    log_level: Union[str, int, None] = None,
    log_dedup_seconds: Optional[float] = None,
    redact_patterns: Optional[Sequence[Tuple[str, str]]] = None,
    redact_callback: Optional[Callable[[str], str]] = None,
    clear_redact_callback: bool = False,
) -> None: ...
def emit(event: str, level: str = "info", message: Optional[str] = None, **fields: Any) -> bool: ...
def redact(text: str) -> str: ...
def recent_spans() -> List[Dict[str, Any]]: ...
def clear_recent_spans() -> None: ...
def flush(timeout_seconds: float = 5.0) -> bool: ...
def new_request_id() -> str: ...
def telemetry_stats() -> Dict[str, Any]: ...
@final
class MockServerCore:
    def __new__(
        cls,
        faults_json: str = "[]",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: int = 0,
        hang_ms: int = 30000,
        max_connections: int = 1024,
        allow_non_loopback: bool = False,
    ) -> MockServerCore: ...
    @property
    def url(self) -> str: ...
    @property
    def port(self) -> int: ...
    def requests(self) -> list[dict[str, Any]]: ...
    def clear_requests(self) -> None: ...
    def stats(self) -> dict[str, Any]: ...
    def stop(self) -> None: ...
