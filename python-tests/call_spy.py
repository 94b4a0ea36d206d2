"""Spying on every call record a wrapper makes, whichever way it records: ``record_call`` (a
stream, an error, a call the policy's loop drove) or a ``CallSite`` call's ``finish`` (the inline
first attempt that answered). ``spy_records(monkeypatch, seen)`` must run before the client is
wrapped: a wrapper makes its ``CallSite`` at wrap time."""

from __future__ import annotations

from typing import Any, Callable, Optional

import pytest

from ferrule import _ferrule
from ferrule.integrations import llm_call

#: (span, operation, provider, keywords record_call was given (``error`` among them), cost).
OnRecord = Callable[[Any, str, str, "dict[str, Any]", float], None]


class _SpyCall:
    def __init__(self, call: Any, site: Any, on_record: OnRecord) -> None:
        self._call, self._site, self._on_record = call, site, on_record

    @property
    def span(self) -> Any:
        return self._call.span

    @property
    def traceparent(self) -> str:
        return str(self._call.traceparent)

    def end_attempt(self, error: Optional[BaseException] = None) -> None:
        self._call.end_attempt(error)

    def finish(self, request: Any, response: Any, template: Any = None, capture: bool = False, input_text: Any = None) -> float:
        cost = float(self._call.finish(request, response, template, capture, input_text))
        k = {"request": request, "response": response, "template": template, "attempts": 1}
        self._on_record(self._call.span, self._site.operation, self._site.provider, k, cost)
        return cost


_REAL_SITE = _ferrule.CallSite


class _SpySite:
    def __init__(self, on_record: OnRecord, *args: Any, **kwargs: Any) -> None:
        self._site = _REAL_SITE(*args, **kwargs)
        self._on_record = on_record
        self.operation, self.provider = self._site.operation, self._site.provider

    def begin(self, model: str, policy_name: str) -> _SpyCall:
        return _SpyCall(self._site.begin(model, policy_name), self._site, self._on_record)


def spy_records(monkeypatch: pytest.MonkeyPatch, on_record: OnRecord) -> None:
    real_record = llm_call.record_call

    def spy(span: Any, operation: str, provider: str, **k: Any) -> float:
        cost = real_record(span, operation, provider, **k)
        on_record(span, operation, provider, k, cost)
        return cost

    monkeypatch.setattr(llm_call, "record_call", spy)
    monkeypatch.setattr(_ferrule, "CallSite", lambda *a, **k: _SpySite(on_record, *a, **k))
