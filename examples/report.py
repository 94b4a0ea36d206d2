"""The demo's HTML report: one self-contained file (inline SVG and CSS, no script, nothing fetched)
comparing the runs side by side over time: latency of every request, success rate, the circuit
breaker's state as a band, retries and fallbacks per second, and the cumulative cost.

`render(runs)` returns the page; `examples/demo.py` writes it and prints its path. Each chart is an
`<svg class="chart" data-chart=NAME>` whose marks carry classes (`point ok`, `point failed`,
`band open`, `bar retry`, ...), so a test can count what was drawn.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Sequence, Tuple

W, H = 880, 220  # one chart's size in px
PAD_L, PAD_R, PAD_T, PAD_B = 56, 16, 14, 30
COLORS = {"bare": "#c0392b", "ferrule": "#1f6fb2"}
STATE_COLORS = {"closed": "#d5efd8", "open": "#f5b7b1", "half_open": "#fbe6a2"}


@dataclass
class RunTimeline:
    """What one run did, in seconds from its start."""

    name: str
    wall: float = 0.0
    # (end time, latency, succeeded, model that answered, cost of the answer in USD)
    requests: List[Tuple[float, float, bool, str, float]] = field(default_factory=list)
    retries: List[float] = field(default_factory=list)
    fallbacks: List[float] = field(default_factory=list)
    # (time, old state, new state); an empty list with `has_breaker` means it stayed closed
    transitions: List[Tuple[float, str, str]] = field(default_factory=list)
    has_breaker: bool = False

    def success_rate(self) -> float:
        return sum(1 for r in self.requests if r[2]) / max(1, len(self.requests))

    def cost(self) -> float:
        return sum(r[4] for r in self.requests)


class Scale:
    """Linear map from a data interval onto a pixel interval."""

    def __init__(self, lo: float, hi: float, a: float, b: float) -> None:
        self.lo, self.hi, self.a, self.b = lo, hi if hi > lo else lo + 1.0, a, b

    def __call__(self, v: float) -> float:
        return self.a + (v - self.lo) / (self.hi - self.lo) * (self.b - self.a)


def nice_ticks(hi: float, n: int = 5) -> List[float]:
    """Round tick values from 0 to at least `hi`."""
    if hi <= 0:
        return [0.0, 1.0]
    raw = hi / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return [i * step for i in range(int(math.ceil(hi / step - 1e-9)) + 1)]


def fmt(v: float) -> str:
    return f"{v:.0f}" if abs(v) >= 10 or v == int(v) else f"{v:.2g}"


class Chart:
    """One SVG chart: axes with ticks, a title, and marks added by the caller."""

    def __init__(self, name: str, title: str, x_max: float, y_max: float, y_label: str, height: int = H) -> None:
        self.name, self.title, self.height = name, title, height
        self.x_ticks, self.y_ticks = nice_ticks(x_max), nice_ticks(y_max, 4)
        self.x = Scale(0, self.x_ticks[-1], PAD_L, W - PAD_R)
        self.y = Scale(0, self.y_ticks[-1], height - PAD_B, PAD_T)
        self.y_label = y_label
        self.marks: List[str] = []

    def add(self, svg: str) -> None:
        self.marks.append(svg)

    def svg(self) -> str:
        axes = []
        for t in self.y_ticks:
            y = self.y(t)
            axes.append(f'<line class="grid" x1="{PAD_L}" x2="{W - PAD_R}" y1="{y:.1f}" y2="{y:.1f}"/>'
                        f'<text class="tick" x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end">{fmt(t)}</text>')
        for t in self.x_ticks:
            x = self.x(t)
            axes.append(f'<text class="tick" x="{x:.1f}" y="{self.height - PAD_B + 16}" text-anchor="middle">{fmt(t)} s</text>')
        axes.append(f'<line class="axis" x1="{PAD_L}" x2="{W - PAD_R}" y1="{self.height - PAD_B}" y2="{self.height - PAD_B}"/>')
        axes.append(f'<text class="ylabel" x="12" y="{self.height / 2:.0f}" transform="rotate(-90 12 {self.height / 2:.0f})" '
                    f'text-anchor="middle">{html.escape(self.y_label)}</text>')
        return (f'<figure><figcaption>{html.escape(self.title)}</figcaption>'
                f'<svg class="chart" data-chart="{self.name}" xmlns="http://www.w3.org/2000/svg" width="{W}" '
                f'height="{self.height}" viewBox="0 0 {W} {self.height}" role="img" aria-label="{html.escape(self.title)}">'
                + "".join(axes) + "".join(self.marks) + "</svg></figure>")


def breaker_spans(run: RunTimeline) -> List[Tuple[float, float, str]]:
    """The breaker's state as (from, to, state) intervals covering the whole run."""
    spans, t, state = [], 0.0, "closed"
    for at, _old, new in run.transitions:
        spans.append((t, at, state))
        t, state = at, new
    spans.append((t, run.wall, state))
    return [s for s in spans if s[1] > s[0]]


