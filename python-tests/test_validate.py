"""Response validation from Python: the shared repair corpus, parse errors with locations, JSON Schema
and pydantic validation reporting every violation, the @validated re-ask loop (also through the real
OpenAI SDK against the local mock server), limits, counters and logs."""

from __future__ import annotations

import asyncio
import json
import logging
import pathlib
import threading
from typing import Any, List, Optional

import openai
import pytest
from pydantic import BaseModel, Field

import ferrule
from ferrule.testing import MockLLMServer

@pytest.fixture
def every_log() -> Any:
    # Warnings go through the core's logger, which writes an identical event once per second; a test
    # that reads one must not depend on whether an earlier test wrote the same line just before.
    ferrule.configure(log_dedup_seconds=0)
    yield
    ferrule.configure(log_dedup_seconds=1.0)


CORPUS = pathlib.Path(__file__).resolve().parent.parent / "core" / "tests" / "corpus" / "repair"


def corpus() -> List[dict]:
    cases = []
    for f in sorted(CORPUS.glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            # The deepest cases exceed json's default recursion comfortably; ferrule parses them.
            cases.append(ferrule.parse_json(line, repair=False, max_depth=1000))
    return cases


CASES = corpus()


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 200
    assert sum("fail" in c for c in CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_corpus_case(case: dict) -> None:
    limits = case.get("limits", {})
    kw = {"max_input_bytes": limits.get("max_input_bytes", 10 * 1024 * 1024), "max_depth": limits.get("max_depth", 128)}
    if "expect" in case:
        r = ferrule.repair_json(case["input"], **kw)
        assert ferrule.parse_json(r.text, repair=False, max_depth=1000) == case["expect"]
        assert sorted({x.kind for x in r.repairs}) == case["repairs"]
        if not case["repairs"]:
            assert r.text == case["input"]
        assert ferrule.parse_json(case["input"], **kw) == case["expect"]
    else:
        with pytest.raises(ferrule.ValidationError) as ei:
            ferrule.repair_json(case["input"], **kw)
        assert ei.value.kind == case["fail"]
        assert case["contains"] in ei.value.errors[0]["message"]
        assert ei.value.raw == case["input"]
        with pytest.raises(ferrule.ValidationError):
            ferrule.parse_json(case["input"], **kw)


# ---- parse_json ---------------------------------------------------------------------------------


def test_valid_json_matches_json_loads_including_key_order() -> None:
    text = '{"z": 1, "a": [1, -2.5e3, true, false, null, "é\\n😀"], "m": {"big": 18446744073709551615}}'
    got = ferrule.parse_json(text)
    assert got == json.loads(text)
    assert list(got) == ["z", "a", "m"]
    assert ferrule.repair_json(text) == ferrule.Repaired(text, [], 0)


def test_parse_error_has_line_column_and_pointer() -> None:
    text = '{\n  "a": [1, 2,\n   x]\n}'
    with pytest.raises(ferrule.ValidationError) as ei:
        ferrule.parse_json(text, repair=False)
    e = ei.value
    assert isinstance(e, ValueError) and isinstance(e, ferrule.FerruleError)
    assert (e.kind, e.line, e.column) == ("parse", 3, 4)
    assert e.errors[0]["path"] == "/a/2"
    assert e.code == "FERRULE_VALIDATION"


def test_repair_is_reported_and_logged(caplog: pytest.LogCaptureFixture, every_log: None) -> None:
    with caplog.at_level(logging.WARNING, logger="ferrule"):
        assert ferrule.parse_json("```json\n{'a': True,}\n```") == {"a": True}
    assert any("repaired model output" in r.message and "trailing_comma" in r.message for r in caplog.records)
    r = ferrule.repair_json("{a: 1, // note\n}")
    assert [x.kind for x in r.repairs] == ["unquoted_key", "trailing_comma", "comment"]  # input order
    assert (r.repairs[0].line, r.repairs[0].column) == (1, 2)


def test_refusal_is_logged(caplog: pytest.LogCaptureFixture, every_log: None) -> None:
    with caplog.at_level(logging.WARNING, logger="ferrule"), pytest.raises(ferrule.ValidationError):
        ferrule.parse_json('{"a": 1, "b": ')
    assert any("refused model output (parse)" in r.message for r in caplog.records)


SCHEMA = {
    "$defs": {"tag": {"type": "string", "pattern": "^[a-z]+$"}},
    "type": "object",
    "required": ["name", "age", "kind"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 2, "maxLength": 10},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "kind": {"enum": ["person", "bot"]},
        "version": {"const": 1},
        "tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}, "maxItems": 3},
        "contact": {"anyOf": [{"type": "string", "format": "email"}, {"type": "null"}]},
        "score": {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 0.5}]},
        "both": {"allOf": [{"type": "number"}, {"exclusiveMinimum": 0}]},
    },
}


