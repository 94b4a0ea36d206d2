"""Alerting: ``ferrule.on_alert(callback)`` for the one-line case, ``ferrule.AlertRouter(routes=[...])``
for full control (routes by severity and labels to callbacks, webhooks, the log and Alertmanager;
grouping, repeat, inhibition, silences, escalation, ack/resolve, a cap per sink with a digest).
Every timing rule lives in the core; the background runtime ticks routers on the system clock, a
test ticks one built on a ``ManualClock`` with ``router.tick()``."""

from __future__ import annotations

import json
import os
import threading
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, TypedDict, Union

from ._ferrule import AlertRouterCore, ManualClock
from .watch.summary import table

__all__ = [
    "AlertRouter",
    "AlertSubscription",
    "Alertmanager",
    "JsonWebhook",
    "Notification",
    "PagerDuty",
    "Route",
    "Slack",
    "Webhook",
    "on_alert",
]

Notification = Dict[str, Any]
"""A dict with ``name``, ``severity``, ``labels``, ``status`` (``firing``/``resolved``), ``summary``,
``starts_at`` (Unix seconds; clock seconds on a manual clock), ``count``, plus ``kind`` (``group``,
``repeat``, ``escalation``, ``digest``), ``sink``, ``route``, ``group_key`` and ``alerts``."""

AlertCallback = Callable[[Notification], Any]


def _check_url(cls: str, url: Any) -> None:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        from .errors import ConfigError

        raise ConfigError(f"{cls}: url={url!r} is out of range; allowed: an http:// or https:// URL")


class _HttpReceiver:
    """What every HTTP receiver shares: the URL, extra headers, and certificate files for
    ``https://`` (``ca_file`` instead of the system roots; ``client_cert_file`` +
    ``client_key_file`` for mutual TLS)."""

    __slots__ = ("url", "name", "headers", "ca_file", "client_cert_file", "client_key_file")
    kind = ""

    def __init__(
        self,
        url: str,
        name: Optional[str],
        headers: Optional[Mapping[str, str]],
        ca_file: Optional[Union[str, "os.PathLike[str]"]],
        client_cert_file: Optional[Union[str, "os.PathLike[str]"]],
        client_key_file: Optional[Union[str, "os.PathLike[str]"]],
    ) -> None:
        _check_url(type(self).__name__, url)
        self.url = url
        self.name = name or url
        self.headers = dict(headers or {})
        self.ca_file = None if ca_file is None else os.fspath(ca_file)
        self.client_cert_file = None if client_cert_file is None else os.fspath(client_cert_file)
        self.client_key_file = None if client_key_file is None else os.fspath(client_key_file)

    def _spec(self) -> Dict[str, Any]:
        d: Dict[str, Any] = {"url": self.url}
        for k in ("ca_file", "client_cert_file", "client_key_file"):
            v = getattr(self, k)
            if v is not None:
                d[k] = v
        if self.headers:
            d["headers"] = self.headers
        return d

    def _target(self) -> str:
        return json.dumps(self._spec())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


class Webhook(_HttpReceiver):
    """A sink that POSTs each notification as JSON to ``url`` (``http://`` or ``https://``),
    retried with backoff on errors, 5xx and 429, from a bounded queue on a background thread."""

    __slots__ = ()
    kind = "webhook"

    def __init__(
        self,
        url: str,
        *,
        name: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        ca_file: Optional[Union[str, "os.PathLike[str]"]] = None,
        client_cert_file: Optional[Union[str, "os.PathLike[str]"]] = None,
        client_key_file: Optional[Union[str, "os.PathLike[str]"]] = None,
    ) -> None:
        super().__init__(url, name, headers, ca_file, client_cert_file, client_key_file)


