"""The dead-letter queue: requests that exhausted their retries and fallbacks, kept durably in a
SQLite file (several processes may share it; an acknowledged item survives ``kill -9``) so they can
be listed, replayed once the fault is gone, and purged.

The core stores, masks, bounds (``on_full``), counts and exports depth and age; this module turns a
failed call into a record (arguments as JSON, the error chain, the trace id) and runs the user's
replay handler, sync or ``async def``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, List, Optional, Sequence, Tuple, Union

from ._ferrule import DeadLetterQueueCore, ReplayCursorCore, emit

if TYPE_CHECKING:
    from .redis_backend import RedisBackend

__all__ = ["DeadLetter", "DeadLetterQueue", "ReplayReport"]


Since = Union[float, int, _dt.datetime, None]


@dataclass(frozen=True)
class DeadLetter:
    """One stored request. ``payload`` is the call's arguments as JSON text
    (``{"args": [...], "kwargs": {...}}`` for a policy's calls), masked unless the queue was made
    with ``mask=False``; ``errors`` is the error chain, oldest first (a failed replay appends)."""

    id: int
    key: str
    payload: str
    errors: Tuple[str, ...]
    attempts: int
    first_failed_unix_ms: int
    last_failed_unix_ms: int
    trace_id: Optional[str]
    replay_count: int

    def data(self) -> Any:
        """The payload parsed from JSON (the text itself if it is not JSON)."""
        try:
            return json.loads(self.payload)
        except ValueError:
            return self.payload

    @property
    def args(self) -> List[Any]:
        """The positional arguments of the failed call (from a policy's payload)."""
        d = self.data()
        return list(d.get("args", [])) if isinstance(d, dict) else []

    @property
    def kwargs(self) -> Dict[str, Any]:
        """The keyword arguments of the failed call (from a policy's payload)."""
        d = self.data()
        return dict(d.get("kwargs", {})) if isinstance(d, dict) else {}


@dataclass(frozen=True)
class ReplayReport:
    """What one replay did: ``succeeded`` (removed), ``failed`` (kept with the new error),
    ``skipped`` (refused by ``filter``), ``busy`` (held by another replayer)."""

    succeeded: int
    failed: int
    skipped: int
    busy: int


def _replay_failed(queue: str, item_id: int, e: BaseException) -> None:
    """A replay handler failed: the item is kept; one warning through the core's logger (masked)."""
    emit(
        "dead_letter.replay_failed",
        level="warning",
        message=f"dead-letter queue {queue!r}: replay of item {item_id} failed; kept",
        queue=queue,
        item_id=item_id,
        error=e,
    )


def _item(t: Tuple[Any, ...]) -> DeadLetter:
    return DeadLetter(t[0], t[1], t[2], tuple(t[3]), t[4], t[5], t[6], t[7], t[8])


def _since_ms(since: Since, param: str) -> Optional[int]:
    if since is None:
        return None
    if isinstance(since, _dt.datetime):
        since = since.timestamp()
    if isinstance(since, bool) or not isinstance(since, (int, float)) or not since >= 0:
        from .errors import ConfigError

        raise ConfigError(
            f"DeadLetterQueue: {param}={since!r} is out of range; allowed: unix seconds >= 0 or a datetime"
        )
    return int(since * 1000)


def _json_default(o: Any) -> Any:
    dump = getattr(o, "model_dump", None)  # pydantic models (the OpenAI SDK's types)
    if callable(dump):
        try:
            return dump()
        except Exception:
            pass
    return repr(o)


def payload_of(args: Sequence[Any], kwargs: Dict[str, Any]) -> str:
    """The call's arguments as JSON, best effort: what JSON cannot hold is stored as its repr."""
    try:
        return json.dumps({"args": list(args), "kwargs": kwargs}, default=_json_default)
    except (TypeError, ValueError) as e:  # e.g. circular structures
        return json.dumps({"unserialisable": f"{type(e).__name__}: {e}"})


def error_chain(exc: BaseException) -> List[str]:
    """The error chain, oldest first: every attempt of a ``RetryError``, then causes/contexts."""
    from .errors import RetryError

    out: List[str] = []
    seen: set[int] = set()
    e: Optional[BaseException] = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        out.append(f"{type(e).__name__}: {e}")
        if isinstance(e, RetryError):
            for i, a in reversed(list(enumerate(e.errors, 1))):
                if a is not None and id(a) not in seen:
                    seen.add(id(a))
                    out.append(f"attempt {i}: {type(a).__name__}: {a}")
        e = e.__cause__ or e.__context__
    out.reverse()
    return out


class DeadLetterQueue:
    """``ferrule.DeadLetterQueue(path="ferrule-dlq.sqlite", max_items=10000, on_full="reject")``.

    ``on_full``: ``"reject"`` keeps what is stored and refuses the new item; ``"drop_oldest"``
    deletes the oldest to make room. Both are counted (``stats()``,
    ``ferrule_dead_letters_total{outcome="rejected"|"evicted"}``) and logged at warning. ``mask``
    (default on) masks payloads and errors with the process's redaction rules (``ferrule.redact``);
    turn it off only when replay needs the exact arguments. ``replay_lease_seconds``: how long one
    replayer holds an item before another process may take it.

    Pass it to a policy as ``ferrule.Policy(..., dead_letter=dlq)``: every call that exhausts its
    retries and fallbacks is stored. Depth and age are exported as ``ferrule_dead_letter_depth`` and
    ``ferrule_dead_letter_oldest_age_seconds``.
    """

    __slots__ = ("_core", "path", "__weakref__")  # observe() holds queues weakly

    def __init__(
        self,
        path: Union[str, "os.PathLike[str]", None] = "ferrule-dlq.sqlite",
        *,
        max_items: int = 10_000,
        on_full: str = "reject",
        mask: bool = True,
        name: str = "default",
        replay_lease_seconds: float = 300.0,
        backend: Optional["RedisBackend"] = None,
    ) -> None:
        # With a backend the queue lives on Redis Streams under the backend's prefix and `name`,
        # shared by every process on that server; `path` is then not used.
        fspath = None if backend is not None or path is None else os.fspath(path)
        self._core = DeadLetterQueueCore(
            fspath,
            name=name,
            max_items=max_items,
            on_full=on_full,
            mask=bool(mask),
            replay_lease_seconds=replay_lease_seconds,
            backend=None if backend is None else backend._core,
        )
        self.path = fspath
        from .observer import _queue_made

        _queue_made(self)  # observe()'s backlog alert watches every queue

    @property
    def name(self) -> str:
        return self._core.name

    @property
    def max_items(self) -> int:
        return self._core.max_items

    @property
    def on_full(self) -> str:
        return self._core.on_full

    @property
    def mask(self) -> bool:
        return self._core.mask

    def __len__(self) -> int:
        return len(self._core)

    def push(
        self,
        payload: Any,
        errors: Sequence[str] = (),
        *,
        key: str = "manual",
        attempts: int = 1,
        trace_id: Optional[str] = None,
    ) -> Optional[int]:
        """Stores one item (``payload``: JSON text, or any value, serialised). The id once durable;
        ``None`` when full with ``on_full="reject"``."""
        text = payload if isinstance(payload, str) else json.dumps(payload, default=_json_default)
        return self._core.push(key, text, list(errors), attempts, None, trace_id)

    def _store_failure(
        self, key: str, exc: BaseException, args: Sequence[Any], kwargs: Dict[str, Any], attempts: int
    ) -> None:
        """A policy gave up on a call. Never raises: the caller must see its own error; a store
        failure is counted by the core and logged here."""
        from .tracing import current_span

        try:
            span = current_span()
            trace_id = span.trace_id if span is not None else None
            self._core.push(key, payload_of(args, kwargs), error_chain(exc), attempts, None, trace_id)
        except Exception as e:
            emit(
                "dead_letter.store_failed",
                level="warning",
                message=f"dead-letter queue {self.name!r}: could not store a failed call of {key!r}",
                queue=self.name,
                error=e,
            )

    def list(self, limit: int = 100, since: Since = None) -> List[DeadLetter]:
        """Up to ``limit`` items, oldest first, that last failed at or after ``since`` (unix
        seconds or a datetime)."""
        return [_item(t) for t in self._core.list(limit, _since_ms(since, "since"))]

    def get(self, id: int) -> Optional[DeadLetter]:
        t = self._core.get(id)
        return None if t is None else _item(t)

    def remove(self, id: int) -> bool:
        return self._core.remove(id)

    def purge(self, before: Since = None) -> int:
        """Deletes items that last failed before ``before`` (every item when ``None``); returns how
        many."""
        return self._core.purge(_since_ms(before, "before"))

    def oldest_age_seconds(self) -> float:
        return self._core.oldest_age_seconds()

    def stats(self) -> Dict[str, int]:
        """stored, rejected, evicted, replayed, replay_failed, store_errors (this process)."""
        return dict(self._core.stats())

    def _cursor(self, since: Since, max: Optional[int]) -> ReplayCursorCore:
        if max is not None and (isinstance(max, bool) or not isinstance(max, int) or max < 0):
            from .errors import ConfigError

            raise ConfigError.out_of_range("DeadLetterQueue.replay", "max", max, "an integer >= 0 or None")
        return self._core.replay_cursor(_since_ms(since, "since"), max)

    @staticmethod
    def _report(cur: ReplayCursorCore) -> ReplayReport:
        r = cur.report()
        return ReplayReport(r["succeeded"], r["failed"], r["skipped"], r["busy"])

    def replay(
        self,
        handler: Callable[[DeadLetter], Any],
        *,
        filter: Optional[Callable[[DeadLetter], bool]] = None,
        max: Optional[int] = None,
        since: Since = None,
    ) -> ReplayReport:
        """Hands each stored item (oldest first) to ``handler``. An item whose handler returns is
        removed; one whose handler raises is kept with the new error appended, and the run moves on,
        so a poison message never blocks the others. ``filter`` picks items; ``max`` bounds how many
        are handled. For ``async def`` handlers use ``replay_async``."""
        cur = self._cursor(since, max)
        while True:
            t = cur.next()
            if t is None:
                return self._report(cur)
            item = _item(t)
            if filter is not None and not filter(item):
                cur.skip()
                continue
            if not cur.claim(item.id):
                continue
            try:
                handler(item)
            except Exception as e:
                cur.failed(item.id, f"{type(e).__name__}: {e}")
                _replay_failed(self.name, item.id, e)
            else:
                cur.succeeded(item.id)

    async def replay_async(
        self,
        handler: Callable[[DeadLetter], Awaitable[Any]],
        *,
        filter: Optional[Callable[[DeadLetter], bool]] = None,
        max: Optional[int] = None,
        since: Since = None,
    ) -> ReplayReport:
        """``replay`` for ``async def`` handlers (items are handled one at a time, in order)."""
        cur = self._cursor(since, max)
        while True:
            t = cur.next()
            if t is None:
                return self._report(cur)
            item = _item(t)
            if filter is not None and not filter(item):
                cur.skip()
                continue
            if not cur.claim(item.id):
                continue
            try:
                await handler(item)
            except Exception as e:
                cur.failed(item.id, f"{type(e).__name__}: {e}")
                _replay_failed(self.name, item.id, e)
            else:
                cur.succeeded(item.id)

    def __repr__(self) -> str:
        return f"<DeadLetterQueue {self.name!r} path={self.path!r} items={len(self)} max_items={self.max_items}>"
