# Stub of the private native module; checked against the runtime by `mypy.stubtest` in `make test`.
from typing import Any, Callable, Optional, final


__all__ = ["AnomalyCore", "CircuitBreakerCore", "DriftCore", "ManualClock", "MockServerCore", "PredictorCore", "SloCore", "__version__"]

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
