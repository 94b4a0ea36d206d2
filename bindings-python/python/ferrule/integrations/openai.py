"""``ferrule.wrap_openai(client, policy=...)``: an ``OpenAI`` or ``AsyncOpenAI`` client whose
``chat.completions.create`` (also ``stream=True``), ``embeddings.create`` and ``responses.create`` run
through a ferrule ``Policy``. The SDK's own retries are turned off when ferrule retries (so they never
stack), each attempt gets the policy's remaining deadline as its ``timeout`` and a ``traceparent``
(the attempt's span), and the policy reads ``Retry-After`` / ``x-ratelimit-*`` from the SDK's errors. Everything else passes
through: the result is a copy of the client, of the same class."""

from __future__ import annotations

import inspect
import json
from time import monotonic
from typing import Any, Callable, Dict, Mapping, Optional, TypeVar

from ..deadline import remaining
from ..policy import Policy
from ..prompt_template import current_prompt
from ..rate_limit import Limits
from ..retry import Retry
from ..policy_spans import traced_async, traced_sync
from ..tracing import _span_var, current_context, current_span, start_span
from ..watch.synthetic import IN_PROBE as _IN_PROBE
from .. import _ferrule
from . import llm_call
from .llm_call import GLOBAL_CAPTURE, CallStream
from .stream import (
    DEFAULT_STREAM_POLICY,
    Attempt,
    AsyncSurvivingStream,
    StreamPolicy,
    SurvivingStream,
    continue_messages,
    open_async,
    open_sync,
)
from .trace_context import with_traceparent

__all__ = ["wrap_openai"]

C = TypeVar("C")

# (path from the client to the resource, operation name in gen_ai.operation.name)
_ENDPOINTS = (
    (("chat", "completions"), "chat"),
    (("embeddings",), "embeddings"),
    (("responses",), "responses"),
)
_MIN_TIMEOUT = 0.001  # an attempt with no time left still gets a positive timeout; the policy ends it


def _attempt_timeout(kwargs: dict[str, Any]) -> None:
    """The attempt's timeout: the policy's remaining budget, unless the caller asked for less."""
    left = remaining()
    if left is None:
        return
    left = max(left, _MIN_TIMEOUT)
    mine = kwargs.get("timeout")
    if isinstance(mine, (int, float)) and not isinstance(mine, bool) and mine <= left:
        return
    kwargs["timeout"] = left


def _with_traceparent(kwargs: dict[str, Any]) -> None:
    """The attempt's span (current while the attempt runs) goes out as ``traceparent``."""
    s = current_span()
    if s is not None:
        kwargs["extra_headers"] = with_traceparent(kwargs.get("extra_headers"), s.traceparent)


def _prompt_of(operation: str, kwargs: Mapping[str, Any]) -> Optional[str]:
    """The prompt as text, only when content is captured (it is content: masked by the core)."""
    v = kwargs.get("messages") if operation == "chat" else kwargs.get("input")
    if v is None:
        return None
    return v if isinstance(v, str) else json.dumps(v, default=str, ensure_ascii=False)


def _context_key() -> Optional[str]:
    """A token budget's default key: the user of the current ``ferrule.context``, else its session."""
    c = current_context()
    if c is None:
        return None
    return c.user_id or c.session_id


class _Budget:
    """``limits``: each request takes one ``requests`` unit and its estimated ``tokens`` (prompt
    estimate + ``max_tokens``) before it starts, under ``key()``; the core settles the tokens from
    the response's usage when it records the call."""

    __slots__ = ("limits", "key", "requests", "tokens")

    def __init__(self, limits: Limits, key: Optional[Callable[[], Any]]) -> None:
        self.limits = limits
        self.key = key or _context_key
        self.requests = "requests" in limits.names
        self.tokens = "tokens" in limits.names

    def costs(self, operation: str, kwargs: Mapping[str, Any]) -> Dict[str, int]:
        c: Dict[str, int] = {}
        if self.requests:
            c["requests"] = 1
        if self.tokens:
            c["tokens"] = _ferrule.estimate_tokens(kwargs, operation)
        return c


