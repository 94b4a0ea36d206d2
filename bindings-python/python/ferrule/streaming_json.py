"""Validation while an answer streams. ``PartialJson`` reads the text piece by piece and gives the
value it is becoming (as instructor's ``Partial`` does); against a schema it raises at the first
violation no later text can undo. ``partial_values(stream, schema)`` yields those values from a chat
stream and stops (closing the stream) at such a violation; ``stream_validated(create, schema, reask=1,
**request)`` re-asks then, with the same feedback ``@validated`` gives, and checks the finished text
with ``parse_json`` (repairs included)."""

from __future__ import annotations

import inspect
import json
from typing import Any, AsyncIterator, Callable, Dict, Iterator, List, Mapping, Optional

from ._ferrule import PartialJsonCore
from .errors import ConfigError, ValidationError
from .validate import DEFAULT_MAX_DEPTH, DEFAULT_MAX_INPUT_BYTES, feedback_for, parse_json

__all__ = ["PartialJson", "partial_values", "apartial_values", "stream_validated", "astream_validated"]

_MAX_REASK = 10


def _schema_json(schema: Any) -> Optional[str]:
    if schema is None:
        return None
    if isinstance(schema, str):
        return schema
    if isinstance(schema, Mapping):
        return json.dumps(schema)
    to_schema = getattr(schema, "model_json_schema", None)  # a pydantic model class
    if callable(to_schema):
        return json.dumps(to_schema())
    raise ConfigError(f"PartialJson: schema={schema!r} is out of range; allowed: a JSON Schema dict or text, a pydantic model class, or None")


class PartialJson:
    """Feeds a streamed JSON answer: ``feed(piece)`` returns the new partial value when it changed
    (else ``None``), and raises ``ValidationError`` (``kind="schema"``) at the first violation of
    ``schema`` that no later text can undo (a wrong type, a key the schema forbids, too many items, a
    number out of range, a string no enum value starts with). Missing required keys are only
    checked on the finished text."""

    __slots__ = ("_core", "chunks")

    def __init__(self, schema: Any = None, *, max_input_bytes: int = DEFAULT_MAX_INPUT_BYTES, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        self._core = PartialJsonCore(_schema_json(schema), max_input_bytes=max_input_bytes, max_depth=max_depth)
        self.chunks = 0

    def feed(self, piece: str) -> Any:
        self.chunks += 1
        try:
            out = self._core.feed(piece)
        except ValueError as e:
            raise ValidationError(str(e), [{"path": "", "message": str(e)}], (), self._core.text, "limit") from None
        if out is None:
            return None
        value, bad = out
        if bad is not None:
            path, message = bad
            raise ValidationError(
                f"the streamed answer violates its schema at {path or '(the whole document)'}: {message}",
                [{"path": path, "message": message}],
                (),
                self._core.text,
                "schema",
            )
        return value

    @property
    def value(self) -> Any:
        return self._core.value

    @property
    def complete(self) -> bool:
        return self._core.complete

    @property
    def text(self) -> str:
        return self._core.text


def _piece(chunk: Any) -> Optional[str]:
    """A chat chunk's text delta (OpenAI chunks), or a string chunk itself."""
    if isinstance(chunk, str):
        return chunk
    choices = getattr(chunk, "choices", None)
    if choices:
        delta = getattr(choices[0], "delta", None)
        return getattr(delta, "content", None) if delta is not None else None
    return None


def _close(stream: Any) -> None:
    close = getattr(stream, "close", None)
    if callable(close):
        close()


def partial_values(stream: Any, schema: Any = None, **limits: Any) -> Iterator[Any]:
    """Yields the partial value each time a chunk of ``stream`` grows it, then the finished value
    (checked and repaired by ``parse_json``). At the first violation no later text can undo, closes
    ``stream`` (its connection is released) and raises ``ValidationError`` with ``raw`` the text so far."""
    p = PartialJson(schema, **limits)
    try:
        for chunk in stream:
            piece = _piece(chunk)
            if piece:
                v = p.feed(piece)
                if v is not None and not p.complete:
                    yield v
    except ValidationError:
        _close(stream)
        raise
    yield parse_json(p.text, schema)


async def apartial_values(stream: Any, schema: Any = None, **limits: Any) -> AsyncIterator[Any]:
    """``partial_values`` for an async stream."""
    p = PartialJson(schema, **limits)
    try:
        async for chunk in stream:
            piece = _piece(chunk)
            if piece:
                v = p.feed(piece)
                if v is not None and not p.complete:
                    yield v
    except ValidationError:
        close = getattr(stream, "close", None)
        if callable(close):
            r = close()
            if inspect.isawaitable(r):
                await r
        raise
    yield parse_json(p.text, schema)


def _check_reask(reask: Any) -> None:
    if isinstance(reask, bool) or not isinstance(reask, int) or not 0 <= reask <= _MAX_REASK:
        raise ConfigError(f"stream_validated: reask={reask!r} is out of range; allowed: an integer in [0, {_MAX_REASK}]")


def _reasked(request: Dict[str, Any], e: ValidationError) -> Dict[str, Any]:
    messages: List[Any] = list(request.get("messages") or ())
    messages.append({"role": "user", "content": feedback_for(e)})
    return {**request, "messages": messages}


def stream_validated(create: Callable[..., Any], schema: Any = None, *, reask: int = 1, **request: Any) -> Iterator[Any]:
    """Streams ``create(**request, stream=True)`` (a wrapped ``chat.completions.create``, say) as
    partial values. When the answer breaks the schema beyond repair the stream is stopped there and
    the model is asked again (up to ``reask`` times) with every violation and its answer so far;
    the values of a re-ask start over. Raises the last ``ValidationError`` when no answer passes."""
    _check_reask(reask)
    req = dict(request, stream=True)
    for attempt in range(reask + 1):
        try:
            yield from partial_values(create(**req), schema)
            return
        except ValidationError as e:
            if attempt >= reask:
                raise
            req = _reasked(req, e)


async def astream_validated(create: Callable[..., Any], schema: Any = None, *, reask: int = 1, **request: Any) -> AsyncIterator[Any]:
    """``stream_validated`` for an async ``create``."""
    _check_reask(reask)
    req = dict(request, stream=True)
    for attempt in range(reask + 1):
        try:
            async for v in apartial_values(await create(**req), schema):
                yield v
            return
        except ValidationError as e:
            if attempt >= reask:
                raise
            req = _reasked(req, e)
