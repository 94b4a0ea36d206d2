# Stub of the private native module; checked against the runtime by `mypy.stubtest` in `make test`.
import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union, final


__all__ = [
    "CircuitBreakerCore",
    "LimitsCore",
    "ManualClock",
    "MockServerCore",
    "RateLimiterCore",
    "Reservation",
    "__version__",
    "Counter",
    "CounterChild",
    "Gauge",
    "GaugeChild",
    "Histogram",
    "HistogramChild",
    "MetricsServer",
    "metrics_text",
    "prices",
    "profile_reset",
    "profile_rows",
    "record_llm_call",
    "serve_metrics",
    "set_default_max_series",
    "set_price",
    "template_key",
    "OtlpPusher",
    "push_metrics",
]
__all__ += [
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
__all__ += ["AnomalyCore", "DriftCore", "PredictorCore", "SloCore"]
__all__ += ["JsonValidatorCore", "Repair", "repair_json", "validation_stats"]
__all__ += ["span"]

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

# ---- metrics ----------------------------------------------------------------------------------------

@final
class CounterChild:
    def inc(self, amount: Optional[float] = None) -> None: ...
    @property
    def value(self) -> float: ...

@final
class Counter:
    def __new__(
        cls, name: str, help: str, labels: list[str] = ..., *, max_series: Optional[int] = None
    ) -> Counter: ...
    def labels(self, *args: object, **kwargs: object) -> CounterChild: ...
    def inc(self, amount: Optional[float] = None) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def label_names(self) -> list[str]: ...

@final
class GaugeChild:
    def set(self, value: float) -> None: ...
    def inc(self, amount: float = 1.0) -> None: ...
    def dec(self, amount: float = 1.0) -> None: ...
    @property
    def value(self) -> float: ...

@final
class Gauge:
    def __new__(
        cls, name: str, help: str, labels: list[str] = ..., *, max_series: Optional[int] = None
    ) -> Gauge: ...
    def labels(self, *args: object, **kwargs: object) -> GaugeChild: ...
    def set(self, value: float) -> None: ...
    def inc(self, amount: float = 1.0) -> None: ...
    def dec(self, amount: float = 1.0) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def label_names(self) -> list[str]: ...

@final
class HistogramChild:
    def observe(self, value: float, exemplar: Optional[dict[str, str]] = None) -> None: ...
    @property
    def count(self) -> int: ...
    @property
    def sum(self) -> float: ...

@final
class Histogram:
    def __new__(
        cls,
        name: str,
        help: str,
        labels: list[str] = ...,
        *,
        buckets: Optional[list[float]] = None,
        max_series: Optional[int] = None,
    ) -> Histogram: ...
    def labels(self, *args: object, **kwargs: object) -> HistogramChild: ...
    def observe(self, value: float, exemplar: Optional[dict[str, str]] = None) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def label_names(self) -> list[str]: ...
    @property
    def buckets(self) -> list[float]: ...

@final
class MetricsServer:
    @property
    def port(self) -> int: ...
    @property
    def host(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def running(self) -> bool: ...
    def stop(self) -> None: ...
    def __enter__(self) -> MetricsServer: ...
    def __exit__(self, *_exc: object) -> bool: ...

@final
class OtlpPusher:
    def push_now(self) -> bool: ...
    def stop(self) -> None: ...
    @property
    def endpoint(self) -> str: ...
    @property
    def pushes(self) -> int: ...
    @property
    def failures(self) -> int: ...
    @property
    def running(self) -> bool: ...
    def __enter__(self) -> OtlpPusher: ...
    def __exit__(self, *_exc: object) -> bool: ...

def push_metrics(
    endpoint: Optional[str] = None,
    *,
    interval_seconds: float = 10.0,
    timeout_seconds: float = 5.0,
    service_name: str = "ferrule",
    headers: Optional[dict[str, str]] = None,
) -> OtlpPusher: ...
def metrics_text(openmetrics: bool = False) -> str: ...
def serve_metrics(port: int = 9464, host: str = "127.0.0.1") -> MetricsServer: ...
def set_default_max_series(n: int) -> None: ...
def record_llm_call(
    *,
    model: str,
    duration_seconds: float,
    input_tokens: Optional[int] = None,
    output_tokens: Optional[int] = None,
    operation: str = "chat",
    provider: str = "openai",
    error_type: Optional[str] = None,
    template: Optional[str] = None,
    template_text: Optional[str] = None,
    trace_id: Optional[str] = None,
) -> float: ...
def set_price(model: str, input_per_million: float, output_per_million: float) -> None: ...
def prices() -> dict[str, tuple[float, float]]: ...
def template_key(name: Optional[str] = None, text: Optional[str] = None) -> str: ...
def profile_rows(by: str = "cost", n: Optional[int] = None) -> list[dict[str, Any]]: ...
def profile_reset() -> None: ...
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
def emit(
    event: str,
    level: str = "info",
    message: Optional[str] = None,
    *,
    model: Optional[object] = None,
    attempt: Optional[int] = None,
    latency_seconds: Optional[float] = None,
    input_tokens: Optional[int] = None,
    output_tokens: Optional[int] = None,
    cost_usd: Optional[float] = None,
    error: Optional[BaseException] = None,
    error_type: Optional[object] = None,
    error_message: Optional[object] = None,
    **fields: Any,
) -> bool: ...
def redact(text: str) -> str: ...
def span(
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

@final
class SloCore:
    def __new__(
        cls,
        name: str,
        *,
        objective: float = 0.999,
        window_days: int = 30,
        kind: str = "availability",
        threshold_seconds: Optional[float] = None,
        rules: Optional[list[tuple[float, float, float, str]]] = None,
        min_calls: int = 10,
        confidence_sigmas: float = 3.0,
        fast_burn: bool = True,
        fast_burn_factor: float = 14.4,
        fast_burn_threshold: float = 12.0,
        budget_recover: float = 0.05,
        clock: Optional[ManualClock] = None,
    ) -> SloCore: ...
    def record(
        self, ok: bool, latency_seconds: float, synthetic: bool = False, at: Optional[float] = None
    ) -> Optional[list[dict[str, Any]]]: ...
    def evaluate(self, at: Optional[float] = None) -> Optional[list[dict[str, Any]]]: ...
    def burn_rate(self, window_seconds: float, at: Optional[float] = None) -> float: ...
    def budget_remaining(self, at: Optional[float] = None) -> float: ...
    @property
    def name(self) -> str: ...
    @property
    def objective(self) -> float: ...
    def now(self) -> float: ...
    def stats(self) -> dict[str, Any]: ...

@final
class AnomalyCore:
    def __new__(
        cls,
        name: str,
        metric: str,
        *,
        method: str = "ewma",
        direction: str = "up",
        threshold: Optional[float] = None,
        warm_up: int = 30,
        baseline_seconds: float = 1800.0,
        smoothing: float = 0.25,
        clip_sigmas: float = 4.0,
        window: int = 64,
        sample_seconds: float = 30.0,
        recent: int = 7,
        hysteresis_window: int = 32,
        fire_count: int = 16,
        resolve_count: int = 4,
        min_duration_seconds: float = 60.0,
        severity: str = "warning",
        max_series: int = 1000,
        clock: Optional[ManualClock] = None,
    ) -> AnomalyCore: ...
    def observe(
        self, value: float, model: str, template: str, at: Optional[float] = None
    ) -> Optional[list[dict[str, Any]]]: ...
    @property
    def name(self) -> str: ...
    @property
    def metric(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def threshold(self) -> float: ...
    def series(self) -> list[dict[str, Any]]: ...
    def stats(self) -> dict[str, Any]: ...
    def reset(self) -> None: ...

@final
class DriftCore:
    def __new__(
        cls,
        name: str,
        *,
        dim: int = 256,
        baseline_size: int = 200,
        window_size: int = 100,
        check_every: int = 25,
        permutations: int = 200,
        p_value: float = 0.01,
        min_distance: float = 0.01,
        psi_threshold: float = 0.25,
        psi_bins: int = 8,
        consecutive: int = 3,
        baseline: str = "fixed",
        severity: str = "warning",
        seed: int = 0xD51F7A,
        clock: Optional[ManualClock] = None,
    ) -> DriftCore: ...
    def observe_text(
        self, text: str, tokens: Optional[float] = None, at: Optional[float] = None
    ) -> Optional[list[dict[str, Any]]]: ...
    def observe_vector(
        self, vector: list[float], length: float, tokens: Optional[float] = None, at: Optional[float] = None
    ) -> Optional[list[dict[str, Any]]]: ...
    def accept(self, at: Optional[float] = None) -> Optional[list[dict[str, Any]]]: ...
    @property
    def name(self) -> str: ...
    def stats(self) -> dict[str, Any]: ...

@final
class PredictorCore:
    def __new__(
        cls,
        name: str,
        *,
        interval_seconds: float = 60.0,
        horizon_seconds: float = 300.0,
        error_rate_threshold: float = 0.25,
        warn_probability: float = 0.7,
        resolve_probability: float = 0.3,
        min_calls: int = 5,
        learning_rate: float = 0.05,
        l2: float = 1e-4,
        positive_weight: float = 3.0,
        prior: float = 0.01,
        severity: str = "warning",
        model: Optional[list[float]] = None,
        clock: Optional[ManualClock] = None,
    ) -> PredictorCore: ...
    def observe(
        self,
        outcome: str,
        latency_seconds: float,
        ratelimit_remaining: Optional[float] = None,
        ratelimit_limit: Optional[float] = None,
        at: Optional[float] = None,
    ) -> Optional[list[dict[str, Any]]]: ...
    def tick(self, at: Optional[float] = None) -> Optional[list[dict[str, Any]]]: ...
    @property
    def name(self) -> str: ...
    @property
    def probability(self) -> Optional[float]: ...
    def export(self) -> list[float]: ...
    def load(self, model: list[float]) -> None: ...
    def stats(self) -> dict[str, Any]: ...

# -- retry, pipeline, chaos (issue 3) ---------------------------------------------------------------

@final
class Backoff:
    @staticmethod
    def constant(delay: float = 1.0, *, jitter: str = "none") -> Backoff: ...
    @staticmethod
    def linear(initial: float = 0.1, increment: float = 0.1, max: float = 10.0, *, jitter: str = "none") -> Backoff: ...
    @staticmethod
    def exponential(initial: float = 0.1, multiplier: float = 2.0, max: float = 10.0, *, jitter: str = "full") -> Backoff: ...
    @property
    def kind(self) -> str: ...
    @property
    def jitter(self) -> str: ...
    @property
    def initial(self) -> float: ...
    @property
    def max(self) -> float: ...
    def nominal(self, n: int) -> float: ...
    def sample(self, n: int, *, seed: int = 0) -> list[float]: ...

@final
class RetryOptions:
    def __new__(
        cls,
        attempts: int = 3,
        *,
        backoff: Optional[Backoff] = None,
        max_elapsed_seconds: Optional[float] = None,
        max_retry_after_seconds: float = 60.0,
        budget_ratio: Optional[float] = ...,
        min_retries_per_second: float = 10.0,
        budget_window_seconds: float = 10.0,
        seed: Optional[int] = None,
    ) -> RetryOptions: ...
    @property
    def attempts(self) -> int: ...
    @property
    def max_elapsed_seconds(self) -> Optional[float]: ...

@final
class PolicyCore:
    def __new__(
        cls,
        *,
        retry: Optional[RetryOptions] = None,
        breaker: Optional[CircuitBreakerCore] = None,
        timeout_seconds: Optional[float] = None,
        total_timeout_seconds: Optional[float] = None,
        clock: Optional[ManualClock] = None,
        name: Optional[str] = None,
    ) -> PolicyCore: ...
    def begin(self) -> int: ...
    def begin_at(self) -> tuple[int, int, Optional[float]]: ...
    def begin_sync(self) -> int: ...
    def success_sync(self, token: int) -> None: ...
    def fail_sync(self, token: int, outcome: int) -> int: ...
    def enter(self, start: int) -> Optional[int]: ...
    def enter_at(self, start: int, deadline: int) -> None: ...
    def leave(self) -> None: ...
    def until(self, deadline: int) -> float: ...
    def attempt(self) -> int: ...
    def success(self, token: int) -> None: ...
    def record(self, token: int, outcome: int) -> None: ...
    def decide(
        self,
        start: int,
        attempts_made: int,
        previous_delay: float,
        retryable: bool,
        wait: Optional[float] = None,
        refused: bool = False,
    ) -> float | str: ...
    def attempt_deadline(self, start: int) -> Optional[float]: ...
    def call_remaining(self, start: int) -> Optional[float]: ...
    def now(self) -> float: ...
    def now_nanos(self) -> int: ...
    def note(self, event: str) -> None: ...
    @property
    def attempts(self) -> int: ...
    @property
    def bounded(self) -> bool: ...
    def stats(self) -> dict[str, Any]: ...

@final
class ChaosCore:
    def __new__(
        cls,
        *,
        error_rate: float = 0.0,
        latency_rate: float = 0.0,
        latency_seconds: float = 0.0,
        seed: Optional[int] = None,
    ) -> ChaosCore: ...
    def next(self) -> int: ...
    def stats(self) -> dict[str, Any]: ...

def hint_header_names() -> list[str]: ...
def retry_hint(headers: list[tuple[str, str]], status: Optional[int] = None) -> Optional[float]: ...
def transient_statuses() -> list[int]: ...
def sync_remaining() -> Optional[float]: ...

__all__ += ["Backoff", "ChaosCore", "PolicyCore", "RetryOptions", "hint_header_names", "retry_hint", "sync_remaining", "transient_statuses"]
@final
class RateLimiterCore:
    @staticmethod
    def token_bucket(
        rate: float,
        per_seconds: float = 1.0,
        burst: Optional[int] = None,
        *,
        name: Optional[str] = None,
        max_keys: int = 10_000,
        clock: Optional[ManualClock] = None,
        on_event: Optional[Callable[[str, str, int], Any]] = None,
    ) -> RateLimiterCore: ...
    @staticmethod
    def sliding_window(
        limit: int,
        window_seconds: float,
        *,
        name: Optional[str] = None,
        max_keys: int = 10_000,
        clock: Optional[ManualClock] = None,
        on_event: Optional[Callable[[str, str, int], Any]] = None,
    ) -> RateLimiterCore: ...
    @staticmethod
    def sliding_log(
        limit: int,
        window_seconds: float,
        *,
        name: Optional[str] = None,
        max_keys: int = 10_000,
        clock: Optional[ManualClock] = None,
        on_event: Optional[Callable[[str, str, int], Any]] = None,
    ) -> RateLimiterCore: ...
    def try_acquire(self, n: int = 1, key: Optional[object] = None) -> bool: ...
    def step(self, n: int = 1, key: Optional[object] = None, deadline: Optional[float] = None) -> float: ...
    def acquire(self, n: int = 1, key: Optional[object] = None, timeout: Optional[float] = None) -> None: ...
    def peek(self, n: int = 1, key: Optional[object] = None) -> float: ...
    def now(self) -> float: ...
    def deadline(self, timeout: float) -> float: ...
    def evict_idle(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def algorithm(self) -> str: ...
    @property
    def max_n(self) -> int: ...
    @property
    def manual_clock(self) -> bool: ...
    def stats(self) -> dict[str, Any]: ...

@final
class LimitsCore:
    def __new__(cls, names: Sequence[str], limiters: Sequence[RateLimiterCore]) -> LimitsCore: ...
    def try_acquire(self, costs: Sequence[int], key: Optional[object] = None) -> bool: ...
    def step(
        self, costs: Sequence[int], key: Optional[object] = None, deadline: Optional[float] = None
    ) -> Union[Reservation, float]: ...
    def acquire(
        self, costs: Sequence[int], key: Optional[object] = None, timeout: Optional[float] = None
    ) -> Reservation: ...
    def now(self) -> float: ...
    def deadline(self, timeout: float) -> float: ...
    @property
    def names(self) -> list[str]: ...
    @property
    def manual_clock(self) -> bool: ...
    def stats(self) -> dict[str, Any]: ...

@final
class Reservation:
    def settle(self, **actual: int) -> None: ...
    @property
    def settled(self) -> bool: ...
    @property
    def charged(self) -> dict[str, int]: ...
    @property
    def key(self) -> Optional[str]: ...
@final
class Repair:
    @property
    def kind(self) -> str: ...
    @property
    def detail(self) -> str: ...
    @property
    def line(self) -> int: ...
    @property
    def column(self) -> int: ...
    @property
    def offset(self) -> int: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class JsonValidatorCore:
    def __new__(
        cls,
        schema_json: Optional[str] = None,
        *,
        repair: bool = True,
        max_input_bytes: int = 10485760,
        max_depth: int = 128,
        name: Optional[str] = None,
        on_repaired: Optional[Callable[[list[Repair], str], object]] = None,
        on_refused: Optional[Callable[[Any], object]] = None,
    ) -> JsonValidatorCore: ...
    def validate(self, text: str) -> Any: ...
    def record(self, verdict: str, repair_kinds: Optional[list[str]] = None) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def repair(self) -> bool: ...
    @property
    def max_input_bytes(self) -> int: ...
    @property
    def max_depth(self) -> int: ...

def repair_json(text: str, *, max_input_bytes: int = 10485760, max_depth: int = 128) -> tuple[str, list[Repair], int]: ...
def validation_stats() -> dict[str, Any]: ...

__all__ += ["RouterCore"]

@final
class RouterCore:
    def __new__(
        cls,
        name: str,
        strategy: str,
        endpoints: List[Tuple[str, float, Optional[str], int, Optional[float], Optional[float], Optional[int]]],
        *,
        failure_rate: float = 0.5,
        window: int = 20,
        min_calls: int = 10,
        open_seconds: float = 30.0,
        eject_after_failures: int = 5,
        ejection_seconds: float = 30.0,
        max_ejection_seconds: float = 300.0,
        max_ejection_percent: float = 0.5,
        cooldown_seconds: float = 5.0,
        max_cooldown_seconds: float = 300.0,
        failback_seconds: float = 30.0,
        probe_interval_seconds: float = 5.0,
        ewma_seconds: float = 10.0,
        hedge: bool = False,
        hedge_quantile: float = 0.95,
        hedge_min_samples: int = 20,
        hedge_max_ratio: float = 0.1,
        hedge_min_delay_seconds: float = 0.0,
        seed: Optional[int] = None,
        clock: Optional[ManualClock] = None,
    ) -> RouterCore: ...
    def pick(self, tried: int) -> int: ...
    def success(self, token: int) -> bool: ...
    def failure(self, token: int, status: Optional[int] = None, retry_after: Optional[float] = None) -> bool: ...
    def release(self, token: int) -> bool: ...
    def hedge_delay(self, token: int) -> Optional[float]: ...
    def try_hedge(self, token: int) -> bool: ...
    def drain_events(self) -> List[Dict[str, Any]]: ...
    @property
    def name(self) -> str: ...
    @property
    def strategy(self) -> str: ...
    @property
    def active_region(self) -> str: ...
    def stats(self) -> Dict[str, Any]: ...
