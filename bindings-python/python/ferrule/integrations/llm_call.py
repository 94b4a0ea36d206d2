"""One finished LLM call as GenAI telemetry: operation, model, duration, tokens from ``usage``, the
error type, and for streams the time to first token. Every wrapper reports through ``record_call``,
so the span, metric and inference-log calls live in this one place."""

from __future__ import annotations

import logging
from typing import Any, Optional

from .. import _ferrule

__all__ = ["record_call", "tokens_of"]

_log = logging.getLogger("ferrule")

# The GenAI metrics registry (issue 6) ships ``record_llm_call``; with a core built before it, calls
# are logged at debug level only.
_record_llm_call = getattr(_ferrule, "record_llm_call", None)


def tokens_of(usage: Any) -> tuple[Optional[int], Optional[int]]:
    """(input, output) tokens from a chat/embeddings ``usage`` (prompt/completion) or a Responses one
    (input/output)."""
    if usage is None:
        return None, None
    if isinstance(usage, dict):
        i = usage.get("prompt_tokens", usage.get("input_tokens"))
        o = usage.get("completion_tokens", usage.get("output_tokens"))
        return i, o
    i = getattr(usage, "prompt_tokens", None)
    if i is None:
        i = getattr(usage, "input_tokens", None)
    o = getattr(usage, "completion_tokens", None)
    if o is None:
        o = getattr(usage, "output_tokens", None)
    return i, o


def record_call(
    operation: str,
    model: str,
    duration_seconds: float,
    usage: Any,
    error: Optional[BaseException],
    first_token_seconds: Optional[float] = None,
    trace_id: Optional[str] = None,
) -> None:
    if _record_llm_call is None and not _log.isEnabledFor(logging.DEBUG):
        return
    i, o = tokens_of(usage)
    error_type = type(error).__name__ if error is not None else None
    if _record_llm_call is not None:
        _record_llm_call(
            model=model,
            duration_seconds=duration_seconds,
            input_tokens=i,
            output_tokens=o,
            operation=operation,
            error_type=error_type,
            trace_id=trace_id,
        )
    _log.debug(
        "gen_ai %s model=%s duration=%.4fs in=%s out=%s ttft=%s error=%s",
        operation,
        model,
        duration_seconds,
        i,
        o,
        first_token_seconds,
        error_type,
    )
