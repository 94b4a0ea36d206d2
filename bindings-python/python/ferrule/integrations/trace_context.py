"""W3C trace context for outgoing LLM requests: one trace id per logical call (shared by its retries),
one span id per attempt, sent as ``traceparent`` so the server's logs join the caller's trace.
Ids are random (as OpenTelemetry's are); once ferrule's spans exist, the current span's ids go here."""

from __future__ import annotations

import random
from typing import Any, Mapping, Optional

__all__ = ["new_trace_id", "with_traceparent"]

_rng = random.Random()  # trace ids need uniqueness, not secrecy
_getrandbits = _rng.getrandbits


def new_trace_id() -> str:
    return "%032x" % (_getrandbits(128) or 1)  # all-zero ids are invalid


def with_traceparent(headers: Optional[Mapping[str, Any]], trace_id: str) -> Mapping[str, Any]:
    """``headers`` plus a ``traceparent`` for a new attempt span; a caller's own ``traceparent`` wins."""
    if not headers:
        return {"traceparent": f"00-{trace_id}-{_getrandbits(64) or 1:016x}-01"}
    if any(k.lower() == "traceparent" for k in headers):
        return headers
    tp = f"00-{trace_id}-{_getrandbits(64) or 1:016x}-01"
    out = dict(headers)
    out["traceparent"] = tp
    return out
