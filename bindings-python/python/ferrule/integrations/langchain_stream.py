"""LangChain streams that survive: ``with_policy(runnable, policy, stream_policy=...)``'s ``stream`` and
``astream`` run each attempt through the policy up to its first chunk (a failure before it is retried,
failed over or fallen back unseen), then give the consumer the chunks under the ``StreamPolicy``:
its deadlines, and ``raise`` / ``continue`` / ``fallback`` when the stream breaks after chunks were
delivered. The machinery is the wrapped OpenAI client's (``stream.py``); what is LangChain's is here:
reading a chunk (an ``AIMessageChunk``, or whatever a chain streams), and asking a chat model for
the rest of an answer. One span per stream (``stream {name}``), ended once on completion, break, or
abandonment; the model runs inside it are the callback handler's GenAI spans, nested under it."""

from __future__ import annotations

from contextvars import ContextVar
from time import monotonic
from typing import Any, Dict, List, Optional

from ..tracing import _span_var
from .._ferrule import Span
from ..policy_spans import traced_async, traced_sync
from .stream import (
    _NOTHING,
    _body_read_timeout,
    _socket_of,
    AsyncSurvivingStream,
    Attempt,
    StreamPolicy,
    SurvivingStream,
    open_async,
    open_sync,
)

__all__ = ["LangChainStreamFields", "continue_input", "stream_sync", "stream_async", "with_stream_sockets"]

# The attempt opening a stream in this context: a chat model's SDK client hands it its stream.
_OPENING: ContextVar[Optional[Attempt]] = ContextVar("ferrule_langchain_opening", default=None)


def _adopt(att: Attempt, stream: Any, read: Any) -> None:
    """The SDK stream a with_policy stream's model just opened: its socket goes to the stream's
    deadline guard (so a missed deadline shuts it, waking the blocked read, sync or async), and its
    body gets back the read timeout the first-chunk bound replaced."""
    g = att.opening
    if g is None:
        return
    if read is not _NOTHING:
        if read is None:
            client_t = getattr(getattr(stream, "_client", None), "timeout", None)
            read = getattr(client_t, "read", client_t)
            read = read if isinstance(read, (int, float)) else None
        _body_read_timeout(stream, read)
    g.sock = _socket_of(stream)


class _ReportingCompletions:
    """A chat model's ``client`` (the OpenAI SDK's ``chat.completions``): a stream opened while a
    with_policy stream opens its attempt waits for its headers no longer than the first-chunk
    deadline, and hands its socket to that stream's guard. Anything else passes through."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def create(self, *args: Any, **kwargs: Any) -> Any:
        att = _OPENING.get()
        if att is None or not kwargs.get("stream"):
            return self._inner.create(*args, **kwargs)
        read = att.bound(kwargs)
        s = self._inner.create(*args, **kwargs)
        _adopt(att, s, read)
        return s

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _AsyncReportingCompletions(_ReportingCompletions):
    async def create(self, *args: Any, **kwargs: Any) -> Any:
        att = _OPENING.get()
        if att is None or not kwargs.get("stream"):
            return await self._inner.create(*args, **kwargs)
        read = att.bound(kwargs)
        s = await self._inner.create(*args, **kwargs)
        _adopt(att, s, read)
        return s


def with_stream_sockets(runnable: Any) -> Any:
    """A copy of a ``ChatOpenAI``-like model whose SDK clients report their streams (see
    ``_ReportingCompletions``); other runnables as they are (their async streams are held to the
    deadlines by cancelling the waiting task; a sync stream with no socket to shut cannot be)."""
    client, aclient = getattr(runnable, "client", None), getattr(runnable, "async_client", None)
    if (client is None and aclient is None) or not hasattr(runnable, "model_copy"):
        return runnable
    copy = runnable.model_copy()
    if client is not None and hasattr(client, "create"):
        copy.client = _ReportingCompletions(client)
    if aclient is not None and hasattr(aclient, "create"):
        copy.async_client = _AsyncReportingCompletions(aclient)
    return copy


class LangChainStreamFields:
    """What a LangChain stream said so far: the delivered text, the usage the model reported
    (``usage_metadata``) and whether it said why it ended (a ``finish_reason`` in
    ``response_metadata``). A stream of anything but message chunks (a chain's parser output) has no
    finish reason to wait for: its clean end is its end."""

    __slots__ = ("_parts", "_text", "_usage", "_finished", "_messages", "chunks", "first_at", "started")

    def __init__(self) -> None:
        self._parts: List[str] = []
        self._text = ""
        self._usage: Optional[Dict[str, Optional[int]]] = None
        self._finished = False
        self._messages = False
        self.chunks = 0
        self.started = monotonic()
        self.first_at: Optional[float] = None

    def chunk(self, c: Any) -> Any:
        self.chunks += 1
        if self.first_at is None:
            self.first_at = monotonic()
        if isinstance(c, str):
            if c:
                self._parts.append(c)
            return c
        content = getattr(c, "content", None)
        if content is None:
            return c
        self._messages = True
        if isinstance(content, str):
            if content:
                self._parts.append(content)
        elif isinstance(content, list):  # content blocks: the text ones
            for b in content:
                t = b.get("text") if isinstance(b, dict) and b.get("type") == "text" else b if isinstance(b, str) else None
                if t:
                    self._parts.append(t)
        um = getattr(c, "usage_metadata", None)
        if um:
            u = self._usage or {"input_tokens": None, "output_tokens": None}
            for k in ("input_tokens", "output_tokens"):
                if um.get(k) is not None:
                    u[k] = int(um[k])
            self._usage = u
        rm = getattr(c, "response_metadata", None)
        if rm and (rm.get("finish_reason") or rm.get("stop_reason")):
            self._finished = True
        return c

    def mark(self, t: float) -> None:
        """Time per chunk is the callback handler's (the model run's record): nothing kept here."""

    @property
    def text(self) -> str:
        if self._parts:
            self._text += "".join(self._parts)
            self._parts.clear()
        return self._text

    @property
    def usage(self) -> Optional[Dict[str, Optional[int]]]:
        return self._usage

    @property
    def finished(self) -> bool:
        return self._finished or not self._messages


def continue_input(input: Any, prefix: str) -> Any:
    """A chat model's input asking for the rest of an answer that began with ``prefix``: the
    conversation so far, then the partial answer as the AI's message. Only a chat model's own input
    (a string, messages, a prompt value) can be continued; anything else raises ``TypeError``, which
    becomes the ``StreamInterrupted``'s cause."""
    from langchain_core.messages import AIMessage, HumanMessage
    from langchain_core.prompt_values import PromptValue

    if isinstance(input, str):
        return [HumanMessage(content=input), AIMessage(content=prefix)]
    if isinstance(input, PromptValue):
        return [*input.to_messages(), AIMessage(content=prefix)]
    if isinstance(input, (list, tuple)):
        return [*input, AIMessage(content=prefix)]
    raise TypeError(
        f"on_interrupt='continue' cannot continue a stream whose input is {type(input).__name__}; "
        "it can continue a chat model's input (a string, a list of messages, a prompt value)"
    )


