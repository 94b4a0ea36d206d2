"""``ferrule.wrap_anthropic(client, policy=...)``: an ``anthropic.Anthropic`` or ``AsyncAnthropic``
client whose ``messages.create`` (also ``stream=True``) runs through a ferrule ``Policy``, with the
same contract as ``wrap_openai``: the SDK's own retries are off when the policy retries (so they
never stack), each attempt gets the policy's remaining deadline as its ``timeout`` and a
``traceparent``, and the policy reads Anthropic's hints from the SDK's errors (``retry-after``, and on
a 429 the spent limit's ``anthropic-ratelimit-*-reset`` instant); a 529 ``overloaded_error`` is
transient. Each call is one GenAI span and one call record with ``gen_ai.provider.name="anthropic"``:
``stop_reason`` is the finish reason, and prompt-cache reads and writes are counted and priced."""

from __future__ import annotations

import inspect
import json
import sys
from typing import Any, Callable, Mapping, Optional, TypeVar

from ..policy import Policy
from ..rate_limit import Limits
from ..retry import Retry
from .openai import _async_create, _Budget, _Endpoint, _Plan, _sync_create, _timeout_type
from .stream import DEFAULT_STREAM_POLICY, StreamPolicy

__all__ = ["wrap_anthropic"]

C = TypeVar("C")

PROVIDER = "anthropic"


def _prompt_of(kwargs: Mapping[str, Any]) -> Optional[str]:
    """The prompt (system + messages) as text, only when content is captured."""
    system, messages = kwargs.get("system"), kwargs.get("messages")
    if messages is None and system is None:
        return None
    v: Any = messages if system is None else {"system": system, "messages": messages}
    return v if isinstance(v, str) else json.dumps(v, default=str, ensure_ascii=False)


