"""Fallback: what a failed call returns instead. A value, a callable receiving the error and the
call's arguments, or a list of alternatives tried in order (a cheaper model, then a canned answer).
A fallback is never silent: each one taken is counted in the policy's stats and logged at warning."""

from __future__ import annotations

import inspect
import logging
from typing import Any, Callable, List, Optional, Sequence, Tuple, Type, Union

__all__ = ["Fallback", "UNSET"]

_log = logging.getLogger("ferrule")


class _Unset:
    def __repr__(self) -> str:
        return "<no fallback>"


UNSET: Any = _Unset()

FallbackOn = Union[Type[BaseException], Tuple[Type[BaseException], ...], Callable[[BaseException], bool]]


class Fallback:
    """A normalised fallback. ``alternatives`` are values or callables ``(error, *args, **kwargs)``."""

    __slots__ = ("alternatives", "matches", "name")

    def __init__(self, spec: Any, on: Optional[Callable[[BaseException], bool]], name: str) -> None:
        alts: Sequence[Any] = spec if isinstance(spec, list) else [spec]
        if not alts:
            raise ValueError(f"{name}: fallback=[] is out of range; allowed: a value, a callable or a non-empty list")
        self.alternatives: List[Any] = list(alts)
        self.matches = on
        self.name = name

    def _taken(self, core: Any, exc: BaseException) -> None:
        core.note("fallback")
        _log.warning(
            "%s: call failed (%s: %s); fallback taken",
            self.name,
            type(exc).__name__,
            exc,
            extra={"event": "policy.fallback", "policy": self.name, "error": type(exc).__name__},
        )

    def _alternative_failed(self, i: int, e: BaseException) -> None:
        _log.warning(
            "%s: fallback alternative %d of %d failed (%s: %s)",
            self.name,
            i + 1,
            len(self.alternatives),
            type(e).__name__,
            e,
            extra={"event": "policy.fallback_failed", "policy": self.name, "error": type(e).__name__},
        )

    def run_sync(self, core: Any, exc: BaseException, args: Tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self._taken(core, exc)
        last: BaseException = exc
        for i, alt in enumerate(self.alternatives):
            if not callable(alt):
                return alt
            try:
                return alt(exc, *args, **kwargs)
            except Exception as e:
                self._alternative_failed(i, e)
                last = e
        core.note("fallback_failed")
        core.note("failed")
        raise last from exc

    async def run_async(self, core: Any, exc: BaseException, args: Tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self._taken(core, exc)
        last: BaseException = exc
        for i, alt in enumerate(self.alternatives):
            if not callable(alt):
                return alt
            try:
                v = alt(exc, *args, **kwargs)
                if inspect.isawaitable(v):
                    v = await v
                return v
            except Exception as e:
                self._alternative_failed(i, e)
                last = e
        core.note("fallback_failed")
        core.note("failed")
        raise last from exc
