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


def use_telemetry() -> None:
    ferrule.configure(service_name="svc", sample_ratio=0.5, capture_content=False, log_sink="stderr")
    with ferrule.context(session_id="s", user_id="u", tags=["a"]) as ctx:
        sid: str = ctx.session_id
        with ferrule.span(operation="chat", model="gpt-4o", provider="openai") as s:
            s.set_attribute("gen_ai.usage.input_tokens", 3)
            header: str | None = ferrule.traceparent()
            ok: bool = ferrule.emit("retry.attempt", level="warning", attempt=1)
    spans: list[dict[str, object]] = list(ferrule.recent_spans())
    masked: str = ferrule.redact("a@b.io")
    print(sid, header, ok, spans, masked)
