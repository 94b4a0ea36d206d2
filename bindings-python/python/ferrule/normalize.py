"""One response shape for every provider behind a router (pattern 4's normalisation layer). The
built-in ``normalize_chat`` reads OpenAI-style chat completions (SDK objects or their dicts),
Anthropic-style messages and plain strings into a ``ChatResponse``; a router takes it as
``normalize="openai"`` or any callable ``(response, endpoint_name) -> value``. Tool calls come out
as ``ToolCall``s whichever provider made them (OpenAI ``tool_calls``, Anthropic ``tool_use``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional, Tuple

from . import _ferrule

__all__ = ["ChatResponse", "ToolCall", "normalize_chat"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool (function) call the model asked for. ``id`` is the provider's (the tool's result must
    name it), ``arguments`` the JSON text as the provider sent it (Anthropic's ``input`` object as
    compact JSON), ``parsed_arguments`` that text parsed, or ``None`` when it is not valid JSON."""

    id: str
    name: str
    arguments: str
    parsed_arguments: Any


def _tool_call(id: str, name: str, arguments: str, valid: bool) -> ToolCall:
    # The core said whether the text is JSON (the same rule as the Node host's): parse only then.
    return ToolCall(id, name, arguments, json.loads(arguments) if valid else None)


@dataclass(frozen=True, slots=True)
class ChatResponse:
    """A chat answer whatever produced it. ``endpoint`` is the router endpoint that answered;
    ``raw`` the provider's own response, for anything the common shape leaves out; ``tool_calls``
    the tools it called, in order (empty when none)."""

    content: str
    role: str
    model: Optional[str]
    finish_reason: Optional[str]
    input_tokens: Optional[int]
    output_tokens: Optional[int]
    endpoint: str
    raw: Any
    tool_calls: Tuple[ToolCall, ...] = ()


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
    content, role, model, finish_reason, input_tokens, output_tokens, calls = fields
    return ChatResponse(
        content,
        role,
        model,
        finish_reason,
        input_tokens,
        output_tokens,
        endpoint,
        response,
        tuple(_tool_call(*c) for c in calls),
    )
