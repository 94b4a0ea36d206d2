"""``ferrule.wrap_openai(client, policy=...)``: an ``OpenAI`` or ``AsyncOpenAI`` client whose
``chat.completions.create`` (also ``stream=True``), ``embeddings.create`` and ``responses.create`` run
through a ferrule ``Policy``. The SDK's own retries are turned off when ferrule retries (so they never
stack), each attempt gets the policy's remaining deadline as its ``timeout`` and a ``traceparent``
(the attempt's span), and the policy reads ``Retry-After`` / ``x-ratelimit-*`` from the SDK's errors. Everything else passes
through: the result is a copy of the client, of the same class."""

from __future__ import annotations

import asyncio
import builtins
import inspect
import json
import sys
from time import monotonic
from typing import Any, Callable, Dict, Mapping, Optional, TypeVar

from .. import policy as _policy_mod
from ..breaker import FAILURE, IGNORED
from ..deadline import _deadline, _tighter, remaining
from ..errors import CircuitOpenError, RateLimitedError, TimeoutError as _PolicyTimeout
from ..policy import Policy
from ..prompt_template import current_prompt
from ..rate_limit import Limits
from ..retry import Retry
from ..policy_spans import traced_async, traced_sync
from ..tracing import _span_var, current_context, current_span, span as _span, start_span
from ..watch.synthetic import IN_PROBE as _IN_PROBE
from .. import _ferrule
from .._ferrule import sync_remaining as _sync_remaining
from . import llm_call
from .llm_call import GLOBAL_CAPTURE, CallStream
from .stream_fields import StreamFields
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
_HAS_ASYNC_TIMEOUT = hasattr(asyncio, "timeout")  # 3.11+
_BuiltinTimeout = builtins.TimeoutError


def _timeout_type(client: Any) -> Callable[[float], Any]:
    """How an attempt's timeout is handed to ``client``: as an instance of the SDK's ``Timeout``
    class (the client's own, else its package's ``Timeout``) with all four phases set, which the
    SDK passes through as is. A plain float makes the HTTP library check it against
    ``typing.SupportsFloat``, a runtime protocol check that cost more than the rest of the wrapper
    on Python 3.11."""
    cls: Any = type(getattr(client, "timeout", None))
    if not hasattr(cls, "as_dict"):
        package = sys.modules.get(type(client).__module__.partition(".")[0])
        cls = getattr(package, "Timeout", None)
    if not isinstance(cls, type) or not hasattr(cls, "as_dict"):
        return float
    try:
        cls(connect=1.0, read=1.0, write=1.0, pool=1.0)
    except Exception:  # not the Timeout this expects: a float is always accepted
        return float
    return lambda s: cls(connect=s, read=s, write=s, pool=s)


