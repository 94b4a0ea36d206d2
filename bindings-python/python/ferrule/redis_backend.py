"""``RedisBackend``: where limiters, breakers and the dead-letter queue keep state shared by every
process and host. Pass it as ``backend=``. The core holds the connection pool, the Lua scripts and the
``on_backend_error`` policy; this module only names the options and logs outages."""

from __future__ import annotations

from typing import Any, Callable, Optional

from ._ferrule import RedisBackendCore
from ._log import warn

__all__ = ["RedisBackend"]



class RedisBackend:
    """A Redis server shared by ferrule objects in many processes.

    Keys are ``{prefix}:{kind}:{object name}[:{key}]``: objects of the same name share state, objects
    of different names never do. Each operation takes at most ``timeout_seconds`` (less when the
    caller's deadline is nearer). When Redis cannot answer, ``on_backend_error`` decides:
    ``"fail_open"`` admits, ``"fail_closed"`` refuses, ``"local"`` (default) decides with this
    process's own state. Outages are counted (``stats()``), logged at warning, passed to
    ``on_event(state, message)`` (``"firing"`` / ``"resolved"``), and probed every ``retry_seconds``;
    the first answer ends them. Breakers always fall back to their local state.
    """

    __slots__ = ("_core", "_on_event", "__weakref__")

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", *, prefix: str = "ferrule",
                 timeout_seconds: float = 0.05, on_backend_error: str = "local",
                 retry_seconds: float = 1.0, max_idle: int = 16,
                 on_event: Optional[Callable[[str, str], Any]] = None,
                 ca_file: Optional[str] = None, client_cert_file: Optional[str] = None,
                 client_key_file: Optional[str] = None) -> None:
        if on_event is not None and not callable(on_event):
            raise TypeError(f"RedisBackend: on_event={on_event!r} is not callable")
        self._on_event = on_event
        # rediss:// (TLS): ca_file instead of the system roots; client_cert_file + client_key_file
        # for a server that requires mutual TLS.
        self._core = RedisBackendCore(url, prefix=prefix, timeout_seconds=timeout_seconds,
                                      on_backend_error=on_backend_error, retry_seconds=retry_seconds,
                                      max_idle=max_idle, on_event=self._event, ca_file=ca_file,
                                      client_cert_file=client_cert_file, client_key_file=client_key_file)

    def _event(self, state: str, message: str) -> None:
        # The core logged the outage already (warning); this hands it to the user's alerting.
        if self._on_event is not None:
            try:
                self._on_event(state, message)
            except Exception as e:
                warn("redis_backend.listener_error", "RedisBackend on_event listener failed", error=e)

    @property
    def url(self) -> str:
        return self._core.url

    @property
    def prefix(self) -> str:
        return self._core.prefix

    @property
    def on_backend_error(self) -> str:
        return self._core.on_backend_error

    @property
    def is_up(self) -> bool:
        """False from a failed operation until the next one that succeeds."""
        return self._core.is_up

    def stats(self) -> dict[str, Any]:
        """operations, errors, fallbacks (decisions taken by ``on_backend_error``), outages,
        recoveries, up, idle_connections."""
        return self._core.stats()

    def __repr__(self) -> str:
        return (f"<RedisBackend {self.url!r} prefix={self.prefix!r} "
                f"on_backend_error={self.on_backend_error} up={self.is_up}>")
