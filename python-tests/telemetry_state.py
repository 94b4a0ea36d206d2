"""Puts ferrule's process-wide telemetry settings back to their defaults between tests."""

from __future__ import annotations

import ferrule


def reset() -> None:
    ferrule.configure(
        service_name="ferrule-tests",
        sample_ratio=1.0,
        capture_content=False,
        otlp_endpoint=False,
        log_sink="logging",
        log_level="info",
        log_dedup_seconds=1.0,
        redact_patterns=[],
        redact_callback=False,
        content_max_chars=4096,
    )
    ferrule.clear_recent_spans()
