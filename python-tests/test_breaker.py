"""The circuit breaker from Python: decorator on def and async def, outcome classification,
listeners, errors, bad configuration, and concurrency without a lock around the user's call."""

from __future__ import annotations

import asyncio
import pickle
import threading

import pytest

import ferrule
from ferrule.testing import ManualClock


@pytest.fixture(autouse=True)
def _log_every_transition():  # type: ignore[no-untyped-def]
    # Breakers here share a name and trip within the same second, so their transition events are
    # identical; turn off the rate-limiting of identical events so each one is logged.
    ferrule.configure(log_dedup_seconds=0)
    yield
    ferrule.configure(log_dedup_seconds=1.0)


class Boom(Exception):
    pass


class Benign(Exception):
    pass


def make(clock: ManualClock | None = None, **kw):  # type: ignore[no-untyped-def]
    opts = dict(failure_rate=0.5, window=10, min_calls=4, open_seconds=30.0, half_open_calls=1)
    opts.update(kw)
    return ferrule.CircuitBreaker("t", clock=clock or ManualClock(), **opts)


def fail(b: ferrule.CircuitBreaker, n: int = 1) -> None:
    for _ in range(n):
        with pytest.raises(Boom):
            b.call(_raise)


def _raise() -> None:
    raise Boom("boom")


def test_sync_decorator_passes_value_and_preserves_metadata() -> None:
    b = make()

    @b
    def add(x: int, y: int = 1) -> int:
        """adds"""
        return x + y

    assert add(2, y=3) == 5
    assert add.__name__ == "add" and add.__doc__ == "adds"
    s = b.stats()
    assert (s["calls"], s["successes"], s["failures"]) == (1, 1, 0)


def test_full_cycle_on_a_manual_clock() -> None:
    clock = ManualClock()
    b = make(clock)
    seen: list[tuple[str, str]] = []
    b.on_state_change(lambda old, new: seen.append((old, new)))
    fail(b, 4)
    assert b.state == "open"
    with pytest.raises(ferrule.CircuitOpenError) as ei:
        b.call(lambda: 1)
    err = ei.value
    assert isinstance(err, ferrule.FerruleError)
    assert err.breaker == "t"
    assert err.retry_after == pytest.approx(30.0, abs=0.002)
    assert err.code == "FERRULE_CIRCUIT_OPEN"
    clock.advance(10)
    with pytest.raises(ferrule.CircuitOpenError) as ei:
        b.call(lambda: 1)
    assert ei.value.retry_after == pytest.approx(20.0, abs=0.002)
    clock.advance(20.001)
    assert b.state == "half_open"
    assert b.call(lambda: "ok") == "ok"
    assert b.state == "closed"
    assert seen == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
    s = b.stats()
    assert s["rejected"] == 2 and s["transitions"] == 3


def test_failed_probe_reopens() -> None:
    clock = ManualClock()
    b = make(clock)
    fail(b, 4)
    clock.advance(30.001)
    fail(b)
    assert b.state == "open"
    assert b.stats()["open_remaining_seconds"] == pytest.approx(30.0, abs=0.002)


def test_consecutive_failures_rule() -> None:
    b = make(failure_rate=None, consecutive_failures=3)
    fail(b, 2)
    b.call(lambda: 1)
    fail(b, 2)
    assert b.state == "closed"
    fail(b)
    assert b.state == "open"


def test_ignore_counts_neither_success_nor_failure() -> None:
    b = make(ignore=(Benign,))
    for _ in range(10):
        with pytest.raises(Benign):
            b.call(_raise_benign)
    s = b.stats()
    assert (s["ignored"], s["failures"], s["window_calls"], b.state) == (10, 0, 0, "closed")


def _raise_benign() -> None:
    raise Benign()


def test_failure_on_types_and_predicate() -> None:
    b = make(failure_on=(Boom,))
    with pytest.raises(Benign):
        b.call(_raise_benign)
    assert b.stats()["successes"] == 1, "an exception outside failure_on is not a failure"
    fail(b)
    assert b.stats()["failures"] == 1

    p = make(failure_on=lambda e: "retryable" in str(e))
    with pytest.raises(RuntimeError):
        p.call(lambda: (_ for _ in ()).throw(RuntimeError("retryable thing")))
    assert p.stats()["failures"] == 1


def test_failure_on_result_marks_values_as_failures() -> None:
    b = make(failure_on_result=lambda r: r == "")

    @b
    def complete(text: str) -> str:
        return text

    for _ in range(4):
        assert complete("") == ""
    assert b.state == "open"


