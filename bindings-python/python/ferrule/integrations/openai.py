"""``ferrule.wrap_openai(client, policy=...)``: an ``OpenAI`` or ``AsyncOpenAI`` client whose
``chat.completions.create`` (also ``stream=True``), ``embeddings.create`` and ``responses.create`` run
through a ferrule ``Policy``. The SDK's own retries are turned off when ferrule retries (so they never
stack), each attempt gets the policy's remaining deadline as its ``timeout`` and a ``traceparent``,
and the policy reads ``Retry-After`` / ``x-ratelimit-*`` from the SDK's errors. Everything else passes
through: the result is a copy of the client, of the same class."""

from __future__ import annotations

import inspect
import time
from contextvars import ContextVar
from typing import Any, Callable, Mapping, Optional, TypeVar

from ..deadline import remaining
from ..policy import Policy
from ..retry import Retry
from ..tracing import current_span
from .llm_call import record_call
from .observed_stream import AsyncObservedStream, ObservedStream
from .trace_context import new_trace_id, with_traceparent

__all__ = ["wrap_openai"]

C = TypeVar("C")

# (path from the client to the resource, operation name in gen_ai.operation.name)
_ENDPOINTS = (
    (("chat", "completions"), "chat"),
    (("embeddings",), "embeddings"),
    (("responses",), "responses"),
)
# The logical call's trace id, read by each of its attempts; a contextvar rather than an argument so
# that a policy's fallback sees exactly the caller's (args, kwargs).
_trace_id: ContextVar[str] = ContextVar("ferrule_openai_trace_id", default="")
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


def _sync_create(create: Callable[..., Any], operation: str, pick: Callable[[Any], Any]) -> Callable[..., Any]:
    def attempt(*args: Any, **kwargs: Any) -> Any:
        _attempt_timeout(kwargs)
        kwargs["extra_headers"] = with_traceparent(kwargs.get("extra_headers"), _trace_id.get() or new_trace_id())
        return create(*args, **kwargs)

    by_policy: dict[int, Callable[..., Any]] = {}

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        model = str(kwargs.get("model", ""))
        policy = pick(model)
        run = by_policy.get(id(policy))
        if run is None:
            run = by_policy.setdefault(id(policy), policy(attempt))
        # Inside a ferrule span the request joins its trace; otherwise each call starts one.
        outer = current_span()
        trace_id = outer.trace_id if outer is not None else new_trace_id()
        token = _trace_id.set(trace_id)
        started = time.perf_counter()
        try:
            result = run(*args, **kwargs)
        except BaseException as e:
            record_call(operation, model, time.perf_counter() - started, None, e, None, trace_id)
            raise
        finally:
            _trace_id.reset(token)
        if kwargs.get("stream"):

            def done(d: float, ttft: Optional[float], usage: Any, err: Optional[BaseException]) -> None:
                record_call(operation, model, d, usage, err, ttft, trace_id)

            return ObservedStream(result, started, done)
        # Priced by the model that answered (a fallback may have asked another one).
        answered = getattr(result, "model", None)
        record_call(
            operation,
            answered if isinstance(answered, str) and answered else model,
            time.perf_counter() - started,
            getattr(result, "usage", None),
            None,
            None,
            trace_id,
        )
        return result

    wrapped.__wrapped__ = create  # type: ignore[attr-defined]
    return wrapped


def _async_create(create: Callable[..., Any], operation: str, pick: Callable[[Any], Any]) -> Callable[..., Any]:
    async def attempt(*args: Any, **kwargs: Any) -> Any:
        _attempt_timeout(kwargs)
        kwargs["extra_headers"] = with_traceparent(kwargs.get("extra_headers"), _trace_id.get() or new_trace_id())
        return await create(*args, **kwargs)

    by_policy: dict[int, Callable[..., Any]] = {}

    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        model = str(kwargs.get("model", ""))
        policy = pick(model)
        run = by_policy.get(id(policy))
        if run is None:
            run = by_policy.setdefault(id(policy), policy(attempt))
        # Inside a ferrule span the request joins its trace; otherwise each call starts one.
        outer = current_span()
        trace_id = outer.trace_id if outer is not None else new_trace_id()
        token = _trace_id.set(trace_id)
        started = time.perf_counter()
        try:
            result = await run(*args, **kwargs)
        except BaseException as e:
            record_call(operation, model, time.perf_counter() - started, None, e, None, trace_id)
            raise
        finally:
            _trace_id.reset(token)
        if kwargs.get("stream"):

            def done(d: float, ttft: Optional[float], usage: Any, err: Optional[BaseException]) -> None:
                record_call(operation, model, d, usage, err, ttft, trace_id)

            return AsyncObservedStream(result, started, done)
        # Priced by the model that answered (a fallback may have asked another one).
        answered = getattr(result, "model", None)
        record_call(
            operation,
            answered if isinstance(answered, str) and answered else model,
            time.perf_counter() - started,
            getattr(result, "usage", None),
            None,
            None,
            trace_id,
        )
        return result

    wrapped.__wrapped__ = create  # type: ignore[attr-defined]
    return wrapped


def wrap_openai(
    client: C,
    policy: Optional[Policy] = None,
    *,
    model_policies: Optional[Mapping[str, Policy]] = None,
    capture_content: bool = False,
) -> C:
    """Returns a copy of ``client`` (``openai.OpenAI`` or ``openai.AsyncOpenAI``) whose create calls run
    through ``policy`` (default: ``Policy(retry=Retry(3))``); ``model_policies`` maps a model name to
    its own policy (its own breaker, say). The SDK's retries are set to 0 when any policy retries.
    ``with_options``/``copy`` on the result return wrapped clients too. ``capture_content`` is kept
    for the prompt/answer capture of the tracing layer; off by default, so no content is recorded."""
    if policy is None:
        policy = Policy(retry=Retry(3), name="openai")
    if not isinstance(policy, Policy):
        raise TypeError(f"wrap_openai: policy={policy!r} is not allowed; allowed: a ferrule.Policy or None")
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
        resource.create = make(create, operation, pick)  # an instance attribute: the class is untouched

    def rewrapped(**options: Any) -> Any:
        return wrap_openai(copy_of_wrapped(**options), policy, model_policies=per_model, capture_content=capture_content)

    copy_of_wrapped = wrapped.copy
    wrapped.copy = rewrapped
    wrapped.with_options = rewrapped
    wrapped._ferrule_policy = policy
    return wrapped  # type: ignore[no-any-return]