def test_schema_reports_every_violation_with_its_path() -> None:
    good = '{"name": "Ada", "age": 36, "kind": "person", "version": 1, "tags": ["x"], "contact": null, "score": 0.7, "both": 2}'
    assert ferrule.parse_json(good, schema=SCHEMA)["name"] == "Ada"
    bad = '{"name": "A", "age": 200, "kind": "cat", "version": 2, "tags": ["ok", "NO", "a", "b"], "contact": 5, "score": 0.1, "both": -1, "extra": 1}'
    with pytest.raises(ferrule.ValidationError) as ei:
        ferrule.parse_json(bad, schema=SCHEMA)
    paths = sorted(e["path"] for e in ei.value.errors)
    assert paths == ["", "/age", "/both", "/contact", "/kind", "/name", "/score", "/tags", "/tags/1", "/version"], ei.value.errors
    assert ei.value.kind == "schema" and ei.value.line is None
    with pytest.raises(ferrule.ValidationError) as ei:
        ferrule.parse_json("{}", schema=SCHEMA)
    assert len(ei.value.errors) == 3  # every missing property, not only the first


def test_schema_dict_mutation_is_seen_and_compiled_schema_reused() -> None:
    schema: dict = {"type": "object", "properties": {"a": {"type": "integer"}}}
    assert ferrule.parse_json('{"a": "x"}', schema={"type": "object"}) == {"a": "x"}
    assert ferrule.parse_json('{"a": 1}', schema=schema) == {"a": 1}
    schema["properties"]["a"]["type"] = "string"  # mutated in place after first use
    assert ferrule.parse_json('{"a": "x"}', schema=schema) == {"a": "x"}
    with pytest.raises(ferrule.ValidationError):
        ferrule.parse_json('{"a": 1}', schema=schema)
    compiled = ferrule.JsonSchema({"type": "array", "maxItems": 1})
    assert ferrule.parse_json("[1]", schema=compiled) == [1]
    with pytest.raises(ferrule.ValidationError):
        ferrule.parse_json("[1, 2]", schema=compiled)


def test_every_kind_of_schema_change_is_seen() -> None:
    """The compiled schema is reused only while the dict is exactly what was compiled: a change at
    any depth, in a dict, a list or a dict inside a tuple, recompiles; an unchanged dict does not."""
    schema: dict = {
        "type": "object",
        "required": ["a"],
        "properties": {"a": {"type": "integer"}, "b": {"enum": ["x", "y"]}},
        "anyOf": ({"type": "object"},),
    }
    snap = ferrule._ferrule.SchemaSnapshot(schema)
    assert snap.matches(schema) and len(snap) > 10
    assert not snap.matches(dict(schema))  # an equal but different object: recompiled, not trusted
    assert ferrule.parse_json('{"a": 1}', schema=schema) == {"a": 1}

    schema["required"].append("b")  # a nested list grows
    assert not snap.matches(schema)
    with pytest.raises(ferrule.ValidationError):
        ferrule.parse_json('{"a": 1}', schema=schema)
    assert ferrule.parse_json('{"a": 1, "b": "x"}', schema=schema) == {"a": 1, "b": "x"}

    schema["properties"]["b"]["enum"][1] = "z"  # a list item replaced, two levels down
    with pytest.raises(ferrule.ValidationError):
        ferrule.parse_json('{"a": 1, "b": "y"}', schema=schema)

    schema["anyOf"][0]["required"] = ["c"]  # a dict inside a tuple changed in place
    with pytest.raises(ferrule.ValidationError):
        ferrule.parse_json('{"a": 1, "b": "x"}', schema=schema)
    del schema["anyOf"]
    schema["properties"]["a"] = {"type": "string"}  # a key replaced by a new dict
    assert ferrule.parse_json('{"a": "s", "b": "x"}', schema=schema) == {"a": "s", "b": "x"}

    snap = ferrule._ferrule.SchemaSnapshot(schema)
    schema["properties"]["a"]["type"] = "string"  # the same (interned) value written again
    assert snap.matches(schema)
    schema["properties"]["a"]["maxLength"] = 1  # a key added
    assert not snap.matches(schema)
    with pytest.raises(ferrule.ValidationError):
        ferrule.parse_json('{"a": "long", "b": "x"}', schema=schema)


