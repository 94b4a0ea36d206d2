"""`make demo`: a few hundred concurrent requests through the real `openai` SDK against a local
fault-injecting OpenAI-compatible server, twice: with the bare SDK (its own two retries), then with
the same SDK wrapped by ferrule (retries that honour Retry-After, an attempt timeout, a circuit
breaker, a fallback to a second endpoint, JSON answers parsed by ``ferrule.parse_json`` so broken
JSON is repaired where the fix is certain and re-asked only where it is not). The wrapped run also
records GenAI spans, Prometheus metrics (served on a loopback port) and an inference log (SQLite).

No API key, no network: the server is ferrule's mock, on loopback, with seeded faults, so both runs
meet the same profile: 429 storms, a burst of 503s, a slow period and some broken JSON.

It ends by writing an HTML report of both runs over time (examples/report.py; `--report PATH`,
default target/demo-report.html) and prints its path."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import openai

import ferrule
from ferrule.testing import MockLLMServer

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report  # noqa: E402  (examples/report.py, beside this file)

REQUESTS = 300
CONCURRENCY = 32
MODEL = "mock-gpt-4o-mini"
BACKUP_MODEL = "mock-gpt-4o-mini-backup"
PRICE_PER_MILLION = {MODEL: (0.15, 0.60), BACKUP_MODEL: (0.30, 1.20)}  # (input, output) USD
SEED = 7

# Request-index windows: each run gets a fresh server with this profile, so both meet the same faults.
FAULTS: List[Dict[str, Any]] = [
    {"kind": "503", "rate": 1.0, "from": 80, "to": 100},  # an outage burst
    {"kind": "slow", "rate": 0.7, "from": 260, "to": 330, "latency_seconds": 3.0},  # a slow period
    {"kind": "429", "rate": 0.15, "retry_after_seconds": 0.4},  # rate limiting all along
    {"kind": "503", "rate": 0.04},
    {"kind": "malformed_json", "rate": 0.08},  # fenced JSON with a trailing comma
]


ANSWER_SCHEMA = {"type": "object", "required": ["answer"]}


def parsed(completion: Any) -> Optional[Dict[str, Any]]:
    """The bare application's own check: the answer must be a JSON object with an ``answer``."""
    try:
        value = json.loads(completion.choices[0].message.content or "")
    except ValueError:
        return None
    return value if isinstance(value, dict) and "answer" in value else None


# The policy's result check parses each answer once; the application then takes that value.
_checked: Dict[int, Tuple[Any, Optional[Dict[str, Any]]]] = {}


def parsed_by_ferrule(completion: Any) -> Optional[Dict[str, Any]]:
    """The same check through ``ferrule.parse_json``: strict first, then repaired (code fences,
    trailing commas...) when the fix is certain; each repair is counted in ``validation_stats()``."""
    hit = _checked.pop(id(completion), None)
    if hit is not None and hit[0] is completion:
        return hit[1]
    try:
        value = ferrule.parse_json(completion.choices[0].message.content or "", ANSWER_SCHEMA)
    except ferrule.ValidationError:
        value = None
    out = value if isinstance(value, dict) else None
    _checked[id(completion)] = (completion, out)
    return out


