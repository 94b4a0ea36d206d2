"""The marker for synthetic traffic: set while a synthetic probe's function runs, so everything the
probe calls knows it is synthetic without the probe saying so at each call site. SLOs exclude those
calls, a ``Policy`` sends them through its synthetic twin (counted as
``ferrule_synthetic_calls_total``, not in the user's ``ferrule_calls_total``) and the LLM wrappers
record them apart from the user's GenAI metrics and inference log.

A count of running probes lets the hot paths skip the context lookup while no probe runs."""

from __future__ import annotations

import contextvars
import threading
from typing import Callable, List

__all__ = ["in_probe"]

IN_PROBE: contextvars.ContextVar[bool] = contextvars.ContextVar("ferrule_in_probe", default=False)

# The count changes twice per probe run (a few a minute), never on a user call's path: a lock is fine.
_lock = threading.Lock()
_running = 0
_listeners: List[Callable[[bool], None]] = []


def in_probe() -> bool:
    """True inside a synthetic probe's function (its calls are synthetic traffic)."""
    return IN_PROBE.get()


def on_active(listener: Callable[[bool], None]) -> None:
    """``listener(True)`` when the first probe run starts, ``listener(False)`` when the last ends."""
    with _lock:
        _listeners.append(listener)
        on = _running > 0
    listener(on)


def enter() -> "contextvars.Token[bool]":
    """Marks the current context synthetic; pair with ``leave(token)`` in the same context."""
    global _running
    with _lock:
        _running += 1
        if _running == 1:
            for f in _listeners:
                f(True)
    return IN_PROBE.set(True)


def leave(token: "contextvars.Token[bool]") -> None:
    global _running
    IN_PROBE.reset(token)
    with _lock:
        _running -= 1
        if _running == 0:
            for f in _listeners:
                f(False)
