"""The demo's HTML report: what it draws for a known timeline, and that headless Chromium (Debian's
`chromium`) renders the report `make demo` writes, with its charts drawn, without any network."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Iterator, Tuple

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
import report  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]


def timeline() -> Tuple[report.RunTimeline, report.RunTimeline]:
    bare = report.RunTimeline("bare", wall=4.0)
    bare.requests = [(0.5, 0.4, True, "m", 0.001), (1.5, 1.2, False, "APIError", 0.0), (3.5, 0.3, True, "m", 0.001)]
    wrapped = report.RunTimeline("ferrule", wall=3.0, has_breaker=True)
    wrapped.requests = [(0.4, 0.3, True, "m", 0.001), (1.6, 0.9, True, "backup", 0.002), (2.9, 0.2, True, "m", 0.001)]
    wrapped.retries = [0.2, 0.25, 1.1]
    wrapped.fallbacks = [1.5]
    wrapped.transitions = [(1.0, "closed", "open"), (1.5, "open", "half_open"), (2.0, "half_open", "closed")]
    return bare, wrapped


def test_marks_follow_the_timeline() -> None:
    page = report.render(timeline())
    assert page.count('class="point ok ') == 5
    assert page.count('class="point failed ') == 1
    assert [m for m in re.findall(r'class="band (\w+)"', page)] == ["closed", "open", "half_open", "closed"]
    assert page.count('class="bar retry"') == 2  # two in second 0, one in second 1
    assert page.count('class="bar fallback"') == 1
    assert page.count('<svg class="chart"') == 4
    assert re.search(r"<td>success rate</td><td>66\.7%</td><td>100\.0%</td>", page)
    # Self-contained: no script, nothing loaded from anywhere.
    assert "<script" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page and "src=" not in page and "@import" not in page


def test_breaker_band_covers_the_run() -> None:
    _, wrapped = timeline()
    spans = report.breaker_spans(wrapped)
    assert spans[0][0] == 0.0 and spans[-1][1] == wrapped.wall
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))


@pytest.fixture(scope="module")
def demo_report() -> Iterator[Path]:
    """The report of a real `make demo` run (the demo itself, both runs, against the mock)."""
    out = Path(tempfile.mkdtemp(prefix="ferrule-report-")) / "report.html"
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "demo.py"), "--report", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert str(out) in done.stdout, "the demo prints the report's path"
    yield out
    shutil.rmtree(out.parent, ignore_errors=True)


def chromium(*args: str) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: run `make tools-chromium`")
    profile = tempfile.mkdtemp(prefix="ferrule-chromium-")
    try:
        return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def read_png(path: Path) -> np.ndarray:
    """Decodes an 8-bit, non-interlaced RGB/RGBA PNG (what Chromium's screenshot writes)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    out = np.zeros((height, stride), dtype=np.int32)
    prev = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=y * (stride + 1) + 1).astype(np.int32)
        if f == 0:
            cur = line
        elif f == 2:
            cur = (line + prev) & 0xFF
        else:  # Sub, Average, Paeth depend on the pixel to the left: one pass along the row
            cur = np.zeros(stride, dtype=np.int32)
            for x in range(stride):
                a = cur[x - channels] if x >= channels else 0
                b = prev[x]
                c = prev[x - channels] if x >= channels else 0
                if f == 1:
                    pred = a
                elif f == 3:
                    pred = (a + b) // 2
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[x] = (line[x] + pred) & 0xFF
        out[y] = cur
        prev = cur
    return out.reshape(height, width, channels)[:, :, :3].astype(np.uint8)


def test_chromium_draws_the_demo_report(demo_report: Path, tmp_path: Path) -> None:
    dom = chromium("--dump-dom", demo_report.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    charts = re.findall(r'data-chart="(\w+)"', html)
    assert charts == ["latency", "success", "events", "cost"], charts
    points = len(re.findall(r'class="point (?:ok|failed) ', html))
    assert points == 600, points  # every request of both runs is one mark
    assert len(re.findall(r'class="band (?:closed|open|half_open)"', html)) >= 1
    assert "class=\"band open\"" in html, "the demo's outage opens the breaker"
    assert re.search(r'class="bar retry"', html) and re.search(r'class="bar fallback"', html)

    shot = tmp_path / "report.png"
    done = chromium(f"--screenshot={shot}", "--window-size=1000,1500", demo_report.as_uri())
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    pixels = read_png(shot)
    assert pixels.shape[0] >= 1000 and pixels.shape[1] >= 900
    not_white = (pixels < 245).any(axis=2)
    assert not_white.mean() > 0.03, f"only {not_white.mean():.1%} of the page is drawn"
    # The two runs' colours are both on screen: the bare run's red and ferrule's blue marks.
    colours = pixels.reshape(-1, 3).astype(int)
    red = ((colours[:, 0] > 150) & (colours[:, 1] < 110) & (colours[:, 2] < 110)).sum()
    blue = ((colours[:, 2] > 140) & (colours[:, 0] < 90) & (colours[:, 1] < 150)).sum()
    assert red > 200 and blue > 200, (red, blue)
    # The breaker band: the open state's pink is present.
    pink = ((abs(colours[:, 0] - 245) < 12) & (abs(colours[:, 1] - 200) < 30) & (abs(colours[:, 2] - 195) < 30)).sum()
    assert pink > 100, pink
    shutil.copy(shot, ROOT / "target" / "demo-report.png")  # for a person to look at
