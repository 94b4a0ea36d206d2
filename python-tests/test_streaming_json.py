"""Validation while an answer streams: partial values grow as instructor's Partial does; an answer
that breaks its schema beyond repair is stopped before its end (fewer chunks read than it has, the
connection released) and re-asked; a valid answer streams partial values and ends in the checked,
repaired value. Real OpenAI SDK against the mock server."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Iterator, List

import openai
import pytest

import ferrule
from ferrule.testing import MockLLMServer

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "mood": {"enum": ["happy", "sad"]},
        "score": {"type": "integer", "maximum": 10},
        "note": {"type": "string"},
    },
    "required": ["mood", "score"],
}
GOOD = '{"mood": "happy", "score": 7, "note": "' + "fine " * 10 + '"}'
BAD = '{"mood": "angry", "score": 7, "note": "' + "grr " * 40 + '"}'
MSG = [{"role": "user", "content": "how are you?"}]


class Counted:
    """A stream that counts the chunks read from it and passes close() through."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.it = iter(stream)
        self.read = 0

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        c = next(self.it)
        self.read += 1
        return c

    def close(self) -> None:
        self.stream.close()


def test_partial_values_and_unrecoverable_violations() -> None:
    p = ferrule.PartialJson(SCHEMA)
    got = [p.feed(x) for x in ['```json\n{"mo', 'od": "ha', 'ppy", "sco', 're": 7', "}\n```"]]
    assert got == [{}, {"mood": "ha"}, {"mood": "happy"}, None, {"mood": "happy", "score": 7}]
    assert p.complete
    for doc, path in [('{"mood": "an', "/mood"), ('{"score": "7"', "/score"), ('{"x": 1,', "")]:
        with pytest.raises(ferrule.ValidationError) as ei:
            ferrule.PartialJson(SCHEMA).feed(doc)
        assert ei.value.kind == "schema" and ei.value.errors[0]["path"] == path
        assert ei.value.raw == doc


def test_a_violating_stream_is_stopped_early_and_re_asked() -> None:
    answers = [BAD, GOOD]
    streams: List[Counted] = []
    with MockLLMServer() as s:
        c = ferrule.wrap_openai(openai.OpenAI(base_url=s.url, api_key="k"))

        def create(**kw: Any) -> Counted:
            st = Counted(c.chat.completions.create(**kw, extra_headers={"x-mock-content": answers[len(streams)]}))
            streams.append(st)
            return st

        values = list(ferrule.stream_validated(create, SCHEMA, reask=1, model="m", messages=MSG))
        assert values[-1] == json.loads(GOOD)
        assert {"mood": "ha"} in values  # partial values along the way
        # The bad answer streams ~1 + len(BAD)/4 content events; it was stopped within its first few.
        assert streams[0].read <= 5 < len(BAD) // 4
        reask = json.loads(s.requests[1]["body"])["messages"]
        assert reask[-1]["role"] == "user" and "/mood" in reask[-1]["content"]
        end = time.monotonic() + 3
        while s.stats()["open_connections"] and time.monotonic() < end:
            time.sleep(0.01)
        assert s.stats()["open_connections"] <= 1  # the stopped stream's connection was closed


def test_async_stream_validated_gives_up_after_reask() -> None:
    async def go() -> None:
        with MockLLMServer() as s:
            c = ferrule.wrap_openai(openai.AsyncOpenAI(base_url=s.url, api_key="k"))

            async def create(**kw: Any) -> Any:
                return await c.chat.completions.create(**kw, extra_headers={"x-mock-content": BAD})

            with pytest.raises(ferrule.ValidationError) as ei:
                async for _ in ferrule.astream_validated(create, SCHEMA, reask=1, model="m", messages=MSG):
                    pass
            assert ei.value.errors[0]["path"] == "/mood"
            assert s.stats()["requests"] == 2

    asyncio.run(go())


def test_a_valid_answer_with_repairs_ends_in_the_repaired_value() -> None:
    with MockLLMServer() as s:
        c = ferrule.wrap_openai(openai.OpenAI(base_url=s.url, api_key="k"))
        stream = c.chat.completions.create(
            model="m", messages=MSG, stream=True, extra_headers={"x-mock-content": '{"mood": "sad", "score": 2,}'}  # type: ignore[arg-type]
        )
        values = list(ferrule.partial_values(stream, SCHEMA))
        assert values[-1] == {"mood": "sad", "score": 2}  # the trailing comma repaired by parse_json
