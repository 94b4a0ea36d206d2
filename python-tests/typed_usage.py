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


# -- retry, timeout, fallback, the composed policy (issue 3) ------------------------------------------

policy = ferrule.Policy(
    retry=ferrule.Retry(3, backoff=ferrule.Backoff.exponential(initial=0.2, max=8.0, jitter="full")),
    breaker=breaker,
    timeout_seconds=5,
    fallback="busy",
    chaos=ferrule.Chaos(error_rate=0.0, seed=1),
)


@policy
def guarded(prompt: str) -> str:
    left: float | None = ferrule.remaining()
    return prompt if left is None else prompt * 2


@ferrule.retry(attempts=4, max_elapsed_seconds=30)
@ferrule.timeout(10.0)
@ferrule.fallback(lambda exc, prompt: "The assistant is busy; please retry.")
async def ask(prompt: str) -> str:
    return prompt


def use_policy() -> None:
    text: str = guarded("hi")
    counts = policy.stats()
    retries: int = counts["retries"]
    try:
        policy.call(guarded, "x")
    except ferrule.RetryError as e:
        attempts: int = e.attempts
        errors = e.errors
        print(attempts, errors, e.reason, e.last_error)
    except ferrule.TimeoutError as t:
        print(t.timeout_seconds)
    ok: bool = ferrule.transient(ValueError())
    print(text, retries, ok)
