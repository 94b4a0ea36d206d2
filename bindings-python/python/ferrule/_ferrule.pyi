# Stub of the private native module; checked against the runtime by `mypy.stubtest` in `make test`.
from typing import Any, Callable, Optional, final


__all__ = ["CircuitBreakerCore", "ManualClock", "__version__"]

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
