"""The deadline of the attempt running now: ``ferrule.remaining()`` tells code inside a call how long
it has left, so integrations hand it to the SDK's own ``timeout=``. Sync calls are never interrupted
in the default (soft) mode; this is how they learn their budget.

A sync attempt cannot be interleaved with anything on its thread: its deadline sits on the core's
per-thread deadline stack, entered and left by the same calls into the core that admit and record
the attempt, so the hot path pays nothing for it. Async attempts interleave on one thread and keep
theirs in a contextvar. ``remaining()`` reads both and answers the tighter."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Callable, Optional, Tuple

from ._ferrule import PolicyCore, sync_remaining

__all__ = ["remaining"]

Deadline = Tuple[Callable[[], float], float]  # (the clock it is on, the deadline in its seconds)

# Every async policy on the system clock reads time through this one function, so deadlines of nested
# policies compare equal (bound methods of one manual clock compare equal too).
system_now: Callable[[], float] = PolicyCore().now

_deadline: ContextVar[Optional[Deadline]] = ContextVar("ferrule_deadline", default=None)


def remaining() -> Optional[float]:
    """Seconds left before the current attempt's deadline (never negative), or ``None`` outside any
    ferrule policy with a timeout or deadline."""
    best = sync_remaining()
    d = _deadline.get()
    if d is not None:
        left = d[1] - d[0]()
        if best is None or left < best:
            best = left
    if best is None:
        return None
    return best if best > 0.0 else 0.0


def _tighter(now: Callable[[], float], at: float) -> float:
    """A nested async policy's deadline never outlives the one around it (when both run on one clock)."""
    d = _deadline.get()
    if d is not None and d[0] == now and d[1] < at:
        return d[1]
    return at
