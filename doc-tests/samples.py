"""The code samples of README.md and docs/: every fenced ```python and ```js block is a program that
`make test` runs against the mock server, so the docs cannot rot.

A block that cannot run here (it needs a service the tests do not start) is preceded by a line
`<!-- sample: skip REASON -->`; the reason is required and shows in the test report. Blocks in
other languages (```text, ```bash, ```ts) are not run.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

ROOT = Path(__file__).resolve().parent.parent
LANGS = {"python": "python", "py": "python", "js": "js", "javascript": "js"}
FENCE = re.compile(r"^```([A-Za-z]*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
SKIP = re.compile(r"<!--\s*sample:\s*skip\s+(\S.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Sample:
    path: Path
    line: int
    lang: str
    code: str
    skip: Optional[str]

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def samples(path: Path) -> List[Sample]:
    text = path.read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(text):
        lang = LANGS.get(m.group(1).lower())
        if lang is None:
            continue
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = SKIP.search(before)
        line = text.count("\n", 0, m.start()) + 1
        out.append(Sample(path, line, lang, m.group(2), skip.group(1) if skip else None))
    return out


def documents() -> List[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def all_samples() -> List[Sample]:
    return [s for doc in documents() for s in samples(doc)]


def quick_start(lang: str) -> Sample:
    """The README's first block in `lang`: the quick start the package smoke tests run."""
    return next(s for s in samples(ROOT / "README.md") if s.lang == lang)


def start_mock(python: str) -> "tuple[subprocess.Popen[str], str]":
    """`python -m ferrule.mock` on a free loopback port, as the quick start tells a reader to run
    it; returns the process and its base URL (``http://127.0.0.1:PORT/v1``)."""
    proc = subprocess.Popen([python, "-m", "ferrule.mock", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    m = re.search(r"(http://127\.0\.0\.1:\d+/v1)", first)
    if m is None:
        proc.kill()
        raise RuntimeError(f"python -m ferrule.mock did not print its URL: {first!r}")
    return proc, m.group(1)


def sample_env(base_url: str) -> "dict[str, str]":
    """The environment a reader has after the quick start's `export` line."""
    env = dict(os.environ)
    env.update(OPENAI_BASE_URL=base_url, OPENAI_API_KEY="mock")
    # The Anthropic SDKs' base URL is the mock's root: they add /v1/messages themselves.
    env.update(ANTHROPIC_BASE_URL=base_url.removesuffix("/v1"), ANTHROPIC_API_KEY="mock")
    return env
