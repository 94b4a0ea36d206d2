"""`ferrule.redact` over the shared corpus (core/tests/data): every secret and PII item embedded in
context is masked with its typed placeholder, ordinary text is untouched; user patterns and a user
callback extend it."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

import ferrule
from telemetry_state import reset

DATA = Path(__file__).resolve().parent.parent / "core" / "tests" / "data"


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    reset()
    yield
    reset()


def corpus() -> List[Tuple[str, str, str]]:
    out = []
    for line in (DATA / "redaction_corpus.tsv").read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        kind, secret, tmpl = line.split("\t", 2)
        out.append((kind, secret, tmpl.replace("\\n", "\n")))
    return out


def test_corpus_leaks_nothing() -> None:
    cases = corpus()
    assert len(cases) >= 100
    leaks = []
    for kind, secret, tmpl in cases:
        text = tmpl.replace("{}", secret, 1)
        out = ferrule.redact(text)
        before, after = tmpl.split("{}", 1)
        if secret in out or f"[{kind}]" not in out or not (out.startswith(before) and out.endswith(after)):
            leaks.append((text, out))
    assert not leaks


def test_control_text_is_untouched() -> None:
    lines = [
        l for l in (DATA / "control_text.txt").read_text(encoding="utf-8").splitlines() if l.strip() and not l.startswith("#")
    ]
    assert len(lines) >= 40
    assert [l for l in lines if ferrule.redact(l) != l] == []


def test_user_patterns_and_callback() -> None:
    ferrule.configure(redact_patterns={"employee": r"\bE\d{6}\b"}, redact_callback=lambda s: s.replace("Acme", "[ORG]"))
    assert ferrule.redact("Acme staff E123456 mailed a@b.io") == "[ORG] staff [EMPLOYEE] mailed [EMAIL]"
    ferrule.configure(redact_patterns=[r"project-\w+"], redact_callback=False)
    assert ferrule.redact("see project-falcon, Acme") == "see [REDACTED], Acme"
    # A callback given alone keeps the patterns in force.
    ferrule.configure(redact_callback=lambda s: s.replace("Acme", "[ORG]"))
    assert ferrule.redact("see project-falcon, Acme") == "see [REDACTED], [ORG]"
    ferrule.configure(redact_patterns=[], redact_callback=False)


def test_failing_callback_keeps_pattern_masking_and_is_counted() -> None:
    def broken(s: str) -> str:
        raise RuntimeError("bug")

    ferrule.configure(redact_callback=broken)
    before = ferrule.telemetry_stats()["redact_callback_errors"]
    assert ferrule.redact("mail a@b.io") == "mail [EMAIL]"
    assert ferrule.telemetry_stats()["redact_callback_errors"] == before + 1
