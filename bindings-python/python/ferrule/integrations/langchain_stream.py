"""LangChain streams that survive: ``with_policy(runnable, policy, stream_policy=...)``'s ``stream`` and
``astream`` run each attempt through the policy up to its first chunk (a failure before it is retried,
failed over or fallen back unseen), then give the consumer the chunks under the ``StreamPolicy``:
its deadlines, and ``raise`` / ``continue`` / ``fallback`` when the stream breaks after chunks were
delivered. The machinery is the wrapped OpenAI client's (``stream.py``); what is LangChain's is here:
reading a chunk (an ``AIMessageChunk``, or whatever a chain streams), asking a chat model for the
rest of an answer, and reaching the sockets of the models inside a runnable (a ``ChatOpenAI``-like
model's reporting clients, any other model's httpx hooks), so a sync stream's deadline can shut the
one it waits on. One span per stream (``stream {name}``), ended once on completion, break, or
abandonment; the model runs inside it are the callback handler's GenAI spans, nested under it."""

from __future__ import annotations

import importlib
from contextvars import ContextVar
from time import monotonic
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..tracing import _span_var
from .._ferrule import Counter, Span
from .._log import warn
from ..policy_spans import traced_async, traced_sync
from .stream import (
    _INF,
    _NOTHING,
    _body_read_timeout,
    _response_socket,
    _socket_of,
    AsyncSurvivingStream,
    Attempt,
    StreamPolicy,
    SurvivingStream,
    continue_messages,
    open_async,
    open_sync,
)

__all__ = ["LangChainStreamFields", "continue_input", "rewire", "stream_sync", "stream_async", "with_stream_sockets"]

# The attempt opening a stream in this context: a chat model's SDK client hands it its stream.
_OPENING: ContextVar[Optional[Attempt]] = ContextVar("ferrule_langchain_opening", default=None)
# The delivered text a resumed chain's model continues from (``on_interrupt="continue"`` when the
# runnable's input is not the model's own, as in ``prompt | model``): the model's watched client
# ends the stream request's messages with it as the assistant's partial answer.
_CONTINUING: ContextVar[Optional[str]] = ContextVar("ferrule_langchain_continuing", default=None)


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
        prefix = _CONTINUING.get()
        if prefix is not None:
            kwargs = continue_messages(kwargs, prefix)
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
        prefix = _CONTINUING.get()
        if prefix is not None:
            kwargs = continue_messages(kwargs, prefix)
        read = att.bound(kwargs)
        s = await self._inner.create(*args, **kwargs)
        _adopt(att, s, read)
        return s


def _openai_sockets(model: Any) -> Any:
    """A copy of a ``ChatOpenAI``-like model whose SDK clients report their streams (see
    ``_ReportingCompletions``), or None when ``model`` has no such clients."""
    client, aclient = getattr(model, "client", None), getattr(model, "async_client", None)
    if (client is None and aclient is None) or not hasattr(model, "model_copy"):
        return None
    if not hasattr(client, "create") and not hasattr(aclient, "create"):
        return None
    copy = model.model_copy()
    if client is not None and hasattr(client, "create"):
        copy.client = _ReportingCompletions(client)
    if aclient is not None and hasattr(aclient, "create"):
        copy.async_client = _AsyncReportingCompletions(aclient)
    return copy


# ---- any other model: its httpx clients report their streams -----------------------------------------

# Where the original read timeout waits while the first-chunk bound stands in for it.
_READ_KEY = "ferrule.read_timeout"
# Response types that are streams (SSE, NDJSON as Ollama sends, AWS event streams).
_STREAMED = ("text/event-stream", "ndjson", "eventstream")


def _on_request(request: Any) -> None:
    """An httpx request hook, inert unless a with_policy stream is opening in this context: until its
    first chunk, connecting, sending and waiting for the headers take no longer than the first-chunk
    deadline has left (httpcore reads these timeouts from the request)."""
    att = _OPENING.get()
    g = att.opening if att is not None else None
    if g is None or g.done or g.which != "first_chunk" or g.deadline == _INF:
        return
    t = request.extensions.get("timeout")
    if not isinstance(t, dict):
        return
    left = max(g.deadline - monotonic(), 0.001)
    request.extensions[_READ_KEY] = t.get("read")
    for k in ("connect", "read", "write", "pool"):
        v = t.get(k)
        t[k] = left if v is None else min(v, left)