class _Endpoint:
    """What every call of one wrapped ``create`` shares, resolved once at wrap time."""

    __slots__ = ("operation", "pick", "capture", "server", "port", "budget")

    def __init__(
        self, operation: str, pick: Callable[[Any], Policy], capture: bool, base_url: Any, budget: Optional[_Budget] = None
    ) -> None:
        self.operation = operation
        self.pick = pick
        self.capture = capture
        self.budget = budget
        server = _ferrule.server_of_url(str(base_url)) if base_url is not None else None
        self.server: Optional[str] = server[0] if server is not None else None
        self.port: Optional[int] = server[1] if server is not None else None

    def start(self, kwargs: Mapping[str, Any]) -> tuple[Policy, Any, list[int], bool]:
        model = kwargs.get("model")
        model = model if isinstance(model, str) else ""
        policy = self.pick(model)
        span = start_span(
            operation=self.operation,
            model=model or None,
            provider="openai",
            role="call",
            attributes={"ferrule.policy.name": policy.name},
        )
        return policy, span, [0, 0], self.capture or GLOBAL_CAPTURE[0]

    def reserve(self, kwargs: Mapping[str, Any]) -> Any:
        b = self.budget
        return None if b is None else b.limits.acquire(key=b.key(), **b.costs(self.operation, kwargs))

    async def reserve_async(self, kwargs: Mapping[str, Any]) -> Any:
        b = self.budget
        return None if b is None else await b.limits.acquire_async(key=b.key(), **b.costs(self.operation, kwargs))

    def record(self, span: Any, kwargs: Mapping[str, Any], counter: list[int], capture: bool, **out: Any) -> None:
        """The call's one crossing: the core reads ``kwargs`` and the response/stream/error (and
        settles the token budget's reservation, when there is one)."""
        if out.get("reservation", 0) is None:
            del out["reservation"]
        llm_call.record_call(
            span,
            self.operation,
            "openai",
            request=kwargs,
            attempts=counter[0],
            fell_back=counter[1] == 1,
            template=current_prompt(),
            synthetic=_IN_PROBE.get(),
            capture=capture,
            always_capture=self.capture,
            input_text=_prompt_of(self.operation, kwargs) if capture else None,
            server_address=self.server,
            server_port=self.port,
            **out,
        )


def _with_chaos(policy: Policy, attempt: Callable[..., Any]) -> Callable[..., Any]:
    """The attempt as the policy's own decorator would run it: chaos, when set, innermost."""
    chaos = policy._chaos
    return chaos._wrap(attempt, policy._clock) if chaos is not None else attempt


def _sync_stream(create: Callable[..., Any], ep: _Endpoint, sp: StreamPolicy) -> Callable[..., Any]:
    """``create(stream=True)``: each attempt reads up to the first chunk (so a failure before it is
    retried like any failed call); what happens after it is the ``StreamPolicy``'s."""

    def open_stream(*args: Any, **kwargs: Any) -> Any:
        res = ep.reserve(kwargs) if ep.budget is not None else None
        policy, span, counter, capture = ep.start(kwargs)
        fields = CallStream(span, collect=True)  # the delivered text: StreamInterrupted and resumes need it
        att = Attempt(sp, fields)

        def attempt(*a: Any, **k: Any) -> Any:
            _attempt_timeout(k)
            _with_traceparent(k)
            read = att.bound(k)
            started = monotonic()
            return open_sync(create(*a, **k), att, started, read)

        run = _with_chaos(policy, attempt)

        def through_policy(kw: dict[str, Any]) -> Any:
            token = _span_var.set(span)
            try:
                return traced_sync(policy, run, args, kw, span, None, span.name + " attempt", counter)
            finally:
                _span_var.reset(token)

        try:
            opened = through_policy(kwargs)
        except BaseException as e:
            ep.record(span, kwargs, counter, capture, error=e, reservation=res)
            raise

        def done(err: Optional[BaseException]) -> None:
            ep.record(span, kwargs, counter, capture, stream=fields, error=err, reservation=res)

        def resume(prefix: str) -> Any:
            return through_policy(continue_messages(kwargs, prefix))

        return SurvivingStream(opened, fields, sp, resume, done, span, counter)

    return open_stream


