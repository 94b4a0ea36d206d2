"""What is worth retrying, and how long the server asked to wait. ``transient(exc)`` is the default
``retry_on``: connection errors, timeouts, HTTP 408/409/429/5xx (the status rule is the core's) and the
OpenAI SDK's connection, timeout, rate-limit and server errors; never 400/401/403/404/422."""

from __future__ import annotations

import asyncio
from typing import Any, Optional

from ._ferrule import hint_header_names, retry_hint, transient_statuses

__all__ = ["transient", "status_of", "retry_after_of"]

_STATUSES = frozenset(transient_statuses())
_HEADER_NAMES = tuple(hint_header_names())
# Transport-level failures of the HTTP stacks LLM SDKs use, matched by class name within these
# packages so that none of them has to be imported.
_NETWORK_PACKAGES = frozenset({"openai", "anthropic", "httpx", "httpcore", "requests", "urllib3", "aiohttp"})
_NETWORK_CLASSES = frozenset(
    {
        "APIConnectionError",  # openai, anthropic (APITimeoutError derives from it)
        "APITimeoutError",
        "TransportError",  # httpx: ConnectError, ReadTimeout, RemoteProtocolError, ...
        "TimeoutException",
        "NetworkError",
        "RemoteProtocolError",
        "ConnectionError",  # requests
        "Timeout",
        "ProtocolError",  # urllib3
        "ClientConnectionError",  # aiohttp
        "ServerTimeoutError",
    }
)


def status_of(exc: BaseException) -> Optional[int]:
    """The HTTP status an exception carries (``status_code`` or ``status``, on it or its
    ``response``), or ``None``."""
    for holder in (exc, getattr(exc, "response", None)):
        if holder is None:
            continue
        for attr in ("status_code", "status"):
            v = getattr(holder, attr, None)
            if isinstance(v, int) and not isinstance(v, bool):
                return v
    return None


def transient(exc: BaseException) -> bool:
    """True for failures that may well succeed if tried again."""
    if isinstance(exc, (ConnectionError, TimeoutError, asyncio.TimeoutError)):
        return True
    status = status_of(exc)
    if status is not None:
        return status in _STATUSES
    for cls in type(exc).__mro__:
        if cls.__name__ in _NETWORK_CLASSES and cls.__module__.partition(".")[0] in _NETWORK_PACKAGES:
            return True
    return False


def _headers_of(exc: BaseException) -> Any:
    h = getattr(exc, "headers", None)
    if h is None:
        h = getattr(getattr(exc, "response", None), "headers", None)
    return h


def retry_after_of(exc: BaseException) -> Optional[float]:
    """Seconds the server asked to wait (``retry-after-ms``, ``Retry-After`` as seconds or an HTTP
    date, or on a 429 the spent limit's ``x-ratelimit-reset-*``), read from the exception's response
    headers; ``None`` when it did not say."""
    headers = _headers_of(exc)
    if headers is None:
        return None
    pairs = []
    if isinstance(headers, dict):  # a plain dict may use any case
        for k, v in headers.items():
            if isinstance(k, str) and k.lower() in _HEADER_NAMES and v is not None:
                pairs.append((k, str(v)))
    else:  # httpx.Headers, requests' CaseInsensitiveDict, aiohttp's CIMultiDict
        get = getattr(headers, "get", None)
        if get is None:
            return None
        for name in _HEADER_NAMES:
            v = get(name)
            if v is not None:
                pairs.append((name, str(v)))
    if not pairs:
        return None
    return retry_hint(pairs, status_of(exc))
