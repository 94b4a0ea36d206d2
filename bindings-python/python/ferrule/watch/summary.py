"""Small HTML tables for the watchers' ``_repr_html_`` (Jupyter)."""

from __future__ import annotations

import html
from typing import Any, Iterable, Sequence


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if v is None:
        return "&ndash;"
    return html.escape(str(v))


def table(title: str, head: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<div><b>{html.escape(title)}</b><table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table></div>"