class Alertmanager(_HttpReceiver):
    """A sink that posts to a Prometheus Alertmanager at ``url`` (``http://host:9093``), on
    ``/api/v2/alerts``; resolutions carry ``endsAt``."""

    __slots__ = ()
    kind = "alertmanager"

    def __init__(
        self,
        url: str,
        *,
        name: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        ca_file: Optional[Union[str, "os.PathLike[str]"]] = None,
        client_cert_file: Optional[Union[str, "os.PathLike[str]"]] = None,
        client_key_file: Optional[Union[str, "os.PathLike[str]"]] = None,
    ) -> None:
        url = url.rstrip("/") if isinstance(url, str) else url
        super().__init__(url, name, headers, ca_file, client_cert_file, client_key_file)
        self.name = name or f"alertmanager:{self.url}"


class Slack(_HttpReceiver):
    """A Slack incoming webhook (``https://hooks.slack.com/services/...``): each notification is a
    message with the ``text`` fallback Slack requires and header/section/context blocks."""

    __slots__ = ()
    kind = "slack"

    def __init__(
        self,
        url: str,
        *,
        name: Optional[str] = None,
        ca_file: Optional[Union[str, "os.PathLike[str]"]] = None,
    ) -> None:
        super().__init__(url, name or "slack", None, ca_file, None, None)


class PagerDuty(_HttpReceiver):
    """PagerDuty Events API v2: each alert is a ``trigger`` event (``dedup_key``
    ``ferrule-<fingerprint>``) and its resolution a ``resolve`` event with the same key, which
    closes the incident. ``routing_key`` is the integration key; ``source`` defaults to
    ``service.name@host``."""

    __slots__ = ("routing_key", "source")
    kind = "pagerduty"

    def __init__(
        self,
        routing_key: str,
        *,
        url: str = "https://events.pagerduty.com/v2/enqueue",
        source: Optional[str] = None,
        name: Optional[str] = None,
        ca_file: Optional[Union[str, "os.PathLike[str]"]] = None,
    ) -> None:
        if not isinstance(routing_key, str) or not routing_key.strip():
            from .errors import ConfigError

            raise ConfigError(
                f"PagerDuty: routing_key={routing_key!r} is out of range; allowed: the integration key of an Events API v2 integration"
            )
        super().__init__(url, name or "pagerduty", None, ca_file, None, None)
        self.routing_key = routing_key
        self.source = source

    def _spec(self) -> Dict[str, Any]:
        d = super()._spec()
        d["routing_key"] = self.routing_key
        if self.source is not None:
            d["source"] = self.source
        return d

    def __repr__(self) -> str:
        return f"PagerDuty(url={self.url!r})"


class JsonWebhook(_HttpReceiver):
    """A webhook whose body is ``template`` (a dict, or JSON text) with ``{{placeholders}}`` filled
    from the notification: a string that is exactly ``"{{count}}"`` keeps the value's type, a
    placeholder inside text is replaced by its text. Fields: ``name``, ``severity``, ``status``,
    ``summary``, ``count``, ``starts_at``, ``kind``, ``route``, ``group_key``, ``sink``,
    ``labels.<label>``, ``alerts``, ``alerts.0.summary``."""

    __slots__ = ("template",)
    kind = "json_webhook"

    def __init__(
        self,
        url: str,
        template: Union[Mapping[str, Any], str],
        *,
        name: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        ca_file: Optional[Union[str, "os.PathLike[str]"]] = None,
        client_cert_file: Optional[Union[str, "os.PathLike[str]"]] = None,
        client_key_file: Optional[Union[str, "os.PathLike[str]"]] = None,
    ) -> None:
        super().__init__(url, name, headers, ca_file, client_cert_file, client_key_file)
        self.template = template if isinstance(template, str) else json.dumps(template)

    def _spec(self) -> Dict[str, Any]:
        d = super()._spec()
        d["template"] = self.template
        return d


Sink = Union[AlertCallback, Webhook, Alertmanager, Slack, PagerDuty, JsonWebhook, str]


