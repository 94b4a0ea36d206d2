"""`make demo`: a flaky dependency that fails in bursts, called through a ferrule circuit breaker.

The application sends a request every 40 ms of simulated time (a manual clock), so the demo is instant
and deterministic. It prints every state transition as it happens, the breaker's own warning log
lines, and a summary."""

from __future__ import annotations

import logging
import random
import sys

import ferrule
from ferrule.testing import ManualClock

CALL_SECONDS = 0.04
TOTAL_CALLS = 1500


class ServiceDown(Exception):
    pass


def error_rate_at(t: float) -> float:
    """Healthy, then an outage burst, a flapping recovery, a second short burst, then healthy."""
    if t < 12:
        return 0.02
    if t < 24:
        return 0.97
    if t < 33:
        return 0.35
    if t < 40:
        return 0.9
    return 0.01


def main() -> None:
    logging.basicConfig(stream=sys.stdout, level=logging.WARNING, format="             ferrule log %(levelname)s: %(message)s")
    clock = ManualClock()
    start = clock.now()
    rng = random.Random(7)
    breaker = ferrule.CircuitBreaker(
        "flaky-llm",
        failure_rate=0.5,
        window=20,
        min_calls=10,
        open_seconds=3.0,
        max_open_seconds=12.0,
        half_open_calls=2,
        clock=clock,
    )

    def on_change(old: str, new: str) -> None:
        print(f"  t={clock.now() - start:6.2f}s  breaker {old:>9} -> {new}", flush=True)

    breaker.on_state_change(on_change)

    reached = failed = rejected = 0
    failed_without_breaker = 0.0

    @breaker
    def ask(prompt: str) -> str:
        nonlocal reached
        reached += 1
        if rng.random() < error_rate_at(clock.now() - start):
            raise ServiceDown("503 from the model endpoint")
        return f"answer to {prompt}"

    print("ferrule demo: a dependency failing in bursts, behind a circuit breaker (simulated time)\n")
    for i in range(TOTAL_CALLS):
        clock.advance(CALL_SECONDS)
        t = clock.now() - start
        failed_without_breaker += error_rate_at(t)  # expected failures had every call gone out
        before = reached
        error = None
        try:
            ask(f"q{i}")
        except ServiceDown:
            failed += 1
            error = "ServiceDown"
        except ferrule.CircuitOpenError:
            rejected += 1
        if reached > before:  # the call went out: record it for the metrics and the prompt profile
            ferrule.record_llm_call(
                model="gpt-4o-mini", duration_seconds=rng.uniform(0.2, 1.5) * (3 if error else 1),
                input_tokens=rng.randint(300, 900), output_tokens=rng.randint(20, 200),
                template="summarise" if i % 3 else "classify", error_type=error,
            )
    s = breaker.stats()
    total_t = clock.now() - start
    print("\nsummary")
    print(f"  calls made by the application   {TOTAL_CALLS}")
    print(f"  reached the dependency          {reached}")
    print(f"  failed at the dependency        {failed}")
    print(f"  rejected at once by the breaker {rejected}  (no request sent to a failing service)")
    print(f"  state transitions               {s['transitions']}")
    print(f"  failures expected with no breaker ~{failed_without_breaker:.0f}")
    print(f"  final state                     {breaker.state}")
    print(f"  simulated time                  {total_t:.1f}s")
    assert s["calls"] == reached and s["rejected"] == rejected, s
    assert s["transitions"] >= 4, "the bursts must trip and recover the breaker"

    text = ferrule.metrics_text()
    print("\nmetrics (a scrape of ferrule.serve_metrics(), the breaker's series)")
    shown = [l for l in text.splitlines() if 'name="flaky-llm"' in l and not l.endswith(" 0")]
    for line in shown:
        print(f"  {line}")
    scraped_transitions = sum(float(l.rsplit(" ", 1)[1]) for l in shown if l.startswith("ferrule_breaker_transitions_total"))
    assert scraped_transitions == s["transitions"], (scraped_transitions, s)
    print("\nprompt profile (ferrule.profile())")
    for line in str(ferrule.profile()).splitlines():
        print(f"  {line}")


if __name__ == "__main__":
    main()
