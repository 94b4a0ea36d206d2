"""ferrule: make LLM calls survivable and visible from inside the process that makes them."""

from ._ferrule import __version__
from .breaker import CircuitBreaker
from .errors import CircuitOpenError, ConfigError, FerruleError, InternalError
from .watch import SLO, AnomalyDetector, DriftDetector, ErrorPredictor, WatchEvent

__all__ = [
    "__version__",
    "CircuitBreaker",
    "CircuitOpenError",
    "ConfigError",
    "FerruleError",
    "InternalError",
    "SLO",
    "AnomalyDetector",
    "DriftDetector",
    "ErrorPredictor",
    "WatchEvent",
]
