"""How ferrule objects show themselves in Jupyter: ``_repr_html_`` renders a title, a state badge and
the object's ``stats()`` as one small escaped HTML table, read once from the core when displayed."""

from __future__ import annotations

import html
from typing import Any, Mapping, Optional

__all__ = ["stats_html"]

_STATE_COLOURS = {"closed": "#1a7f37", "half_open": "#9a6700", "open": "#cf222e"}


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, Mapping):
        return ", ".join(f"{html.escape(str(k))}={_cell(x)}" for k, x in v.items()) or "&ndash;"
    return html.escape(str(v))


def stats_html(kind: str, name: str, stats: Mapping[str, Any], state: Optional[str] = None) -> str:
    badge = ""
    if state is not None:
        colour = _STATE_COLOURS.get(state, "#57606a")
        badge = (
            f' <span style="background:{colour};color:#fff;border-radius:4px;padding:0 6px">'
            f"{html.escape(state)}</span>"
        )
    rows = "".join(
        f'<tr><td style="text-align:left">{html.escape(str(k))}</td><td style="text-align:right">{_cell(v)}</td></tr>'
        for k, v in stats.items()
        if k not in ("name", "state")
    )
    return (
        f'<div class="ferrule"><b>{html.escape(kind)}</b> <code>{html.escape(name)}</code>{badge}'
        f"<table>{rows}</table></div>"
    )
