"""The small bounded thread pool behind sync hedging (``Router(hedge=True)`` with ``def`` endpoints).

A sync call cannot be raced in the caller's thread: a hedged call runs its attempts on two pool
threads while the caller waits for the first success. The pool never queues: a hedged call reserves
both threads (the first attempt and its possible hedge) up front or runs unhedged in the caller's
thread (the router counts that and logs it). A thread cannot be stopped, so a losing attempt runs to
its end on its pool thread and its result is discarded; until then it holds its thread, which is what
bounds the threads a slow provider can tie up.

The workers are daemon threads, so a hung endpoint never blocks interpreter exit (the standard
``ThreadPoolExecutor`` joins its workers at exit). Each task runs in a copy of the submitter's
``contextvars`` context, so tracing spans and deadlines cross into the attempt. After ``fork`` the
child starts a fresh pool (the parent's threads do not exist there).
"""

from __future__ import annotations

import contextvars
import os
import queue
import threading
from concurrent.futures import Future
from typing import Any, Callable, Dict, Optional, Tuple

__all__ = ["HedgePool"]

_Task = Tuple["Future[Any]", contextvars.Context, Callable[..., Any], Tuple[Any, ...], Dict[str, Any]]


class HedgePool:
    __slots__ = ("size", "_name", "_slots", "_tasks", "_pid", "_start_lock")

    def __init__(self, size: int, name: str) -> None:
        self.size = size
        self._name = name
        self._pid = -1
        # Creating the workers is once per process; the lock guards only that (never the call path).
        self._start_lock = threading.Lock()
        self._slots = threading.Semaphore(size)
        self._tasks: "queue.SimpleQueue[_Task]" = queue.SimpleQueue()

    def _start(self) -> None:
        with self._start_lock:
            if self._pid == os.getpid():
                return
            self._slots = threading.Semaphore(self.size)
            self._tasks = queue.SimpleQueue()
            for k in range(self.size):
                threading.Thread(target=self._work, name=f"ferrule-hedge-{self._name}-{k}", daemon=True).start()
            self._pid = os.getpid()

    def reserve(self, n: int) -> bool:
        """Takes ``n`` free threads at once, or none (False) when fewer are free."""
        if self._pid != os.getpid():
            self._start()
        slots = self._slots
        for k in range(n):
            if not slots.acquire(blocking=False):
                for _ in range(k):
                    slots.release()
                return False
        return True

    def unreserve(self, n: int) -> None:
        """Gives back reserved threads that were not used."""
        for _ in range(n):
            self._slots.release()

    def run(self, fn: Callable[..., Any], args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> "Future[Any]":
        """Runs ``fn`` on a reserved thread; its thread is free again when it returns."""
        fut: "Future[Any]" = Future()
        self._tasks.put((fut, contextvars.copy_context(), fn, args, kwargs))
        return fut

    def _work(self) -> None:
        tasks = self._tasks
        slots = self._slots
        while True:
            fut, ctx, fn, args, kwargs = tasks.get()
            try:
                if fut.set_running_or_notify_cancel():
                    try:
                        value = ctx.run(fn, *args, **kwargs)
                    except BaseException as exc:  # handed to the caller through the future
                        fut.set_exception(exc)
                    else:
                        fut.set_result(value)
            finally:
                slots.release()