def test_a_mapping_that_is_not_a_dict_is_compared_by_value() -> None:
    import types

    inner: dict = {"type": "array", "maxItems": 2}
    view = types.MappingProxyType(inner)
    assert ferrule.parse_json("[1, 2]", schema=view) == [1, 2]
    inner["maxItems"] = 1  # the proxy is the same object; what it shows changed
    with pytest.raises(ferrule.ValidationError):
        ferrule.parse_json("[1, 2]", schema=view)


VALID_TEXTS = [
    r'{"z": 1, "a": [1, -2.5e3, true, false, null, "\u00e9\n\ud83d\ude00"], "m": {}}',
    "[0, -0, -0.0, 1e5, 1E-5, 0.1, 1.7976931348623157e308, 5e-324, 9223372036854775807, -9223372036854775808]",
    '"plain"',
    r'"esc\"aped\\\/\b\f\r\t"',
    ' \n\t[ [ ], { }, [[[{"k": [null]}]]] ] \r\n',
    r'{"k\u0041y": "v", "\u00fcber": "\u4e2d\u6587", "emoji 😀": "é"}',
    '{"' + "long-key-" * 20 + '": "' + "long value " * 30 + '"}',
    "true",
    "null",
    "123",
]


@pytest.mark.parametrize("text", VALID_TEXTS)
def test_the_steady_path_builds_what_json_loads_builds(text: str) -> None:
    # Valid as given: built from the core's in-place check. Fenced: repaired, built from the parsed
    # value. Both agree with json.loads, value and type, key order included.
    steady = ferrule.parse_json(text, repair=False)
    repaired = ferrule.parse_json("```json\n" + text + "\n```")
    want = json.loads(text)
    for got in (steady, repaired):
        assert got == want and repr(got) == repr(want)
        if isinstance(want, dict):
            assert list(got) == list(want)
    schema = {"type": ["object", "array", "string", "boolean", "null", "integer"]}
    assert ferrule.parse_json(text, schema=schema) == want


def test_the_steady_path_counts_each_valid_output_once() -> None:
    before = ferrule.validation_stats()
    for _ in range(5):
        ferrule.parse_json('{"a": [1, 2]}', schema={"type": "object"})
    ferrule.parse_json('{"a": 1, "a": 2}')  # a repeated key takes the full path: still one count
    after = ferrule.validation_stats()
    assert after["valid"] - before["valid"] == 6
    assert after["invalid"] == before["invalid"] and after["repaired"] == before["repaired"]


def test_bad_configuration_fails_at_construction() -> None:
    with pytest.raises(ferrule.ConfigError, match=r"JsonSchema: schema=.*strin"):
        ferrule.JsonSchema({"type": "strin"})
    with pytest.raises(ferrule.ConfigError, match=r"max_depth=0 is out of range; allowed: an integer in \[1, 1000\]"):
        ferrule.parse_json("[]", max_depth=0)
    with pytest.raises(ferrule.ConfigError, match=r"max_input_bytes=-1"):
        ferrule.repair_json("[]", max_input_bytes=-1)
    with pytest.raises(ferrule.ConfigError, match=r"reask=-1"):
        ferrule.validated(reask=-1)
    with pytest.raises(TypeError, match="schema=42"):
        ferrule.parse_json("[]", schema=42)
    with pytest.raises(TypeError, match="feedback"):

        @ferrule.validated(reask=1)
        def no_feedback(prompt: str) -> str:
            return prompt


def test_limits_refuse_large_and_deep_input() -> None:
    with pytest.raises(ferrule.ValidationError) as ei:
        ferrule.parse_json("[" * 129 + "]" * 129)
    assert ei.value.kind == "limit" and "max_depth=128" in ei.value.errors[0]["message"]
    assert ferrule.parse_json("[" * 300 + "]" * 300, max_depth=300) is not None
    with pytest.raises(ferrule.ValidationError) as ei:
        ferrule.parse_json('"' + "x" * 100 + '"', max_input_bytes=50)
    assert ei.value.kind == "limit"
    # Far past Python's recursion limit: refused by the core, no RecursionError, no crash.
    with pytest.raises(ferrule.ValidationError):
        ferrule.parse_json("[" * 1_000_000)