def _attempt_timeout(kwargs: dict[str, Any], timeout_of: Callable[[float], Any] = float) -> None:
    """The attempt's timeout: the policy's remaining budget, unless the caller asked for less."""
    left = remaining()
    if left is None:
        return
    left = max(left, _MIN_TIMEOUT)
    mine = kwargs.get("timeout")
    if isinstance(mine, (int, float)) and not isinstance(mine, bool) and mine <= left:
        return
    kwargs["timeout"] = timeout_of(left)


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
    """What every call of one wrapped ``create`` shares, resolved once at wrap time. What differs per
    provider is data here (its ``gen_ai.provider.name``, how its prompt reads as text, its SDK's
    timeout object), so every provider's calls take the same inline first attempt."""

    __slots__ = (
        "operation",
        "pick",
        "capture",
        "server",
        "port",
        "budget",
        "plans",
        "default",
        "timeout_of",
        "provider",
        "prompt_of",
        "site",
    )

    def __init__(
        self,
        operation: str,
        pick: Callable[[Any], Policy],
        capture: bool,
        base_url: Any,
        budget: Optional[_Budget] = None,
        plans: Optional[Dict[str, "_Plan"]] = None,
        default: Optional["_Plan"] = None,
        timeout_of: Callable[[float], Any] = float,
        provider: str = "openai",
        prompt_of: Optional[Callable[[Mapping[str, Any]], Optional[str]]] = None,
    ) -> None:
        self.operation = operation
        self.timeout_of = timeout_of
        self.provider = provider
        self.prompt_of: Callable[[Mapping[str, Any]], Optional[str]] = (
            prompt_of if prompt_of is not None else (lambda kwargs: _prompt_of(operation, kwargs))
        )
        self.pick = pick
        self.default: _Plan = default if default is not None else _Plan(pick(""))
        self.plans: Dict[str, _Plan] = plans or {}
        self.capture = capture
        self.budget = budget
        server = _ferrule.server_of_url(str(base_url)) if base_url is not None else None
        self.server: Optional[str] = server[0] if server is not None else None
        self.port: Optional[int] = server[1] if server is not None else None
        # The inline first attempt's spans and record, in one crossing each way (begin / finish).
        self.site = _ferrule.CallSite(operation, provider, server_address=self.server, server_port=self.port, always_capture=capture)

    def start(self, kwargs: Mapping[str, Any]) -> tuple[Policy, Any, list[int], bool]:
        model = kwargs.get("model")
        model = model if isinstance(model, str) else ""
        policy = self.pick(model)
        span = start_span(
            operation=self.operation,
            model=model or None,
            provider=self.provider,
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
            self.provider,
            request=kwargs,
            attempts=counter[0],
            fell_back=counter[1] == 1,
            template=current_prompt(),
            synthetic=_IN_PROBE.get(),
            capture=capture,
            always_capture=self.capture,
            input_text=self.prompt_of(kwargs) if capture else None,
            server_address=self.server,
            server_port=self.port,
            **out,
        )


class _Plan:
    """One policy's steady state, resolved at wrap time: whether a call may run its first attempt
    inline (no rate limiter, chaos, hard timeout or result check: the cases the policy's own loop
    must drive from the start), the core's bound admission / outcome methods, and the span
    attributes a call carries when it goes to the policy's loop from the start. Any failure of the inline attempt continues
    in the policy's traced loop from attempt 1, so behaviour on failure is the general path's."""

    __slots__ = (
        "policy",
        "fast",
        "bounded",
        "begin",
        "begin_at",
        "success",
        "success_async",
        "fail",
        "record",
        "now_nanos",
        "outcome",
        "on_result",
        "call_attrs",
        "now",
        "name",
        "note",
    )

    def __init__(self, policy: Policy) -> None:
        r = policy._retry
        core = policy._core
        self.policy = policy
        self.fast = (
            policy._limiter is None
            and policy._chaos is None
            and not policy._hard
            and (r is None or r.retry_on_result is None)
        )
        self.bounded = policy._bounded
        self.begin = core.begin_sync if self.bounded else core.begin
        self.begin_at = core.begin_at
        self.success = core.success_sync if self.bounded else core.success
        self.success_async = core.success  # async calls are admitted with begin_at: no thread deadline
        self.fail = core.fail_sync
        self.record = core.record
        self.now_nanos = core.now_nanos
        self.outcome = policy._outcome
        b = policy._breaker
        self.on_result = b._failure_on_result if b is not None else None
        self.call_attrs = {"ferrule.policy.name": policy.name}
        self.now = policy._now
        self.name = policy.name
        self.note = core.note