def test_throwing_listener_is_counted_and_does_not_break_the_call(caplog: pytest.LogCaptureFixture) -> None:
    b = make(consecutive_failures=1, failure_rate=None)

    def bad(old: str, new: str) -> None:
        raise RuntimeError("listener bug")

    got: list[str] = []
    b.on_state_change(bad)
    b.on_state_change(lambda old, new: got.append(new))
    with caplog.at_level("WARNING", logger="ferrule"):
        fail(b)
    assert got == ["open"], "later listeners still run"
    assert b.listener_errors == 1
    assert b.stats()["listener_errors"] == 1
    assert any("listener" in r.getMessage() for r in caplog.records)
    assert any("opened" in r.getMessage() for r in caplog.records), "a trip is logged at warning"


def test_force_open_force_closed_reset() -> None:
    b = make()
    b.force_open()
    assert b.state == "open"
    with pytest.raises(ferrule.CircuitOpenError) as ei:
        b.call(lambda: 1)
    assert ei.value.retry_after is None
    assert b.stats()["forced"] is True
    b.force_closed()
    fail(b, 20)
    assert b.state == "closed"
    b.reset()
    assert b.stats()["forced"] is False
    fail(b, 4)
    assert b.state == "open"


async def test_async_decorator_inside_a_running_loop() -> None:
    clock = ManualClock()
    b = make(clock)

    @b
    async def ask(x: int) -> int:
        await asyncio.sleep(0)
        if x < 0:
            raise Boom()
        return x * 2

    assert await ask(2) == 4
    for _ in range(3):  # S F F F: 3 of 4 failed ≥ 50% at min_calls
        with pytest.raises(Boom):
            await ask(-1)
    assert b.state == "open"
    with pytest.raises(ferrule.CircuitOpenError):
        await ask(1)
    clock.advance(31)
    assert await b.call(ask.__wrapped__, 5) == 10  # type: ignore[attr-defined]
    assert b.state == "closed"


async def test_async_cancellation_is_ignored_not_a_failure() -> None:
    b = make(consecutive_failures=1, failure_rate=None)
    started = asyncio.Event()

    @b
    async def slow() -> None:
        started.set()
        await asyncio.sleep(3600)

    task = asyncio.ensure_future(slow())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    s = b.stats()
    assert (s["ignored"], s["failures"], b.state) == (1, 0, "closed")


def test_sync_call_inside_a_running_event_loop() -> None:
    b = make()

    async def main() -> int:
        return b.call(lambda: 7)  # type: ignore[no-any-return]

    assert asyncio.run(main()) == 7


def test_no_lock_is_held_while_the_function_runs() -> None:
    """Two calls block inside the function at once; each waits for the other to arrive."""
    b = make()
    a_in, b_in = threading.Event(), threading.Event()
    results: list[str] = []

    @b
    def work(me: threading.Event, other: threading.Event, name: str) -> None:
        me.set()
        assert other.wait(10), "the other call never entered: something serialised the calls"
        results.append(name)

    t1 = threading.Thread(target=work, args=(a_in, b_in, "a"))
    t2 = threading.Thread(target=work, args=(b_in, a_in, "b"))
    t1.start()
    t2.start()
    t1.join(15)
    t2.join(15)
    assert sorted(results) == ["a", "b"]


def test_half_open_admits_exactly_half_open_calls_across_threads() -> None:
    clock = ManualClock()
    b = make(clock, half_open_calls=3)
    fail(b, 4)
    clock.advance(31)
    release = threading.Event()
    go = threading.Barrier(16)
    admitted: list[int] = []
    rejected: list[int] = []
    lock = threading.Lock()

    @b
    def probe() -> None:
        with lock:
            admitted.append(1)
        release.wait(10)

    def worker() -> None:
        go.wait()
        try:
            probe()
        except ferrule.CircuitOpenError:
            with lock:
                rejected.append(1)

    ts = [threading.Thread(target=worker) for _ in range(16)]
    for t in ts:
        t.start()
    # Every thread has either been admitted (and is parked in probe) or rejected.
    for _ in range(1000):
        with lock:
            if len(admitted) + len(rejected) == 16:
                break
        threading.Event().wait(0.005)
    release.set()
    for t in ts:
        t.join(10)
    assert (len(admitted), len(rejected)) == (3, 13)
    assert b.state == "closed"


