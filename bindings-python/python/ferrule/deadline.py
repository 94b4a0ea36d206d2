"""The deadline of the attempt running now, as a contextvar: ``ferrule.remaining()`` tells code inside
a call how long it has left, so integrations hand it to the SDK's own ``timeout=``. Sync calls are
never interrupted in the default (soft) mode; this is how they learn their budget."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Callable, Optional, Tuple

__all__ = ["remaining"]

# (the clock the deadline is on, the deadline in that clock's seconds)
_deadline: ContextVar[Optional[Tuple[Callable[[], float], float]]] = ContextVar("ferrule_deadline", default=None)


def remaining() -> Optional[float]:
    """Seconds left before the current attempt's deadline (never negative), or ``None`` outside any
    ferrule policy with a timeout or deadline."""
    d = _deadline.get()
    if d is None:
        return None
    now, at = d
    left = at - now()
    return left if left > 0.0 else 0.0


def _tighter(now: Callable[[], float], at: float) -> float:
    """A nested policy's deadline never outlives the one around it (when both run on one clock)."""
    outer = _deadline.get()
    if outer is not None and outer[0] == now and outer[1] < at:
        return outer[1]
    return at
