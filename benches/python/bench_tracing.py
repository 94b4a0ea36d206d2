"""Telemetry overhead from Python: recording a span (ferrule vs the OpenTelemetry SDK) and writing
one JSON log event (ferrule, masked, vs json.dumps + logging), in the same process run."""

from __future__ import annotations

import gc
import itertools
import json
import logging
import os
import re
import time

from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import ferrule
from timing import ns_per_call, table


class _NoExport(SpanExporter):
    """The SDK's batch pipeline without the network: the cheapest honest OpenTelemetry setup."""

    def export(self, spans):  # type: ignore[no-untyped-def]
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def cpu_ns(fn, n: int = 20_000, rounds: int = 5) -> float:
    """Median process CPU time per call: steady when other work shares the machine, where wall time
    also counts the time this process was not running. (The SDK's batch thread is counted too: it is
    part of what an OpenTelemetry span costs.)"""
    samples = []
    for _ in range(min(n, 5000)):
        fn()
    gc.disable()
    try:
        for _ in range(rounds):
            t0 = time.process_time_ns()
            for _ in range(n):
                fn()
            samples.append((time.process_time_ns() - t0) / n)
    finally:
        gc.enable()
    return sorted(samples)[rounds // 2]


def ratio_line(name: str, mine: float, peer: float, want: float) -> None:
    r = peer / mine
    print(f"ratio: {name} is {r:.1f}x cheaper (target >= {want:.0f}x) -> {'MET' if r >= want else 'MISSED'}")


def spans() -> None:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(_NoExport(), max_queue_size=2048))
    tracer = provider.get_tracer("bench")
    otel_attrs = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.provider.name": "openai"}
    ferrule.configure(otlp_endpoint=False, sample_ratio=1.0)
    span = ferrule.span

    def f_genai() -> None:
        with span(operation="chat", model="gpt-4o", provider="openai"):
            pass

    span_class = ferrule.Span

    def f_class() -> None:
        # The same span through the class call, which builds a keyword dict first.
        with span_class(operation="chat", model="gpt-4o", provider="openai"):
            pass

    def f_named() -> None:
        with span("chat gpt-4o"):
            pass

    def o_attrs() -> None:
        with tracer.start_as_current_span("chat gpt-4o", attributes=otel_attrs):
            pass

    def o_plain() -> None:
        with tracer.start_as_current_span("chat gpt-4o"):
            pass

    rows = [
        ("ferrule.span, 3 GenAI attributes", ns_per_call(f_genai, n=100_000)),
        ("ferrule.span, name only", ns_per_call(f_named, n=100_000)),
        ("ferrule.Span(...) class call, 3 GenAI attributes", ns_per_call(f_class, n=100_000)),
        ("OpenTelemetry SDK 1.45 span, 3 attributes", ns_per_call(o_attrs, n=20_000)),
        ("OpenTelemetry SDK 1.45 span, name only", ns_per_call(o_plain, n=20_000)),
    ]
    table("span record from Python (with-block, started + ended + buffered)", rows,
          against="ferrule.span, 3 GenAI attributes", target=("ferrule.span, 3 GenAI attributes", 1000))
    d = dict(rows)
    ratio_line("ferrule.span", d["ferrule.span, 3 GenAI attributes"], d["OpenTelemetry SDK 1.45 span, 3 attributes"], 20)
    cpu = [
        ("ferrule.span, 3 GenAI attributes (CPU)", cpu_ns(f_genai, n=50_000)),
        ("ferrule.Span(...) class call (CPU)", cpu_ns(f_class, n=50_000)),
        ("OpenTelemetry SDK 1.45 span, 3 attributes (CPU)", cpu_ns(o_attrs, n=10_000)),
    ]
    table("span record, process CPU time per call", cpu, against="ferrule.span, 3 GenAI attributes (CPU)",
          target=("ferrule.span, 3 GenAI attributes (CPU)", 1000))
    ratio_line("ferrule.span (CPU)", cpu[0][1], cpu[2][1], 20)
    st = ferrule.telemetry_stats()
    print(f"ring: {st['recent_len']}/{st['recent_capacity']} spans held, {st['recent_evicted']} evicted (bounded)")
    provider.shutdown()


def logs() -> None:
    devnull = open(os.devnull, "w")
    ferrule.configure(log_sink=ferrule.LogFile(os.devnull), log_level="info")
    counter = itertools.count()
    emit = ferrule.emit

    def f_emit() -> None:
        # A varying attempt keeps every event distinct, so none is rate-limited away.
        emit("retry.attempt", level="warning", message="retrying after 503 for bob@example.com",
             model="gpt-4o", attempt=next(counter), latency_seconds=0.25)

    log = logging.getLogger("bench.json")
    log.propagate = False
    h = logging.StreamHandler(devnull)
    h.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(h)
    log.setLevel(logging.INFO)
    dumps = json.dumps
    email = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")

    def p_json() -> None:
        log.warning(dumps({"time": time.time(), "level": "warning", "event": "retry.attempt",
                           "message": "retrying after 503 for bob@example.com", "model": "gpt-4o",
                           "attempt": next(counter), "latency_seconds": 0.25}))

    def p_json_masked() -> None:
        log.warning(dumps({"time": time.time(), "level": "warning", "event": "retry.attempt",
                           "message": email.sub("[EMAIL]", "retrying after 503 for bob@example.com"),
                           "model": "gpt-4o", "attempt": next(counter), "latency_seconds": 0.25}))

    rows = [
        ("ferrule.emit, JSON + PII masking, file sink", ns_per_call(f_emit, n=50_000)),
        ("json.dumps + logging (no masking)", ns_per_call(p_json, n=50_000)),
        ("json.dumps + re email mask + logging", ns_per_call(p_json_masked, n=50_000)),
    ]
    table("structured JSON log event", rows, against="ferrule.emit, JSON + PII masking, file sink",
          target=("ferrule.emit, JSON + PII masking, file sink", 2000))
    d = dict(rows)
    ratio_line("ferrule.emit", d["ferrule.emit, JSON + PII masking, file sink"], d["json.dumps + logging (no masking)"], 4)
    cpu = [
        ("ferrule.emit (CPU)", cpu_ns(f_emit, n=20_000)),
        ("json.dumps + logging (CPU)", cpu_ns(p_json, n=20_000)),
    ]
    table("structured JSON log event, process CPU time per call", cpu, against="ferrule.emit (CPU)",
          target=("ferrule.emit (CPU)", 2000))
    ratio_line("ferrule.emit (CPU)", cpu[0][1], cpu[1][1], 4)
    ferrule.configure(log_sink="logging")
    devnull.close()


def main() -> None:
    spans()
    logs()


if __name__ == "__main__":
    main()