class Route(TypedDict, total=False):
    """One route. ``sinks``: callables, ``Webhook``, ``Alertmanager`` or ``"log"`` (absent: every
    sink); ``severity``: the lowest severity that matches; ``match``: labels that must be equal;
    ``group_by`` (default ``["alertname"]``); timing overrides; ``escalate``: ``[(after_seconds,
    sink or [sinks]), ...]`` for alerts nobody acknowledged; ``continue``: keep matching."""

    name: str
    sinks: Sequence[Sink]
    severity: str
    match: Mapping[str, str]
    group_by: Sequence[str]
    group_wait_seconds: float
    group_interval_seconds: float
    repeat_interval_seconds: float
    escalate: Sequence[Tuple[float, Union[Sink, Sequence[Sink]]]]
    # "continue" is a keyword; pass it through the dict literal {"continue": True}.


_ROUTE_KEYS = {
    "name",
    "sinks",
    "severity",
    "match",
    "group_by",
    "group_wait_seconds",
    "group_interval_seconds",
    "repeat_interval_seconds",
    "escalate",
    "continue",
}


class _Sinks:
    """Gives each distinct sink object one name and one (name, kind, target) entry."""

    def __init__(self) -> None:
        self.entries: List[Tuple[str, str, Any]] = []
        self._by_id: Dict[int, str] = {}
        self._names: set[str] = set()

    def _unique(self, base: str) -> str:
        name, i = base, 2
        while name in self._names:
            name, i = f"{base}#{i}", i + 1
        self._names.add(name)
        return name

    def add(self, s: Any) -> str:
        if isinstance(s, str):
            if s != "log":
                from .errors import ConfigError

                raise ConfigError(f"AlertRouter: sink={s!r} is out of range; allowed: a callable, \"log\", Webhook, Alertmanager, Slack, PagerDuty, JsonWebhook")
            key = -1
        else:
            key = id(s)
        if key in self._by_id:
            return self._by_id[key]
        if isinstance(s, str):
            name, kind, target = self._unique("log"), "log", None
        elif isinstance(s, _HttpReceiver):
            name, kind, target = self._unique(s.name), s.kind, s._target()
        elif callable(s):
            name, kind, target = self._unique(getattr(s, "__qualname__", None) or "callback"), "callback", s
        else:
            from .errors import ConfigError

            raise ConfigError(f"AlertRouter: sink={s!r} is out of range; allowed: a callable, \"log\", Webhook, Alertmanager, Slack, PagerDuty, JsonWebhook")
        self._by_id[key] = name
        self.entries.append((name, kind, target))
        return name


def _seq(x: Any) -> List[Any]:
    return list(x) if isinstance(x, (list, tuple)) else [x]


