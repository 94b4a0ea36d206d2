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


# ---- validation (issue 8) ----
def use_validation() -> None:
    value = ferrule.parse_json('{"a": 1}', schema={"type": "object"}, repair=True)
    fixed: ferrule.Repaired = ferrule.repair_json("{'a': 1,}")
    text: str = fixed.text
    kinds: list[str] = [r.kind for r in fixed.repairs]
    line: int = fixed.repairs[0].line
    compiled = ferrule.JsonSchema({"type": "array"})
    ferrule.parse_json("[]", schema=compiled, max_depth=64, max_input_bytes=1 << 20)
    counts = ferrule.validation_stats()
    n: int = counts["valid"]
    try:
        ferrule.parse_json("{")
    except ferrule.ValidationError as e:
        paths: list[str] = [err["path"] for err in e.errors]
        raw: str | None = e.raw
        where: int | None = e.line

    @ferrule.validated(schema={"type": "object"}, reask=2)
    def extract(prompt: str, *, feedback: str | None = None) -> str:
        return prompt

    result = extract("{}")
