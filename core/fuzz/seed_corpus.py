"""Seeds the fuzz corpus (core/fuzz/corpus/parse_repair, kept out of git) with the inputs of the
repair corpus, so fuzzing starts from real model breakage rather than from nothing."""

import hashlib
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
SRC = HERE.parent / "tests" / "corpus" / "repair"
OUT = HERE / "corpus" / "parse_repair"

OUT.mkdir(parents=True, exist_ok=True)
n = 0
for f in sorted(SRC.glob("*.jsonl")):
    for line in f.read_text(encoding="utf-8").splitlines():
        data = json.loads(line)["input"].encode()
        if len(data) <= 4096:
            (OUT / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)
            n += 1
print(f"seeded {n} inputs into {OUT}", file=sys.stderr)
