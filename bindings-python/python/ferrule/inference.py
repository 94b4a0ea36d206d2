"""``ferrule.inference_log``: the schema'd record of every LLM call, in an embedded SQLite file.
Open it with ``ferrule.configure(inference_log_path=...)`` or ``ferrule.inference_log.open(...)``;
``record(...)`` never blocks (a background thread writes); ``query(sql, params)`` and
``records(model=, since=, outcome=)`` read it back, as a pandas DataFrame when pandas is installed."""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from . import _ferrule
from .errors import StorageError

__all__ = ["InferenceLog", "inference_log"]

_log = logging.getLogger("ferrule")

Since = Union[float, int, _dt.datetime, _dt.timedelta, None]


def _frame(cols: List[str], rows: List[Tuple[Any, ...]], as_frame: Optional[bool]) -> Any:
    if as_frame is not False:
        try:
            import pandas  # type: ignore[import-not-found,import-untyped,unused-ignore]
        except ImportError:
            if as_frame:
                raise
        else:
            return pandas.DataFrame.from_records(rows, columns=cols)
    return [dict(zip(cols, r)) for r in rows]


def _since(since: Since) -> Optional[float]:
    if since is None:
        return None
    if isinstance(since, _dt.timedelta):
        return time.time() - since.total_seconds()
    if isinstance(since, _dt.datetime):
        return since.timestamp()
    return float(since)


class InferenceLog:
    """The process's inference log (one per process; ``ferrule.inference_log``)."""

    __slots__ = ("_core",)

    def __init__(self) -> None:
        self._core: Optional[_ferrule.InferenceLogCore] = None

    def _install(self, core: _ferrule.InferenceLogCore) -> None:
        old, self._core = self._core, core
        _ferrule.use_inference_log(core)  # every call record writes its row here
        if old is not None:
            old.close()

    def open(
        self,
        path: Union[str, "os.PathLike[str]"],
        *,
        max_age_seconds: Optional[float] = None,
        max_rows: Optional[int] = None,
    ) -> "InferenceLog":
        """Opens (creating if needed) the SQLite file at ``path``; records survive restarts."""
        self._install(_ferrule.InferenceLogCore(os.fspath(path), max_age_seconds=max_age_seconds, max_rows=max_rows))
        return self

    @property
    def is_open(self) -> bool:
        return self._core is not None

    def _require(self) -> _ferrule.InferenceLogCore:
        core = self._core
        if core is None:
            raise StorageError(
                "inference_log: not open; call ferrule.configure(inference_log_path=...) or ferrule.inference_log.open(path)"
            )
        return core

    def record(
        self,
        *,
        model: Optional[str],
        outcome: str,
        request_id: Optional[str] = None,
        provider: Optional[str] = None,
        template: Optional[str] = None,
        parameters: Optional[Dict[str, Any]] = None,
        input: Optional[str] = None,
        output: Optional[str] = None,
        input_tokens: Optional[int] = None,
        output_tokens: Optional[int] = None,
        cost_usd: Optional[float] = None,
        latency_seconds: Optional[float] = None,
        error_type: Optional[str] = None,
        attempts: Optional[int] = None,
    ) -> bool:
        """Queues one call's record. Ids (request, trace, span, session, user) come from the current
        span and ``ferrule.context``. ``input``/``output`` are kept only with
        ``configure(capture_content=True)``, masked. Returns False if the record was dropped
        (queue full; counted and logged)."""
        from .tracing import current_context, current_span

        core = self._require()
        s = current_span()
        c = current_context()
        ok = core.record(
            request_id=request_id or (s.request_id if s is not None else _ferrule.new_request_id()),
            outcome=outcome,
            model=model,
            provider=provider,
            template=template,
            parameters=None if parameters is None else json.dumps(parameters, default=str, sort_keys=True),
            input=input,
            output=output,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=cost_usd,
            latency_seconds=latency_seconds,
            error_type=error_type,
            attempts=attempts,
            trace_id=s.trace_id if s is not None else None,
            span_id=s.span_id if s is not None else None,
            session_id=c.session_id if c is not None else None,
            user_id=c.user_id if c is not None else None,
        )
        if not ok:
            _ferrule.emit("inference_log.drop", level="warning", message="inference log queue full; record dropped")
        return ok

    def query(self, sql: str, params: Sequence[Any] = (), *, as_frame: Optional[bool] = None,
              timeout_seconds: float = 10.0) -> Any:
        """Runs one read-only ``SELECT`` (table ``inference_log``) with ``?`` parameters, after
        writing what is queued. A DataFrame when pandas is installed (``as_frame=False``: a list of
        dicts). Writes, ``VACUUM``, ``ATTACH``, ``PRAGMA`` and transaction control are refused and a
        query still running after ``timeout_seconds`` is stopped, both with ``StorageError``."""
        cols, rows = self._require().query(sql, list(params), timeout_seconds=timeout_seconds)
        self._report()
        return _frame(cols, rows, as_frame)

    def records(
        self,
        *,
        model: Optional[str] = None,
        since: Since = None,
        outcome: Optional[str] = None,
        limit: int = 1000,
        as_frame: Optional[bool] = None,
    ) -> Any:
        """Records newest first, filtered by model, start time (Unix seconds, a datetime, or a
        timedelta back from now) and outcome."""
        cols, rows = self._require().records(model=model, since=_since(since), outcome=outcome, limit=limit)
        self._report()
        return _frame(cols, rows, as_frame)

    def flush(self, timeout_seconds: float = 5.0) -> bool:
        return self._core.flush(timeout_seconds) if self._core is not None else True

    def close(self) -> None:
        core, self._core = self._core, None
        _ferrule.use_inference_log(None)
        if core is not None:
            core.close()
            self._report(core)

    def stats(self) -> Dict[str, int]:
        return self._require().stats()

    def _report(self, core: Optional[_ferrule.InferenceLogCore] = None) -> None:
        core = core or self._core
        err = core.take_error() if core is not None else None
        if err is not None:
            _ferrule.emit("inference_log.write_failed", level="warning", message=err)


inference_log = InferenceLog()