def test_many_threads_count_exactly() -> None:
    b = ferrule.CircuitBreaker("exact", window=100, min_calls=100)

    @b
    def ok() -> int:
        return 1

    def worker() -> None:
        for _ in range(5000):
            ok()

    ts = [threading.Thread(target=worker) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    s = b.stats()
    assert (s["calls"], s["successes"], s["window_calls"]) == (40000, 40000, 100)


@pytest.mark.parametrize(
    "kw, needle",
    [
        (dict(failure_rate=1.5), "failure_rate=1.5 is out of range; allowed: (0, 1]"),
        (dict(failure_rate=0.0), "failure_rate=0 is out of range"),
        (dict(window=0), "window=0 is out of range; allowed: an integer in [1, 1000000]"),
        (dict(window=-5), "window=-5"),
        (dict(window_seconds=-1.0), "window_seconds=-1 is out of range"),
        (dict(window_seconds=1e9), "window_seconds=1000000000 is out of range; allowed: (0, 31536000]"),
        (dict(window_seconds=0.005), "window_seconds=0.005 is out of range; allowed: >= 0.001 s per bucket (10 buckets)"),
        (dict(window=10, window_seconds=60.0), "window=10 conflicts: window_seconds=60 was given too"),
        (dict(open_seconds=-1.0), "open_seconds=-1 is out of range"),
        (dict(open_seconds=float("nan")), "open_seconds=NaN is out of range"),
        (dict(half_open_calls=0), "half_open_calls=0 is out of range; allowed: an integer in [1, 10000]"),
        (dict(min_calls=50), "min_calls=50 conflicts: must be <= window (10)"),
        (dict(slow_call_rate=0.5), "slow_call_rate=0.5 conflicts: it needs slow_call_seconds"),
        (dict(slow_call_seconds=0.0), "slow_call_seconds=0 is out of range"),
        (dict(consecutive_failures=0), "consecutive_failures=0 is out of range"),
        (dict(max_open_seconds=5.0), "max_open_seconds=5 is out of range"),
        (dict(open_multiplier=0.5), "open_multiplier=0.5 is out of range; allowed: [1, 100]"),
        (dict(failure_rate=None), "at least one of failure_rate, consecutive_failures or slow_call_rate"),
    ],
)
def test_bad_config_fails_at_construction_naming_parameter_value_and_range(kw: dict, needle: str) -> None:  # type: ignore[type-arg]
    opts = dict(window=10, min_calls=4)
    opts.update(kw)
    if "window_seconds" in kw and "window" not in kw:
        opts.pop("window")
    with pytest.raises(ValueError) as ei:
        ferrule.CircuitBreaker("bad", **opts)
    assert isinstance(ei.value, ferrule.ConfigError)
    assert needle in str(ei.value), str(ei.value)


def test_bad_classifier_arguments_are_type_errors() -> None:
    with pytest.raises(TypeError, match="ignore"):
        ferrule.CircuitBreaker("x", ignore=(int,))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="failure_on_result"):
        ferrule.CircuitBreaker("x", failure_on_result=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ferrule.CircuitBreaker("x").on_state_change(5)  # type: ignore[arg-type]


def test_circuit_open_error_pickles() -> None:
    e = ferrule.CircuitOpenError("open", "svc", 1.5)
    e2 = pickle.loads(pickle.dumps(e))
    assert (e2.breaker, e2.retry_after, str(e2)) == ("svc", 1.5, "open")


def test_slow_calls_counted_with_manual_clock() -> None:
    clock = ManualClock()
    b = make(clock, failure_rate=1.0, slow_call_seconds=2.0, slow_call_rate=0.5)

    def slow() -> None:
        clock.advance(2.5)

    for _ in range(4):
        b.call(slow)
    assert b.stats()["slow"] == 4
    assert b.state == "open"


def test_time_window_on_manual_clock() -> None:
    clock = ManualClock()
    b = ferrule.CircuitBreaker("tw", window_seconds=10.0, min_calls=4, clock=clock)
    fail(b, 3)
    clock.advance(11)
    fail(b)
    assert b.stats()["window_calls"] == 1 and b.state == "closed"
    fail(b, 3)
    assert b.state == "open"


def test_repr_and_manual_clock_validation() -> None:
    b = make()
    assert "CircuitBreaker 't' state=closed" in repr(b)
    with pytest.raises(ValueError, match="seconds=-1"):
        ManualClock().advance(-1)
