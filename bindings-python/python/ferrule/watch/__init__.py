"""Watchers: SLOs and error budgets, anomaly detection, drift detection, latent error prediction.
Each is fed explicitly and returns (and hands to its callbacks) the events it caused."""

from .anomaly import AnomalyDetector
from .drift import DriftDetector, Embedder
from .event import EventCallback, WatchEvent
from .predictor import ErrorPredictor
from .slo import SLO, BurnRule

__all__ = [
    "AnomalyDetector",
    "BurnRule",
    "DriftDetector",
    "Embedder",
    "ErrorPredictor",
    "EventCallback",
    "SLO",
    "WatchEvent",
]
