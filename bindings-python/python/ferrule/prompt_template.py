"""``ferrule.prompt("triage")``: names the prompt template of every LLM call made inside it, for the
prompt profile, the anomaly detectors and the inference log. Without it a call's template is a
fingerprint of its prompt's shape (see ``docs/call-record.md``)."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator, Optional

__all__ = ["prompt", "current_prompt"]

_prompt: ContextVar[Optional[str]] = ContextVar("ferrule_prompt", default=None)

#: Read per call by the integrations (one ContextVar.get).
current_prompt = _prompt.get


@contextmanager
def prompt(name: str) -> Iterator[str]:
    """Calls inside are profiled under template ``name`` (also as a decorator of a sync function)."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"prompt: name={name!r} is not allowed; allowed: a non-empty str")
    token = _prompt.set(name)
    try:
        yield name
    finally:
        _prompt.reset(token)
