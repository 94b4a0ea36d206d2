"""Type-checked by mypy --strict in `make test`: the public API as a user writes it."""

from __future__ import annotations

import ferrule

breaker = ferrule.CircuitBreaker("openai", failure_rate=0.5, window=20, min_calls=10, open_seconds=30.0,
                                 half_open_calls=2, ignore=(ValueError,))


@breaker
def call(prompt: str) -> str:
    return prompt


@breaker
async def acall(prompt: str) -> str:
    return prompt


def use() -> None:
    text: str = call("hi")
    state: str = breaker.state
    stats = breaker.stats()
    n: int = stats["calls"]
    breaker.on_state_change(lambda old, new: None)

    def on_move(old: str, new: str, info: ferrule.breaker.BreakerTransition) -> None:
        peer: bool = info.peer
        print(old, new, info.reason, info.open_seconds, peer)

    breaker.on_state_change(on_move)
    sync = breaker.sync_stats()
    if sync is not None:
        print(sync["held"])
    try:
        breaker.call(call, "x")
    except ferrule.CircuitOpenError as e:
        who: str = e.breaker
        wait = e.retry_after
        print(text, state, n, who, wait)


def use_metrics() -> None:
    calls = ferrule.Counter("typed_calls_total", "Calls.", ["model"])
    handle: ferrule.metrics.CounterChild = calls.labels(model="gpt-4o")
    handle.inc()
    handle.inc(2)
    latency = ferrule.metrics.histogram("typed_latency_seconds", "Latency.", buckets=[0.1, 1.0])
    latency.observe(0.2, exemplar={"trace_id": "abc"})
    depth = ferrule.Gauge("typed_depth", "Depth.")
    depth.set(3.0)
    text: str = ferrule.metrics_text(openmetrics=True)
    with ferrule.serve_metrics(port=0) as server:
        port: int = server.port
    cost: float = ferrule.record_llm_call(model="gpt-4o", duration_seconds=0.5, input_tokens=10, template="t")
    report = ferrule.profile()
    top: ferrule.ProfileReport = report.top(5, by="latency")
    rows: list[dict[str, object]] = [dict(r) for r in top]
    html: str = report._repr_html_()
    print(text, port, cost, rows, html, handle.value)
def use_telemetry() -> None:
    ferrule.configure(service_name="svc", sample_ratio=0.5, capture_content=False, log_sink="stderr")
    with ferrule.context(session_id="s", user_id="u", tags=["a"]) as ctx:
        sid: str = ctx.session_id
        with ferrule.span(operation="chat", model="gpt-4o", provider="openai") as s:
            s.set_attribute("gen_ai.usage.input_tokens", 3)
            header: str | None = ferrule.traceparent()
            ok: bool = ferrule.emit("retry.attempt", level="warning", attempt=1)
    spans: list[dict[str, object]] = list(ferrule.recent_spans())
    masked: str = ferrule.redact("a@b.io")
    print(sid, header, ok, spans, masked)
def use_watchers() -> None:
    def page(e: ferrule.WatchEvent) -> None:
        print(e.name, e.severity, e.labels.get("window"), e.dedup_key, e.value, e.at)

    slo = ferrule.SLO("api", objective=0.999, on_event=page, on_budget=lambda exhausted, e: print(exhausted))
    events: list[ferrule.WatchEvent] = slo.record(True, 0.2, labels={"model": "m"})
    left: float = slo.budget_remaining()
    burn: float = slo.burn_rate(3600)
    latency = ferrule.AnomalyDetector("lat", "latency_seconds", method="mad", on_event=page)
    latency.observe(0.3, model="m", template="t")
    drift = ferrule.DriftDetector("out", embedder=lambda text: [float(len(text)), 1.0])
    drift.observe("hello", tokens=2)
    predictor = ferrule.ErrorPredictor("p", horizon_seconds=300)
    predictor.observe("rate_limited", 1.2, headers={"x-ratelimit-remaining-requests": "3"})
    p = predictor.probability
    model: list[float] = predictor.export()
    html: str = slo._repr_html_() + latency._repr_html_() + drift._repr_html_() + predictor._repr_html_()
    print(events, left, burn, p, model, html)


# -- retry, timeout, fallback, the composed policy ------------------------------------------

policy = ferrule.Policy(
    retry=ferrule.Retry(3, backoff=ferrule.Backoff.exponential(initial=0.2, max=8.0, jitter="full")),
    breaker=breaker,
    timeout_seconds=5,
    fallback="busy",
    chaos=ferrule.Chaos(error_rate=0.0, seed=1),
)


@policy
def guarded(prompt: str) -> str:
    left: float | None = ferrule.remaining()
    return prompt if left is None else prompt * 2


@ferrule.retry(attempts=4, max_elapsed_seconds=30)
@ferrule.timeout(10.0)
@ferrule.fallback(lambda exc, prompt: "The assistant is busy; please retry.")
async def ask(prompt: str) -> str:
    return prompt


def use_policy() -> None:
    text: str = guarded("hi")
    counts = policy.stats()
    retries: int = counts["retries"]
    try:
        policy.call(guarded, "x")
    except ferrule.RetryError as e:
        attempts: int = e.attempts
        errors = e.errors
        print(attempts, errors, e.reason, e.last_error)
    except ferrule.TimeoutError as t:
        print(t.timeout_seconds)
    ok: bool = ferrule.transient(ValueError())
    print(text, retries, ok)
