"""``ferrule.recent_spans()`` as a list that Jupyter shows as a table: one row per span, children
indented under their parents, with duration, status and the GenAI attributes that matter (model,
tokens, attempt, error type). The list itself is the plain list of dicts the tracer returned."""

from __future__ import annotations

import html
from typing import Any, Dict, List

__all__ = ["RecentSpans"]

_SHOWN = (
    ("gen_ai.request.model", "model"),
    ("gen_ai.usage.input_tokens", "in"),
    ("gen_ai.usage.output_tokens", "out"),
    ("ferrule.attempt", "attempt"),
    ("error.type", "error"),
)


def _depths(spans: List[Dict[str, Any]]) -> List[int]:
    by_id = {s["span_id"]: s for s in spans}
    out = []
    for s in spans:
        d, p, seen = 0, s.get("parent_span_id"), set()
        while p is not None and p in by_id and p not in seen and d < 16:
            seen.add(p)
            d += 1
            p = by_id[p].get("parent_span_id")
        out.append(d)
    return out


class RecentSpans(List[Dict[str, Any]]):
    """The spans in the read-back ring, oldest first (a ``list`` of dicts)."""

    def _repr_html_(self, limit: int = 200) -> str:
        shown = sorted(self[-limit:], key=lambda s: (s["trace_id"], s["start_ns"]))
        head = "".join(
            f"<th>{h}</th>" for h in ("span", "role", "trace", "ms", "status", *(label for _, label in _SHOWN))
        )
        rows = []
        for s, depth in zip(shown, _depths(shown)):
            a = s.get("attributes", {})
            ms = (s["end_ns"] - s["start_ns"]) / 1e6
            colour = "#cf222e" if s["status"] == "error" else "inherit"
            cells = [
                f'<td style="text-align:left;padding-left:{0.3 + 1.2 * depth:.1f}em">{html.escape(s["name"])}</td>',
                f"<td>{html.escape(str(a.get('ferrule.span.role', '')))}</td>",
                f"<td><code>{html.escape(s['trace_id'][:8])}</code></td>",
                f'<td style="text-align:right">{ms:.2f}</td>',
                f'<td style="color:{colour}">{html.escape(s["status"])}</td>',
            ]
            cells += [f"<td>{html.escape(str(a.get(k, '')))}</td>" for k, _ in _SHOWN]
            rows.append("<tr>" + "".join(cells) + "</tr>")
        more = f"<p>{len(self) - limit} older spans not shown</p>" if len(self) > limit else ""
        return (
            f'<div class="ferrule-spans"><b>Recent spans</b> ({len(self)})'
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}</div>"
        )