def _stream_helper(resource: Any, create: Callable[..., Any], is_async: bool) -> Callable[..., Any]:
    """``messages.stream(...)``: the SDK's own stream manager (``with``/``async with``, ``text_stream``,
    ``get_final_message()``, the parsed ``output_format``) over the wrapped ``create(stream=True)``,
    so the helper's call gets the policy, the stream deadlines, the span and one record. The SDK's
    helper posts the request itself; this builds the same request for ``create``."""
    # Imported here, not with ferrule: only a wrapped anthropic client gets here, and anthropic is
    # slow to import.
    from anthropic import NOT_GIVEN
    from anthropic.lib.streaming import AsyncMessageStreamManager, MessageStreamManager

    # The SDK turns an `output_format` type into `output_config.format` with this (its module has it).
    schema_of = getattr(sys.modules.get(type(resource).__module__), "transformed_json_schema", None)

    def request(params: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        fmt = params.pop("output_format", None)
        if fmt is None or type(fmt).__name__ in ("Omit", "NotGiven"):
            return {**params, "stream": True}, NOT_GIVEN
        if isinstance(fmt, (str, Mapping)) or schema_of is None:
            raise TypeError(
                f"messages.stream: output_format={fmt!r} is not allowed; allowed: a type pydantic.TypeAdapter takes "
                "(pass a schema dict as output_config={'format': ...})"
            )
        from pydantic import TypeAdapter

        config = dict(params.get("output_config") or {})
        config["format"] = {"type": "json_schema", "schema": schema_of(TypeAdapter(fmt))}
        return {**params, "output_config": config, "stream": True}, fmt

    if is_async:

        def astream(**params: Any) -> Any:
            body, fmt = request(params)
            return AsyncMessageStreamManager(create(**body), output_format=fmt)

        return astream

    def stream(**params: Any) -> Any:
        body, fmt = request(params)
        return MessageStreamManager(lambda: create(**body), output_format=fmt)

    return stream


def wrap_anthropic(
    client: C,
    policy: Optional[Policy] = None,
    *,
    model_policies: Optional[Mapping[str, Policy]] = None,
    capture_content: bool = False,
    limits: Optional[Limits] = None,
    key: Optional[Callable[[], Any]] = None,
    stream_policy: Optional[StreamPolicy] = None,
) -> C:
    """Returns a copy of ``client`` (``anthropic.Anthropic`` or ``anthropic.AsyncAnthropic``) whose
    ``messages.create`` runs through ``policy`` (default: ``Policy(retry=Retry(3))``);
    ``model_policies`` maps a model name to its own policy. The SDK's retries are set to 0 when any
    policy retries. ``with_options``/``copy`` on the result return wrapped clients too. The
    parameters mean what they mean for ``wrap_openai``.

    Each call is one GenAI span (``chat claude-sonnet-4-5``, ``gen_ai.provider.name="anthropic"``),
    with one child span per attempt whose ids go out as ``traceparent``. Usage is read from the
    message (or the stream's ``message_start``/``message_delta`` events): ``input_tokens``,
    ``output_tokens``, ``cache_read_input_tokens`` and ``cache_creation_input_tokens``; the cost
    prices cache reads at 0.1x and cache writes at 1.25x the model's input price. A stream's span
    ends when the stream is read to the end, closed or breaks.

    ``messages.stream(...)`` (the SDK's stream helper: ``with`` / ``async with``, ``text_stream``,
    ``get_final_message()``) runs through the policy like ``create(..., stream=True)``: the same
    ``stream_policy`` deadlines, span and one record when the stream ends."""
    if policy is None:
        policy = Policy(retry=Retry(3), name=PROVIDER)
    if not isinstance(capture_content, bool):
        raise TypeError(f"wrap_anthropic: capture_content={capture_content!r} is not allowed; allowed: True or False")
    if stream_policy is not None and not isinstance(stream_policy, StreamPolicy):
        raise TypeError(f"wrap_anthropic: stream_policy={stream_policy!r} is not allowed; allowed: a ferrule.StreamPolicy or None")
    if not isinstance(policy, Policy):
        raise TypeError(f"wrap_anthropic: policy={policy!r} is not allowed; allowed: a ferrule.Policy or None")
    if limits is not None and not isinstance(limits, Limits):
        raise TypeError(f"wrap_anthropic: limits={limits!r} is not allowed; allowed: a ferrule.Limits or None")
    if key is not None and not callable(key):
        raise TypeError(f"wrap_anthropic: key={key!r} is not allowed; allowed: a function () -> key, or None")
    per_model = dict(model_policies or {})
    for k, v in per_model.items():
        if not isinstance(k, str) or not isinstance(v, Policy):
            raise TypeError(
                f"wrap_anthropic: model_policies[{k!r}]={v!r} is not allowed; allowed: a str model name -> ferrule.Policy"
            )
    copy = getattr(client, "copy", None)
    messages = getattr(client, "messages", None)
    if not callable(copy) or messages is None or not callable(getattr(messages, "create", None)):
        raise TypeError(
            f"wrap_anthropic: client={client!r} is not allowed; allowed: an anthropic.Anthropic or anthropic.AsyncAnthropic"
        )
    retries = policy._retry is not None or any(p._retry is not None for p in per_model.values())
    wrapped: Any = copy(max_retries=0) if retries else copy()
    budget = _Budget(limits, key) if limits is not None else None
    default = policy

    def pick(model: Any) -> Any:
        return per_model.get(model, default)

    # As wrap_openai: each policy's steady state resolved once, and the SDK's own timeout object
    # for each attempt, so a call's first attempt runs inline.
    default_plan = _Plan(default)
    by_policy = {id(default): default_plan}
    plans = {m: by_policy.setdefault(id(p), _Plan(p)) for m, p in per_model.items()}
    resource = wrapped.messages
    create = resource.create
    is_async = inspect.iscoroutinefunction(inspect.unwrap(create))
    make = _async_create if is_async else _sync_create
    ep = _Endpoint(
        "chat",
        pick,
        capture_content,
        getattr(wrapped, "base_url", None),
        budget,
        plans,
        default_plan,
        _timeout_type(wrapped),
        PROVIDER,
        _prompt_of,
    )
    resource.create = make(create, ep, stream_policy or DEFAULT_STREAM_POLICY)  # an instance attribute: the class is untouched
    if callable(getattr(resource, "stream", None)) and type(resource).__module__.partition(".")[0] == "anthropic":
        resource.stream = _stream_helper(resource, resource.create, is_async)

    copy_of_wrapped = wrapped.copy

    def rewrapped(**options: Any) -> Any:
        return wrap_anthropic(
            copy_of_wrapped(**options),
            policy,
            model_policies=per_model,
            capture_content=capture_content,
            limits=limits,
            key=key,
            stream_policy=stream_policy,
        )

    wrapped.copy = rewrapped
    wrapped.with_options = rewrapped
    wrapped._ferrule_policy = policy
    return wrapped  # type: ignore[no-any-return]
