"""A wrapped stream's record fields (model, id, finish reasons, usage, text, the time to the first
chunk and per chunk), folded by the core with as few crossings as the chunks allow. Most chunks of a
chat stream carry one text delta and nothing else the record reads; reading each through the core
(ten attribute look-ups from Rust) was most of what a wrapped stream cost per chunk. Such a chunk's
text is kept here instead, and handed to the core in batches with the chunks' times; any other chunk
(the first, one with a finish reason, usage, tool calls, extra fields, another SDK's type) is
flushed after what came before it and folded by the core itself, so the core reads every field it
reads today, in order."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from .._ferrule import CallStream

__all__ = ["StreamFields"]

_BATCH = 256


def _is_openai_chunk_type(t: type) -> bool:
    """The OpenAI SDK's chat chunk class, the one shape known here (found from the chunk itself: importing
    the SDK here would make ``import ferrule`` pay for it)."""
    return t.__name__ == "ChatCompletionChunk" and t.__module__.startswith("openai.types.chat")


class StreamFields:
    """``CallStream``'s interface (``chunk``, ``text``, ``finished``, ``usage``) plus ``mark(t)``, the
    time the consumer asked for the next chunk, and ``flush()`` before the record."""

    __slots__ = ("native", "_parts", "_at", "_fast")

    def __init__(self, native: CallStream) -> None:
        self.native = native
        self._parts: List[str] = []  # text of the chunks kept here, not handed over yet
        self._at: List[float] = []  # chunk end times (monotonic seconds) not handed over yet
        # The OpenAI chunk class, once the core has the model and id (it reads them from the first
        # chunk): from then on such a chunk may be kept here. None until then.
        self._fast: Any = None

    def chunk(self, c: Any) -> Any:
        if type(c) is self._fast:
            try:  # the SDK builds chunks without validation: a field may be missing or None
                if not c.__pydantic_extra__ and c.usage is None:
                    ch = c.choices
                    if len(ch) == 1:
                        x = ch[0]
                        d = x.delta
                        if x.finish_reason is None and d.tool_calls is None and d.function_call is None:
                            t = d.content
                            if t is None or type(t) is str:
                                if t:
                                    self._parts.append(t)
                                return c
            except (AttributeError, TypeError):
                pass
        if self._parts or self._at:
            self.flush()
        self.native.chunk(c)
        if self._fast is None and _is_openai_chunk_type(type(c)):
            try:
                if type(c.model) is str and type(c.id) is str:
                    self._fast = type(c)
            except AttributeError:
                pass
        return c

    def mark(self, t: float) -> None:
        """The consumer was done with the previous chunk at ``t`` (``time.monotonic()``): it asked
        for the next. One clock read per chunk serves this and the stall deadline; for a consumer
        that asks at once it is the chunk's arrival, and the gaps are
        ``gen_ai.client.operation.time_per_output_chunk``."""
        at = self._at
        at.append(t)
        if len(at) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        """Hands what is kept here to the core (before it folds another chunk, and before the record)."""
        parts, at = self._parts, self._at
        self.native.text_chunks("".join(parts), at)
        parts.clear()
        at.clear()

    @property
    def text(self) -> str:
        if self._parts:
            self.flush()
        return self.native.text

    @property
    def finished(self) -> bool:
        return self.native.finished  # a kept chunk never has a finish reason

    @property
    def usage(self) -> Optional[Dict[str, Optional[int]]]:
        return self.native.usage  # nor usage

    @property
    def time_to_first_chunk(self) -> Optional[float]:
        return self.native.time_to_first_chunk
