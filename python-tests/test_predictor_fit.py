"""``ErrorPredictor.fit`` from Python on a manual clock: learning from a past log makes the
predictor warn ahead of a degradation that an online-only one (never having seen one) misses; the
example counts are exact; records straight from the inference log are read (rate-limit error types
count as 429s, rejected calls are skipped); bad records and epochs name what is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

import ferrule
from ferrule.testing import ManualClock
from telemetry_state import reset

MIN = 60.0


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    reset()
    yield
    ferrule.inference_log.close()
    reset()


def episode(start_min: float) -> Tuple[List[Dict[str, Any]], float]:
    """30 quiet minutes, 10 of shrinking headroom, slower calls and more 429s (under the 25% bar),
    10 at 60% errors, 20 quiet; 20 calls a minute. Returns the calls and when the errors begin."""
    calls: List[Dict[str, Any]] = []
    for m in range(70):
        for k in range(20):
            at = (start_min + m) * MIN + k * 3.0
            if 30 <= m < 40:
                d = (m - 29) / 10
                outcome = "rate_limited" if k < 20 * 0.2 * d else "ok"
                calls.append({"at": at, "outcome": outcome, "latency_seconds": 1.0 + d, "headroom": 0.8 - 0.75 * d})
            elif 40 <= m < 50:
                calls.append({"at": at, "outcome": "error" if k % 5 < 3 else "ok", "latency_seconds": 2.0, "headroom": 0.05})
            else:
                calls.append({"at": at, "outcome": "ok", "latency_seconds": 1.0, "headroom": 0.8})
    return calls, (start_min + 40) * MIN


def first_warning(fitted: bool, past: List[Dict[str, Any]], replay: List[Dict[str, Any]]) -> Optional[float]:
    p = ferrule.ErrorPredictor("p", clock=ManualClock())
    if fitted:
        r = p.fit(past)
        assert r["positives"] > 0 and r["examples"] > r["positives"], r
    for c in replay:
        for e in p.observe(
            c["outcome"], c["latency_seconds"], ratelimit_remaining=c["headroom"], ratelimit_limit=1.0, at=c["at"]
        ):
            if e.state == "firing":
                return e.at
    return None


def test_a_fitted_predictor_warns_before_a_degradation_that_online_only_misses() -> None:
    past: List[Dict[str, Any]] = []
    for e in range(6):
        past += episode(e * 120)[0]
    replay, errors_start = episode(10_000)
    online = first_warning(False, past, replay)
    assert online is None or online >= errors_start, "online only has nothing to go on before its first incident"
    fitted = first_warning(True, past, replay)
    assert fitted is not None and fitted < errors_start, (fitted, errors_start)


def test_fit_counts_examples_exactly_and_leaves_the_live_state_alone() -> None:
    p = ferrule.ErrorPredictor("p", clock=ManualClock())
    log = [
        {"at": i * MIN + k * 5.0, "outcome": "error" if 10 <= i <= 12 else "ok", "latency_seconds": 1.0}
        for i in range(20)
        for k in range(10)
    ]
    r = p.fit(reversed(log), epochs=3)
    assert r == {"calls": 200, "skipped": 0, "intervals": 20, "examples": 15, "positives": 7, "epochs": 3}
    s = p.stats()
    assert (s["examples"], s["intervals"], s["probability"], s["warnings"]) == (45, 0, None, 0)


def test_records_from_the_inference_log_are_read(tmp_path: Path) -> None:
    ferrule.configure(inference_log_path=tmp_path / "log.db")
    for i in range(12):
        outcome = ["success", "error", "rejected"][i % 3]
        ferrule.inference_log.record(
            model="gpt-4o", outcome=outcome, latency_seconds=0.5,
            error_type="RateLimitError" if outcome == "error" else None,
        )
    assert ferrule.inference_log.flush()
    rows = ferrule.inference_log.records(as_frame=False)
    p = ferrule.ErrorPredictor("p", clock=ManualClock())
    r = p.fit(rows, epochs=1)
    # Twelve records within a second: one interval, no horizon after it, so nothing to label yet.
    assert (r["calls"], r["skipped"], r["intervals"], r["examples"]) == (8, 4, 1, 0)


def test_bad_records_and_epochs_name_what_is_wrong() -> None:
    p = ferrule.ErrorPredictor("p", clock=ManualClock())
    with pytest.raises(ferrule.ConfigError, match="epochs"):
        p.fit([], epochs=0)
    with pytest.raises(ferrule.ConfigError, match=r"records\[1\] has no time"):
        p.fit([{"at": 1.0, "outcome": "ok"}, {"outcome": "ok"}])
    with pytest.raises(ferrule.ConfigError, match="outcome"):
        p.fit([{"at": 1.0, "outcome": "exploded"}])
