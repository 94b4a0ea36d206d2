"""Structured ferrule events from Python: one JSON schema with span and context ids, masking before
the sink, rate limiting of identical events, the sinks (callable, logging, rotated file), and the
circuit breaker's transitions going through the same schema."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

import ferrule
from ferrule.testing import ManualClock
from telemetry_state import reset


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    reset()
    yield
    reset()


@pytest.fixture()
def lines() -> List[str]:
    got: List[str] = []
    ferrule.configure(log_sink=got.append)
    return got


def events(lines: List[str]) -> List[Dict[str, Any]]:
    return [json.loads(x) for x in lines]


def test_event_schema_with_ids_and_masking(lines: List[str]) -> None:
    with ferrule.context(session_id="s-1", user_id="u-1", tags=["t"]):
        with ferrule.span("chat gpt-4o") as sp:
            assert ferrule.emit(
                "retry.attempt",
                level="warning",
                message="retrying after 503 for carol@example.com",
                model="gpt-4o",
                attempt=2,
                latency_seconds=0.25,
                input_tokens=10,
                output_tokens=3,
                cost_usd=0.0004,
                error=TimeoutError("timed out calling 10.0.0.8"),
                delay_seconds=0.5,
                policy="default",
            )
    (e,) = events(lines)
    assert e["time"].endswith("Z") and e["time"][4] == "-"
    assert e["level"] == "warning" and e["event"] == "retry.attempt"
    assert e["service"] == "ferrule-tests"
    assert e["message"] == "retrying after 503 for [EMAIL]"
    assert (e["trace_id"], e["span_id"], e["request_id"]) == (sp.trace_id, sp.span_id, sp.request_id)
    assert (e["session_id"], e["user_id"], e["tags"]) == ("s-1", "u-1", ["t"])
    assert (e["model"], e["attempt"], e["latency_seconds"]) == ("gpt-4o", 2, 0.25)
    assert (e["input_tokens"], e["output_tokens"], e["cost_usd"]) == (10, 3, 0.0004)
    assert e["error"] == {"type": "TimeoutError", "message": "timed out calling [IP]"}
    assert (e["delay_seconds"], e["policy"]) == (0.5, "default")


def test_outside_spans_and_contexts_ids_are_omitted(lines: List[str]) -> None:
    ferrule.emit("fallback.used", message="used the cached answer")
    (e,) = events(lines)
    for k in ("trace_id", "span_id", "session_id", "model", "error"):
        assert k not in e


def test_identical_events_are_rate_limited_and_counted(lines: List[str]) -> None:
    before = ferrule.telemetry_stats()["logs_suppressed"]
    results = [ferrule.emit("telemetry.drop", level="warning", message="queue full") for _ in range(50)]
    assert results[0] and not any(results[1:])
    assert len(lines) == 1
    assert ferrule.telemetry_stats()["logs_suppressed"] == before + 49
    # Different content is a different event.
    assert ferrule.emit("telemetry.drop", level="warning", message="queue full again")
    ferrule.configure(log_dedup_seconds=0)
    assert all(ferrule.emit("x", message="same") for _ in range(3))


def test_level_filter(lines: List[str]) -> None:
    ferrule.configure(log_level="warning")
    assert not ferrule.emit("debugging", level="info")
    assert ferrule.emit("bad", level="error")
    assert [e["event"] for e in events(lines)] == ["bad"]
    with pytest.raises(ferrule.ConfigError, match="level"):
        ferrule.emit("x", level="chatty")


def test_logging_sink_uses_the_ferrule_logger(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="ferrule"):
        ferrule.emit("validation.failed", level="warning", message="missing field 'name'", attempt=1)
    recs = [r for r in caplog.records if r.name == "ferrule"]
    assert recs and recs[-1].levelno == logging.WARNING
    e = json.loads(recs[-1].getMessage())
    assert e["event"] == "validation.failed" and e["attempt"] == 1


def test_rotating_file_sink(tmp_path: Path) -> None:
    path = tmp_path / "ferrule.jsonl"
    ferrule.configure(log_sink=ferrule.LogFile(path, max_bytes=2048, backups=2), log_dedup_seconds=0)
    for i in range(100):
        ferrule.emit("retry.attempt", attempt=i, message="x" * 40)
    files = sorted(os.listdir(tmp_path))
    assert files == ["ferrule.jsonl", "ferrule.jsonl.1", "ferrule.jsonl.2"]
    for f in files:
        assert (tmp_path / f).stat().st_size <= 2048
        for line in (tmp_path / f).read_text().splitlines():
            assert json.loads(line)["event"] == "retry.attempt"
    last = json.loads((tmp_path / "ferrule.jsonl").read_text().splitlines()[-1])
    assert last["attempt"] == 99
    with pytest.raises(ferrule.ConfigError, match="log_max_bytes"):
        ferrule.configure(log_sink=ferrule.LogFile(path, max_bytes=10))


def test_failing_sink_is_counted_not_raised() -> None:
    def broken(line: str) -> None:
        raise OSError("disk full")

    ferrule.configure(log_sink=broken)
    before = ferrule.telemetry_stats()["log_sink_errors"]
    assert ferrule.emit("x", level="error", message="first")
    assert ferrule.telemetry_stats()["log_sink_errors"] == before + 1


def test_breaker_transitions_use_the_event_schema(lines: List[str]) -> None:
    clock = ManualClock()
    b = ferrule.CircuitBreaker("payments", consecutive_failures=2, open_seconds=10, clock=clock)

    def boom() -> None:
        raise RuntimeError("down")

    for _ in range(2):
        with pytest.raises(RuntimeError):
            b.call(boom)
    clock.advance(10)
    assert b.call(lambda: 1) == 1
    ev = [e for e in events(lines) if e["event"] == "breaker.transition"]
    assert [(e["from_state"], e["to_state"]) for e in ev] == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]
    assert ev[0]["level"] == "warning" and ev[0]["reason"] == "consecutive_failures"
    assert ev[0]["open_seconds"] == 10.0 and ev[0]["breaker"] == "payments"
    assert ev[2]["level"] == "info"
