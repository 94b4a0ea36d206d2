"""Type-checked by mypy --strict in `make test`: the public API as a user writes it."""

from __future__ import annotations

import ferrule

breaker = ferrule.CircuitBreaker("openai", failure_rate=0.5, window=20, min_calls=10, open_seconds=30.0,
                                 half_open_calls=2, ignore=(ValueError,))


@breaker
def call(prompt: str) -> str:
    return prompt


@breaker
async def acall(prompt: str) -> str:
    return prompt


def use() -> None:
    text: str = call("hi")
    state: str = breaker.state
    stats = breaker.stats()
    n: int = stats["calls"]
    breaker.on_state_change(lambda old, new: None)
    try:
        breaker.call(call, "x")
    except ferrule.CircuitOpenError as e:
        who: str = e.breaker
        wait = e.retry_after
        print(text, state, n, who, wait)


def use_metrics() -> None:
    calls = ferrule.Counter("typed_calls_total", "Calls.", ["model"])
    handle: ferrule.metrics.CounterChild = calls.labels(model="gpt-4o")
    handle.inc()
    handle.inc(2)
    latency = ferrule.metrics.histogram("typed_latency_seconds", "Latency.", buckets=[0.1, 1.0])
    latency.observe(0.2, exemplar={"trace_id": "abc"})
    depth = ferrule.Gauge("typed_depth", "Depth.")
    depth.set(3.0)
    text: str = ferrule.metrics_text(openmetrics=True)
    with ferrule.serve_metrics(port=0) as server:
        port: int = server.port
    cost: float = ferrule.record_llm_call(model="gpt-4o", duration_seconds=0.5, input_tokens=10, template="t")
    report = ferrule.profile()
    top: ferrule.ProfileReport = report.top(5, by="latency")
    rows: list[dict[str, object]] = [dict(r) for r in top]
    html: str = report._repr_html_()
    print(text, port, cost, rows, html, handle.value)
