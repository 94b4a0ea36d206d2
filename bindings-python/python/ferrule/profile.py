"""Prompt performance profiling: per prompt template, calls, error rate, tokens, latency p50/p95/p99
and cost, as the core's profile reports them. ``ferrule.profile()`` returns a ``ProfileReport``: a
plain-text table when printed, an HTML table in Jupyter, ``.top(n, by=...)``, ``.to_dataframe()``."""

from __future__ import annotations

import html
from typing import Any, Iterator, Optional

from ._ferrule import profile_reset, profile_rows

__all__ = ["ProfileReport", "profile", "reset_profile"]

_COLUMNS = (
    ("template", "template"),
    ("calls", "calls"),
    ("error_rate", "err %"),
    ("input_tokens", "in tok"),
    ("output_tokens", "out tok"),
    ("p50_seconds", "p50 s"),
    ("p95_seconds", "p95 s"),
    ("p99_seconds", "p99 s"),
    ("cost_usd", "cost $"),
)


def _cell(key: str, v: Any) -> str:
    if key == "error_rate":
        return f"{100 * v:.1f}"
    if key.endswith("_seconds"):
        return f"{v:.3f}"
    if key == "cost_usd":
        return f"{v:.4f}"
    return str(v)


class ProfileReport:
    """A snapshot of the prompt profile, sorted by ``by`` (largest first)."""

    __slots__ = ("rows", "by")

    def __init__(self, rows: list[dict[str, Any]], by: str = "cost") -> None:
        self.rows = rows
        self.by = by

    def top(self, n: int = 10, by: str = "cost") -> "ProfileReport":
        """The ``n`` templates with the most ``by``: ``"cost"``, ``"latency"`` (p95), ``"tokens"``,
        ``"calls"`` or ``"errors"``. Reads the profile now."""
        return ProfileReport(profile_rows(by, n), by)

    def to_dataframe(self) -> Any:
        """The rows as a ``pandas.DataFrame`` (needs pandas)."""
        try:
            import pandas as pd  # type: ignore[import-untyped, import-not-found, unused-ignore]
        except ImportError as e:
            raise ImportError("ProfileReport.to_dataframe needs pandas: pip install pandas") from e
        return pd.DataFrame(self.rows, columns=[k for k in self.rows[0]] if self.rows else [k for k, _ in _COLUMNS])

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.rows[i]

    def __str__(self) -> str:
        if not self.rows:
            return "ferrule profile: no calls recorded (record them with ferrule.record_llm_call)"
        table = [[h for _, h in _COLUMNS]] + [[_cell(k, r[k]) for k, _ in _COLUMNS] for r in self.rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(_COLUMNS))]
        lines = []
        for j, row in enumerate(table):
            cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))]
            lines.append("  ".join(cells).rstrip())
            if j == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<ProfileReport {len(self.rows)} templates by {self.by}>\n{self}"

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for _, h in _COLUMNS)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_cell(k, r[k]))}</td>" for k, _ in _COLUMNS) + "</tr>"
            for r in self.rows
        )
        return f'<table class="ferrule-profile"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def profile(by: str = "cost", n: Optional[int] = None) -> ProfileReport:
    """The prompt profile now, sorted by ``by``; the first ``n`` templates if given."""
    return ProfileReport(profile_rows(by, n), by)


def reset_profile() -> None:
    """Forgets every template recorded so far."""
    profile_reset()
