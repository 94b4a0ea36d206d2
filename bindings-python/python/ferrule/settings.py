"""``ferrule.configure(...)``: the one entry point for telemetry settings, defaulting from the
standard ``OTEL_*`` environment variables (read by the core at first use), plus the bridge that
sends ferrule's JSON log events to Python's ``logging`` (logger ``ferrule``), the default sink."""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from . import _ferrule
from .errors import ConfigError
from .inference import inference_log
from .policy_spans import set_trace_policies

__all__ = ["LogFile", "configure"]

_logger = logging.getLogger("ferrule")


def _to_logging(level: int, line: str) -> None:
    # The record's message is the JSON line; its ``event`` attribute names the event, so handlers
    # and filters can select on it (``record.event == "policy.fallback"``) without parsing.
    if not _logger.isEnabledFor(level):
        return
    try:
        event = json.loads(line).get("event")
    except ValueError:
        event = None
    _logger.log(level, line, extra={"event": event})


class LogFile:
    """A size-rotated JSON-lines log file: ``path`` → ``path.1`` → ... → ``path.{backups}``."""

    __slots__ = ("path", "max_bytes", "backups")

    def __init__(self, path: Union[str, "os.PathLike[str]"], *, max_bytes: int = 10_000_000, backups: int = 5) -> None:
        self.path = os.fspath(path)
        self.max_bytes = max_bytes
        self.backups = backups

    def __repr__(self) -> str:
        return f"LogFile({self.path!r}, max_bytes={self.max_bytes}, backups={self.backups})"


LogSinkSpec = Union[str, LogFile, Callable[[str], Any]]
_UNSET: Any = object()


def _patterns(p: Union[Dict[str, str], Iterable[str]]) -> List[Tuple[str, str]]:
    if isinstance(p, dict):
        return [(str(k), str(v)) for k, v in p.items()]
    if isinstance(p, str):
        raise ConfigError(f"configure: redact_patterns={p!r} must be a list of regexes or a dict name -> regex")
    return [("", str(v)) for v in p]