def _attempt_kwargs(kwargs: Dict[str, Any], traceparent: str, timeout_of: Callable[[float], Any]) -> Dict[str, Any]:
    """The first attempt's request: the caller's keywords plus the attempt's timeout (the policy's
    remaining budget, unless the caller asked for less) and ``traceparent``. A copy: the call's
    record reads the caller's request, and a retry derives its own. ``remaining()``, inlined."""
    k = dict(kwargs)
    left = _sync_remaining()
    d = _deadline.get()
    if d is not None:
        outer = d[1] - d[0]()
        if left is None or outer < left:
            left = outer
    if left is not None:
        if left < _MIN_TIMEOUT:
            left = _MIN_TIMEOUT
        mine = k.get("timeout")
        if mine is None or not (isinstance(mine, (int, float)) and not isinstance(mine, bool) and mine <= left):
            k["timeout"] = timeout_of(left)
    headers = k.get("extra_headers")
    k["extra_headers"] = {"traceparent": traceparent} if not headers else with_traceparent(headers, traceparent)
    return k


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
        # The delivered text: StreamInterrupted and resumes need it.
        fields = StreamFields(CallStream(span, collect=True))
        att = Attempt(sp, fields)

        def attempt(*a: Any, **k: Any) -> Any:
            _attempt_timeout(k, ep.timeout_of)
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
            fields.flush()
            ep.record(span, kwargs, counter, capture, stream=fields.native, error=err, reservation=res)

        def resume(prefix: str) -> Any:
            return through_policy(continue_messages(kwargs, prefix))

        return SurvivingStream(opened, fields, sp, resume, done, span, counter)

    return open_stream


def _async_stream(create: Callable[..., Any], ep: _Endpoint, sp: StreamPolicy) -> Callable[..., Any]:
    """``_sync_stream`` for the async client."""

    async def open_stream(*args: Any, **kwargs: Any) -> Any:
        res = await ep.reserve_async(kwargs) if ep.budget is not None else None
        policy, span, counter, capture = ep.start(kwargs)
        fields = StreamFields(CallStream(span, collect=True))
        att = Attempt(sp, fields)

        async def attempt(*a: Any, **k: Any) -> Any:
            _attempt_timeout(k, ep.timeout_of)
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
            fields.flush()
            ep.record(span, kwargs, counter, capture, stream=fields.native, error=err, reservation=res)

        async def resume(prefix: str) -> Any:
            return await through_policy(continue_messages(kwargs, prefix))

        return AsyncSurvivingStream(opened, fields, sp, resume, done, span, counter)

    return open_stream


