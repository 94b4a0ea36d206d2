"""One finished LLM call as GenAI telemetry: operation, model, duration, tokens from ``usage``, the
error type, and for streams the time to first token. Every wrapper reports through ``record_call``,
so the span, metric and inference-log calls live in this one place."""

from __future__ import annotations

from typing import Any, Optional

from .. import _ferrule

__all__ = ["record_call", "tokens_of"]

# The GenAI metrics registry: duration and token histograms, the cost counter, the prompt profile.
_record_llm_call = _ferrule.record_llm_call


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
    i, o = tokens_of(usage)
    error_type = type(error).__name__ if error is not None else None
    _record_llm_call(
        model=model,
        duration_seconds=duration_seconds,
        input_tokens=i,
        output_tokens=o,
        operation=operation,
        error_type=error_type,
        trace_id=trace_id,
    )