class AlertRouter:
    """Routes alerts to sinks with Alertmanager's semantics, in-process.

    Defaults against alert fatigue: ``group_wait_seconds=30``, ``group_interval_seconds=300``,
    ``repeat_interval_seconds=14400`` (Alertmanager's), at most ``cap=5`` notifications per sink per
    ``cap_window_seconds=900`` (then one digest saying how many were held back), and a firing
    ``critical`` (or ``page``) alert inhibits ``warning``/``info`` alerts with the same group labels
    (``inhibit=[(source_min, target_max, equal_labels or None)]`` replaces that rule).

    ``install=True`` makes this the router that watchers (SLO, anomaly, drift, predictor), dead
    man's switches and synthetic probes publish to."""

    __slots__ = ("_core", "_routes", "__weakref__")

    def __init__(
        self,
        routes: Optional[Sequence[Mapping[str, Any]]] = None,
        *,
        sinks: Optional[Sequence[Sink]] = None,
        group_wait_seconds: float = 30.0,
        group_interval_seconds: float = 300.0,
        repeat_interval_seconds: float = 4 * 3600.0,
        cap: int = 5,
        cap_window_seconds: float = 900.0,
        inhibit: Optional[Sequence[Tuple[str, str, Optional[Sequence[str]]]]] = None,
        max_alerts: int = 10_000,
        webhook_retries: int = 4,
        webhook_backoff_seconds: float = 0.5,
        webhook_timeout_seconds: float = 5.0,
        install: bool = True,
        clock: Optional[ManualClock] = None,
    ) -> None:
        reg = _Sinks()
        for s in sinks or ():
            reg.add(s)
        specs = []
        for i, r in enumerate(routes or ()):
            if not isinstance(r, Mapping):
                raise TypeError(f"AlertRouter: routes[{i}]={r!r} is not allowed; allowed: a dict (ferrule.Route)")
            unknown = set(r) - _ROUTE_KEYS
            if unknown:
                from .errors import ConfigError

                raise ConfigError(
                    f"AlertRouter: routes[{i}] key {sorted(unknown)[0]!r} is out of range; allowed: {sorted(_ROUTE_KEYS)}"
                )
            names = [reg.add(s) for s in r.get("sinks", ())]
            escalate = [(float(after), [reg.add(s) for s in _seq(to)]) for after, to in r.get("escalate", ())]
            specs.append(
                (
                    str(r.get("name", f"route{i}")),
                    names,
                    str(r.get("severity", "info")),
                    {str(k): str(v) for k, v in dict(r.get("match", {})).items()},
                    [str(x) for x in r.get("group_by", ())],
                    (r.get("group_wait_seconds"), r.get("group_interval_seconds"), r.get("repeat_interval_seconds")),
                    escalate,
                    bool(r.get("continue", False)),
                )
            )
        self._routes = [dict(r) for r in routes or ()]
        self._core = AlertRouterCore(
            reg.entries,
            specs,
            group_wait_seconds=group_wait_seconds,
            group_interval_seconds=group_interval_seconds,
            repeat_interval_seconds=repeat_interval_seconds,
            cap=cap,
            cap_window_seconds=cap_window_seconds,
            inhibit=None if inhibit is None else [(a, b, None if c is None else list(c)) for a, b, c in inhibit],
            max_alerts=max_alerts,
            webhook_retries=webhook_retries,
            webhook_backoff_seconds=webhook_backoff_seconds,
            webhook_timeout_seconds=webhook_timeout_seconds,
            clock=clock,
        )
        if install:
            self.install()

    def install(self) -> "AlertRouter":
        """Makes this the router that watchers, switches and probes publish to."""
        global _installed
        self._core.install()
        _installed = self
        return self

    def uninstall(self) -> None:
        global _installed
        if self._core.installed():
            AlertRouterCore.uninstall()
            _installed = None

    def add_callback(self, callback: AlertCallback) -> AlertCallback:
        """Sends every notification of routes without explicit sinks to ``callback``."""
        self._add_callback(callback)
        return callback

    def _add_callback(self, callback: AlertCallback) -> str:
        if not callable(callback):
            raise TypeError(f"AlertRouter.add_callback: {callback!r} is not callable")
        base = str(getattr(callback, "__qualname__", None) or "callback")
        taken = set(self._core.sink_names())
        name, i = base, 2
        while name in taken:
            name, i = f"{base}#{i}", i + 1
        self._core.add_callback(name, callback)
        return name

    def remove_sink(self, name: str) -> bool:
        """Stops delivering to the sink called ``name`` (see a notification's ``sink``); False if
        there is none. ``AlertSubscription.unsubscribe()`` calls this."""
        return bool(self._core.remove_sink(name))

    def fire(
        self,
        name: str,
        severity: str = "warning",
        labels: Optional[Mapping[str, str]] = None,
        summary: str = "",
        *,
        fingerprint: str = "",
        at: Optional[float] = None,
    ) -> str:
        """Raises an alert (a repeat of a firing one adds to its count); returns its fingerprint."""
        return self._core.push(name, severity, dict(labels or {}), summary, fingerprint, False, at)

    def resolve(self, fingerprint: str, *, at: Optional[float] = None) -> bool:
        return self._core.resolve(fingerprint, at)

    def ack(self, fingerprint: str) -> bool:
        """Stops the alert's escalation and repeats; its resolution is still notified."""
        return self._core.ack(fingerprint)

    def silence(self, matchers: Mapping[str, str], duration_seconds: float, comment: str = "", *, at: Optional[float] = None) -> int:
        """Mutes alerts whose labels (``alertname`` and ``severity`` included) match; returns an id."""
        return self._core.silence(dict(matchers), duration_seconds, comment, at)

    def expire_silence(self, silence_id: int) -> bool:
        return self._core.expire_silence(silence_id)

    def silences(self) -> List[Dict[str, Any]]:
        return self._core.silences()

    def alerts(self) -> List[Dict[str, Any]]:
        return self._core.alerts()

    def tick(self, *, at: Optional[float] = None) -> List[Notification]:
        """Runs the timing rules now (the runtime does this every 100 ms on the system clock)."""
        return self._core.tick(at)

    def flush(self, timeout_seconds: float = 5.0) -> bool:
        """Waits until webhook and Alertmanager deliveries are done (before exit, in tests)."""
        return self._core.flush(timeout_seconds)

    def gauges(self) -> List[Tuple[str, Dict[str, str], float]]:
        """``(name, labels, value)`` rows: exactly what a metrics scrape shows for this one."""
        return self._core.gauges()

    def stats(self) -> Dict[str, Any]:
        return self._core.stats()

    def __repr__(self) -> str:
        s = self._core.stats()
        return f"<AlertRouter sinks={self._core.sink_names()} active={s['active']} notifications={s['notifications']}>"

    def _repr_html_(self) -> str:
        s = self._core.stats()
        rows: List[Sequence[Any]] = [(k, v) for k, v in s.items() if k != "webhooks"]
        rows += [(f"webhook {n}", f"{w['delivered']} delivered, {w['retries']} retries, {w['failed']} failed, {w['dropped']} dropped") for n, w in s["webhooks"].items()]
        rows += [(f"alert {a['name']}", f"{a['severity']} {a['status']} x{a['count']}") for a in self._core.alerts()[:20]]
        return table("AlertRouter", ("", "value"), rows)