def _on_response(response: Any) -> None:
    """An httpx response hook (called once the headers are in): the body's reads get the client's read
    timeout back, and a streamed body's socket goes to the opening stream's deadline guard, which
    shuts it at a missed deadline."""
    ext = response.request.extensions
    if _READ_KEY in ext:
        read = ext.pop(_READ_KEY)
        t = ext.get("timeout")
        if isinstance(t, dict):
            t["read"] = read
    att = _OPENING.get()
    g = att.opening if att is not None else None
    if g is None or g.done:
        return
    ctype = response.headers.get("content-type", "")
    if any(k in ctype for k in _STREAMED):
        sock = _response_socket(response)
        if sock is not None:
            g.sock = sock


async def _aon_request(request: Any) -> None:
    _on_request(request)


async def _aon_response(response: Any) -> None:
    _on_response(response)


# The attributes under which chat models and SDK clients keep their clients (LangChain models:
# ``client``/``async_client``, ``root_client``, ``_client``/``_async_client``; SDK clients and
# resources: ``_client``), looked through at most this deep.
_CLIENT_ATTRS = ("client", "async_client", "root_client", "root_async_client", "_client", "_async_client", "http_client", "http_async_client")
_CLIENT_DEPTH = 3


def _httpx_client_types() -> Tuple[Tuple[type, ...], Tuple[type, ...]]:
    """The sync and async client classes of httpx and of httpx2 (the fork the OpenAI and Anthropic
    SDKs are built on), whichever are installed: the same hooks, request and response API."""
    sync: List[type] = []
    async_: List[type] = []
    for name in ("httpx", "httpx2"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        sync.append(mod.Client)
        async_.append(mod.AsyncClient)
    return tuple(sync), tuple(async_)


def _hook_httpx(model: Any) -> int:
    """Adds the stream hooks to the httpx clients ``model`` reaches (idempotently); how many it
    found. The hooks are the only change, and do nothing outside a with_policy stream's opening, so
    the model's other users (which may share the client) see no difference."""
    sync_types, async_types = _httpx_client_types()
    if not sync_types and not async_types:
        return 0
    found = 0
    seen: set[int] = set()

    def visit(o: Any, depth: int) -> None:
        nonlocal found
        if o is None or id(o) in seen or depth > _CLIENT_DEPTH or isinstance(o, (str, bytes, int, float, dict, list)):
            return
        seen.add(id(o))
        sync = isinstance(o, sync_types)
        if sync or isinstance(o, async_types):
            hooks = o.event_hooks  # the client's live lists
            req, resp = (_on_request, _on_response) if sync else (_aon_request, _aon_response)
            if req not in hooks["request"]:
                hooks["request"].append(req)
            if resp not in hooks["response"]:
                hooks["response"].append(resp)
            found += 1
            return
        for name in _CLIENT_ATTRS:
            try:
                v = getattr(o, name, None)  # may build a model's lazily made client, as its first call would
            except Exception:
                continue
            visit(v, depth + 1)

    visit(model, 0)
    return found


def _watch_model(model: Any, unreached: List[str], reporting: List[Any]) -> Any:
    """A model whose sync streams' sockets ferrule can shut: a ``ChatOpenAI``-like model's copy with
    reporting clients (kept in ``reporting``), else the model with its httpx clients hooked. A model
    with neither is named in ``unreached``."""
    copy = _openai_sockets(model)
    if copy is not None:
        reporting.append(copy)
        return copy
    if _hook_httpx(model) == 0:
        unreached.append(type(model).__name__)
    return model


_MAX_DEPTH = 32


def rewire(runnable: Any, leaf: Callable[[Any], Any]) -> Any:
    """``runnable`` with every language model inside it replaced by ``leaf(model)``: through a
    sequence's steps, a binding's ``bound``, fallbacks, branches, parallel maps, configurable
    alternatives (any of LangChain's pydantic runnables, by its fields). A composite that holds a
    replaced model is copied (``model_copy``), so the user's own objects are left as they were; the
    same model reached twice becomes the same replacement."""
    from langchain_core.language_models import BaseLanguageModel
    from langchain_core.runnables import Runnable

    memo: Dict[int, Any] = {}

    def value(v: Any, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            return v
        if isinstance(v, Runnable):
            return node(v, depth)
        if isinstance(v, (list, tuple)):
            items = [value(x, depth + 1) for x in v]
            if all(a is b for a, b in zip(items, v)):
                return v
            return items if isinstance(v, list) else tuple(items)
        if type(v) is dict:
            d = {k: value(x, depth + 1) for k, x in v.items()}
            return v if all(d[k] is v[k] for k in v) else d
        return v

    def node(r: Any, depth: int) -> Any:
        key = id(r)
        if key in memo:
            return memo[key]
        out = r
        if isinstance(r, BaseLanguageModel):
            out = leaf(r)
        else:
            fields = getattr(type(r), "model_fields", None)
            if fields and hasattr(r, "model_copy"):
                update = {}
                for name in fields:
                    v = getattr(r, name, None)
                    nv = value(v, depth + 1)
                    if nv is not v:
                        update[name] = nv
                if update:
                    out = r.model_copy(update=update)
        memo[key] = out
        return out

    return node(runnable, 0)


def with_stream_sockets(runnable: Any) -> Tuple[Any, List[str], bool]:
    """``runnable`` with every model inside it able to hand its sync streams' sockets to their
    deadline guards (``_watch_model``); the class names of the models that cannot (their async
    streams are still held to the deadlines, by cancelling the waiting task); and whether a resumed
    stream can be continued inside it: ``runnable`` is not itself a model and holds exactly one,
    ``ChatOpenAI``-like, whose client appends the delivered text to its request."""
    from langchain_core.language_models import BaseLanguageModel

    unreached: List[str] = []
    reporting: List[Any] = []
    out = rewire(runnable, lambda m: _watch_model(m, unreached, reporting))
    inside = len(reporting) == 1 and not isinstance(runnable, BaseLanguageModel) and not unreached
    return out, unreached, inside


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


_UNENFORCED = Counter(
    "ferrule_stream_deadlines_unenforced_total",
    "Sync LangChain streams (and with_policy wrappers) whose deadlines ferrule cannot enforce: "
    "no HTTP socket of theirs is reachable to shut",
    ["integration", "where"],
)


def unenforced(runnable: Any, where: str, models: Optional[List[str]] = None) -> None:
    """Counts and logs (masked, deduplicated) a sync stream that runs without its deadlines
    (``where="stream"``), or a with_policy wrapper around models whose sync streams will
    (``where="with_policy"``)."""
    _UNENFORCED.labels("langchain", where).inc()
    name = getattr(runnable, "name", None) or type(runnable).__name__
    if where == "with_policy":
        msg = (
            f"with_policy({name}): the sync stream() of {', '.join(sorted(set(models or ())))} cannot be held to "
            "stream_policy's deadlines (no HTTP client of theirs is reachable); astream() is"
        )
    else:
        msg = (
            f"stream() of {name}: no socket of this stream is reachable, so its deadlines are not enforced; "
            "use astream(), or a model whose client is an httpx client"
        )
    warn("langchain.stream_deadline_unenforced", msg, runnable=name)


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
    g = getattr(opened, "guard", None)
    if g is not None and g.sock is None:  # the first chunk came, but nothing could have shut the wait
        unenforced(pr.bound, "stream")
    def resume(prefix: str) -> Any:
        if not pr._continue_inside:
            return through(continue_input(input, prefix))
        token = _CONTINUING.set(prefix)  # the same input again; the model's client adds the prefix
        try:
            return through(input)
        finally:
            _CONTINUING.reset(token)

    return SurvivingStream(opened, fields, sp, resume, _done(span, fields, counter), span, counter)


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
        if not pr._continue_inside:
            return await through(continue_input(input, prefix))
        token = _CONTINUING.set(prefix)
        try:
            return await through(input)
        finally:
            _CONTINUING.reset(token)

    return AsyncSurvivingStream(opened, fields, sp, resume, _done(span, fields, counter), span, counter)
