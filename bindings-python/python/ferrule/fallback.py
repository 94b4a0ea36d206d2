"""Fallback: what a failed call returns instead. A value, a callable receiving the error and the
call's arguments, or a list of alternatives tried in order (a cheaper model, then a canned answer).
A fallback is never silent: each one taken is counted in the policy's stats and logged at warning."""

from __future__ import annotations

import inspect
from typing import Any, Callable, List, Optional, Sequence, Tuple, Type, Union

__all__ = ["Fallback", "UNSET"]


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
        # Counted and logged (warning ``policy.fallback``, masked) by the core.
        core.fallback_taken(type(exc).__name__, str(exc))

    def _alternative_failed(self, core: Any, i: int, e: BaseException) -> None:
        core.fallback_alternative_failed(i, len(self.alternatives), type(e).__name__, str(e))

    def run_sync(self, core: Any, exc: BaseException, args: Tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self._taken(core, exc)
        last: BaseException = exc
        for i, alt in enumerate(self.alternatives):
            if not callable(alt):
                return alt
            try:
                return alt(exc, *args, **kwargs)
            except Exception as e:
                self._alternative_failed(core, i, e)
                last = e
        core.fallback_exhausted()
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
                self._alternative_failed(core, i, e)
                last = e
        core.fallback_exhausted()
        raise last from exc
