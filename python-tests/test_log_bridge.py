"""Warnings the core writes with Rust's `log` macros (here: the alert router dropping an alert at
`max_alerts`) reach ferrule's logger: masked, and written to the configured sink, by default Python
`logging` under "ferrule"."""

from __future__ import annotations

import json
import logging

import pytest

import ferrule
from ferrule.testing import ManualClock


def test_a_core_log_warning_is_masked_and_reaches_logging(caplog: pytest.LogCaptureFixture) -> None:
    router = ferrule.AlertRouter(max_alerts=1, install=False, clock=ManualClock())
    router.fire("First", labels={"n": "1"})
    with caplog.at_level(logging.WARNING, logger="ferrule"):
        router.fire("Second", labels={"user": "alice@example.com"})
    recs = [r for r in caplog.records if r.name == "ferrule" and "max_alerts" in r.getMessage()]
    assert len(recs) == 1, [r.getMessage() for r in caplog.records]
    rec = recs[0]
    assert rec.levelname == "WARNING"
    line = json.loads(rec.getMessage())
    assert (line["event"], line["level"], line["target"]) == ("log.warning", "warning", "ferrule.alert")
    assert "alice@example.com" not in rec.getMessage(), rec.getMessage()
    assert "Second{user=[EMAIL]}" in line["message"], line
