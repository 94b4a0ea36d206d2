"""Runs every ```python and ```js block of README.md and docs/ against `python -m ferrule.mock`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from samples import ROOT, Sample, all_samples, sample_env, start_mock

SAMPLES = all_samples()
JS_DIR = ROOT / "target" / "doc-samples"  # inside the repository, so require('ferrule') resolves to it


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    proc, url = start_mock(sys.executable)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_docs_have_samples() -> None:
    langs = {s.lang for s in SAMPLES if s.skip is None}
    assert langs == {"python", "js"}, langs
    assert len([s for s in SAMPLES if s.skip is None]) >= 20


@pytest.mark.parametrize("sample", SAMPLES, ids=[f"{s.id}-{s.lang}" for s in SAMPLES])
def test_sample_runs(sample: Sample, base_url: str, tmp_path: Path) -> None:
    if sample.skip is not None:
        pytest.skip(sample.skip)
    if sample.lang == "python":
        cmd = [sys.executable, "-c", sample.code]
        cwd = str(tmp_path)
    else:
        JS_DIR.mkdir(parents=True, exist_ok=True)
        script = JS_DIR / (sample.id.replace("/", "_").replace(":", "_").replace(".", "_") + ".js")
        script.write_text(sample.code)
        cmd = ["node", str(script)]
        cwd = str(JS_DIR)
    done = subprocess.run(cmd, cwd=cwd, env=sample_env(base_url), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{sample.id} ({sample.lang}) exited {done.returncode}\n{done.stdout}\n{done.stderr}"