def test_huge_input_releases_the_gil_and_parses() -> None:
    items = [{"id": i, "name": f"item {i}", "tags": ["a", "b"]} for i in range(20_000)]
    text = json.dumps({"items": items})
    assert len(text) > 64 * 1024
    assert ferrule.parse_json(text)["items"][-1]["id"] == 19_999
    broken = text[:-2] + ",]}"
    assert len(ferrule.parse_json(broken)["items"]) == 20_000


# ---- pydantic -------------------------------------------------------------------------------------


class Address(BaseModel):
    city: str
    zip: str = Field(pattern=r"^\d{5}$")


class Person(BaseModel):
    name: str
    age: int = Field(ge=0)
    address: Address
    tags: List[str] = []


def test_pydantic_model_valid_repaired_and_invalid() -> None:
    before = ferrule.validation_stats()
    p = ferrule.parse_json('{"name": "Ada", "age": 36, "address": {"city": "London", "zip": "12345"}}', schema=Person)
    assert isinstance(p, Person) and p.address.city == "London"
    p = ferrule.parse_json("Here:\n```json\n{'name': 'Ada', 'age': 36, 'address': {'city': 'L', 'zip': '12345'},}\n```", schema=Person)
    assert p.name == "Ada"
    with pytest.raises(ferrule.ValidationError) as ei:
        ferrule.parse_json('{"name": 5, "age": -1, "address": {"city": "L", "zip": "x"}}', schema=Person)
    assert sorted(e["path"] for e in ei.value.errors) == ["/address/zip", "/age", "/name"]
    assert ei.value.kind == "schema"
    with pytest.raises(ferrule.ValidationError) as ei:
        ferrule.parse_json('{"name": "Ada",', schema=Person, repair=False)
    assert ei.value.kind == "parse"
    with pytest.raises(ferrule.ValidationError) as ei:
        ferrule.parse_json('{"name": "Ada", "age": ', schema=Person)
    assert ei.value.kind == "parse" and "value is missing" in ei.value.errors[0]["message"]
    # A repaired document can still fail the model; the repairs are on the error.
    with pytest.raises(ferrule.ValidationError) as ei:
        ferrule.parse_json("{'name': 'Ada'}", schema=Person)
    assert ei.value.kind == "schema" and [r.kind for r in ei.value.repairs] == ["single_quotes", "single_quotes"]
    after = ferrule.validation_stats()
    assert after["valid"] - before["valid"] == 1
    assert after["repaired"] - before["repaired"] == 1
    assert after["invalid"] - before["invalid"] == 4
    assert after["repairs"]["trailing_comma"] - before["repairs"]["trailing_comma"] == 1


def test_repair_mode_lenient_in_parse_json_and_validated(caplog: pytest.LogCaptureFixture, every_log: None) -> None:
    text = "{message: hello world}"
    # Safe (the default) refuses a text with two readings; lenient reads it as json_repair does.
    with pytest.raises(ferrule.ValidationError, match="unquoted value 'hello'"):
        ferrule.parse_json(text)
    with pytest.raises(ferrule.ValidationError):
        ferrule.parse_json(text, repair_mode="safe")
    before = ferrule.validation_stats()["repairs"]
    with caplog.at_level(logging.WARNING, logger="ferrule"):
        assert ferrule.parse_json(text, repair_mode="lenient") == {"message": "hello world"}
    # The guess is reported (logged, and counted by kind) like every repair.
    assert any("unquoted_value at 1:11" in r.getMessage() for r in caplog.records), caplog.records
    after = ferrule.validation_stats()["repairs"]
    assert after["unquoted_value"] - before["unquoted_value"] == 1
    # With a schema (the core validator) and with a pydantic model (the host path).
    schema = {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}}
    assert ferrule.parse_json('{"a":"b}', schema=schema, repair_mode="lenient") == {"a": "b"}
    with pytest.raises(ferrule.ValidationError):
        ferrule.parse_json('{"a":"b}', schema=schema)

    class Msg(BaseModel):
        message: str

    assert ferrule.parse_json(text, schema=Msg, repair_mode="lenient") == Msg(message="hello world")
    with pytest.raises(ferrule.ValidationError):
        ferrule.parse_json(text, schema=Msg)
    # repair=False still refuses anything that is not JSON, whatever the mode.
    with pytest.raises(ferrule.ValidationError):
        ferrule.parse_json(text, repair=False, repair_mode="lenient")

    @ferrule.validated(repair_mode="lenient")
    def answer() -> str:
        return text

    @ferrule.validated()
    def answer_safe() -> str:
        return text

    assert answer() == {"message": "hello world"}
    with pytest.raises(ferrule.ValidationError):
        answer_safe()

    @ferrule.validated(repair_mode="lenient")
    async def answer_async() -> str:
        return '[1, 2, 3'

    assert asyncio.run(answer_async()) == [1, 2, 3]