class Run:
    """One pass over the workload: outcomes, latencies, tokens and cost."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.ok = 0
        self.failed = 0
        self.errors: Dict[str, int] = {}
        self.latencies: List[float] = []
        self.tokens = 0
        self.cost = 0.0
        self.by_model: Dict[str, int] = {}
        self.wall = 0.0
        # The report's timeline, in seconds from `origin` (set when the workload starts).
        self.origin = time.perf_counter()
        self.timeline = report.RunTimeline(name)

    def at(self) -> float:
        return time.perf_counter() - self.origin

    def success(self, completion: Any, seconds: float) -> None:
        self.ok += 1
        self.latencies.append(seconds)
        model = completion.model
        self.by_model[model] = self.by_model.get(model, 0) + 1
        u = completion.usage
        cost = 0.0
        if u is not None:
            self.tokens += u.total_tokens
            pin, pout = PRICE_PER_MILLION.get(model, (0.0, 0.0))
            cost = (u.prompt_tokens * pin + u.completion_tokens * pout) / 1e6
            self.cost += cost
        self.timeline.requests.append((self.at(), seconds, True, model, cost))

    def failure(self, what: str, seconds: float) -> None:
        self.failed += 1
        self.latencies.append(seconds)
        self.errors[what] = self.errors.get(what, 0) + 1
        self.timeline.requests.append((self.at(), seconds, False, what, 0.0))

    def rate(self) -> float:
        return self.ok / max(1, self.ok + self.failed)

    def percentile(self, p: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else 0.0


async def progress(run: Run, started: float, stop: asyncio.Event) -> None:
    while True:
        done = run.ok + run.failed
        bar = "#" * (30 * done // REQUESTS)
        sys.stdout.write(
            f"\r  {run.name:<8} [{bar:<30}] {done:>3}/{REQUESTS}  ok {run.ok:>3}  failed {run.failed:>3}"
            f"  {time.perf_counter() - started:5.1f}s"
        )
        sys.stdout.flush()
        if stop.is_set():
            sys.stdout.write("\n")
            return
        try:
            await asyncio.wait_for(stop.wait(), 0.1)
        except asyncio.TimeoutError:
            pass


async def workload(run: Run, client: openai.AsyncOpenAI, check: Any = parsed) -> None:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> None:
        async with gate:
            t0 = time.perf_counter()
            try:
                completion = await client.chat.completions.create(
                    model=MODEL,
                    messages=[{"role": "user", "content": f"Summarise support ticket #{i} as JSON"}],
                    response_format={"type": "json_object"},
                )
            except Exception as e:  # the bare SDK's errors, or ferrule's after its retries
                run.failure(type(e).__name__, time.perf_counter() - t0)
                return
            if check(completion) is None:
                run.failure("broken JSON", time.perf_counter() - t0)
            else:
                run.success(completion, time.perf_counter() - t0)

    started = time.perf_counter()
    run.origin = started
    stop = asyncio.Event()
    bar = asyncio.ensure_future(progress(run, started, stop))
    await asyncio.gather(*(one(i) for i in range(REQUESTS)))
    run.wall = time.perf_counter() - started
    run.timeline.wall = run.wall
    stop.set()
    await bar


async def bare_run() -> Tuple[Run, Dict[str, Any]]:
    run = Run("bare")
    with MockLLMServer(FAULTS, seed=SEED, latency_seconds=0.02) as server:
        client = openai.AsyncOpenAI(base_url=server.url, api_key="demo")  # the SDK's defaults: 2 retries
        await workload(run, client)
        await client.close()
        return run, server.stats()


async def ferrule_run() -> Tuple[Run, Dict[str, Any], Dict[str, Any]]:
    run = Run("ferrule")
    transitions: List[Tuple[float, str, str]] = []
    reasked = [0]
    run.timeline.has_breaker = True

    def broken_json(completion: Any) -> bool:
        if parsed_by_ferrule(completion) is None:  # repaired answers are not asked again
            reasked[0] += 1
            return True
        return False

    # A 429 is the server pacing us, not an outage: the retry waits it out, the breaker ignores it.
    breaker = ferrule.CircuitBreaker(
        "primary",
        failure_rate=0.5,
        window=20,
        min_calls=10,
        open_seconds=0.5,
        max_open_seconds=1.0,
        half_open_calls=3,
        ignore=openai.RateLimitError,
    )
    breaker.on_state_change(lambda old, new: transitions.append((run.at(), old, new)))

    with MockLLMServer(FAULTS, seed=SEED, latency_seconds=0.02) as server, MockLLMServer(
        seed=SEED, latency_seconds=0.02
    ) as backup_server:
        backup = openai.AsyncOpenAI(base_url=backup_server.url, api_key="demo", max_retries=1)

        async def to_backup(error: BaseException, *args: Any, **kwargs: Any) -> Any:
            run.timeline.fallbacks.append(run.at())
            return await backup.chat.completions.create(*args, **{**kwargs, "model": BACKUP_MODEL})

        policy = ferrule.Policy(
            retry=ferrule.Retry(
                5,
                backoff=ferrule.Backoff.exponential(initial=0.05, multiplier=2.0, max=1.0),
                max_retry_after_seconds=2.0,
                retry_on_result=broken_json,
                on_retry=lambda attempt, delay, error: run.timeline.retries.append(run.at()),
            ),
            breaker=breaker,
            timeout_seconds=1.0,
            total_timeout_seconds=6.0,
            fallback=to_backup,
            name="primary",
        )
        client = ferrule.wrap_openai(openai.AsyncOpenAI(base_url=server.url, api_key="demo"), policy)
        validation_before = ferrule.validation_stats()
        await workload(run, client, parsed_by_ferrule)
        stats_after = ferrule.validation_stats()
        await client.close()
        await backup.close()
        stats = policy.stats()
        stats["reasked_json"] = reasked[0]
        stats["transitions"] = transitions
        run.timeline.transitions = list(transitions)
        stats["backup_requests"] = backup_server.stats()["requests"]
        stats["repaired_json"] = stats_after["repaired"] - validation_before["repaired"]
        stats["repair_kinds"] = {k: n - validation_before["repairs"].get(k, 0) for k, n in stats_after["repairs"].items()}
        return run, server.stats(), stats


def summary(bare: Run, bare_server: Dict[str, Any], wrapped: Run, server: Dict[str, Any], p: Dict[str, Any]) -> None:
    def row(label: str, a: Any, b: Any) -> None:
        print(f"  {label:<34}{a!s:>16}{b!s:>16}")

    print("\nsummary                                       bare SDK    ferrule-wrapped")
    row("success rate", f"{bare.rate():.1%}", f"{wrapped.rate():.1%}")
    row("succeeded / failed", f"{bare.ok} / {bare.failed}", f"{wrapped.ok} / {wrapped.failed}")
    row("requests the primary server saw", bare_server["requests"], server["requests"])
    row("latency p50", f"{bare.percentile(50) * 1000:.0f} ms", f"{wrapped.percentile(50) * 1000:.0f} ms")
    row("latency p95", f"{bare.percentile(95) * 1000:.0f} ms", f"{wrapped.percentile(95) * 1000:.0f} ms")
    row("latency p99", f"{bare.percentile(99) * 1000:.0f} ms", f"{wrapped.percentile(99) * 1000:.0f} ms")
    row("wall time", f"{bare.wall:.1f} s", f"{wrapped.wall:.1f} s")
    row("tokens", bare.tokens, wrapped.tokens)
    row("cost (USD, demo prices)", f"${bare.cost:.5f}", f"${wrapped.cost:.5f}")
    print("\n  failures by kind")
    for name, run in (("bare", bare), ("ferrule", wrapped)):
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(run.errors.items(), key=lambda kv: -kv[1])) or "none"
        print(f"    {name:<8} {kinds}")
    print("\n  ferrule")
    print(f"    retries                 {p['retries']}  (attempts {p['attempts']}, budget denied {p['budget_denied']})")
    print(f"    attempt timeouts        {p['timeouts']}  (slow answers cut at 1 s and asked again)")
    kinds = ", ".join(f"{k} {n}" for k, n in p["repair_kinds"].items() if n) or "none"
    print(f"    validation repairs      {p['repaired_json']} answers repaired by ferrule.parse_json ({kinds})")
    print(f"    broken JSON re-asked    {p['reasked_json']}  (irreparable or schema-failing answers asked again)")
    print(f"    fallbacks to backup     {p['fallbacks']}  (backup server saw {p['backup_requests']} requests)")
    print(f"    answered by model       {wrapped.by_model}")
    print(f"    breaker transitions     {len(p['transitions'])}")
    for t, old, new in p["transitions"]:
        print(f"      t={t:6.2f}s  {old:>9} -> {new}")
    print(f"    faults injected         bare {fault_line(bare_server)}")
    print(f"                            ferrule {fault_line(server)}")


def metrics(wrapped: Run, served: Any) -> None:
    """What the wrapped client recorded by itself: GenAI metrics with tokens and cost, per model."""
    text = ferrule.metrics_text()
    print(f"\n  Prometheus metrics served at {served.url} during the run (ferrule.serve_metrics); a few lines:")
    for line in text.splitlines():
        if line.startswith(("ferrule_cost_usd_total{", "gen_ai_client_token_usage_sum{", "gen_ai_client_operation_duration_seconds_count{")) and "mock-gpt" in line:
            print(f"    {line}")
    recorded = sum(
        float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l.startswith("ferrule_cost_usd_total{") and "mock-gpt" in l
    )
    print(f"    cost recorded by the wrapper ${recorded:.5f}  (the application's own count: ${wrapped.cost:.5f})")


def inference_log(path: Path) -> None:
    """One record per wrapped call (request id, trace/span ids, model, tokens, cost, latency, outcome)."""
    rows = ferrule.inference_log.query(
        "SELECT outcome, count(*) AS calls, sum(input_tokens + output_tokens) AS tokens, "
        "round(sum(cost_usd), 5) AS cost_usd, max(attempts) AS max_attempts FROM inference_log GROUP BY outcome",
        as_frame=False,
    )
    print(f"\n  inference log (SQLite, WAL) at {path}")
    for r in rows:
        print(f"    {r['outcome']:<6} calls {r['calls']:>4}  tokens {r['tokens'] or 0:>6}  cost ${r['cost_usd'] or 0:.5f}"
              f"  max attempts {r['max_attempts']}")
    print("    read it back with ferrule.inference_log.query(sql, params) or .records(model=..., outcome=...)")
    spans = ferrule.recent_spans()
    print(f"  spans in the read-back ring: {len(spans)} (ferrule.recent_spans(); e.g. {spans[-1]['name']!r})"
          if spans else "  no spans recorded")


def fault_line(stats: Dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in stats["by_fault"].items() if v and k != "ok")


class Collected(logging.Handler):
    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.records: List[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def main(report_path: Optional[str]) -> None:
    # ferrule's warnings (breaker opened, ...) are collected here and counted, not lost and not
    # interleaved with the progress line.
    handler = Collected(logging.WARNING)
    records = handler.records
    logging.getLogger("ferrule").addHandler(handler)
    logging.getLogger("ferrule").propagate = False

    print(f"ferrule demo: {REQUESTS} requests, {CONCURRENCY} at a time, through the real openai SDK "
          f"{openai.__version__} against a local fault-injecting server (no key, no network)")
    print("  faults: a burst of 503s, a slow period (3 s answers), 429s with Retry-After, broken JSON\n")
    for model, (pin, pout) in PRICE_PER_MILLION.items():
        ferrule.set_price(model, pin, pout)  # the GenAI cost counter prices the wrapped calls
    log_path = Path(tempfile.mkdtemp(prefix="ferrule-demo-")) / "inference.db"
    bare, bare_server = await bare_run()
    ferrule.configure(inference_log_path=log_path)
    with ferrule.serve_metrics(0) as served:
        wrapped, server, p = await ferrule_run()
        summary(bare, bare_server, wrapped, server, p)
        metrics(wrapped, served)
    inference_log(log_path)
    print(f"\n  ferrule warnings logged   {len(records)}"
          + (f"  (first: {records[0].getMessage()})" if records else ""))
    path = report.write(report_path or str(Path(__file__).resolve().parent.parent / "target" / "demo-report.html"),
                        [bare.timeline, wrapped.timeline],
                        subtitle=f"{REQUESTS} requests, {CONCURRENCY} at a time, through the openai SDK against the "
                                 "fault-injecting mock: bare SDK vs the same SDK wrapped by ferrule")
    print(f"\n  HTML report (latency, success rate, breaker state, retries, fallbacks, cost): {path}")
    if wrapped.rate() <= bare.rate():
        raise SystemExit(f"demo failed: ferrule's success rate {wrapped.rate():.1%} is not above {bare.rate():.1%}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="ferrule demo: bare vs wrapped OpenAI SDK against the mock")
    ap.add_argument("--report", default=None, help="where to write the HTML report (default target/demo-report.html)")
    asyncio.run(main(ap.parse_args().report))
