"""Spans for calls through a ``Policy``: one ``call`` span per call, one ``attempt`` child per attempt
(numbered ``ferrule.attempt``, the current span while the user's function runs, so an SDK wrapper
injects its ``traceparent``) and one ``fallback`` child when a fallback answers. Recorded only when
tracing of policies is on (``ferrule.configure(trace_policies=True)``) or when an integration opened
the call span itself (``wrap_openai``); otherwise a policy's hot path does not touch the tracer.

The core mints ids, samples, masks and records each span; this module only opens and closes them
around the policy's own loop."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from ._ferrule import Span

if TYPE_CHECKING:
    from .policy import Policy

__all__ = ["set_trace_policies", "traced_sync", "traced_async"]

# A call's loop from its start: no attempt made, no start time, no failure yet.
_FRESH: Tuple[int, int, Optional[BaseException]] = (0, 0, None)


def set_trace_policies(on: bool) -> None:
    """Read by every policy wrapper as the module global ``policy._TRACE_POLICIES`` (behind
    ``policy._DIVERT``, the one branch the steady state pays)."""
    from . import policy

    policy._set_trace_policies(bool(on))


def _attempt_attributes(policy: "Policy", genai: Optional[Dict[str, Any]], n: int) -> Dict[str, Any]:
    a: Dict[str, Any] = {"ferrule.policy.name": policy.name, "ferrule.attempt": n}
    if genai:
        a.update(genai)
    return a


def _call_span(policy: "Policy") -> Span:
    return Span(policy.name, role="call", attributes={"ferrule.policy.name": policy.name})


def traced_sync(
    policy: "Policy",
    fn: Callable[..., Any],
    args: Any,
    kwargs: Any,
    parent: Optional[Span] = None,
    genai: Optional[Dict[str, Any]] = None,
    name: Optional[str] = None,
    attempts: Optional[List[int]] = None,
    resume: Optional[Tuple[int, int, BaseException]] = None,
) -> Any:
    """Runs ``fn`` through ``policy`` with spans. ``parent``: a call span the caller opened (and
    ends) itself; without it the policy opens its own. ``genai``/``name`` name the attempt spans
    (``{operation} {model}`` for an LLM call). ``attempts[0]`` is set to the number of attempts and,
    when present, ``attempts[1]`` to 1 if a fallback answered. ``resume``: ``(attempts, start,
    failure)`` of a first attempt the caller already ran itself and saw fail (its span already
    ended): the loop goes on from there, as a policy's own fast wrapper does."""
    policy = policy._routed()  # inside a synthetic probe: the policy's synthetic twin
    count = attempts if attempts is not None else [0]
    attempt_name = name or f"{policy.name} attempt"

    def attempt(*a: Any, **k: Any) -> Any:
        count[0] += 1
        with Span(attempt_name, role="attempt", attributes=_attempt_attributes(policy, genai, count[0])):
            return fn(*a, **k)

    def run() -> Any:
        try:
            return policy._loop_sync(attempt, args, kwargs, *(resume or _FRESH), None)
        except Exception as exc:
            fb = policy._fallback
            if fb is None or (fb.matches is not None and not fb.matches(exc)):
                policy._core.note("failed")
                if policy._dlq is not None:  # as the policy's own decorator does
                    policy._dead_letter(exc, args, kwargs)
                raise
            if len(count) > 1:
                count[1] = 1  # the caller's record says a fallback answered
            with Span(
                f"{policy.name} fallback",
                role="fallback",
                attributes={"ferrule.policy.name": policy.name, "ferrule.fallback.cause": type(exc).__name__},
            ):
                if policy._dlq is None:
                    return fb.run_sync(policy._core, exc, args, kwargs)
                try:
                    return fb.run_sync(policy._core, exc, args, kwargs)
                except Exception as fb_exc:
                    policy._dead_letter(fb_exc, args, kwargs)
                    raise

    if parent is not None:
        return run()
    with _call_span(policy) as span:
        try:
            return run()
        finally:
            span.set_attribute("ferrule.attempts", count[0])


async def traced_async(
    policy: "Policy",
    fn: Callable[..., Any],
    args: Any,
    kwargs: Any,
    parent: Optional[Span] = None,
    genai: Optional[Dict[str, Any]] = None,
    name: Optional[str] = None,
    attempts: Optional[List[int]] = None,
    resume: Optional[Tuple[int, int, BaseException]] = None,
) -> Any:
    """``traced_sync`` for ``async def``: the same spans, each attempt span current in its task."""
    policy = policy._routed()  # inside a synthetic probe: the policy's synthetic twin
    count = attempts if attempts is not None else [0]
    attempt_name = name or f"{policy.name} attempt"

    async def attempt(*a: Any, **k: Any) -> Any:
        count[0] += 1
        with Span(attempt_name, role="attempt", attributes=_attempt_attributes(policy, genai, count[0])):
            return await fn(*a, **k)

    async def run() -> Any:
        try:
            return await policy._run_async(attempt, args, kwargs, *(resume or _FRESH))
        except Exception as exc:
            fb = policy._fallback
            if fb is None or (fb.matches is not None and not fb.matches(exc)):
                policy._core.note("failed")
                if policy._dlq is not None:  # as the policy's own decorator does
                    await policy._dead_letter_async(exc, args, kwargs)
                raise
            if len(count) > 1:
                count[1] = 1  # the caller's record says a fallback answered
            with Span(
                f"{policy.name} fallback",
                role="fallback",
                attributes={"ferrule.policy.name": policy.name, "ferrule.fallback.cause": type(exc).__name__},
            ):
                if policy._dlq is None:
                    return await fb.run_async(policy._core, exc, args, kwargs)
                try:
                    return await fb.run_async(policy._core, exc, args, kwargs)
                except Exception as fb_exc:
                    await policy._dead_letter_async(fb_exc, args, kwargs)
                    raise

    if parent is not None:
        return await run()
    with _call_span(policy) as span:
        try:
            return await run()
        finally:
            span.set_attribute("ferrule.attempts", count[0])