def test_repair_mode_is_checked_at_construction() -> None:
    with pytest.raises(ferrule.ConfigError) as e:
        ferrule.parse_json("[]", repair_mode="fast")  # type: ignore[arg-type]
    assert e.value.param == "repair_mode"
    assert 'repair_mode="fast"' in str(e.value) and '"safe" or "lenient"' in str(e.value)
    with pytest.raises(ferrule.ConfigError) as e:
        ferrule.validated(repair_mode="fast")  # type: ignore[arg-type]
    assert e.value.param == "repair_mode"
    with pytest.raises(ferrule.ConfigError) as e:
        ferrule.validated(repair_mode=1)  # type: ignore[arg-type]
    assert e.value.param == "repair_mode" and e.value.kind == "type"


# ---- @validated and re-asks ------------------------------------------------------------------------


def test_validated_reasks_with_feedback_describing_every_violation() -> None:
    seen: List[Optional[str]] = []
    answers = iter(['{"name": 1, "age": -3}', '{"name": "Ada", "age": 36, "address": {"city": "L", "zip": "12345"}}'])

    @ferrule.validated(schema=Person, reask=2)
    def extract(prompt: str, *, feedback: Optional[str] = None) -> str:
        seen.append(feedback)
        return next(answers)

    before = ferrule.validation_stats()["reasked"]
    p = extract("who?")
    assert isinstance(p, Person) and p.age == 36
    assert seen[0] is None
    fb = seen[1]
    assert fb is not None
    for path in ("/name", "/age", "/address"):
        assert f"at {path}:" in fb, fb
    assert '{"name": 1, "age": -3}' in fb
    assert ferrule.validation_stats()["reasked"] - before == 1


def test_validated_raises_the_last_error_after_the_last_reask() -> None:
    calls = []

    @ferrule.validated(schema={"type": "array"}, reask=2)
    def always_bad(*, feedback: Optional[str] = None) -> str:
        calls.append(feedback)
        return '{"not": "an array"}'

    with pytest.raises(ferrule.ValidationError) as ei:
        always_bad()
    assert len(calls) == 3 and ei.value.kind == "schema"
    assert ei.value.errors[0]["path"] == ""


def test_validated_without_reask_and_with_repair_off() -> None:
    @ferrule.validated(repair=False)
    def raw() -> str:
        return "{'a': 1}"

    with pytest.raises(ferrule.ValidationError):
        raw()

    @ferrule.validated()
    def fenced() -> bytes:
        return b"```json\n[1, 2,]\n```"

    assert fenced() == [1, 2]


async def test_validated_async_reasks() -> None:
    answers = iter(["[1, 2, 3", "[1, 2, 3]"])  # the first is cut off mid-number: not guessed

    @ferrule.validated(schema={"type": "array", "items": {"type": "integer"}}, reask=1)
    async def ask(*, feedback: Optional[str] = None) -> str:
        await asyncio.sleep(0)
        return next(answers)

    assert await ask() == [1, 2, 3]


# ---- through the real OpenAI SDK against the local mock server -----------------------------------


class Answer(BaseModel):
    answer: str
    confidence: float = Field(ge=0, le=1)


def test_reask_loop_through_the_openai_sdk() -> None:
    with MockLLMServer() as server:
        client = openai.OpenAI(base_url=server.url, api_key="k", max_retries=0)

        @ferrule.validated(schema=Answer, reask=2)
        def ask(question: str, *, feedback: Optional[str] = None) -> Any:
            messages = [{"role": "user", "content": question}]
            if feedback:
                messages.append({"role": "user", "content": feedback})
            # The mock answers what the header says: wrong types first, then a valid answer.
            content = '{"answer": 42, "confidence": 3}' if feedback is None else '{"answer": "Paris", "confidence": 0.9}'
            return client.chat.completions.create(
                model="mock-gpt-4o-mini", messages=messages, extra_headers={"x-mock-content": content}  # type: ignore[arg-type]
            )

        result = ask("Capital of France?")
        assert result == Answer(answer="Paris", confidence=0.9)
        reqs = server.requests
        assert len(reqs) == 2
        feedback = reqs[1]["json"]["messages"][1]["content"]
        assert "at /answer:" in feedback and "at /confidence:" in feedback


