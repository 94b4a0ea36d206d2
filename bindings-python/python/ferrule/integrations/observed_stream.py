"""A streamed LLM response, observed: the time to its first chunk, the ``usage`` of its last chunk,
and one record when it ends, whether it was read to the end, closed early, or broke. Everything
else (``response``, ``until_done``, ...) passes through to the SDK's stream."""

from __future__ import annotations

import time
from typing import Any, Callable, List, Optional

__all__ = ["ObservedStream", "AsyncObservedStream"]

# on_done(duration_seconds, first_token_seconds, usage, error, text): text is the streamed answer
# when collected (content capture on), else None.
OnDone = Callable[[float, Optional[float], Any, Optional[BaseException], Optional[str]], None]


def _usage_of(chunk: Any) -> Any:
    u = getattr(chunk, "usage", None)
    if u is None:  # Responses API: the final event carries the whole response
        u = getattr(getattr(chunk, "response", None), "usage", None)
    return u


def _text_of(chunk: Any) -> Optional[str]:
    """The answer text a chunk adds: a chat delta, or a Responses ``output_text`` delta event."""
    choices = getattr(chunk, "choices", None)
    if choices:
        t = getattr(getattr(choices[0], "delta", None), "content", None)
        return t if isinstance(t, str) else None
    if getattr(chunk, "type", None) == "response.output_text.delta":
        t = getattr(chunk, "delta", None)
        return t if isinstance(t, str) else None
    return None


class _Observed:
    __slots__ = ("_stream", "_started", "_first", "_usage", "_on_done", "_parts")

    def __init__(self, stream: Any, started: float, on_done: OnDone, collect: bool = False) -> None:
        self._stream = stream
        self._started = started
        self._first: Optional[float] = None
        self._usage: Any = None
        self._on_done: Optional[OnDone] = on_done
        self._parts: Optional[List[str]] = [] if collect else None

    def _chunk(self, chunk: Any) -> Any:
        if self._first is None:
            self._first = time.perf_counter() - self._started
        u = _usage_of(chunk)
        if u is not None:
            self._usage = u
        if self._parts is not None:
            t = _text_of(chunk)
            if t:
                self._parts.append(t)
        return chunk

    def _finish(self, error: Optional[BaseException]) -> None:
        done, self._on_done = self._on_done, None
        if done is not None:  # once, however the stream ends
            text = "".join(self._parts) if self._parts is not None else None
            done(time.perf_counter() - self._started, self._first, self._usage, error, text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def __repr__(self) -> str:
        return f"<ferrule observed {self._stream!r}>"


class ObservedStream(_Observed):
    __slots__ = ("_it",)

    def __init__(self, stream: Any, started: float, on_done: OnDone, collect: bool = False) -> None:
        super().__init__(stream, started, on_done, collect)
        self._it = iter(stream)

    def __iter__(self) -> "ObservedStream":
        return self

    def __next__(self) -> Any:
        try:
            chunk = next(self._it)
        except StopIteration:
            self._finish(None)
            raise
        except BaseException as e:
            self._finish(e)
            raise
        return self._chunk(chunk)

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._finish(None)

    def __enter__(self) -> "ObservedStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # An abandoned stream still ends its record (without closing the SDK's: that is its own job).
        self._finish(None)


class AsyncObservedStream(_Observed):
    __slots__ = ("_it",)

    def __init__(self, stream: Any, started: float, on_done: OnDone, collect: bool = False) -> None:
        super().__init__(stream, started, on_done, collect)
        self._it = stream.__aiter__()

    def __aiter__(self) -> "AsyncObservedStream":
        return self

    async def __anext__(self) -> Any:
        try:
            chunk = await self._it.__anext__()
        except StopAsyncIteration:
            self._finish(None)
            raise
        except BaseException as e:
            self._finish(e)
            raise
        return self._chunk(chunk)

    async def close(self) -> None:
        try:
            await self._stream.close()
        finally:
            self._finish(None)

    async def __aenter__(self) -> "AsyncObservedStream":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __del__(self) -> None:
        self._finish(None)
