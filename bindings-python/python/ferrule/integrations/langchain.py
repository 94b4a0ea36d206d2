"""LangChain: ``FerruleCallbackHandler`` records each chat/LLM run as a call record (duration, model,
provider from the model class, tokens from ``usage_metadata``, time to first token when streaming,
the error; the template from a named prompt template, else the messages' fingerprint), chains, tools
and retrievers as nested spans, and
``with_policy(runnable, policy)`` runs ``invoke``/``ainvoke``/``stream``/``astream``/``batch`` through a
ferrule ``Policy``. With a retrying policy, a ``ChatOpenAI``'s own SDK retries are turned off (on a
copy, also inside a chain), so retries never stack. Needs ``langchain-core``."""

from __future__ import annotations

import time
from typing import Any, AsyncIterator, Dict, Iterator, Optional
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.runnables import Runnable, RunnableConfig

from ..policy import Policy
from ..prompt_template import current_prompt
from .._ferrule import Span, emit
from . import langchain_stream, llm_call
from .stream import DEFAULT_STREAM_POLICY, StreamPolicy

__all__ = ["FerruleCallbackHandler", "with_policy"]


# LangChain model classes whose provider is not in ``ls_provider``: class name prefix -> gen_ai.provider.name
_PROVIDERS = (
    ("ChatOpenAI", "openai"),
    ("AzureChatOpenAI", "azure.ai.openai"),
    ("ChatAnthropic", "anthropic"),
    ("ChatVertexAI", "gcp.vertex_ai"),
    ("ChatGoogleGenerativeAI", "gcp.gemini"),
    ("ChatBedrock", "aws.bedrock"),
    ("ChatMistralAI", "mistral_ai"),
    ("ChatGroq", "groq"),
    ("ChatCohere", "cohere"),
    ("ChatOllama", "ollama"),
)


def _provider_of(serialized: Optional[Dict[str, Any]], metadata: Optional[Dict[str, Any]]) -> str:
    """The run's ``gen_ai.provider.name``: LangChain's own ``ls_provider``, else the model class."""
    if metadata and metadata.get("ls_provider"):
        return str(metadata["ls_provider"])
    ident = (serialized or {}).get("id") or []
    cls = str(ident[-1]) if ident else ""
    for prefix, provider in _PROVIDERS:
        if cls.startswith(prefix):
            return provider
    return cls.lower().removeprefix("chat") or "langchain"


def _model_of(serialized: Optional[Dict[str, Any]], metadata: Optional[Dict[str, Any]], kwargs: Dict[str, Any]) -> str:
    if metadata and metadata.get("ls_model_name"):
        return str(metadata["ls_model_name"])
    params = kwargs.get("invocation_params") or {}
    for key in ("model", "model_name"):
        if params.get(key):
            return str(params[key])
    inner = (serialized or {}).get("kwargs") or {}
    return str(inner.get("model_name") or inner.get("model") or "")


def _name_of(serialized: Optional[Dict[str, Any]], kwargs: Dict[str, Any], default: str) -> str:
    if kwargs.get("name"):
        return str(kwargs["name"])
    s = serialized or {}
    if s.get("name"):
        return str(s["name"])
    ident = s.get("id") or []
    return str(ident[-1]) if ident else default


def _prompt_name_of(serialized: Optional[Dict[str, Any]], kwargs: Dict[str, Any]) -> Optional[str]:
    """A prompt template's own name (``prompt.with_config(run_name="triage")``), or None when it has
    only its class name."""
    ident = (serialized or {}).get("id") or []
    cls = str(ident[-1]) if ident else ""
    if not cls.endswith("PromptTemplate"):
        return None
    name = kwargs.get("name") or (serialized or {}).get("name")
    return str(name) if name and name != cls else None


# LangChain message types -> chat roles, for the core's template fingerprint.
_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "function": "function"}
_MAX_MESSAGES = 50


def _messages_of(messages: Any) -> list[Dict[str, Any]]:
    """The first prompt's messages as ``{"role", "content"}`` (what the core fingerprints)."""
    try:
        first = messages[0] if messages else []
        return [
            {"role": _ROLES.get(getattr(m, "type", ""), "user"), "content": getattr(m, "content", "")}
            for m in first[:_MAX_MESSAGES]
        ]
    except (TypeError, IndexError, KeyError):
        return []


