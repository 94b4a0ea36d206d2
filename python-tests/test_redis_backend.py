"""Shared state through a real ``redis-server`` on loopback: 4 processes share one 100/s
limit, a breaker opened in one process rejects in the others within ``sync_seconds``, and with Redis
stopped, frozen and restarted each ``on_backend_error`` policy behaves as configured without holding a
caller past its deadline."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from typing import Iterator

import pytest

import ferrule
from redis_server import RedisServer

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None and not os.environ.get("CI"),
                                reason="redis-server missing: `make tools-redis` installs it")

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "redis_worker.py")


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        yield server
    finally:
        if server.proc is not None:
            server.thaw()  # a test that failed while it was frozen
        server.stop()
        shutil.rmtree(server.dir, ignore_errors=True)


def _unique(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{time.monotonic_ns()}"


def _worker(*args: object) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, WORKER, *map(str, args)], stdout=subprocess.PIPE, text=True,
                            env=env)


def test_four_processes_share_one_100_per_second_limit(redis: RedisServer) -> None:
    name = _unique("shared")
    seconds = 2.0
    start_at = time.time() + 2.0  # most workers imported and connected by then
    procs = [_worker("limit", redis.url, name, start_at, seconds) for _ in range(4)]
    results = [json.loads(p.communicate(timeout=60)[0].splitlines()[-1]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    total = sum(r["admitted"] for r in results)
    tries = sum(r["tries"] for r in results)
    assert all(r["errors"] == 0 for r in results)
    # What one GCRA limiter (burst 100, 100/s) admits to callers that never stop asking: the full
    # burst at the first admission, then one token per 10 ms until the last try, on the server's clock
    # (TIME in the script). Each worker saw that clock only between the wall time before and after a
    # call (same machine), so the count one limiter would give lies between these bounds.
    firsts = [r["first"] for r in results if r["first"] is not None]
    first_lo, first_hi = min(f[0] for f in firsts), min(f[1] for f in firsts)
    last_lo, last_hi = max(r["last"][0] for r in results), max(r["last"][1] for r in results)
    lo = 100 + math.floor(100 * (last_lo - first_hi))
    hi = 100 + math.floor(100 * (last_hi - first_lo)) + 1
    assert lo <= total <= hi, (total, lo, hi, results)
    assert hi - lo <= 20, "the bounds are tight enough to tell one shared limit from four (1200)"
    assert last_lo - first_hi > 1.0, "the workers overlapped for most of the run"
    assert tries > 4 * total, "every worker kept asking, so only the shared limit held them back"


def test_four_processes_on_a_100_per_second_window_admit_exactly_100(redis: RedisServer) -> None:
    """Exact: a sliding window of 100 per second admits exactly 100 to callers that all ask within
    one of its windows (as one limiter would: nothing charged earlier, nothing leaves before the run
    ends), however the four processes interleave. The run is placed inside one aligned second of the
    server's clock (the same machine's)."""
    name = _unique("window")
    seconds = 0.6
    start_at = math.floor(time.time()) + 3.05
    procs = [_worker("limit", redis.url, name, start_at, seconds, "sliding_window") for _ in range(4)]
    results = [json.loads(p.communicate(timeout=60)[0].splitlines()[-1]) for p in procs]
    assert all(p.returncode == 0 and r["errors"] == 0 for p, r in zip(procs, results))
    firsts = [r["first"][0] for r in results if r["first"] is not None]
    lasts = [r["last"][1] for r in results]
    assert math.floor(min(firsts)) == math.floor(max(lasts)), "the run fit in one window"
    assert sum(r["admitted"] for r in results) == 100, results
    assert sum(1 for r in results if r["admitted"] > 0) >= 2, "the processes shared it"
    assert sum(r["tries"] for r in results) > 400


def test_a_breaker_opened_in_one_process_rejects_in_the_others_within_sync_seconds(redis: RedisServer) -> None:
    name = _unique("llm")
    sync_seconds = 0.2
    others = [_worker("breaker", redis.url, name, sync_seconds, 20) for _ in range(3)]
    for p in others:
        assert p.stdout is not None
        assert json.loads(p.stdout.readline()) == {"ready": True}
    backend = ferrule.RedisBackend(redis.url, prefix="mp")
    br = ferrule.CircuitBreaker(name, backend=backend, sync_seconds=sync_seconds, min_calls=5,
                                open_seconds=30)

    def boom() -> None:
        raise RuntimeError("provider down")

    for _ in range(5):
        with pytest.raises(RuntimeError):
            br.call(boom)
    opened_at = time.monotonic()
    assert br.state == "open"
    seen = []
    for p in others:
        out, _ = p.communicate(timeout=30)
        seen.append(json.loads(out.splitlines()[-1])["rejected_at"])
    assert None not in seen, "a process never saw the open breaker"
    delays = [t - opened_at for t in seen]
    # Publishing is immediate (the trip wakes the sync thread); each other process picks it up at its
    # next sync: within sync_seconds, plus a round trip and the worker's 2 ms poll.
    assert max(delays) <= sync_seconds + 0.15, delays
    other = ferrule.CircuitBreaker(_unique("unrelated"), backend=backend, sync_seconds=sync_seconds)
    time.sleep(2 * sync_seconds)
    assert other.state == "closed", "another name is another breaker"


def test_limits_in_redis_are_all_or_nothing_and_settle_there(redis: RedisServer) -> None:
    b = ferrule.RedisBackend(redis.url, prefix=_unique("lim"))
    rpm = ferrule.RateLimiter.sliding_window(3, 60, name="rpm", backend=b)
    tpm = ferrule.RateLimiter.token_bucket(100, 60, 100, name="tpm", backend=b)
    limits = ferrule.Limits(requests=rpm, tokens=tpm)
    r = limits.acquire(requests=1, tokens=90)
    assert not limits.try_acquire(requests=1, tokens=20)
    assert rpm.peek(2) == 0.0, "the denied attempt took no request"
    r.settle(tokens=40)
    assert limits.try_acquire(requests=1, tokens=50), "50 tokens were given back in Redis"
    # Another process's view (a second backend object, same prefix) is the same state.
    b2 = ferrule.RedisBackend(redis.url, prefix=b.prefix)
    tpm2 = ferrule.RateLimiter.token_bucket(100, 60, 100, name="tpm", backend=b2)
    assert not tpm2.try_acquire(20), "the other object sees the 90 tokens taken there"
    assert tpm2.try_acquire(5)
    with pytest.raises(ferrule.ConfigError, match="backend"):
        ferrule.Limits(requests=rpm, local=ferrule.RateLimiter.token_bucket(1))


def test_bad_settings_fail_at_construction_by_name() -> None:
    with pytest.raises(ferrule.ConfigError, match="on_backend_error"):
        ferrule.RedisBackend("redis://127.0.0.1:1/0", on_backend_error="maybe")
    with pytest.raises(ferrule.ConfigError, match="timeout_seconds"):
        ferrule.RedisBackend("redis://127.0.0.1:1/0", timeout_seconds=0)
    with pytest.raises(ferrule.ConfigError, match="url"):
        ferrule.RedisBackend("http://nope")
    b = ferrule.RedisBackend("redis://127.0.0.1:1/0")
    with pytest.raises(ferrule.ConfigError, match="backend"):
        ferrule.RateLimiter.sliding_log(10, 1.0, backend=b)
    with pytest.raises(TypeError, match="backend"):
        ferrule.RateLimiter.token_bucket(1, backend="redis://")  # type: ignore[arg-type]


@pytest.mark.parametrize("policy", ["fail_open", "fail_closed", "local"])
def test_redis_stopped_frozen_and_restarted_each_policy_holds(redis: RedisServer, policy: str) -> None:
    events: list[str] = []
    b = ferrule.RedisBackend(redis.url, prefix=_unique(policy), on_backend_error=policy,
                             timeout_seconds=0.05, retry_seconds=0.2,
                             on_event=lambda state, msg: events.append(state))
    lim = ferrule.RateLimiter.token_bucket(1, 3600, 2, name="api", backend=b)
    assert lim.try_acquire(2) and not lim.try_acquire()

    def decisions(n: int) -> list[bool]:
        return [lim.try_acquire() for _ in range(n)]

    redis.stop()
    t0 = time.monotonic()
    got = decisions(10)
    if policy == "fail_open":
        assert got == [True] * 10
    elif policy == "fail_closed":
        assert got == [False] * 10
    else:  # this process's own bucket: burst 2, then refused
        assert got == [True, True] + [False] * 8
    assert time.monotonic() - t0 < 1.0
    # A caller with a deadline is never held past it.
    t0 = time.monotonic()
    try:
        lim.acquire(timeout=0.1)
    except ferrule.RateLimitedError:
        pass
    assert time.monotonic() - t0 < 0.1 + 0.1
    assert not b.is_up and b.stats()["fallbacks"] >= 10 and events == ["firing"]

    redis.start()  # empty: no persistence
    time.sleep(0.25)  # past the probe interval
    deadline = time.monotonic() + 5
    while not lim.try_acquire():
        assert time.monotonic() < deadline, "never recovered"
        time.sleep(0.05)
    assert b.is_up and events == ["firing", "resolved"] and b.stats()["recoveries"] == 1

    # Frozen (accepts, never answers): every call ends within the timeout, by the policy.
    redis.freeze()
    t0 = time.monotonic()
    worst = 0.0
    for _ in range(5):
        t = time.monotonic()
        ok = lim.try_acquire()
        worst = max(worst, time.monotonic() - t)
        assert ok == {"fail_open": True, "fail_closed": False, "local": False}[policy]
    assert worst < 0.05 + 0.1, worst
    redis.thaw()


def test_async_acquire_against_redis(redis: RedisServer) -> None:
    import asyncio

    b = ferrule.RedisBackend(redis.url, prefix=_unique("async"))
    lim = ferrule.RateLimiter.token_bucket(50, 1.0, 1, name="a", backend=b)

    async def main() -> float:
        t0 = time.monotonic()
        for _ in range(3):
            await lim.acquire_async()
        return time.monotonic() - t0

    took = asyncio.run(main())
    assert 0.03 <= took < 0.5, took  # 1 now, then 2 more at 20 ms each


def test_a_dead_letter_queue_written_by_one_process_is_replayed_by_another(redis: RedisServer) -> None:
    name = _unique("dlq")
    writer = _worker("dlq_write", redis.url, name, 25)
    out, _ = writer.communicate(timeout=60)
    assert writer.returncode == 0
    ids = json.loads(out.splitlines()[-1])["ids"]
    assert len(ids) == 25 and None not in ids
    dlq = ferrule.DeadLetterQueue(backend=ferrule.RedisBackend(redis.url, prefix="mp"), name=name)
    assert dlq.path is None
    assert len(dlq) == 25
    seen: list[str] = []

    def handler(item: ferrule.DeadLetter) -> None:
        seen.append(json.loads(item.payload)["prompt"])
        if item.payload == '{"prompt": "p7"}':
            raise RuntimeError("still failing")

    report = dlq.replay(handler)
    assert seen == [f"p{i}" for i in range(25)], "every acknowledged item, once, oldest first"
    assert (report.succeeded, report.failed) == (24, 1)
    [left] = dlq.list()
    assert left.id == ids[7] and left.errors[-1].endswith("still failing")
    assert left.attempts == 3


def test_a_dead_letter_queue_needs_a_path_or_a_backend() -> None:
    with pytest.raises(ferrule.ConfigError, match="path=None"):
        ferrule.DeadLetterQueue(None)


def test_a_peer_open_reaches_on_state_change_with_peer_set(redis: RedisServer) -> None:
    name = _unique("peer")
    backend = ferrule.RedisBackend(redis.url, prefix="mp")
    br = ferrule.CircuitBreaker(name, backend=backend, sync_seconds=0.05, open_seconds=30)
    seen: list[tuple[str, str, ferrule.breaker.BreakerTransition]] = []
    plain: list[tuple[str, str]] = []
    br.on_state_change(lambda old, new, info: seen.append((old, new, info)))
    br.on_state_change(lambda old, new: plain.append((old, new)))
    p = _worker("trip", redis.url, name, 0.05)
    out, _ = p.communicate(timeout=30)
    assert json.loads(out.splitlines()[-1]) == {"state": "open", "published": 1}
    deadline = time.monotonic() + 5
    while not seen:
        assert time.monotonic() < deadline, "the peer's open never reached the listener"
        time.sleep(0.01)
    old, new, info = seen[0]
    assert (old, new, info.reason, info.peer) == ("closed", "open", "shared", True)
    assert info.open_seconds is not None and 25 < info.open_seconds <= 30
    assert plain == [("closed", "open")], "two-argument listeners hear it too"
    assert br.state == "open"
    with pytest.raises(ferrule.CircuitOpenError):
        br.call(lambda: None)
    # A local trip is not a peer's.
    local = ferrule.CircuitBreaker(_unique("own"), backend=backend, consecutive_failures=1)
    got: list[ferrule.breaker.BreakerTransition] = []
    local.on_state_change(lambda old, new, info: got.append(info))
    with pytest.raises(RuntimeError):
        local.call(lambda: (_ for _ in ()).throw(RuntimeError("x")))
    assert [(i.reason, i.peer) for i in got] == [("consecutive_failures", False)]


@pytest.mark.parametrize("policy", ["fail_open", "fail_closed", "local"])
def test_breaker_with_redis_stopped_mid_run_each_policy_holds_and_recovers(redis: RedisServer,
                                                                            policy: str) -> None:
    backend = ferrule.RedisBackend(redis.url, prefix=_unique("bp"), on_backend_error=policy,
                                   timeout_seconds=0.05, retry_seconds=0.1)
    br = ferrule.CircuitBreaker("llm", backend=backend, sync_seconds=0.05, consecutive_failures=3,
                                open_seconds=30)
    moves: list[tuple[str, str, str]] = []
    br.on_state_change(lambda old, new, info: moves.append((old, new, info.reason)))

    def ok() -> str:
        return "ok"

    def run(n: int) -> list[bool]:
        """n calls; each must answer at once whatever Redis does (a 50 ms deadline is generous)."""
        out = []
        for _ in range(n):
            t = time.monotonic()
            try:
                br.call(ok)
                out.append(True)
            except ferrule.CircuitOpenError:
                out.append(False)
            assert time.monotonic() - t < 0.05, "a caller waited on Redis"
        return out

    assert run(5) == [True] * 5
    redis.stop()
    deadline = time.monotonic() + 3
    expected = {"fail_open": True, "fail_closed": False, "local": True}[policy]
    while (br.sync_stats() or {}).get("errors", 0) < 1 or (policy != "local" and not br.sync_stats()["held"]):
        assert time.monotonic() < deadline, "the outage was never noticed"
        run(1)
        time.sleep(0.01)
    assert run(20) == [expected] * 20
    st = br.sync_stats()
    assert st is not None and st["held"] == (policy != "local")
    assert st["held_rejected"] >= (20 if policy == "fail_closed" else 0)
    assert st["held_admitted"] >= (20 if policy == "fail_open" else 0)
    if policy == "local":
        # The local breaker still trips on its own failures.
        for _ in range(3):
            with pytest.raises(RuntimeError):
                br.call(lambda: (_ for _ in ()).throw(RuntimeError("down")))
        assert br.state == "open"
    text = ferrule.metrics_text()
    prefix = backend.prefix
    assert f'ferrule_redis_up{{prefix="{prefix}"}} 0' in text
    assert f'ferrule_redis_errors_total{{prefix="{prefix}",op="breaker_sync",kind="connection"}}' in text
    outcome = {"fail_open": "admitted", "fail_closed": "rejected", "local": "local"}[policy]
    line = next(ln for ln in text.splitlines()
                if ln.startswith(f'ferrule_redis_fallback_decisions_total{{prefix="{prefix}",op="breaker_sync",'
                                 f'outcome="{outcome}"}}'))
    assert float(line.split()[-1]) >= 1
    assert 'ferrule_breaker_sync_age_seconds{breaker="llm"}' in text
    redis.start()
    deadline = time.monotonic() + 5
    while br.sync_stats()["held"] or not backend.is_up:
        assert time.monotonic() < deadline, "never recovered"
        time.sleep(0.02)
    if policy == "local":
        assert br.state == "open"
        assert moves == [("closed", "open", "consecutive_failures")]
    else:
        assert br.state == "closed"
        assert run(3) == [True] * 3
        if policy == "fail_closed":
            assert moves == [("closed", "open", "backend_down"), ("open", "closed", "backend_up")]
        else:
            assert moves == [], "held closed from closed: no visible move"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_restarts_its_sync_thread_and_sees_a_peer_open(redis: RedisServer) -> None:
    name = _unique("fork")
    backend = ferrule.RedisBackend(redis.url, prefix="mp")
    br = ferrule.CircuitBreaker(name, backend=backend, sync_seconds=0.05, consecutive_failures=1,
                                open_seconds=30)
    assert br.call(lambda: 1) == 1  # the parent's sync thread runs
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no sync thread until the breaker is used (or the at-fork hook ran)
        code = 1
        try:
            os.close(r)
            br.call(lambda: 1)
            os.write(w, b"ready\n")
            deadline = time.monotonic() + 5
            # The state turns open before the sync thread counts the applied open (it first hands
            # the transition to the listeners, under the GIL this thread holds): wait for both.
            while (br.state != "open" or not (br.sync_stats() or {}).get("applied_opens")) \
                    and time.monotonic() < deadline:
                time.sleep(0.01)
            st = br.sync_stats() or {}
            os.write(w, json.dumps({"state": br.state, "restarts": st.get("restarts"),
                                    "applied": st.get("applied_opens")}).encode() + b"\n")
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r) as child:
        assert child.readline().strip() == "ready"
        with pytest.raises(RuntimeError):
            br.call(lambda: (_ for _ in ()).throw(RuntimeError("down")))  # trips here, published at once
        assert br.state == "open"
        report = json.loads(child.readline())
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert report == {"state": "open", "restarts": 1, "applied": 1}, report
