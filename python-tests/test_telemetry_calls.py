"""`ferrule.emit` and `ferrule.span` are raw fastcall functions (their keywords matched by identity,
`emit`'s extra keywords collected as fields): the argument rules a Python function has still hold
(positional or keyword, duplicates, unknown keywords, types, `None` as absent) and the signature is
what `inspect` and the stubs say."""

from __future__ import annotations

import inspect
import json
from typing import Any, Dict, Iterator, List

import pytest

import ferrule
from telemetry_state import reset


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    reset()
    yield
    reset()


@pytest.fixture()
def lines() -> List[str]:
    got: List[str] = []
    ferrule.configure(log_sink=got.append, log_dedup_seconds=0)
    return got


def last(lines: List[str]) -> Dict[str, Any]:
    return dict(json.loads(lines[-1]))


def test_emit_positional_keyword_and_extra_fields(lines: List[str]) -> None:
    assert ferrule.emit("a.b", "warning", "m1")
    e = last(lines)
    assert (e["event"], e["level"], e["message"]) == ("a.b", "warning", "m1")
    assert ferrule.emit(event="c.d", message="m2", level="error", attempt=3, breaker="pay", ratio=0.5, ok=True)
    e = last(lines)
    assert (e["event"], e["level"], e["message"], e["attempt"]) == ("c.d", "error", "m2", 3)
    assert (e["breaker"], e["ratio"], e["ok"]) == ("pay", 0.5, True)
    # A keyword name built at run time (not interned) matches by value.
    dynamic = "".join(["lat", "ency_seconds"])
    assert ferrule.emit("e.f", **{dynamic: 0.75, "mo" + "del": "gpt-4o"})
    e = last(lines)
    assert (e["latency_seconds"], e["model"]) == (0.75, "gpt-4o")
    # None means absent, for schema fields and extra fields alike.
    assert ferrule.emit("g.h", attempt=None, model=None, extra=None)
    e = last(lines)
    assert "attempt" not in e and "model" not in e and "extra" not in e


def test_emit_refuses_what_a_python_function_would(lines: List[str]) -> None:
    with pytest.raises(TypeError, match="event"):
        ferrule.emit()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="positional"):
        ferrule.emit("a", "info", "m", "extra")  # type: ignore[misc]
    with pytest.raises(TypeError, match="multiple values for argument 'level'"):
        ferrule.emit("a", "info", level="error")  # type: ignore[misc]
    with pytest.raises(ferrule.ConfigError, match="attempt='three' must be an integer, not str"):
        ferrule.emit("a", attempt="three")  # type: ignore[arg-type]
    with pytest.raises(ferrule.ConfigError, match=r"attempt=-1 is out of range; allowed: an integer from 0 to 4294967295"):
        ferrule.emit("a", attempt=-1)
    with pytest.raises(TypeError, match="event"):
        ferrule.emit(42)  # type: ignore[arg-type]
    with pytest.raises(ferrule.ConfigError, match="level"):
        ferrule.emit("a", level="loud")
    assert lines == []


def test_span_keywords_and_refusals() -> None:
    with ferrule.span(operation="chat", model="gpt-4o", provider="openai", role="attempt") as s:
        assert s.name == "chat gpt-4o"
    rec = ferrule.recent_spans()[-1]
    assert rec["name"] == "chat gpt-4o"
    assert rec["attributes"]["gen_ai.provider.name"] == "openai"
    assert rec["attributes"]["ferrule.span.role"] == "attempt"
    with ferrule.span("outer") as outer:
        with ferrule.span(**{"na" + "me": "inner", "attributes": {"k": 1}}) as inner:
            pass
    assert inner.parent_span_id == outer.span_id
    child = ferrule.span("explicit", parent=outer)
    assert child.parent_span_id == outer.span_id
    with pytest.raises(TypeError, match="unexpected keyword argument 'modle'"):
        ferrule.span(modle="gpt-4o")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="positional"):
        ferrule.span("a", "b")  # type: ignore[misc]
    with pytest.raises(TypeError, match="multiple values for argument 'name'"):
        ferrule.span("a", name="b")  # type: ignore[misc]
    with pytest.raises(ferrule.ConfigError, match="model=4 must be a string, not int"):
        ferrule.span(model=4)  # type: ignore[arg-type]
    with pytest.raises(ferrule.ConfigError, match="parent='not a span' must be a Span, not str"):
        ferrule.span("a", parent="not a span")  # type: ignore[arg-type]


def test_signatures_match_the_stubs() -> None:
    emit = inspect.signature(ferrule.emit)
    assert list(emit.parameters)[:3] == ["event", "level", "message"]
    assert emit.parameters["level"].default == "info"
    assert emit.parameters["model"].kind is inspect.Parameter.KEYWORD_ONLY
    assert emit.parameters["fields"].kind is inspect.Parameter.VAR_KEYWORD
    span = inspect.signature(ferrule.span)
    assert list(span.parameters) == [
        "name", "operation", "model", "provider", "role", "attributes", "parent", "traceparent",
    ]
    assert span.parameters["role"].default == "call"
    assert ferrule.emit.__module__ == ferrule.span.__module__ == "ferrule._ferrule"
    assert "structured ferrule event" in (ferrule.emit.__doc__ or "")
