"""One finished LLM call, recorded in one crossing: ``record_call(span, operation, provider,
request=..., response=... | stream=..., error=...)``. The core reads the request keywords and the
SDK's response (tokens incl. cached/reasoning, response model and id, finish reasons), classifies
the outcome, records the GenAI metrics, cost, prompt profile, inference log and ``observe()``
watchers, and fills and ends the call's span. Integrations only gather what only Python can read."""

from __future__ import annotations

from .. import _ferrule

__all__ = ["CallStream", "GLOBAL_CAPTURE", "TTFT_ATTRIBUTE", "record_call"]

#: The time to the first streamed chunk, in seconds, on a streamed call's span.
TTFT_ATTRIBUTE = "gen_ai.response.time_to_first_chunk"

#: ``[on]``: ``configure(capture_content=...)`` as the host last set it (the core reads the
#: ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` default at first use); read per call so a
#: wrapper builds the prompt text only when someone will keep it.
GLOBAL_CAPTURE: list[bool] = [bool(_ferrule.telemetry_stats().get("capture_content", False))]

record_call = _ferrule.record_call
CallStream = _ferrule.CallStream
