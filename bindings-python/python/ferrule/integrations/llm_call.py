"""One finished LLM call as GenAI telemetry: operation, model, duration, tokens from ``usage``, the
error type, and for streams the time to first token. Every wrapper reports through ``record_call``,
so the span, metric and inference-log calls live in this one place: it fills and ends the call's
span (``gen_ai.*`` attributes), records the GenAI metrics and cost, and writes one inference-log
record when ``ferrule.inference_log`` is open."""

from __future__ import annotations

import builtins
from typing import Any, Dict, Optional, Tuple

from .. import _ferrule
from .._ferrule import Span
from ..errors import CircuitOpenError, RateLimitedError, TimeoutError
from ..inference import inference_log
from ..tracing import _span_var
from ..watch.synthetic import IN_PROBE as _IN_PROBE

__all__ = ["TTFT_ATTRIBUTE", "record_call", "tokens_of"]

#: The time to the first streamed chunk, in seconds, on a streamed call's span.
TTFT_ATTRIBUTE = "gen_ai.response.time_to_first_chunk"

_BuiltinTimeout = builtins.TimeoutError

#: ``[on]``: ``configure(capture_content=...)`` as the host last set it (the core reads the
#: ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` default at first use); read per call so a
#: wrapper builds the prompt text only when someone will keep it.
GLOBAL_CAPTURE: list[bool] = [bool(_ferrule.telemetry_stats().get("capture_content", False))]

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
    span: Optional[Span] = None,
    *,
    response_model: Optional[str] = None,
    content: Optional[Tuple[Optional[str], Optional[str]]] = None,
    always_capture: bool = False,
    attempts: Optional[int] = None,
    parameters: Optional[Dict[str, Any]] = None,
    provider: str = "openai",
    fell_back: bool = False,
) -> None:
    """``model`` is the requested model; ``response_model`` the one that answered (a fallback may
    have asked another), which prices the call. ``content``: (prompt, answer) text, kept on the span
    when ``always_capture`` (the wrapper's ``capture_content=True``) or ``configure(capture_content=True)``,
    masked and cut by the core; in the inference log only under the global setting."""
    i, o = tokens_of(usage)
    error_type = type(error).__name__ if error is not None else None
    priced = response_model or model
    # A synthetic probe's call (issue 11) is counted apart: not in the GenAI metrics, the cost
    # counter, the prompt profile or the inference log, but in ferrule_synthetic_calls_total.
    synthetic = _IN_PROBE.get()
    cost = _record_llm_call(
        model=priced,
        duration_seconds=duration_seconds,
        input_tokens=i,
        output_tokens=o,
        operation=operation,
        provider=provider,
        error_type=error_type,
        trace_id=span.trace_id if span is not None else None,
        synthetic=synthetic,
    )
    if span is not None and not span.ended:
        span.set_usage(i, o)
        if response_model:
            span.set_attribute("gen_ai.response.model", response_model)
        if first_token_seconds is not None:
            span.set_attribute(TTFT_ATTRIBUTE, first_token_seconds)
        if attempts is not None:
            span.set_attribute("ferrule.attempts", attempts)
        if content is not None:
            span.set_content(content[0], content[1], always=always_capture)
        if error is not None:
            span.record_exception(error)
        span.end()
    if inference_log.is_open and not synthetic:
        _log_record(span, priced, provider, error, error_type, fell_back, parameters, content, i, o, cost,
                    duration_seconds, attempts)


def _outcome(error: Optional[BaseException], fell_back: bool) -> str:
    """The inference log's outcome for a call."""
    if error is None:
        return "fallback" if fell_back else "success"
    if isinstance(error, (TimeoutError, _BuiltinTimeout)):
        return "timeout"
    if isinstance(error, (CircuitOpenError, RateLimitedError)):
        return "rejected"
    return "error"


def _log_record(
    span: Optional[Span],
    model: str,
    provider: str,
    error: Optional[BaseException],
    error_type: Optional[str],
    fell_back: bool,
    parameters: Optional[Dict[str, Any]],
    content: Optional[Tuple[Optional[str], Optional[str]]],
    i: Optional[int],
    o: Optional[int],
    cost: float,
    duration_seconds: float,
    attempts: Optional[int],
) -> None:
    # The record takes its trace/span/request ids from the current span: the call's.
    token = _span_var.set(span) if span is not None else None
    try:
        inference_log.record(
            model=model,
            provider=provider,
            outcome=_outcome(error, fell_back),
            parameters=parameters,
            input=content[0] if content is not None else None,
            output=content[1] if content is not None else None,
            input_tokens=i,
            output_tokens=o,
            cost_usd=cost if cost else None,
            latency_seconds=duration_seconds,
            error_type=error_type,
            attempts=attempts,
        )
    except Exception as e:
        # Telemetry must not fail the caller's call: reported at warning level, and counted by
        # the logger as an emitted event.
        _ferrule.emit("inference_log.record_failed", level="warning", message=f"{type(e).__name__}: {e}")
    finally:
        if token is not None:
            _span_var.reset(token)
