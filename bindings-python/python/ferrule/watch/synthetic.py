"""The marker for synthetic traffic: set while a synthetic probe's function runs, so SLOs exclude
those calls without the probe having to say so at each call site."""

from __future__ import annotations

import contextvars

__all__ = ["in_probe"]

IN_PROBE: contextvars.ContextVar[bool] = contextvars.ContextVar("ferrule_in_probe", default=False)


def in_probe() -> bool:
    """True inside a synthetic probe's function (its calls are synthetic traffic)."""
    return IN_PROBE.get()
