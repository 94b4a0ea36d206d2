"""Spans and context ids for the Python host. The core mints ids, samples, masks and records; this
module owns the two context-local slots (contextvars) that say which span and which
``ferrule.context(...)`` are current, so they follow threads (with ``contextvars.copy_context``)
and asyncio tasks."""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Any, Dict, Iterable, List, Optional

from ._ferrule import CallContext, Span, bind_context_vars, clear_recent_spans
from ._ferrule import recent_spans as _recent_spans
from ._ferrule import span as _native_span
from .span_table import RecentSpans

__all__ = [
    "CallContext",
    "Span",
    "clear_recent_spans",
    "context",
    "current_context",
    "current_span",
    "recent_spans",
    "span",
    "start_span",
    "traceparent",
]

_span_var: ContextVar[Optional[Span]] = ContextVar("ferrule_span", default=None)
_context_var: ContextVar[Optional[CallContext]] = ContextVar("ferrule_context", default=None)
bind_context_vars(_span_var, _context_var)

#: ``with ferrule.span("chat gpt-4o", provider="openai") as s:`` or
#: ``ferrule.span(operation="chat", model="gpt-4o", role="attempt")``: a span, child of the current
#: one. Roles: ``call`` (one call through a policy), ``attempt``, ``validation``, ``fallback``.
#: The same as ``Span(...)``, as a native function: a call with keywords costs no keyword dict.
span = _native_span


def start_span(
    name: Optional[str] = None,
    *,
    operation: Optional[str] = None,
    model: Optional[str] = None,
    provider: Optional[str] = None,
    role: str = "call",
    attributes: Optional[Dict[str, Any]] = None,
    traceparent: Optional[str] = None,
) -> Span:
    """A started span that is *not* made current, for integrations with callback-style hooks
    (start in one callback, ``span.end(...)`` in another)."""
    return Span(
        name,
        operation=operation,
        model=model,
        provider=provider,
        role=role,
        attributes=attributes,
        traceparent=traceparent,
    )


def recent_spans() -> RecentSpans:
    """The spans in the in-process read-back ring, oldest first: dicts with ``name``, ``trace_id``,
    ``span_id``, ``parent_span_id``, ``start_ns``, ``end_ns``, ``status``, ``attributes`` (a table in
    Jupyter)."""
    return RecentSpans(_recent_spans())


def current_span() -> Optional[Span]:
    return _span_var.get()


def current_context() -> Optional[CallContext]:
    return _context_var.get()


def traceparent() -> Optional[str]:
    """The W3C ``traceparent`` header of the current span, for outgoing requests (``None`` outside
    any span)."""
    s = _span_var.get()
    return None if s is None else s.traceparent


class context:
    """``with ferrule.context(session_id=..., user_id=..., tags=[...]) as ctx:`` attaches the ids to
    every span and log event inside (``gen_ai.conversation.id``, ``user.id``, ``ferrule.tags``).

    Nested blocks inherit what they do not override and accumulate tags. A missing session id is
    generated (``ctx.session_id``). A session id already used by a different user is reported as a
    ``context.session_conflict`` warning event and counted. Works with ``async with`` too; each
    asyncio task sees its own context, and threads see it when started with a copied context.
    """

    __slots__ = ("_session_id", "_user_id", "_tags", "_tokens")

    def __init__(
        self,
        session_id: Optional[str] = None,
        user_id: Optional[str] = None,
        tags: Optional[Iterable[str]] = None,
    ) -> None:
        for name, v in (("session_id", session_id), ("user_id", user_id)):
            if v is not None and not isinstance(v, str):
                raise TypeError(f"context: {name}={v!r} must be a str or None")
        tag_list: List[str] = []
        if tags is not None:
            if isinstance(tags, str):
                raise TypeError(f"context: tags={tags!r} must be a list of str, not a str")
            tag_list = list(tags)
            for t in tag_list:
                if not isinstance(t, str):
                    raise TypeError(f"context: tags must hold str; got {t!r}")
        self._session_id = session_id
        self._user_id = user_id
        self._tags = tag_list
        self._tokens: List[Token[Optional[CallContext]]] = []

    def __enter__(self) -> CallContext:
        ctx = CallContext(self._session_id, self._user_id, self._tags, _context_var.get())
        self._tokens.append(_context_var.set(ctx))
        return ctx

    def __exit__(self, *exc: object) -> None:
        _context_var.reset(self._tokens.pop())

    async def __aenter__(self) -> CallContext:
        return self.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        self.__exit__(*exc)
