"""OpenTelemetry interop for applications that already run the OpenTelemetry SDK.

``ferrule.use_opentelemetry()`` makes ferrule's spans part of the application's traces:

- a ferrule call span started with no ferrule parent becomes a child of the application's current
  OpenTelemetry span (its trace id, its sampled flag);
- while a ferrule span is entered (a call, an attempt, a fallback), it is also the current
  OpenTelemetry span, so spans the application starts inside an attempt (an HTTP client, a DB
  call) are its children.

``ferrule.use_opentelemetry(tracer_provider=provider)`` also hands every finished ferrule span to
that SDK ``TracerProvider``'s span processors instead of leaving export to ferrule: one pipeline,
the application's exporter and resource (ferrule's own sampling decision still applies, and a child
of a sampled application span is sampled). Leave ``otlp_endpoint`` unset then, or spans go out twice.

``opentelemetry`` is imported only when this function is called: an application without the
OpenTelemetry API pays nothing, and ferrule's span path checks one flag."""

from __future__ import annotations

from typing import Any, Dict, Optional

from ._ferrule import __version__, set_otel_hooks

__all__ = ["use_opentelemetry"]


def use_opentelemetry(tracer_provider: Optional[Any] = None, *, enabled: bool = True) -> None:
    """Joins ferrule's spans to the application's OpenTelemetry traces (see the module doc);
    ``enabled=False`` turns the bridge off again."""
    if not enabled:
        set_otel_hooks()
        return
    try:
        from opentelemetry import context as otel_context
        from opentelemetry import trace
        from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
    except ImportError as e:  # pragma: no cover - depends on the environment
        from .errors import ConfigError

        raise ConfigError(
            "use_opentelemetry: the opentelemetry-api package is not installed; allowed: install opentelemetry-api"
        ) from e

    get_current_span = trace.get_current_span
    set_span_in_context = trace.set_span_in_context
    attach, detach = otel_context.attach, otel_context.detach
    sampled_flags, unsampled_flags = TraceFlags(TraceFlags.SAMPLED), TraceFlags(TraceFlags.DEFAULT)

    def parent() -> Optional[str]:
        sc = get_current_span().get_span_context()
        if not sc.is_valid:
            return None
        return f"00-{sc.trace_id:032x}-{sc.span_id:016x}-{int(sc.trace_flags) & 1:02x}"

    def enter(trace_id: str, span_id: str, sampled: bool) -> object:
        sc = SpanContext(
            int(trace_id, 16),
            int(span_id, 16),
            is_remote=False,
            trace_flags=sampled_flags if sampled else unsampled_flags,
        )
        return attach(set_span_in_context(NonRecordingSpan(sc)))

    def exit_(token: object) -> None:
        detach(token)  # type: ignore[arg-type]

    on_end = None if tracer_provider is None else _provider_sink(tracer_provider)
    set_otel_hooks(parent, enter, exit_, on_end)


def _provider_sink(provider: Any) -> Any:
    """A function handing a finished span (the core's dict) to ``provider``'s span processors as an
    SDK ``ReadableSpan`` with ferrule's ids, the provider's resource and ferrule's scope."""
    processor = getattr(provider, "_active_span_processor", None)
    if processor is None or not hasattr(provider, "resource"):
        from .errors import ConfigError

        raise ConfigError(
            f"use_opentelemetry: tracer_provider={provider!r} is out of range; "
            "allowed: an opentelemetry.sdk.trace.TracerProvider"
        )
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

    scope = InstrumentationScope("ferrule", __version__)
    resource = provider.resource
    flags = TraceFlags(TraceFlags.SAMPLED)
    ok, unset = Status(StatusCode.OK), Status(StatusCode.UNSET)

    def on_end(d: Dict[str, Any]) -> None:
        trace_id = int(d["trace_id"], 16)
        p = d.get("parent_span_id")
        attributes = d["attributes"]
        status = d["status"]
        span = ReadableSpan(
            name=d["name"],
            context=SpanContext(trace_id, int(d["span_id"], 16), is_remote=False, trace_flags=flags),
            parent=None if p is None else SpanContext(trace_id, int(p, 16), is_remote=False, trace_flags=flags),
            resource=resource,
            attributes=attributes,
            kind=SpanKind.CLIENT if attributes.get("ferrule.span.role") == "call" else SpanKind.INTERNAL,
            status=(
                Status(StatusCode.ERROR, d.get("status_message") or None)
                if status == "error"
                else ok if status == "ok" else unset
            ),
            start_time=d["start_ns"],
            end_time=d["end_ns"],
            instrumentation_scope=scope,
        )
        processor.on_end(span)

    return on_end
