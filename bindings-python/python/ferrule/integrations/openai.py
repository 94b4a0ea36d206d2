"""``ferrule.wrap_openai(client, policy=...)``: an ``OpenAI`` or ``AsyncOpenAI`` client whose
``chat.completions.create`` (also ``stream=True``), ``embeddings.create`` and ``responses.create`` run
through a ferrule ``Policy``. The SDK's own retries are turned off when ferrule retries (so they never
stack), each attempt gets the policy's remaining deadline as its ``timeout`` and a ``traceparent``
(the attempt's span), and the policy reads ``Retry-After`` / ``x-ratelimit-*`` from the SDK's errors. Everything else passes
through: the result is a copy of the client, of the same class."""

from __future__ import annotations

import inspect
import json
import time
from typing import Any, Callable, Dict, Mapping, Optional, TypeVar

from ..deadline import remaining
from ..policy import Policy
from ..retry import Retry
from ..policy_spans import traced_async, traced_sync
from ..tracing import _span_var, current_span, start_span
from .llm_call import GLOBAL_CAPTURE, record_call
from .observed_stream import AsyncObservedStream, ObservedStream
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
# Request parameters kept in the inference log (never the prompt: that is content).
_PARAMETERS = ("temperature", "top_p", "max_tokens", "max_completion_tokens", "max_output_tokens", "n", "seed", "stream")


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
    v = kwargs.get("messages") if operation == "chat" else kwargs.get("input")
    if v is None:
        return None
    return v if isinstance(v, str) else json.dumps(v, default=str, ensure_ascii=False)


def _answer_of(result: Any) -> Optional[str]:
    choices = getattr(result, "choices", None)
    if choices:
        msg = getattr(choices[0], "message", None)
        text = getattr(msg, "content", None)
        return text if isinstance(text, str) else None
    text = getattr(result, "output_text", None)  # Responses API
    return text if isinstance(text, str) else None


class _Call:
    """One logical call through the wrapper: its GenAI span (current while the policy runs, so the
    attempts are its children) and what ``record_call`` needs when it ends."""

    __slots__ = ("operation", "model", "span", "started", "attempts", "prompt", "capture", "parameters")

    def __init__(self, operation: str, model: str, policy: Policy, capture: bool, kwargs: Mapping[str, Any]) -> None:
        self.operation = operation
        self.model = model
        self.span = start_span(
            operation=operation,
            model=model or None,
            provider="openai",
            role="call",
            attributes={"ferrule.policy.name": policy.name},
        )
        self.attempts = [0, 0]  # attempts made, whether a fallback answered
        self.capture = capture or GLOBAL_CAPTURE[0]
        self.prompt = _prompt_of(operation, kwargs) if self.capture else None
        self.parameters = {k: kwargs[k] for k in _PARAMETERS if k in kwargs} or None
        self.started = time.perf_counter()

    def genai(self) -> Dict[str, Any]:
        a: Dict[str, Any] = {"gen_ai.operation.name": self.operation, "gen_ai.provider.name": "openai"}
        if self.model:
            a["gen_ai.request.model"] = self.model
        return a

    def done(
        self,
        result: Any,
        error: Optional[BaseException],
        first: Optional[float] = None,
        usage: Any = None,
        answer: Optional[str] = None,
        always: bool = False,
    ) -> None:
        answered = getattr(result, "model", None) if result is not None else None
        if usage is None and result is not None:
            usage = getattr(result, "usage", None)
        if self.capture and answer is None and result is not None:
            answer = _answer_of(result)
        record_call(
            self.operation,
            self.model,
            time.perf_counter() - self.started,
            usage,
            error,
            first,
            self.span,
            response_model=answered if isinstance(answered, str) and answered else None,
            content=(self.prompt, answer) if self.capture else None,
            always_capture=always,
            attempts=self.attempts[0],
            parameters=self.parameters,
            fell_back=bool(self.attempts[1]),
        )