def _async_stream(create: Callable[..., Any], ep: _Endpoint, sp: StreamPolicy) -> Callable[..., Any]:
    """``_sync_stream`` for the async client."""

    async def open_stream(*args: Any, **kwargs: Any) -> Any:
        res = await ep.reserve_async(kwargs) if ep.budget is not None else None
        policy, span, counter, capture = ep.start(kwargs)
        fields = CallStream(span, collect=True)
        att = Attempt(sp, fields)

        async def attempt(*a: Any, **k: Any) -> Any:
            _attempt_timeout(k)
            _with_traceparent(k)
            read = att.bound(k)
            started = monotonic()
            return await open_async(await create(*a, **k), att, started, read)

        run = _with_chaos(policy, attempt)

        async def through_policy(kw: dict[str, Any]) -> Any:
            token = _span_var.set(span)
            try:
                return await traced_async(policy, run, args, kw, span, None, span.name + " attempt", counter)
            finally:
                _span_var.reset(token)

        try:
            opened = await through_policy(kwargs)
        except BaseException as e:
            ep.record(span, kwargs, counter, capture, error=e, reservation=res)
            raise

        def done(err: Optional[BaseException]) -> None:
            ep.record(span, kwargs, counter, capture, stream=fields, error=err, reservation=res)

        async def resume(prefix: str) -> Any:
            return await through_policy(continue_messages(kwargs, prefix))

        return AsyncSurvivingStream(opened, fields, sp, resume, done, span, counter)

    return open_stream


def _sync_create(create: Callable[..., Any], ep: _Endpoint, sp: StreamPolicy = DEFAULT_STREAM_POLICY) -> Callable[..., Any]:
    def attempt(*args: Any, **kwargs: Any) -> Any:
        _attempt_timeout(kwargs)
        _with_traceparent(kwargs)
        return create(*args, **kwargs)

    streamed = _sync_stream(create, ep, sp)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("stream"):
            return streamed(*args, **kwargs)
        res = ep.reserve(kwargs) if ep.budget is not None else None
        policy, span, counter, capture = ep.start(kwargs)
        token = _span_var.set(span)
        try:
            # Attempt spans are not GenAI operations (the call span is): no gen_ai.* on them.
            result = traced_sync(policy, _with_chaos(policy, attempt), args, kwargs, span, None, span.name + " attempt", counter)
        except BaseException as e:
            ep.record(span, kwargs, counter, capture, error=e, reservation=res)
            raise
        finally:
            _span_var.reset(token)
        ep.record(span, kwargs, counter, capture, response=result, reservation=res)
        return result

    wrapped.__wrapped__ = create  # type: ignore[attr-defined]
    return wrapped


def _async_create(create: Callable[..., Any], ep: _Endpoint, sp: StreamPolicy = DEFAULT_STREAM_POLICY) -> Callable[..., Any]:
    async def attempt(*args: Any, **kwargs: Any) -> Any:
        _attempt_timeout(kwargs)
        _with_traceparent(kwargs)
        return await create(*args, **kwargs)

    streamed = _async_stream(create, ep, sp)

    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("stream"):
            return await streamed(*args, **kwargs)
        res = await ep.reserve_async(kwargs) if ep.budget is not None else None
        policy, span, counter, capture = ep.start(kwargs)
        token = _span_var.set(span)
        try:
            result = await traced_async(
                policy, _with_chaos(policy, attempt), args, kwargs, span, None, span.name + " attempt", counter
            )
        except BaseException as e:
            ep.record(span, kwargs, counter, capture, error=e, reservation=res)
            raise
        finally:
            _span_var.reset(token)
        ep.record(span, kwargs, counter, capture, response=result, reservation=res)
        return result

    wrapped.__wrapped__ = create  # type: ignore[attr-defined]
    return wrapped


