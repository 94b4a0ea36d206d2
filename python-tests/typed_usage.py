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


def use_watchers() -> None:
    def page(e: ferrule.WatchEvent) -> None:
        print(e.name, e.severity, e.labels.get("window"), e.dedup_key, e.value, e.at)

    slo = ferrule.SLO("api", objective=0.999, on_event=page, on_budget=lambda exhausted, e: print(exhausted))
    events: list[ferrule.WatchEvent] = slo.record(True, 0.2, labels={"model": "m"})
    left: float = slo.budget_remaining()
    burn: float = slo.burn_rate(3600)
    latency = ferrule.AnomalyDetector("lat", "latency_seconds", method="mad", on_event=page)
    latency.observe(0.3, model="m", template="t")
    drift = ferrule.DriftDetector("out", embedder=lambda text: [float(len(text)), 1.0])
    drift.observe("hello", tokens=2)
    predictor = ferrule.ErrorPredictor("p", horizon_seconds=300)
    predictor.observe("rate_limited", 1.2, headers={"x-ratelimit-remaining-requests": "3"})
    p = predictor.probability
    model: list[float] = predictor.export()
    html: str = slo._repr_html_() + latency._repr_html_() + drift._repr_html_() + predictor._repr_html_()
    print(events, left, burn, p, model, html)