def per_second(times: Iterable[float], seconds: int) -> List[int]:
    counts = [0] * max(1, seconds)
    for t in times:
        counts[min(len(counts) - 1, max(0, int(t)))] += 1
    return counts


def latency_chart(runs: Sequence[RunTimeline], x_max: float) -> str:
    y_max = max((r[1] for run in runs for r in run.requests), default=1.0)
    c = Chart("latency", "Latency of every request over time (dot: success, cross: failure); band: breaker state",
              x_max, y_max, "latency (s)", height=260)
    for run in runs:
        if run.has_breaker:
            for a, b, state in breaker_spans(run):
                c.add(f'<rect class="band {state}" x="{c.x(a):.1f}" y="{PAD_T}" width="{max(0.5, c.x(b) - c.x(a)):.1f}" '
                      f'height="{c.height - PAD_B - PAD_T}" fill="{STATE_COLORS.get(state, "#eee")}" fill-opacity="0.55">'
                      f'<title>breaker {state} {a:.2f}-{b:.2f} s</title></rect>')
    for run in runs:
        color = COLORS.get(run.name, "#555")
        for end, lat, ok, model, _cost in run.requests:
            x, y = c.x(end), c.y(lat)
            if ok:
                c.add(f'<circle class="point ok {run.name}" cx="{x:.1f}" cy="{y:.1f}" r="2.4" fill="{color}" fill-opacity="0.7"/>')
            else:
                c.add(f'<path class="point failed {run.name}" d="M{x - 3:.1f},{y - 3:.1f}l6,6m0,-6l-6,6" stroke="{color}" stroke-width="1.4"/>')
    return c.svg()


def success_chart(runs: Sequence[RunTimeline], x_max: float) -> str:
    c = Chart("success", "Success rate per second of completion", x_max, 1.0, "success rate")
    for run in runs:
        seconds = int(math.ceil(run.wall)) or 1
        ok = per_second((r[0] for r in run.requests if r[2]), seconds)
        total = per_second((r[0] for r in run.requests), seconds)
        pts = [(i + 0.5, ok[i] / total[i]) for i in range(seconds) if total[i]]
        if pts:
            d = " ".join(f"{c.x(t):.1f},{c.y(v):.1f}" for t, v in pts)
            c.add(f'<polyline class="line success {run.name}" points="{d}" fill="none" stroke="{COLORS.get(run.name, "#555")}" stroke-width="2"/>')
    return c.svg()


def events_chart(runs: Sequence[RunTimeline], x_max: float) -> str:
    wrapped = [r for r in runs if r.retries or r.fallbacks or r.has_breaker]
    seconds = int(math.ceil(x_max)) or 1
    series = [(kind, run, per_second(getattr(run, kind), seconds)) for run in wrapped for kind in ("retries", "fallbacks")]
    y_max = max((max(counts) for _k, _r, counts in series), default=1) or 1
    c = Chart("events", "Retries and fallbacks per second", x_max, y_max, "per second")
    colors = {"retries": "#8e44ad", "fallbacks": "#e67e22"}
    width = (c.x(1) - c.x(0)) / 2 - 0.5
    for i, (kind, run, counts) in enumerate(series):
        for s, n in enumerate(counts):
            if n:
                x = c.x(s) + (i % 2) * (width + 0.5)
                c.add(f'<rect class="bar {"fallback" if kind == "fallbacks" else "retry"}" x="{x:.1f}" y="{c.y(n):.1f}" '
                      f'width="{max(1.0, width):.1f}" height="{c.y(0) - c.y(n):.1f}" fill="{colors[kind]}"><title>{n} {kind} in second {s}</title></rect>')
    return c.svg()


