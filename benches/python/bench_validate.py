"""Validation and repair of model output: ferrule.parse_json with a schema vs json.loads + jsonschema
and vs pydantic's model_validate_json; ferrule.repair_json vs the json_repair package. Same process,
same inputs; ratios against the ferrule row."""

from __future__ import annotations

import json
import logging
from typing import List, Optional

import json_repair
import jsonschema
from pydantic import BaseModel, Field

import ferrule
from timing import ns_per_call, table

# Repairs log at warning by design; the benchmark measures the work, not the log handler.
logging.getLogger("ferrule").setLevel(logging.ERROR)


class Source(BaseModel):
    title: str
    url: str
    score: float = Field(ge=0, le=1)


class Answer(BaseModel):
    answer: str
    confidence: float = Field(ge=0, le=1)
    language: str
    tags: List[str]
    sources: List[Source]
    follow_up: Optional[str] = None


SCHEMA = {
    "type": "object",
    "required": ["answer", "confidence", "language", "tags", "sources"],
    "properties": {
        "answer": {"type": "string"},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "language": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "sources": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["title", "url", "score"],
                "properties": {
                    "title": {"type": "string"},
                    "url": {"type": "string"},
                    "score": {"type": "number", "minimum": 0, "maximum": 1},
                },
            },
        },
        "follow_up": {"type": ["string", "null"]},
    },
}

DOC = {
    "answer": "The capital of France is Paris, which has been the capital since 508 AD.",
    "confidence": 0.93,
    "language": "en",
    "tags": ["geography", "europe", "capitals"],
    "sources": [
        {"title": f"Source {i}", "url": f"https://example.org/wiki/page-{i}", "score": 0.5 + i / 20} for i in range(5)
    ],
    "follow_up": None,
}
VALID = json.dumps(DOC)

BROKEN = {
    "fenced + trailing commas": "Here is the JSON:\n```json\n" + json.dumps(DOC, indent=2).replace("\n  ]", ",\n  ]") + "\n```\n",
    "python dict repr": repr(DOC),
    "truncated mid-string": VALID[: int(len(VALID) * 0.8)].rsplit('"', 1)[0] + '"Sourc',
    "js literal + comments": "{\n  // model notes\n  answer: 'Paris',\n  confidence: 0.9, /* guess */\n  tags: ['a', 'b',],\n}",
}


def main() -> None:
    # Every contender must agree on the inputs before anything is timed.
    assert ferrule.parse_json(VALID, schema=SCHEMA) == json.loads(VALID)
    assert ferrule.parse_json(VALID, schema=Answer) == Answer.model_validate_json(VALID)
    validator = jsonschema.Draft202012Validator(SCHEMA)
    compiled = ferrule.JsonSchema(SCHEMA)

    def jsonschema_row() -> object:
        v = json.loads(VALID)
        validator.validate(v)
        return v

    n = 20_000
    rows = [
        ("json.loads (no validation; the floor)", ns_per_call(lambda: json.loads(VALID), n=n)),
        ("ferrule.parse_json(schema=dict)", ns_per_call(lambda: ferrule.parse_json(VALID, schema=SCHEMA), n=n)),
        ("ferrule.parse_json(schema=JsonSchema)", ns_per_call(lambda: ferrule.parse_json(VALID, schema=compiled), n=n)),
        ("json.loads + jsonschema 4.26 (precompiled)", ns_per_call(jsonschema_row, n=n // 10)),
        ("pydantic 2.14 Model.model_validate_json", ns_per_call(lambda: Answer.model_validate_json(VALID), n=n)),
        ("ferrule.parse_json(schema=Model)", ns_per_call(lambda: ferrule.parse_json(VALID, schema=Answer), n=n)),
    ]
    pyd = dict(rows)["pydantic 2.14 Model.model_validate_json"]
    table(
        f"validate a valid {len(VALID)}-byte answer against its schema",
        rows,
        against="ferrule.parse_json(schema=dict)",
        target=("ferrule.parse_json(schema=dict)", pyd),
    )
    table(
        "the same, pydantic model as the schema (ferrule's overhead over pydantic; target <= 1.10x)",
        [r for r in rows if "Model" in r[0]],
        against="pydantic 2.14 Model.model_validate_json",
        target=("ferrule.parse_json(schema=Model)", pyd * 1.10),
    )

    total_f = total_j = 0.0
    for name, text in BROKEN.items():
        fixed = ferrule.repair_json(text)
        theirs = json_repair.repair_json(text, return_objects=True)
        assert json.loads(fixed.text) == theirs or name == "truncated mid-string", (name, fixed.text, theirs)
        f = ns_per_call(lambda: ferrule.repair_json(text), n=5000)
        j = ns_per_call(lambda: json_repair.repair_json(text), n=500)
        total_f += f
        total_j += j
        table(
            f"repair: {name} ({len(text)} bytes, {len(fixed.repairs)} repairs)",
            [("ferrule.repair_json", f), ("json_repair 0.64 repair_json", j)],
            against="ferrule.repair_json",
            target=("ferrule.repair_json", j / 5),
        )
    table(
        "repair: all four inputs (target: ferrule >= 5x faster)",
        [("ferrule.repair_json", total_f), ("json_repair 0.64 repair_json", total_j)],
        against="ferrule.repair_json",
        target=("ferrule.repair_json", total_j / 5),
    )
    parse_rows = []
    for name, text in BROKEN.items():
        parse_rows.append((f"ferrule.parse_json: {name}", ns_per_call(lambda: ferrule.parse_json(text), n=5000)))
        parse_rows.append((f"json_repair.loads: {name}", ns_per_call(lambda: json_repair.loads(text), n=500)))
    table("repair straight to Python objects", parse_rows, against=parse_rows[0][0])


if __name__ == "__main__":
    main()
