"""One response shape for every provider behind a router (pattern 4's normalisation layer). The
built-in ``normalize_chat`` reads OpenAI-style chat completions (SDK objects or their dicts),
Anthropic-style messages and plain strings into a ``ChatResponse``; a router takes it as
``normalize="openai"`` or any callable ``(response, endpoint_name) -> value``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from . import _ferrule

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


def normalize_chat(response: Any, endpoint: str = "") -> ChatResponse:
    """Reads ``response`` into a ``ChatResponse`` (the core reads the shapes); raises ``TypeError``
    naming the shape when it is not a chat response it knows (never guesses an empty answer)."""
    if isinstance(response, ChatResponse):
        return response
    if isinstance(response, str):
        return ChatResponse(response, "assistant", None, None, None, None, endpoint, response)
    fields = _ferrule.read_chat_answer(response)
    if fields is None:
        raise TypeError(
            f"normalize_chat: endpoint {endpoint!r} returned a {type(response).__name__}, not a chat response "
            "(OpenAI-style `choices`, Anthropic-style `content` blocks, or a string)"
        )
    return ChatResponse(*fields, endpoint, response)