def configure(
    *,
    service_name: Optional[str] = None,
    sample_ratio: Optional[float] = None,
    capture_content: Optional[bool] = None,
    otlp_endpoint: Any = _UNSET,
    log_sink: Optional[LogSinkSpec] = None,
    log_level: Union[str, int, None] = None,
    redact_patterns: Union[Dict[str, str], Iterable[str], None] = None,
    redact_callback: Any = _UNSET,
    slow_span_seconds: Optional[float] = None,
    content_max_chars: Optional[int] = None,
    log_dedup_seconds: Optional[float] = None,
    inference_log_path: Any = _UNSET,
    inference_log_max_age_seconds: Optional[float] = None,
    inference_log_max_rows: Optional[int] = None,
    trace_policies: Optional[bool] = None,
    otlp_headers: Optional[Mapping[str, str]] = None,
    otlp_compression: Optional[str] = None,
    ca_file: Optional[Union[str, "os.PathLike[str]"]] = None,
    client_cert_file: Optional[Union[str, "os.PathLike[str]"]] = None,
    client_key_file: Optional[Union[str, "os.PathLike[str]"]] = None,
    otlp_logs: Optional[bool] = None,
) -> None:
    """Changes only what is passed; every value is checked before any is applied.

    - ``service_name`` (``OTEL_SERVICE_NAME``), ``sample_ratio`` in [0, 1] (``OTEL_TRACES_SAMPLER``
      / ``_ARG``): head sampling per trace; errors and spans slower than ``slow_span_seconds`` are
      kept anyway.
    - ``capture_content`` (``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``): keep prompt and
      response text on spans and in the inference log, masked and cut to ``content_max_chars``.
    - ``otlp_endpoint`` (``OTEL_EXPORTER_OTLP_ENDPOINT``): base URL of an OTLP/HTTP receiver,
      ``http://`` or ``https://``; ``False`` turns export off. ``otlp_headers`` (a dict, e.g. an API
      key; ``OTEL_EXPORTER_OTLP_HEADERS``), ``otlp_compression`` (``"gzip"``/``"none"``;
      ``OTEL_EXPORTER_OTLP_COMPRESSION``), ``ca_file`` (``OTEL_EXPORTER_OTLP_CERTIFICATE``; default the
      system roots or ``SSL_CERT_FILE``), ``client_cert_file`` / ``client_key_file`` for mutual TLS
      (``OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`` / ``_KEY``). The per-signal
      ``OTEL_EXPORTER_OTLP_TRACES_*`` / ``_LOGS_*`` variables are read too.
    - ``otlp_logs`` (``OTEL_LOGS_EXPORTER=otlp``): also export every structured event as an OTLP log
      record (trace and span ids, severity) to the same collector's ``/v1/logs``.
    - ``log_sink``: ``"logging"`` (default: logger ``ferrule``), ``"stderr"``, ``"stdout"``,
      ``"none"``, ``LogFile(path, max_bytes=, backups=)`` or a callable taking each JSON line.
      ``log_level`` (``OTEL_LOG_LEVEL``); identical events within ``log_dedup_seconds`` (1 s) are
      suppressed and counted.
    - ``redact_patterns``: extra regexes (a list → ``[REDACTED]``, a dict name → regex →
      ``[NAME]``); ``redact_callback(text) -> text`` runs after them (``False`` removes it).
    - ``inference_log_path``: a SQLite file for ``ferrule.inference_log`` (``False`` closes it), with
      retention by ``inference_log_max_age_seconds`` / ``inference_log_max_rows``.
    - ``trace_policies``: every call through a ``ferrule.Policy`` records a call span with attempt and
      fallback children (off by default, so an untraced policy never touches the tracer; the
      ``wrap_openai`` / ``wrapOpenAI`` GenAI spans are recorded either way).
    """
    if trace_policies is not None and not isinstance(trace_policies, bool):
        raise ConfigError.out_of_range("configure", "trace_policies", trace_policies, "True or False")
    kw: Dict[str, Any] = {
        "service_name": service_name,
        "sample_ratio": sample_ratio,
        "capture_content": capture_content,
        "slow_span_seconds": slow_span_seconds,
        "content_max_chars": content_max_chars,
        "log_dedup_seconds": log_dedup_seconds,
    }
    if otlp_endpoint is False:
        kw["disable_export"] = True
    elif otlp_endpoint is not _UNSET and otlp_endpoint is not None:
        if not isinstance(otlp_endpoint, str):
            raise ConfigError(f"configure: otlp_endpoint={otlp_endpoint!r} must be a URL string or False")
        kw["otlp_endpoint"] = otlp_endpoint
    if otlp_headers is not None:
        if not isinstance(otlp_headers, Mapping):
            raise ConfigError.out_of_range("configure", "otlp_headers", otlp_headers, "a dict name -> value")
        kw["otlp_headers"] = [(str(k), str(v)) for k, v in otlp_headers.items()]
    for name, path in (("ca_file", ca_file), ("client_cert_file", client_cert_file), ("client_key_file", client_key_file)):
        if path is not None:
            kw[name] = os.fspath(path)
    if otlp_compression is not None:
        kw["otlp_compression"] = otlp_compression
    if otlp_logs is not None:
        kw["otlp_logs"] = otlp_logs
    if log_sink is not None:
        if isinstance(log_sink, LogFile):
            kw.update(log_file=log_sink.path, log_max_bytes=log_sink.max_bytes, log_backups=log_sink.backups)
        elif isinstance(log_sink, str):
            if log_sink == "logging":
                kw["log_callback"] = _to_logging
            else:
                kw["log_sink"] = log_sink
        elif callable(log_sink):
            user = log_sink
            kw["log_callback"] = lambda _level, line: user(line)
        else:
            raise ConfigError(
                f"configure: log_sink={log_sink!r} is out of range; allowed: \"logging\", \"stderr\", "
                "\"stdout\", \"none\", a callable or ferrule.LogFile(...)"
            )
    if log_level is not None:
        kw["log_level"] = log_level
    if redact_patterns is not None:
        kw["redact_patterns"] = _patterns(redact_patterns)
    if redact_callback is False:
        kw["clear_redact_callback"] = True
    elif redact_callback is not _UNSET and redact_callback is not None:
        if not callable(redact_callback):
            raise ConfigError(f"configure: redact_callback={redact_callback!r} is not callable")
        kw["redact_callback"] = redact_callback
    new_log = None
    if inference_log_path is _UNSET or inference_log_path in (None, False):
        # Retention belongs to the log being opened: given alone it would be dropped without a word.
        for param, v in (("inference_log_max_rows", inference_log_max_rows),
                         ("inference_log_max_age_seconds", inference_log_max_age_seconds)):
            if v is not None:
                raise ConfigError(f"configure: {param}={v!r} needs inference_log_path (the log it bounds)",
                                  param, v, "a value together with inference_log_path", "conflict", "configure")
    if inference_log_path is not _UNSET and inference_log_path not in (None, False):
        new_log = _ferrule.InferenceLogCore(
            os.fspath(inference_log_path),
            max_age_seconds=inference_log_max_age_seconds,
            max_rows=inference_log_max_rows,
        )
    try:
        _ferrule.configure(**kw)
    except BaseException:
        if new_log is not None:
            new_log.close()
        raise
    if new_log is not None:
        inference_log._install(new_log)
    elif inference_log_path is False:
        inference_log.close()
    if trace_policies is not None:
        set_trace_policies(trace_policies)
    if capture_content is not None:
        from .integrations.llm_call import GLOBAL_CAPTURE

        GLOBAL_CAPTURE[0] = bool(capture_content)


# Ferrule's events go to the `ferrule` logger unless configured otherwise.
_ferrule.configure(log_callback=_to_logging)
