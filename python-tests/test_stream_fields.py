"""``StreamFields`` keeps text-only chunks on the Python side and hands them to the core in batches:
over random chunk sequences (the SDK's own chunk objects with text, empty and missing deltas, tool
calls, finish reasons, usage, several choices, extra fields; dicts; other SDKs' events), what the
core ends up with must be exactly what folding every chunk in the core gives. The chunks' times
become the gaps between chunks."""

from __future__ import annotations

import random
from typing import Any, Dict

from openai.types.chat import ChatCompletionChunk

from ferrule._ferrule import CallStream
from ferrule.integrations.stream_fields import StreamFields


def chunk(r: random.Random, i: int) -> Any:
    base: Dict[str, Any] = {"object": "chat.completion.chunk", "created": 0}
    if r.random() < 0.9:
        base["id"] = "c1"
    if r.random() < 0.9:
        base["model"] = "m"
    text = r.choice(["ab", "héllo ", "", " 🚀", f"#{i}"])
    kind = r.choice(["text"] * 5 + ["empty", "none", "tool", "finish", "usage", "two", "extra", "dict", "anthropic", "built"])
    if kind == "text":
        d = {**base, "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
    elif kind == "empty":
        d = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": None}]}
    elif kind == "none":
        d = {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": None}}]}
    elif kind == "tool":
        d = {**base, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"a'}}]}}]}
    elif kind == "finish":
        d = {**base, "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": "stop"}]}
    elif kind == "usage":
        d = {**base, "choices": [], "usage": {"prompt_tokens": 3 + i, "completion_tokens": i, "total_tokens": 3 + 2 * i}}
    elif kind == "two":
        d = {**base, "choices": [{"index": 0, "delta": {"content": "x"}}, {"index": 1, "delta": {"content": "y"}, "finish_reason": "length"}]}
    elif kind == "extra":  # a field the core reads, sent as an extra by some server
        d = {**base, "choices": [{"index": 0, "delta": {"content": text}}], "finishReason": "stop"}
    elif kind == "dict":
        return {**base, "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
    elif kind == "anthropic":
        return {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}
    else:  # validated rather than constructed
        return ChatCompletionChunk.model_validate({**base, "id": "v", "model": "m", "choices": [{"index": 0, "delta": {"content": text}}]})
    return ChatCompletionChunk.construct(**d) if r.random() < 0.5 else ChatCompletionChunk.model_validate({"id": "x", "model": "m", **d}) if "choices" in d else d


def test_the_kept_chunks_fold_to_exactly_what_the_core_folds_from_every_chunk() -> None:
    # ChatCompletionChunk.construct keeps nested dicts as dicts: the core reads them; the Python
    # side keeps only the SDK's own nested objects. Both are covered.
    for seed in range(40):
        r = random.Random(seed)
        chunks = [chunk(r, i) for i in range(r.randint(1, 400))]  # past one batch of 256 in many
        every = CallStream(None, collect=True)
        fields = StreamFields(CallStream(None, collect=True))
        for i, c in enumerate(chunks):
            every.chunk(c)
            fields.mark(float(i))
            fields.chunk(c)
        fields.flush()
        assert (fields.text, fields.finished, fields.usage) == (every.text, every.finished, every.usage), seed


def test_chunk_times_become_the_gaps_across_batches() -> None:
    c = ChatCompletionChunk.model_validate(
        {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m", "choices": [{"index": 0, "delta": {"content": "ab"}}]}
    )
    fields = StreamFields(CallStream(None, collect=True))
    fields.chunk(c)  # the first: the core reads the model and id
    for i in range(600):
        fields.mark(10.0 + i * 0.002)
        fields.chunk(c)
    fields.flush()
    n, total = fields.native.chunk_gaps
    assert n == 599 and abs(total - 599 * 0.002) < 1e-9
    assert fields.text == "ab" * 601
