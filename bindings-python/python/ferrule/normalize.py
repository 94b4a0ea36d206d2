"""One response shape for every provider behind a router (pattern 4's normalisation layer). The
built-in ``normalize_chat`` reads OpenAI-style chat completions (SDK objects or their dicts),
Anthropic-style messages and plain strings into a ``ChatResponse``; a router takes it as
``normalize="openai"`` or any callable ``(response, endpoint_name) -> value``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

__all__ = ["ChatResponse", "normalize_chat"]


@dataclass(frozen=True, slots=True)
class ChatResponse:
    """A chat answer whatever produced it. ``endpoint`` is the router endpoint that answered;
    ``raw`` the provider's own response, for anything the common shape leaves out."""

    content: str
    role: str
    model: Optional[str]
    finish_reason: Optional[str]
    input_tokens: Optional[int]
    output_tokens: Optional[int]
    endpoint: str
    raw: Any


def _get(obj: Any, key: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(key)
    return getattr(obj, key, None)


def _int(v: Any) -> Optional[int]:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def normalize_chat(response: Any, endpoint: str = "") -> ChatResponse:
    """Reads ``response`` into a ``ChatResponse``; raises ``TypeError`` naming the shape when it is
    not a chat response it knows (never guesses an empty answer)."""
    if isinstance(response, ChatResponse):
        return response
    if isinstance(response, str):
        return ChatResponse(response, "assistant", None, None, None, None, endpoint, response)
    choices = _get(response, "choices")
    if isinstance(choices, (list, tuple)) and choices:
        choice = choices[0]
        message = _get(choice, "message")
        content = _get(message, "content") if message is not None else _get(choice, "text")
        usage = _get(response, "usage")
        return ChatResponse(
            content if isinstance(content, str) else "",
            _get(message, "role") or "assistant" if message is not None else "assistant",
            _get(response, "model"),
            _get(choice, "finish_reason"),
            _int(_get(usage, "prompt_tokens")) if usage is not None else None,
            _int(_get(usage, "completion_tokens")) if usage is not None else None,
            endpoint,
            response,
        )
    blocks = _get(response, "content")
    if isinstance(blocks, (list, tuple)):  # Anthropic messages: a list of content blocks
        text = "".join(t for b in blocks if _get(b, "type") == "text" and isinstance(t := _get(b, "text"), str))
        usage = _get(response, "usage")
        return ChatResponse(
            text,
            _get(response, "role") or "assistant",
            _get(response, "model"),
            _get(response, "stop_reason"),
            _int(_get(usage, "input_tokens")) if usage is not None else None,
            _int(_get(usage, "output_tokens")) if usage is not None else None,
            endpoint,
            response,
        )
    raise TypeError(
        f"normalize_chat: endpoint {endpoint!r} returned a {type(response).__name__}, not a chat response "
        "(OpenAI-style `choices`, Anthropic-style `content` blocks, or a string)"
    )