def test_malformed_json_fault_is_repaired_without_a_reask() -> None:
    with MockLLMServer(script=["malformed_json"]) as server:
        client = openai.OpenAI(base_url=server.url, api_key="k", max_retries=0)

        @ferrule.validated(schema=Answer, reask=1)
        def ask(*, feedback: Optional[str] = None) -> Any:
            return client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}], response_format={"type": "json_object"}  # type: ignore[arg-type]
            )

        before = ferrule.validation_stats()
        a = ask()
        assert a.confidence == 0.87 and a.answer.startswith("Mock answer")
        assert len(server.requests) == 1
        after = ferrule.validation_stats()
        assert after["repaired"] - before["repaired"] == 1 and after["reasked"] == before["reasked"]


async def test_reask_loop_through_the_async_openai_sdk() -> None:
    with MockLLMServer(script=["malformed_json"]) as server:
        client = openai.AsyncOpenAI(base_url=server.url, api_key="k", max_retries=0)

        @ferrule.validated(schema={"type": "object", "required": ["city"]}, reask=1)
        async def ask(*, feedback: Optional[str] = None) -> Any:
            content = '{"town": "Paris"}' if feedback is None else '{"city": "Paris"}'
            return await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": feedback or "q"}], extra_headers={"x-mock-content": content}  # type: ignore[arg-type]
            )

        assert await ask() == {"city": "Paris"}
        assert "city" in server.requests[1]["json"]["messages"][0]["content"]


# ---- counters under threads -------------------------------------------------------------------------


def test_counts_are_exact_under_threads() -> None:
    n, threads = 2000, 8
    before = ferrule.validation_stats()
    barrier = threading.Barrier(threads)

    def work() -> None:
        barrier.wait()
        for i in range(n):
            if i % 2:
                ferrule.parse_json('{"a": 1}')
            else:
                ferrule.parse_json("{'a': 1}")

    ts = [threading.Thread(target=work) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    after = ferrule.validation_stats()
    assert after["valid"] - before["valid"] == threads * n // 2
    assert after["repaired"] - before["repaired"] == threads * n // 2
    assert after["repairs"]["single_quotes"] - before["repairs"]["single_quotes"] == threads * n // 2


# ---- outcomes in the metrics registry -----------------------------------------------------------------


def _series(name: str, outcome: str) -> float:
    want = f'ferrule_validations_total{{name="{name}",outcome="{outcome}"}} '
    for line in ferrule.metrics_text().splitlines():
        if line.startswith(want):
            return float(line[len(want) :])
    return 0.0


def test_outcomes_are_exported_per_validator_name() -> None:
    class City(BaseModel):
        city: str

    before = {o: _series("parse_json", o) for o in ("valid", "repaired", "invalid")}
    ferrule.parse_json('{"a": 1}')
    ferrule.parse_json("{'a': 1,}")
    with pytest.raises(ferrule.ValidationError):
        ferrule.parse_json("[1", repair=False)
    ferrule.parse_json('{"city": "Paris"}', schema=City)
    after = {o: _series("parse_json", o) for o in ("valid", "repaired", "invalid")}
    assert {o: after[o] - before[o] for o in after} == {"valid": 2, "repaired": 1, "invalid": 1}

    answers = iter(["{'city': 'Paris'", '{"town": "x"}', '{"city": "Lyon"}'])

    @ferrule.validated(schema=City, reask=2)
    def extract(prompt: str, *, feedback: Optional[str] = None) -> str:
        return next(answers)

    assert extract("where?").city == "Paris"  # repaired (truncated), no re-ask
    assert extract("where?").city == "Lyon"  # refused once, re-asked once
    name = extract.__qualname__
    assert [_series(name, o) for o in ("valid", "repaired", "invalid", "reasked")] == [1, 1, 1, 1]
    text = ferrule.metrics_text()
    assert f'ferrule_validation_repairs_total{{name="{name}",kind="truncated"}} 1' in text
    assert f'ferrule_validation_repairs_total{{name="{name}",kind="single_quotes"}} 2' in text  # both quotes of the key