def wrap_openai(
    client: C,
    policy: Optional[Policy] = None,
    *,
    model_policies: Optional[Mapping[str, Policy]] = None,
    capture_content: bool = False,
    limits: Optional[Limits] = None,
    key: Optional[Callable[[], Any]] = None,
    stream_policy: Optional[StreamPolicy] = None,
) -> C:
    """Returns a copy of ``client`` (``openai.OpenAI`` or ``openai.AsyncOpenAI``) whose create calls run
    through ``policy`` (default: ``Policy(retry=Retry(3))``); ``model_policies`` maps a model name to
    its own policy (its own breaker, say). The SDK's retries are set to 0 when any policy retries.
    ``with_options``/``copy`` on the result return wrapped clients too.

    Each call is one GenAI span (``chat gpt-4o``: ``gen_ai.operation.name``, ``gen_ai.provider.name``,
    ``gen_ai.request.model``, ``gen_ai.response.model``, ``gen_ai.usage.*``, ``error.type``), child
    of the current ferrule span, with one child span per attempt whose ids go out as ``traceparent``
    and a ``fallback`` child when a fallback answers. A stream's span ends when the stream is read
    to the end, closed or breaks, with ``gen_ai.response.time_to_first_chunk``. With
    ``capture_content=True`` (or ``configure(capture_content=True)``) the prompt and the answer
    are kept on the span, masked by ``ferrule.redact``'s rules and cut to ``content_max_chars``.
    With ``ferrule.inference_log`` open, each call writes one record.

    ``limits=Limits(requests=rpm, tokens=tpm)``: each request first takes one ``requests`` unit and
    its estimated ``tokens`` (prompt estimate + ``max_tokens``), waiting when the budget is spent;
    the tokens are settled from the response's usage. The budget is kept per ``key()`` (default:
    the ``user_id``, else the ``session_id``, of the current ``ferrule.context``).

    ``stream_policy=StreamPolicy(...)``: a stream's first-chunk and stall deadlines and what its
    consumer sees when it breaks after chunks were delivered (default: no deadlines, and a break
    raises ``StreamInterrupted``)."""
    if policy is None:
        policy = Policy(retry=Retry(3), name="openai")
    if not isinstance(capture_content, bool):
        raise TypeError(f"wrap_openai: capture_content={capture_content!r} is not allowed; allowed: True or False")
    if not isinstance(policy, Policy):
        raise TypeError(f"wrap_openai: policy={policy!r} is not allowed; allowed: a ferrule.Policy or None")
    if limits is not None and not isinstance(limits, Limits):
        raise TypeError(f"wrap_openai: limits={limits!r} is not allowed; allowed: a ferrule.Limits or None")
    if key is not None and not callable(key):
        raise TypeError(f"wrap_openai: key={key!r} is not allowed; allowed: a function () -> key, or None")
    if stream_policy is not None and not isinstance(stream_policy, StreamPolicy):
        raise TypeError(f"wrap_openai: stream_policy={stream_policy!r} is not allowed; allowed: a ferrule.StreamPolicy or None")
    sp = stream_policy or DEFAULT_STREAM_POLICY
    budget = _Budget(limits, key) if limits is not None else None
    per_model = dict(model_policies or {})
    for k, v in per_model.items():
        if not isinstance(k, str) or not isinstance(v, Policy):
            raise TypeError(
                f"wrap_openai: model_policies[{k!r}]={v!r} is not allowed; allowed: a str model name -> ferrule.Policy"
            )
    copy = getattr(client, "copy", None)
    if not callable(copy) or not hasattr(client, "chat"):
        raise TypeError(f"wrap_openai: client={client!r} is not allowed; allowed: an openai.OpenAI or openai.AsyncOpenAI")
    retries = policy._retry is not None or any(p._retry is not None for p in per_model.values())
    wrapped = copy(max_retries=0) if retries else copy()

    default = policy
    if per_model:
        get = per_model.get

        def pick(model: Any) -> Any:
            return get(model, default)

    else:

        def pick(model: Any) -> Any:
            return default

    for path, operation in _ENDPOINTS:
        resource: Any = wrapped
        for name in path:
            resource = getattr(resource, name, None)
            if resource is None:
                break
        create = getattr(resource, "create", None) if resource is not None else None
        if create is None:
            continue  # an SDK without this endpoint
        # The SDK decorates some async methods with sync wrappers (required_args): look beneath them.
        make = _async_create if inspect.iscoroutinefunction(inspect.unwrap(create)) else _sync_create
        ep = _Endpoint(operation, pick, capture_content, getattr(wrapped, "base_url", None), budget)
        resource.create = make(create, ep, sp)  # an instance attribute: the class is untouched

    def rewrapped(**options: Any) -> Any:
        return wrap_openai(
            copy_of_wrapped(**options),
            policy,
            model_policies=per_model,
            capture_content=capture_content,
            limits=limits,
            key=key,
            stream_policy=stream_policy,
        )

    copy_of_wrapped = wrapped.copy
    wrapped.copy = rewrapped
    wrapped.with_options = rewrapped
    wrapped._ferrule_policy = policy
    return wrapped  # type: ignore[no-any-return]