def _sync_create(create: Callable[..., Any], ep: _Endpoint, sp: StreamPolicy = DEFAULT_STREAM_POLICY) -> Callable[..., Any]:
    streamed = _sync_stream(create, ep, sp)
    op, always, timeout_of = ep.operation, ep.capture, ep.timeout_of
    provider, prompt_of = ep.provider, ep.prompt_of
    plans_get, default = ep.plans.get, ep.default
    # The inline first attempt makes the call's span and record itself, as `_Endpoint` would; an
    # endpoint class that starts or records its calls its own way always takes the general path.
    inline = type(ep).start is _Endpoint.start and type(ep).record is _Endpoint.record
    begin = ep.site.begin

    def attempt(*args: Any, **kwargs: Any) -> Any:
        _attempt_timeout(kwargs, timeout_of)
        _with_traceparent(kwargs)
        return create(*args, **kwargs)

    def finish(span: Any, kwargs: Dict[str, Any], counter: list[int], capture: bool, result: Any, res: Any) -> Any:
        ep.record(span, kwargs, counter, capture, response=result, reservation=res)
        return result

    def traced(
        policy: Policy, span: Any, args: Any, kwargs: Dict[str, Any], counter: list[int], capture: bool, res: Any, resume: Any
    ) -> Any:
        token = _span_var.set(span)
        try:
            # Attempt spans are not GenAI operations (the call span is): no gen_ai.* on them.
            result = traced_sync(
                policy, _with_chaos(policy, attempt), args, kwargs, span, None, span.name + " attempt", counter, resume
            )
        except BaseException as e:
            ep.record(span, kwargs, counter, capture, error=e, reservation=res)
            raise
        finally:
            _span_var.reset(token)
        return finish(span, kwargs, counter, capture, result, res)

    def general(args: Any, kwargs: Dict[str, Any]) -> Any:
        res = ep.reserve(kwargs) if ep.budget is not None else None
        policy, span, counter, capture = ep.start(kwargs)
        return traced(policy, span, args, kwargs, counter, capture, res, None)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("stream"):
            return streamed(*args, **kwargs)
        model = kwargs.get("model")
        if model.__class__ is not str:
            model = ""
        plan = plans_get(model, default)
        if not plan.fast or not inline or ep.budget is not None or _policy_mod._SYNTHETIC:
            return general(args, kwargs)
        # The steady state: the first attempt runs here, with one admission into the core before
        # it and one outcome after; any failure continues in the policy's traced loop. The call's
        # span and the attempt's span start in one crossing (`begin`), and the record, the
        # attempt's end and the call span's end are one more (`finish`).
        capture = always or GLOBAL_CAPTURE[0]
        bounded = plan.bounded
        try:
            tok = plan.begin()
        except CircuitOpenError as exc:
            span = _span(None, operation=op, model=model or None, provider=provider, role="call", attributes=plan.call_attrs)
            return traced(plan.policy, span, args, kwargs, [0, 0], capture, None, (1, plan.now_nanos() if bounded else 0, exc))
        call = begin(model, plan.name)
        try:
            result = create(*args, **_attempt_kwargs(kwargs, call.traceparent, timeout_of))
        except Exception as exc:
            call.end_attempt(exc)
            try:
                o = IGNORED if isinstance(exc, RateLimitedError) else plan.outcome(exc)
            except BaseException as e:
                plan.fail(tok, FAILURE) if bounded else plan.record(tok, FAILURE)
                ep.record(call.span, kwargs, [1, 0], capture, error=e)
                raise
            if bounded:
                start = plan.fail(tok, o)
            else:
                plan.record(tok, o)
                start = 0
            return traced(plan.policy, call.span, args, kwargs, [1, 0], capture, None, (1, start, exc))
        except BaseException as e:
            call.end_attempt(e)
            plan.fail(tok, IGNORED) if bounded else plan.record(tok, IGNORED)
            ep.record(call.span, kwargs, [1, 0], capture, error=e)
            raise
        on_result = plan.on_result
        if on_result is None:
            plan.success(tok)
        else:
            call.end_attempt()
            try:
                bad = on_result(result)
            except BaseException as e:
                plan.fail(tok, FAILURE) if bounded else plan.record(tok, FAILURE)
                ep.record(call.span, kwargs, [1, 0], capture, error=e)
                raise
            if bad:
                plan.fail(tok, FAILURE) if bounded else plan.record(tok, FAILURE)
            else:
                plan.success(tok)
        call.finish(kwargs, result, current_prompt(), capture, prompt_of(kwargs) if capture else None)
        return result

    wrapped.__wrapped__ = create  # type: ignore[attr-defined]
    return wrapped