rpm = ferrule.RateLimiter.token_bucket(rate=500, per_seconds=60, burst=50, name="rpm")
tpm = ferrule.RateLimiter.sliding_window(limit=30_000, window_seconds=60, name="tpm")
exact = ferrule.RateLimiter.sliding_log(limit=10, window_seconds=1.0)
limits = ferrule.Limits(requests=rpm, tokens=tpm)


@ferrule.rate_limit(rpm, cost=lambda prompt: len(prompt) // 100 + 1, key=lambda prompt: "tenant")
def limited(prompt: str) -> str:
    return prompt


@ferrule.rate_limit(limits, cost=lambda prompt: {"requests": 1, "tokens": 1200})
async def alimited(prompt: str) -> str:
    return prompt


def use_limits() -> None:
    ok: bool = rpm.try_acquire(1, key="acme")
    rpm.acquire(n=1, key=None, timeout=2.5)
    wait: float = exact.peek()
    r: ferrule.Reservation = limits.acquire(requests=1, tokens=1200, timeout=None)
    r.settle(tokens=900)
    charged: dict[str, int] = r.charged
    admitted: bool = limits.try_acquire(requests=1, tokens=10, key="acme")
    try:
        limited("x")
    except ferrule.RateLimitedError as e:
        after: "float | None" = e.retry_after
        print(after, e.limiter)
    print(ok, wait, charged, admitted, rpm.stats()["rejected"])


async def ause_limits() -> None:
    await rpm.acquire_async(1, key="acme", timeout=1.0)
    r = await limits.acquire_async(requests=1, tokens=5)
    r.settle(tokens=3)
    print(await alimited("x"))
# ---- validation ----
def use_validation() -> None:
    value = ferrule.parse_json('{"a": 1}', schema={"type": "object"}, repair=True)
    fixed: ferrule.Repaired = ferrule.repair_json("{'a': 1,}")
    text: str = fixed.text
    kinds: list[str] = [r.kind for r in fixed.repairs]
    line: int = fixed.repairs[0].line
    compiled = ferrule.JsonSchema({"type": "array"})
    ferrule.parse_json("[]", schema=compiled, max_depth=64, max_input_bytes=1 << 20)
    counts = ferrule.validation_stats()
    n: int = counts["valid"]
    try:
        ferrule.parse_json("{")
    except ferrule.ValidationError as e:
        paths: list[str] = [err["path"] for err in e.errors]
        raw: str | None = e.raw
        where: int | None = e.line

    @ferrule.validated(schema={"type": "object"}, reask=2)
    def extract(prompt: str, *, feedback: str | None = None) -> str:
        return prompt

    result = extract("{}")


def use_wrap_openai() -> None:
    import openai

    client: openai.OpenAI = ferrule.wrap_openai(openai.OpenAI(api_key="k"), ferrule.Policy(retry=ferrule.Retry(3)))
    aclient: openai.AsyncOpenAI = ferrule.wrap_openai(openai.AsyncOpenAI(api_key="k"), model_policies={})
    print(client.chat.completions, aclient.embeddings)


def use_dead_letter(tmp: str) -> None:
    dlq = ferrule.DeadLetterQueue(tmp, max_items=100, on_full="drop_oldest", mask=False)
    policy = ferrule.Policy(retry=ferrule.Retry(2), dead_letter=dlq)
    depth: int = len(dlq)
    items: list[ferrule.DeadLetter] = dlq.list(10, since=0.0)
    first_errors: tuple[str, ...] = items[0].errors if items else ()
    report: ferrule.ReplayReport = dlq.replay(lambda item: None, filter=lambda item: item.attempts > 1, max=5)
    ok: int = report.succeeded
    purged: int = dlq.purge()
    del policy, depth, first_errors, ok, purged


# ---- alerting: on_alert adds and unsubscribes; every watcher has gauges() -------------
def _alert_usage() -> None:
    sub: ferrule.AlertSubscription = ferrule.on_alert(lambda n: print(n["name"], n["status"]))
    done: bool = sub.unsubscribe()
    synthetic: bool = ferrule.in_probe()
    rows = ferrule.DeadMansSwitch("typed-switch", within_seconds=60).gauges()
    name, labels, value = rows[0]
    print(done, synthetic, name, labels.get("switch"), value + 1.0)


def use_router() -> None:
    router = ferrule.Router(
        [ferrule.Endpoint("a", call, weight=3), ferrule.Endpoint("b", call, region="us", priority=1)],
        "round_robin",
        attempts=2,
        hedge=True,
        hedge_threads=4,
        latency_window_seconds=60.0,
    )
    answer: object = router.call("hi")
    lost: int = router.stats()["hedges_lost"]
    del answer, lost
    shared = ferrule.Router([ferrule.Endpoint("a", call)], name="chat",
                            backend=ferrule.RedisBackend("redis+cluster://127.0.0.1:7000,127.0.0.1:7001"),
                            sync_seconds=0.25)
    shared.sync_now()
    sync = shared.sync_stats()
    rto = router.stats()["last_failover_rto_seconds"]
    del sync, rto