def cost_chart(runs: Sequence[RunTimeline], x_max: float) -> str:
    y_max = max((run.cost() for run in runs), default=0.0) or 1e-6
    c = Chart("cost", "Cumulative cost (USD, demo prices)", x_max, y_max * 1.05, "USD")
    for run in runs:
        total, pts = 0.0, [(0.0, 0.0)]
        for end, _lat, ok, _model, cost in sorted(run.requests):
            if ok:
                total += cost
                pts.append((end, total))
        d = " ".join(f"{c.x(t):.1f},{c.y(v):.1f}" for t, v in pts)
        c.add(f'<polyline class="line cost {run.name}" points="{d}" fill="none" stroke="{COLORS.get(run.name, "#555")}" stroke-width="2"/>')
    return c.svg()


def summary_table(runs: Sequence[RunTimeline]) -> str:
    def pct(xs: List[float], p: float) -> str:
        if not xs:
            return "-"
        xs = sorted(xs)
        return f"{xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] * 1000:.0f} ms"

    rows = [
        ("requests", [str(len(r.requests)) for r in runs]),
        ("success rate", [f"{r.success_rate():.1%}" for r in runs]),
        ("latency p50", [pct([x[1] for x in r.requests], 50) for r in runs]),
        ("latency p95", [pct([x[1] for x in r.requests], 95) for r in runs]),
        ("retries", [str(len(r.retries)) for r in runs]),
        ("fallbacks", [str(len(r.fallbacks)) for r in runs]),
        ("breaker transitions", [str(len(r.transitions)) if r.has_breaker else "no breaker" for r in runs]),
        ("cost (USD)", [f"${r.cost():.5f}" for r in runs]),
        ("wall time", [f"{r.wall:.1f} s" for r in runs]),
    ]
    head = "".join(f"<th>{html.escape(r.name)}</th>" for r in runs)
    body = "".join(f"<tr><td>{k}</td>" + "".join(f"<td>{html.escape(v)}</td>" for v in vs) + "</tr>" for k, vs in rows)
    return f'<table class="summary"><thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>'


def legend(runs: Sequence[RunTimeline]) -> str:
    items = [f'<span><i style="background:{COLORS.get(r.name, "#555")}"></i>{html.escape(r.name)}</span>' for r in runs]
    items += [f'<span><i style="background:{c}"></i>breaker {s.replace("_", "-")}</span>' for s, c in STATE_COLORS.items()]
    items += ['<span><i style="background:#8e44ad"></i>retries</span>', '<span><i style="background:#e67e22"></i>fallbacks</span>']
    return '<p class="legend">' + "".join(items) + "</p>"


CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:920px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 4px} p.sub{color:#555;margin:0 0 16px}
figure{margin:18px 0} figcaption{font-weight:600;margin-bottom:4px}
svg.chart{background:#fcfcfc;border:1px solid #e3e3e3}
.grid{stroke:#e8e8e8} .axis{stroke:#888} .tick{font-size:11px;fill:#666} .ylabel{font-size:11px;fill:#444}
table.summary{border-collapse:collapse;margin:8px 0 12px} table.summary td,table.summary th{padding:3px 14px;border-bottom:1px solid #eee;text-align:right}
table.summary td:first-child{text-align:left}
p.legend span{margin-right:14px;white-space:nowrap} p.legend i{display:inline-block;width:12px;height:12px;margin-right:5px;vertical-align:-1px;border-radius:2px}
"""


def render(runs: Sequence[RunTimeline], title: str = "ferrule demo", subtitle: str = "") -> str:
    x_max = max((r.wall for r in runs), default=1.0)
    charts = [latency_chart(runs, x_max), success_chart(runs, x_max), events_chart(runs, x_max), cost_chart(runs, x_max)]
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p class=\"sub\">{html.escape(subtitle)}</p>"
        + summary_table(runs) + legend(runs) + "".join(charts) + "</body></html>"
    )


def write(path: "Optional[str]", runs: Sequence[RunTimeline], subtitle: str = "") -> str:
    from pathlib import Path

    out = Path(path) if path else Path("target") / "demo-report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(runs, subtitle=subtitle), encoding="utf-8")
    return str(out.resolve())


__all__ = ["RunTimeline", "render", "write"]
