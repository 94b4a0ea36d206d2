"""A streamed LLM response, observed: each chunk is folded into a ``CallStream`` (the core reads the
model, id, finish reasons, the final chunk's usage, the time to the first chunk and, when content is
captured, the text), and one record is made when the stream ends, whether it was read to the end,
closed early, or broke. Everything else (``response``, ``until_done``, ...) passes through to the
SDK's stream."""

from __future__ import annotations

from typing import Any, Callable, Optional

from .._ferrule import CallStream

__all__ = ["ObservedStream", "AsyncObservedStream"]

# on_done(error): the stream ended (error None) or broke.
OnDone = Callable[[Optional[BaseException]], None]


class _Observed:
    __slots__ = ("_stream", "_chunk", "_on_done", "fields")

    def __init__(self, stream: Any, fields: CallStream, on_done: OnDone) -> None:
        self._stream = stream
        self.fields = fields
        self._chunk = fields.chunk
        self._on_done: Optional[OnDone] = on_done

    def _finish(self, error: Optional[BaseException]) -> None:
        done, self._on_done = self._on_done, None
        if done is not None:  # once, however the stream ends
            done(error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def __repr__(self) -> str:
        return f"<ferrule observed {self._stream!r}>"


class ObservedStream(_Observed):
    __slots__ = ("_it",)

    def __init__(self, stream: Any, fields: CallStream, on_done: OnDone) -> None:
        super().__init__(stream, fields, on_done)
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

    def __init__(self, stream: Any, fields: CallStream, on_done: OnDone) -> None:
        super().__init__(stream, fields, on_done)
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