_installed: Optional[AlertRouter] = None
_lock = threading.Lock()


class AlertSubscription:
    """What ``on_alert`` returns: calling it calls the callback (so ``@ferrule.on_alert`` leaves a
    callable behind); ``unsubscribe()`` stops the notifications (True the first time)."""

    __slots__ = ("callback", "router", "sink", "__weakref__")

    def __init__(self, callback: AlertCallback, router: AlertRouter, sink: str) -> None:
        self.callback = callback
        self.router = router
        self.sink = sink

    def __call__(self, notification: Notification) -> Any:
        return self.callback(notification)

    def unsubscribe(self) -> bool:
        return self.router.remove_sink(self.sink)

    def __repr__(self) -> str:
        return f"<AlertSubscription {self.sink!r}>"


def on_alert(callback: AlertCallback) -> AlertSubscription:
    """Sends every alert notification to ``callback(dict)``; usable as a decorator. Adds to what is
    subscribed already; ``.unsubscribe()`` on the returned handle stops it.

    The dict has ``name``, ``severity``, ``labels``, ``status`` (``firing``/``resolved``),
    ``summary``, ``starts_at`` and ``count``. Watchers, dead man's switches and probes feed it. With
    no router installed, one is made with the defaults (30 s / 5 min / 4 h, cap 5 per 15 min)."""
    if not callable(callback):
        raise TypeError(f"on_alert: {callback!r} is not callable")
    with _lock:
        router = _installed
        if router is None or not router._core.installed():
            router = AlertRouter()
        sink = router._add_callback(callback)
    return AlertSubscription(callback, router, sink)


def installed_router() -> Optional[AlertRouter]:
    """The router watchers publish to, if one was installed from Python."""
    return _installed