def _with_chaos(policy: Policy, attempt: Callable[..., Any]) -> Callable[..., Any]:
    """The attempt as the policy's own decorator would run it: chaos, when set, innermost."""
    chaos = policy._chaos
    return chaos._wrap(attempt, policy._clock) if chaos is not None else attempt


def _sync_create(
    create: Callable[..., Any], operation: str, pick: Callable[[Any], Any], capture: bool
) -> Callable[..., Any]:
    def attempt(*args: Any, **kwargs: Any) -> Any:
        _attempt_timeout(kwargs)
        _with_traceparent(kwargs)
        return create(*args, **kwargs)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        model = str(kwargs.get("model", ""))
        policy = pick(model)
        call = _Call(operation, model, policy, capture, kwargs)
        token = _span_var.set(call.span)
        try:
            result = traced_sync(policy, _with_chaos(policy, attempt), args, kwargs, call.span, call.genai(), call.span.name, call.attempts)
        except BaseException as e:
            call.done(None, e, always=capture)
            raise
        finally:
            _span_var.reset(token)
        if kwargs.get("stream"):

            def done(d: float, ttft: Optional[float], usage: Any, err: Optional[BaseException], text: Optional[str]) -> None:
                call.done(None, err, ttft, usage, text, capture)

            return ObservedStream(result, call.started, done, call.capture)
        call.done(result, None, always=capture)
        return result

    wrapped.__wrapped__ = create  # type: ignore[attr-defined]
    return wrapped


def _async_create(
    create: Callable[..., Any], operation: str, pick: Callable[[Any], Any], capture: bool
) -> Callable[..., Any]:
    async def attempt(*args: Any, **kwargs: Any) -> Any:
        _attempt_timeout(kwargs)
        _with_traceparent(kwargs)
        return await create(*args, **kwargs)

    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        model = str(kwargs.get("model", ""))
        policy = pick(model)
        call = _Call(operation, model, policy, capture, kwargs)
        token = _span_var.set(call.span)
        try:
            result = await traced_async(policy, _with_chaos(policy, attempt), args, kwargs, call.span, call.genai(), call.span.name, call.attempts)
        except BaseException as e:
            call.done(None, e, always=capture)
            raise
        finally:
            _span_var.reset(token)
        if kwargs.get("stream"):

            def done(d: float, ttft: Optional[float], usage: Any, err: Optional[BaseException], text: Optional[str]) -> None:
                call.done(None, err, ttft, usage, text, capture)

            return AsyncObservedStream(result, call.started, done, call.capture)
        call.done(result, None, always=capture)
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
    ``with_options``/``copy`` on the result return wrapped clients too.

    Each call is one GenAI span (``chat gpt-4o``: ``gen_ai.operation.name``, ``gen_ai.provider.name``,
    ``gen_ai.request.model``, ``gen_ai.response.model``, ``gen_ai.usage.*``, ``error.type``), child
    of the current ferrule span, with one child span per attempt whose ids go out as ``traceparent``
    and a ``fallback`` child when a fallback answers. A stream's span ends when the stream is read
    to the end, closed or breaks, with ``gen_ai.response.time_to_first_chunk``. With
    ``capture_content=True`` (or ``configure(capture_content=True)``) the prompt and the answer
    are kept on the span, masked by ``ferrule.redact``'s rules and cut to ``content_max_chars``.
    With ``ferrule.inference_log`` open, each call writes one record."""
    if policy is None:
        policy = Policy(retry=Retry(3), name="openai")
    if not isinstance(capture_content, bool):
        raise TypeError(f"wrap_openai: capture_content={capture_content!r} is not allowed; allowed: True or False")
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
        resource.create = make(create, operation, pick, capture_content)  # an instance attribute: the class is untouched

    def rewrapped(**options: Any) -> Any:
        return wrap_openai(copy_of_wrapped(**options), policy, model_policies=per_model, capture_content=capture_content)

    copy_of_wrapped = wrapped.copy
    wrapped.copy = rewrapped
    wrapped.with_options = rewrapped
    wrapped._ferrule_policy = policy
    return wrapped  # type: ignore[no-any-return]
