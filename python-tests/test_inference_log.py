"""The inference log from Python: records with ids from the current span and context, masked
content when capture is on, queries and filters, and records that survive a process restart."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

import ferrule
from telemetry_state import reset


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    reset()
    yield
    ferrule.inference_log.close()
    reset()


def test_records_carry_ids_masked_content_and_answer_queries(tmp_path: Path) -> None:
    ferrule.configure(inference_log_path=tmp_path / "log.db", capture_content=True)
    with ferrule.context(session_id="s-9", user_id="u-9"):
        with ferrule.span(operation="chat", model="gpt-4o") as sp:
            assert ferrule.inference_log.record(
                model="gpt-4o",
                provider="openai",
                template="support_reply_v3",
                parameters={"temperature": 0.2, "max_tokens": 256},
                input="my email is dave@example.com",
                output="noted",
                input_tokens=11,
                output_tokens=2,
                cost_usd=0.0001,
                latency_seconds=0.8,
                outcome="success",
                attempts=1,
            )
    for i in range(9):
        ferrule.inference_log.record(model="claude" if i % 3 else "gpt-4o", outcome="error" if i % 2 else "success", input_tokens=i)
    rows = ferrule.inference_log.records(model="gpt-4o", outcome="success", as_frame=False)
    first = [r for r in rows if r["template"] == "support_reply_v3"][0]
    assert first["request_id"] == sp.request_id and first["trace_id"] == sp.trace_id
    assert (first["session_id"], first["user_id"]) == ("s-9", "u-9")
    assert first["input"] == "my email is [EMAIL]"
    assert first["parameters"] == '{"max_tokens": 256, "temperature": 0.2}'
    assert len(rows) == 3
    got = ferrule.inference_log.query(
        "SELECT model, count(*) AS n FROM inference_log WHERE outcome = ? GROUP BY model ORDER BY model",
        ["error"],
        as_frame=False,
    )
    assert got == [{"model": "claude", "n": 3}, {"model": "gpt-4o", "n": 1}]
    assert ferrule.inference_log.records(since=dt.timedelta(hours=1), as_frame=False)
    assert ferrule.inference_log.records(since=dt.datetime.now() + dt.timedelta(hours=1), as_frame=False) == []
    with pytest.raises(ferrule.StorageError, match="inference_log"):
        ferrule.inference_log.query("DROP TABLE inference_log")
    with pytest.raises(ferrule.ConfigError, match="outcome"):
        ferrule.inference_log.record(model="m", outcome="meh")


def test_content_not_stored_without_capture(tmp_path: Path) -> None:
    ferrule.inference_log.open(tmp_path / "log.db")
    ferrule.inference_log.record(model="m", outcome="success", input="secret prompt", output="answer")
    (row,) = ferrule.inference_log.records(as_frame=False)
    assert row["input"] is None and row["output"] is None


def test_not_open_is_a_clear_error() -> None:
    with pytest.raises(ferrule.StorageError, match="not open"):
        ferrule.inference_log.records()


def test_records_survive_a_process_restart(tmp_path: Path) -> None:
    db = tmp_path / "restart.db"
    writer = textwrap.dedent(
        f"""
        import ferrule
        ferrule.configure(inference_log_path={str(db)!r})
        for i in range(25):
            ferrule.inference_log.record(model="gpt-4o", outcome="success", input_tokens=i, latency_seconds=0.1 * i)
        ferrule.inference_log.close()
        """
    )
    subprocess.run([sys.executable, "-c", writer], check=True, timeout=60)
    ferrule.inference_log.open(db)
    got = ferrule.inference_log.query("SELECT count(*) AS n, sum(input_tokens) AS t FROM inference_log", as_frame=False)
    assert got == [{"n": 25, "t": 300}]
    assert ferrule.inference_log.stats()["dropped"] == 0
