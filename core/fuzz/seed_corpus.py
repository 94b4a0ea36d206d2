"""Seeds the fuzz corpora (core/fuzz/corpus/<target>, kept out of git): parse_repair with the inputs
of the repair corpus, repair_modes with those and a slice of the generated broken JSON the
differential tests use (python-tests/broken_json.py), so fuzzing starts from real model breakage
rather than from nothing."""

import hashlib
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
SRC = HERE.parent / "tests" / "corpus" / "repair"
sys.path.insert(0, str(HERE.parent.parent / "python-tests"))

import broken_json  # noqa: E402


def seed(target: str, inputs: list) -> None:
    out = HERE / "corpus" / target
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for text in inputs:
        data = text.encode()
        if len(data) <= 4096:
            (out / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)
            n += 1
    print(f"seeded {n} inputs into {out}", file=sys.stderr)


repair_corpus = [
    json.loads(line)["input"]
    for f in sorted(SRC.glob("*.jsonl"))
    for line in f.read_text(encoding="utf-8").splitlines()
]
seed("parse_repair", repair_corpus)
seed("repair_modes", repair_corpus + [c.text for c in broken_json.corpus(400, seed=7)])