def _async_create(create: Callable[..., Any], ep: _Endpoint, sp: StreamPolicy = DEFAULT_STREAM_POLICY) -> Callable[..., Any]:
    streamed = _async_stream(create, ep, sp)
    op, always, timeout_of = ep.operation, ep.capture, ep.timeout_of
    provider, prompt_of = ep.provider, ep.prompt_of
    plans_get, default = ep.plans.get, ep.default
    # The inline first attempt makes the call's span and record itself, as `_Endpoint` would; an
    # endpoint class that starts or records its calls its own way always takes the general path.
    inline = type(ep).start is _Endpoint.start and type(ep).record is _Endpoint.record
    begin = ep.site.begin

    async def attempt(*args: Any, **kwargs: Any) -> Any:
        _attempt_timeout(kwargs, timeout_of)
        _with_traceparent(kwargs)
        return await create(*args, **kwargs)

    def finish(span: Any, kwargs: Dict[str, Any], counter: list[int], capture: bool, result: Any, res: Any) -> Any:
        ep.record(span, kwargs, counter, capture, response=result, reservation=res)
        return result

    async def traced(
        policy: Policy, span: Any, args: Any, kwargs: Dict[str, Any], counter: list[int], capture: bool, res: Any, resume: Any
    ) -> Any:
        token = _span_var.set(span)
        try:
            result = await traced_async(
                policy, _with_chaos(policy, attempt), args, kwargs, span, None, span.name + " attempt", counter, resume
            )
        except BaseException as e:
            ep.record(span, kwargs, counter, capture, error=e, reservation=res)
            raise
        finally:
            _span_var.reset(token)
        return finish(span, kwargs, counter, capture, result, res)

    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("stream"):
            return await streamed(*args, **kwargs)
        model = kwargs.get("model")
        if model.__class__ is not str:
            model = ""
        plan = plans_get(model, default)
        if not plan.fast or not inline or ep.budget is not None or _policy_mod._SYNTHETIC:
            res = await ep.reserve_async(kwargs) if ep.budget is not None else None
            policy, span, counter, capture = ep.start(kwargs)
            return await traced(policy, span, args, kwargs, counter, capture, res, None)
        # The steady state, as in the sync wrapper: the first attempt runs here, in this coroutine
        # (under the attempt's deadline, cancelled when it passes, as the policy's loop runs it);
        # any failure continues in the policy's traced loop.
        capture = always or GLOBAL_CAPTURE[0]
        deadline: Optional[float] = None
        start = 0
        try:
            if plan.bounded:
                tok, start, deadline = plan.begin_at()
            else:
                tok = plan.begin()
        except CircuitOpenError as exc:
            span = _span(None, operation=op, model=model or None, provider=provider, role="call", attributes=plan.call_attrs)
            return await traced(
                plan.policy, span, args, kwargs, [0, 0], capture, None, (1, plan.now_nanos() if plan.bounded else 0, exc)
            )
        call = begin(model, plan.name)
        try:
            if deadline is None:
                result = await create(*args, **_attempt_kwargs(kwargs, call.traceparent, timeout_of))
            else:
                now = plan.now
                at = _tighter(now, deadline)
                current = _deadline.set((now, at))
                try:
                    budget = at - now()
                    if budget <= 0.0:
                        plan.note("timeout")
                        raise _PolicyTimeout(f"{plan.name}: no time left for the attempt", 0.0)
                    request = _attempt_kwargs(kwargs, call.traceparent, timeout_of)
                    if _HAS_ASYNC_TIMEOUT:
                        try:
                            async with asyncio.timeout(budget) as cm:
                                result = await create(*args, **request)
                        except _BuiltinTimeout:
                            if cm.expired():
                                plan.note("timeout")
                                raise _PolicyTimeout(f"{plan.name}: attempt timed out after {budget:.3f}s", budget) from None
                            raise
                    else:
                        try:
                            result = await asyncio.wait_for(create(*args, **request), budget)
                        except asyncio.TimeoutError:
                            plan.note("timeout")
                            raise _PolicyTimeout(f"{plan.name}: attempt timed out after {budget:.3f}s", budget) from None
                finally:
                    _deadline.reset(current)
        except Exception as exc:
            call.end_attempt(exc)
            try:
                o = IGNORED if isinstance(exc, RateLimitedError) else plan.outcome(exc)
            except BaseException as e:
                plan.record(tok, FAILURE)
                ep.record(call.span, kwargs, [1, 0], capture, error=e)
                raise
            plan.record(tok, o)
            return await traced(plan.policy, call.span, args, kwargs, [1, 0], capture, None, (1, start, exc))
        except BaseException as e:
            call.end_attempt(e)
            plan.record(tok, IGNORED)
            ep.record(call.span, kwargs, [1, 0], capture, error=e)
            raise
        on_result = plan.on_result
        if on_result is None:
            plan.success_async(tok)
        else:
            call.end_attempt()
            try:
                bad = on_result(result)
            except BaseException as e:
                plan.record(tok, FAILURE)
                ep.record(call.span, kwargs, [1, 0], capture, error=e)
                raise
            if bad:
                plan.record(tok, FAILURE)
            else:
                plan.success_async(tok)
        call.finish(kwargs, result, current_prompt(), capture, prompt_of(kwargs) if capture else None)
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

    timeout_of = _timeout_type(wrapped)
    # Each policy's steady state, resolved once: calls look their model's plan up by name.
    default_plan = _Plan(default)
    by_policy = {id(default): default_plan}
    plans = {m: by_policy.setdefault(id(p), _Plan(p)) for m, p in per_model.items()}

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
        ep = _Endpoint(
            operation, pick, capture_content, getattr(wrapped, "base_url", None), budget, plans, default_plan, timeout_of
        )
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