def _response_of(response: Any) -> Dict[str, Any]:
    """The run's answer in the shape the core's call record reads (``model``, ``usage``, ``choices``):
    a message's ``usage_metadata``, else the LLM output's ``token_usage``."""
    out = getattr(response, "llm_output", None) or {}
    r: Dict[str, Any] = {}
    if isinstance(out, dict):
        if out.get("model_name"):
            r["model"] = out["model_name"]
        if out.get("token_usage"):
            r["usage"] = out["token_usage"]
    reasons = []
    for generations in getattr(response, "generations", None) or []:
        for g in generations:
            info = getattr(g, "generation_info", None) or {}
            if info.get("finish_reason"):
                reasons.append({"finish_reason": info["finish_reason"]})
            um = getattr(getattr(g, "message", None), "usage_metadata", None)
            if um:
                r["usage"] = um
    if reasons:
        r["choices"] = reasons
    return r


def _dropped(in_flight: int, run_id: UUID, what: str) -> None:
    emit(
        "langchain.run_dropped",
        level="warning",
        message=f"FerruleCallbackHandler: {in_flight} runs in flight; run {run_id} not {what}",
    )


class FerruleCallbackHandler(BaseCallbackHandler):
    """Pass in ``callbacks=[FerruleCallbackHandler()]`` (or a config) to record every chat model and
    LLM run. Runs in flight are held in a bounded table (``max_runs``); a run beyond it is not
    recorded, counted in ``dropped`` and logged at warning level."""

    raise_error = False  # a telemetry failure must never fail the user's chain

    def __init__(self, max_runs: int = 10_000) -> None:
        if isinstance(max_runs, bool) or not isinstance(max_runs, int) or not 1 <= max_runs <= 10_000_000:
            from ..errors import ConfigError

            raise ConfigError.out_of_range("FerruleCallbackHandler", "max_runs", max_runs, "[1, 10000000]")
        self.max_runs = max_runs
        # run_id -> [operation, request, started, first_token_seconds, ...]; dict operations are atomic
        # under the GIL, and LangChain may call handlers from worker threads.
        self._runs: Dict[UUID, list[Any]] = {}
        # run_id -> the span of a chain, tool or retriever run, so the runs inside nest under it.
        self._spans: Dict[UUID, Span] = {}
        # parent run_id -> the name of the prompt template that ran in it: the template of the model
        # runs that follow it there (``prompt | model``).
        self._templates: Dict[UUID, str] = {}
        self.dropped = 0
        self.recorded = 0

    def _open(self, run_id: UUID, parent_run_id: Optional[UUID], name: str, operation: str, attributes: Dict[str, Any]) -> None:
        """A chain/tool/retriever run's span (GenAI ``invoke_workflow`` / ``execute_tool`` /
        ``retrieval``), child of its parent run's span, else of the current ferrule span."""
        if len(self._spans) >= self.max_runs:
            self.dropped += 1
            _dropped(len(self._spans), run_id, "traced")
            return
        parent = self._spans.get(parent_run_id) if parent_run_id is not None else None
        attributes = {"ferrule.integration": "langchain", "gen_ai.operation.name": operation, **attributes}
        self._spans[run_id] = Span(f"{operation} {name}", role="internal", attributes=attributes, parent=parent)

    def _close(self, run_id: UUID, error: Optional[BaseException]) -> None:
        self._templates.pop(run_id, None)
        span = self._spans.pop(run_id, None)
        if span is not None:
            span.end(error=error)

    def on_chain_start(
        self, serialized: Optional[Dict[str, Any]], inputs: Any, *, run_id: UUID, parent_run_id: Optional[UUID] = None, **kwargs: Any
    ) -> None:
        prompt = _prompt_name_of(serialized, kwargs)
        if prompt is not None and parent_run_id is not None and len(self._templates) < self.max_runs:
            self._templates[parent_run_id] = prompt
        self._open(run_id, parent_run_id, _name_of(serialized, kwargs, "chain"), "invoke_workflow", {})

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._close(run_id, None)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._close(run_id, error)

    def on_tool_start(
        self, serialized: Optional[Dict[str, Any]], input_str: str, *, run_id: UUID, parent_run_id: Optional[UUID] = None, **kwargs: Any
    ) -> None:
        name = _name_of(serialized, kwargs, "tool")
        self._open(run_id, parent_run_id, name, "execute_tool", {"gen_ai.tool.name": name})

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._close(run_id, None)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._close(run_id, error)

    def on_retriever_start(
        self, serialized: Optional[Dict[str, Any]], query: str, *, run_id: UUID, parent_run_id: Optional[UUID] = None, **kwargs: Any
    ) -> None:
        self._open(run_id, parent_run_id, _name_of(serialized, kwargs, "retriever"), "retrieval", {})

    def on_retriever_end(self, documents: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._close(run_id, None)

    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._close(run_id, error)

    def _start(
        self,
        operation: str,
        run_id: UUID,
        serialized: Any,
        metadata: Any,
        kwargs: Dict[str, Any],
        parent_run_id: Optional[UUID] = None,
        messages: Any = None,
    ) -> None:
        if len(self._runs) >= self.max_runs:
            self.dropped += 1
            _dropped(len(self._runs), run_id, "recorded")
            return
        model = _model_of(serialized, metadata, kwargs)
        provider = _provider_of(serialized, metadata)
        # The run's GenAI span, child of the current ferrule span; ended by record_call.
        parent = self._spans.get(parent_run_id) if parent_run_id is not None else None
        span = Span(
            operation=operation,
            model=model or None,
            provider=provider,
            role="call",
            attributes={"ferrule.integration": "langchain"},
            parent=parent,
        )
        template = (
            current_prompt()
            or (metadata or {}).get("ls_prompt_template")
            or (metadata or {}).get("template")
            or (self._templates.get(parent_run_id) if parent_run_id is not None else None)
        )
        # Without a named template the core fingerprints the messages (three prompts, three rows).
        request: Dict[str, Any] = {"model": model}
        if template is None and messages is not None:
            request["messages"] = _messages_of(messages)
        self._runs[run_id] = [operation, request, time.perf_counter(), None, span, provider, template, None]

    def on_chat_model_start(
        self,
        serialized: Dict[str, Any],
        messages: Any,
        *,
        run_id: UUID,
        parent_run_id: Optional[UUID] = None,
        metadata: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> None:
        self._start("chat", run_id, serialized, metadata, kwargs, parent_run_id, messages)

    def on_llm_start(
        self,
        serialized: Dict[str, Any],
        prompts: Any,
        *,
        run_id: UUID,
        parent_run_id: Optional[UUID] = None,
        metadata: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> None:
        self._start("text_completion", run_id, serialized, metadata, kwargs, parent_run_id)

    def on_llm_new_token(self, token: Any, *, run_id: UUID, **kwargs: Any) -> None:
        run = self._runs.get(run_id)
        if run is None:
            return
        if run[3] is None:
            run[3] = time.perf_counter() - run[2]
            run[7] = llm_call.CallStream(run[4])
        run[7].arrived()  # the time per chunk (the answer itself is read at the end)

    def _end(self, run_id: UUID, response: Optional[Dict[str, Any]], error: Optional[BaseException]) -> None:
        run = self._runs.pop(run_id, None)
        if run is None:
            return
        operation, request, started, first, span, provider, template, times = run
        if isinstance(error, GeneratorExit):
            error = None  # the consumer stopped reading a stream: abandoned, not failed
        llm_call.record_call(
            span,
            operation,
            provider,
            request=request,
            response=response if response is not None or times is None else {},
            stream=times,
            error=error,
            duration_seconds=time.perf_counter() - started,
            time_to_first_chunk=first,
            template=template,
        )
        self.recorded += 1

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, _response_of(response), None)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, None, error)


def _without_sdk_retries(runnable: Any) -> Any:
    """A copy of a ``ChatOpenAI``-like model whose OpenAI clients do not retry; others as they are."""
    root, aroot = getattr(runnable, "root_client", None), getattr(runnable, "root_async_client", None)
    if root is None and aroot is None or not hasattr(runnable, "model_copy"):
        return runnable
    copy = runnable.model_copy()
    if root is not None:
        copy.root_client = root.with_options(max_retries=0)
        copy.client = copy.root_client.chat.completions
    if aroot is not None:
        copy.root_async_client = aroot.with_options(max_retries=0)
        copy.async_client = copy.root_async_client.chat.completions
    return copy


class PolicyRunnable(Runnable[Any, Any]):
    """A runnable run through a ferrule ``Policy``. Streams are opened through the policy up to their
    first chunk (a failure before it is retried, unseen); after it, the ``StreamPolicy`` says what the
    consumer sees: its deadlines, and a typed ``StreamInterrupted``, a continuation, or a fallback
    when the stream breaks (see ``docs/streaming.md``)."""

    def __init__(self, bound: Runnable[Any, Any], policy: Policy, stream_policy: Optional[StreamPolicy] = None) -> None:
        self.bound = bound
        self.policy = policy
        self.stream_policy = stream_policy if stream_policy is not None else DEFAULT_STREAM_POLICY
        # Whether on_interrupt="continue" resumes by running the same input with the delivered text
        # appended by the one chat model inside (set by with_policy).
        self._continue_inside = False

    def invoke(self, input: Any, config: Optional[RunnableConfig] = None, **kwargs: Any) -> Any:
        return self.policy.call(self.bound.invoke, input, config, **kwargs)

    async def ainvoke(self, input: Any, config: Optional[RunnableConfig] = None, **kwargs: Any) -> Any:
        return await self.policy.call(self.bound.ainvoke, input, config, **kwargs)

    def stream(self, input: Any, config: Optional[RunnableConfig] = None, **kwargs: Any) -> Iterator[Any]:
        return langchain_stream.stream_sync(self, input, config, kwargs)

    async def astream(self, input: Any, config: Optional[RunnableConfig] = None, **kwargs: Any) -> AsyncIterator[Any]:
        s = await langchain_stream.stream_async(self, input, config, kwargs)
        try:
            async for chunk in s:
                yield chunk
        finally:
            await s.close()  # a consumer that stopped early: the connection and the span end here

    def __repr__(self) -> str:
        return f"<PolicyRunnable {self.policy.name!r} around {self.bound!r}>"


def with_policy(runnable: Runnable[Any, Any], policy: Policy, *, stream_policy: Optional[StreamPolicy] = None) -> PolicyRunnable:
    """``runnable`` run through ``policy``: ``invoke``, ``ainvoke``, ``stream``/``astream`` (through the
    policy up to the first chunk, then under ``stream_policy``: first-chunk and stall deadlines,
    ``on_interrupt``) and ``batch``/``abatch`` (each input through the policy). The chat models inside
    ``runnable`` (a chain's steps, bindings, fallbacks, ...) are prepared on copies: SDK retries off
    under a retrying policy, stream sockets reachable for the deadlines (``docs/streaming.md``)."""
    if not isinstance(policy, Policy):
        raise TypeError(f"with_policy: policy={policy!r} is not allowed; allowed: a ferrule.Policy")
    if not isinstance(runnable, Runnable):
        raise TypeError(f"with_policy: runnable={runnable!r} is not allowed; allowed: a langchain_core Runnable")
    if stream_policy is not None and not isinstance(stream_policy, StreamPolicy):
        raise TypeError(f"with_policy: stream_policy={stream_policy!r} is not allowed; allowed: a ferrule.StreamPolicy or None")
    # The models inside a chain (a sequence's steps, a binding, fallbacks, ...) are changed on copies:
    # the user's runnable and its other uses are left as they were.
    if policy._retry is not None:
        runnable = langchain_stream.rewire(runnable, _without_sdk_retries)
    sp = stream_policy
    inside = False
    deadlines = sp is not None and (sp.first_chunk_timeout_seconds is not None or sp.stall_timeout_seconds is not None)
    if deadlines or (sp is not None and sp.on_interrupt == "continue"):
        runnable, unreached, inside = langchain_stream.with_stream_sockets(runnable)
        if unreached and deadlines:
            langchain_stream.unenforced(runnable, "with_policy", unreached)
    wrapped = PolicyRunnable(runnable, policy, stream_policy)
    wrapped._continue_inside = inside
    return wrapped