def _span(pr: Any) -> Span:
    name = getattr(pr.bound, "name", None) or type(pr.bound).__name__
    return Span(
        f"stream {name}",
        role="internal",
        attributes={"ferrule.integration": "langchain", "ferrule.policy.name": pr.policy.name},
    )


def _done(span: Span, fields: LangChainStreamFields, counter: List[int]):  # type: ignore[no-untyped-def]
    def done(err: Optional[BaseException]) -> None:
        u = fields.usage
        if u is not None:
            span.set_usage(u.get("input_tokens"), u.get("output_tokens"))
        attrs: Dict[str, Any] = {"ferrule.stream.chunks": fields.chunks, "ferrule.attempts": counter[0]}
        if fields.first_at is not None:
            attrs["gen_ai.response.time_to_first_chunk"] = fields.first_at - fields.started
        span.end(error=err, attributes=attrs)

    return done


def stream_sync(pr: Any, input: Any, config: Any, kwargs: Dict[str, Any]) -> SurvivingStream:
    sp: StreamPolicy = pr.stream_policy
    span = _span(pr)
    fields = LangChainStreamFields()
    att = Attempt(sp, fields)  # type: ignore[arg-type]
    counter = [0, 0]

    def attempt(inp: Any) -> Any:
        token = _OPENING.set(att)
        try:
            return open_sync(pr.bound.stream(inp, config, **kwargs), att, monotonic(), _NOTHING)
        finally:
            _OPENING.reset(token)

    def through(inp: Any) -> Any:
        token = _span_var.set(span)
        try:
            return traced_sync(pr.policy, attempt, (inp,), {}, span, None, span.name + " attempt", counter)
        finally:
            _span_var.reset(token)

    try:
        opened = through(input)
    except BaseException as e:
        _done(span, fields, counter)(e)
        raise
    return SurvivingStream(opened, fields, sp, lambda prefix: through(continue_input(input, prefix)), _done(span, fields, counter), span, counter)


async def stream_async(pr: Any, input: Any, config: Any, kwargs: Dict[str, Any]) -> AsyncSurvivingStream:
    sp: StreamPolicy = pr.stream_policy
    span = _span(pr)
    fields = LangChainStreamFields()
    att = Attempt(sp, fields)  # type: ignore[arg-type]
    counter = [0, 0]

    async def attempt(inp: Any) -> Any:
        token = _OPENING.set(att)
        try:
            return await open_async(pr.bound.astream(inp, config, **kwargs), att, monotonic(), _NOTHING)
        finally:
            _OPENING.reset(token)

    async def through(inp: Any) -> Any:
        token = _span_var.set(span)
        try:
            return await traced_async(pr.policy, attempt, (inp,), {}, span, None, span.name + " attempt", counter)
        finally:
            _span_var.reset(token)

    try:
        opened = await through(input)
    except BaseException as e:
        _done(span, fields, counter)(e)
        raise

    async def resume(prefix: str) -> Any:
        return await through(continue_input(input, prefix))

    return AsyncSurvivingStream(opened, fields, sp, resume, _done(span, fields, counter), span, counter)
