"""Helpers for users' own tests: a manual clock ferrule primitives can run on, and a local
OpenAI-compatible server with deterministic fault injection."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ._ferrule import ManualClock, MockServerCore

__all__ = ["ManualClock", "MockLLMServer"]


class MockLLMServer:
    """An OpenAI-compatible server on a loopback port, in this process (Rust threads, not Python's).

    Endpoints: ``/v1/chat/completions`` (also ``stream=True``), ``/v1/embeddings``, ``/v1/models``,
    ``/v1/responses``. ``faults`` is a list of rules, each a dict with ``kind`` (``"rate_limit"`` or
    ``"429"``, ``"server_error"``/``"500"``, ``"unavailable"``/``"503"``, ``"slow"``, ``"hang"``,
    ``"reset"``, ``"malformed_json"``, ``"truncated_stream"``, and for streams ``"stall_stream"``,
    ``"malformed_chunk"``, ``"stream_without_done"``), ``rate`` (0..1), and optionally
    ``from``/``to`` (request index range), ``latency_seconds`` (slow; the silence of
    ``stall_stream``), ``after_chunks`` (how many events a stream fault lets through first) and
    ``retry_after_seconds`` (429 hints). A chat request whose last message is the assistant's
    partial answer gets the rest of that answer (how a broken stream is resumed). ``script`` fixes the faults of the first requests in order. A request header
    ``x-mock-fault: <kind>`` forces a fault; ``x-mock-content: <text>`` fixes the answer's content.
    Decisions are deterministic for a given ``seed``.

    Use as a context manager; ``.url`` is the ``base_url`` for the OpenAI SDK.
    """

    def __init__(
        self,
        faults: Optional[Sequence[Mapping[str, Any]]] = None,
        *,
        script: Optional[Sequence[str]] = None,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_seconds: float = 0.0,
        hang_seconds: float = 30.0,
        max_connections: int = 1024,
        allow_non_loopback: bool = False,
    ) -> None:
        for name, v in (("latency_seconds", latency_seconds), ("hang_seconds", hang_seconds)):
            if not (v >= 0 and v < 3600):
                raise ValueError(f"MockLLMServer: {name}={v!r} is out of range; allowed: [0, 3600)")
        plan = {"seed": seed, "script": list(script or []), "rules": [dict(r) for r in (faults or [])]}
        self._core = MockServerCore(
            json.dumps(plan),
            host=host,
            port=port,
            latency_ms=int(latency_seconds * 1000),
            hang_ms=int(hang_seconds * 1000),
            max_connections=max_connections,
            allow_non_loopback=allow_non_loopback,
        )

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/v1``"""
        return self._core.url

    @property
    def anthropic_url(self) -> str:
        """``http://127.0.0.1:PORT``: the ``base_url`` for the Anthropic SDK, which adds ``/v1/messages``
        itself. The server answers Anthropic's Messages API there, with the same fault plan."""
        url = self._core.url
        return url[: -len("/v1")] if url.endswith("/v1") else url

    @property
    def port(self) -> int:
        return self._core.port

    @property
    def requests(self) -> List[Dict[str, Any]]:
        """Every request received, oldest first: ``index``, ``method``, ``path``, ``headers`` (lower-case
        names), ``body`` (text), ``json`` (the parsed body or ``None``), ``fault``, ``at_unix_ms``."""
        out = self._core.requests()
        for r in out:
            try:
                r["json"] = json.loads(r["body"]) if r["body"] else None
            except ValueError:
                r["json"] = None
        return out

    def clear_requests(self) -> None:
        self._core.clear_requests()

    def stats(self) -> Dict[str, Any]:
        """``requests`` (total), ``by_fault`` counts, ``dropped_records``, ``rejected_connections``,
        ``open_connections`` (now) and, of those, ``idle_connections`` (waiting for a request: an
        HTTP client's keep-alive pool; the others have a request in progress)."""
        return self._core.stats()

    def stop(self) -> None:
        self._core.stop()

    def __enter__(self) -> "MockLLMServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<MockLLMServer {self.url} requests={self._core.stats()['requests']}>"
