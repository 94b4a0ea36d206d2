"""Metrics: counters, gauges and histograms in ferrule's lock-free core registry, exported as
Prometheus text or OpenMetrics, served from a background thread, or handed to an existing
prometheus_client registry, or pushed to an OTLP/HTTP collector. ferrule's own metrics (GenAI durations and tokens, breaker state,
retries, rejections, cost, ...) live in the same registry."""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Optional, Sequence

from ._ferrule import (
    Counter,
    CounterChild,
    Gauge,
    GaugeChild,
    Histogram,
    HistogramChild,
    MetricsServer,
    OtlpPusher,
    metrics_text,
    prices,
    push_metrics,
    record_llm_call,
    serve_metrics,
    set_default_max_series,
    set_price,
    template_key,
)

__all__ = [
    "Counter",
    "CounterChild",
    "Gauge",
    "GaugeChild",
    "Histogram",
    "HistogramChild",
    "MetricsServer",
    "OtlpPusher",
    "PrometheusCollector",
    "counter",
    "gauge",
    "histogram",
    "metrics_text",
    "prices",
    "push_metrics",
    "record_llm_call",
    "register_prometheus_collector",
    "serve_metrics",
    "set_default_max_series",
    "set_price",
    "template_key",
]


def counter(name: str, help: str, labels: Sequence[str] = (), *, max_series: Optional[int] = None) -> Counter:
    """Declares (or returns the identical existing) counter. ``name`` may end in ``_total``."""
    return Counter(name, help, list(labels), max_series=max_series)


def gauge(name: str, help: str, labels: Sequence[str] = (), *, max_series: Optional[int] = None) -> Gauge:
    return Gauge(name, help, list(labels), max_series=max_series)


def histogram(
    name: str,
    help: str,
    labels: Sequence[str] = (),
    *,
    buckets: Optional[Iterable[float]] = None,
    max_series: Optional[int] = None,
) -> Histogram:
    return Histogram(
        name, help, list(labels), buckets=None if buckets is None else list(buckets), max_series=max_series
    )


class PrometheusCollector:
    """A prometheus_client collector that yields ferrule's registry, so an app that already serves
    ``/metrics`` with prometheus_client keeps one endpoint. It reads the same exposition text
    ``metrics_text()`` returns, so both paths always agree."""

    def collect(self) -> Iterator[Any]:
        from prometheus_client.parser import text_string_to_metric_families

        yield from text_string_to_metric_families(metrics_text())

    def describe(self) -> list[Any]:
        # Names are not announced up front: ferrule's families may grow after registration.
        return []


def register_prometheus_collector(registry: Any = None) -> PrometheusCollector:
    """Registers ferrule's metrics with ``registry`` (default: ``prometheus_client.REGISTRY``)."""
    try:
        import prometheus_client
    except ImportError as e:  # pragma: no cover - exercised only without the optional dependency
        raise ImportError("register_prometheus_collector needs prometheus_client: pip install prometheus-client") from e
    target = prometheus_client.REGISTRY if registry is None else registry
    collector = PrometheusCollector()
    target.register(collector)
    return collector
