"""W3C trace context for outgoing LLM requests: each attempt sends its own span's ``traceparent``
(the core mints the ids), so the server's logs join the caller's trace; a ``traceparent`` the caller
set on the request wins."""

from __future__ import annotations

from typing import Any, Mapping, Optional

__all__ = ["with_traceparent"]


def with_traceparent(headers: Optional[Mapping[str, Any]], traceparent: str) -> Mapping[str, Any]:
    """``headers`` plus ``traceparent``, unless the caller set one."""
    if not headers:
        return {"traceparent": traceparent}
    if any(k.lower() == "traceparent" for k in headers):
        return headers
    out = dict(headers)
    out["traceparent"] = traceparent
    return out
