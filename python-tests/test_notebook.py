"""The example notebook, run end to end through a real Jupyter kernel (nbclient + ipykernel): sync
ferrule calls inside the kernel's running event loop, top-level await, and the HTML tables."""

from __future__ import annotations

import pathlib

import nbformat
from nbclient import NotebookClient

NOTEBOOK = pathlib.Path(__file__).resolve().parent.parent / "examples" / "notebook.ipynb"


def test_the_example_notebook_runs_end_to_end() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # "python3" is the kernel spec ipykernel installs in this venv: the kernel imports the ferrule under test.
    client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("<b>CircuitBreaker</b>" in h and "notebook-llm" in h for h in html)
    assert any("<b>Policy</b>" in h and "notebook" in h for h in html)
    assert any("RateLimiter" in h and "notebook-rpm" in h for h in html)
    assert any("ferrule-profile" in h and "summarise-ticket" in h for h in html)
    # The sync call above: one GenAI call span and its three attempt children (503, 429, ok).
    assert any("<b>Recent spans</b>" in h and "chat mock-gpt-4o-mini" in h and ">attempt<" in h for h in html)
    streams = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "Mock answer to: hello | requests: 3" in streams


def test_html_tables_show_state_and_escape_names() -> None:
    import ferrule
    from ferrule.testing import ManualClock

    clock = ManualClock()
    b = ferrule.CircuitBreaker("<llm>", consecutive_failures=1, failure_rate=None, min_calls=1, clock=clock)
    with __import__("pytest").raises(ZeroDivisionError):
        b(lambda: 1 / 0)()
    h = b._repr_html_()
    assert "&lt;llm&gt;" in h and "<llm>" not in h
    assert ">open</span>" in h and "<td style=\"text-align:left\">failures</td><td style=\"text-align:right\">1</td>" in h
    p = ferrule.Policy(retry=ferrule.Retry(2), name="p&q")
    assert "p&amp;q" in p._repr_html_() and "</span>" not in p._repr_html_()  # no breaker, no state badge
