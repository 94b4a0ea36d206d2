"""ferrule.DeadLetterQueue and Policy(dead_letter=...): storage, on_full, masking, replay (sync and
async, poison messages, filter, max), metrics, another process replaying, and the real OpenAI SDK
against the mock server."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import openai
import pytest

import ferrule
from ferrule.testing import MockLLMServer


@pytest.fixture
def dlq_path(tmp_path: Path) -> Path:
    return tmp_path / "dlq.sqlite"


def test_push_list_len_get_purge(dlq_path: Path) -> None:
    q = ferrule.DeadLetterQueue(dlq_path, max_items=10)
    assert len(q) == 0 and q.list() == []
    a = q.push({"n": 1}, ["boom"], key="k", attempts=2, trace_id="t" * 32)
    b = q.push('{"n": 2}')
    assert a is not None and b is not None and b > a
    assert len(q) == 2
    items = q.list()
    assert [i.data() for i in items] == [{"n": 1}, {"n": 2}]
    first = q.get(a)
    assert first is not None
    assert (first.key, first.errors, first.attempts, first.trace_id, first.replay_count) == (
        "k",
        ("boom",),
        2,
        "t" * 32,
        0,
    )
    assert first.first_failed_unix_ms == first.last_failed_unix_ms > 0
    assert len(q.list(limit=1)) == 1
    assert q.list(since=first.last_failed_unix_ms / 1000 + 3600) == []
    assert q.purge(before=0) == 0
    assert q.purge() == 2 and len(q) == 0


def test_bad_configuration_names_the_parameter(dlq_path: Path) -> None:
    with pytest.raises(ferrule.ConfigError, match='on_full="sometimes" is not allowed'):
        ferrule.DeadLetterQueue(dlq_path, on_full="sometimes")
    with pytest.raises(ferrule.ConfigError, match=r"max_items=0 is out of range"):
        ferrule.DeadLetterQueue(dlq_path, max_items=0)
    with pytest.raises(ValueError, match="replay_lease_seconds"):
        ferrule.DeadLetterQueue(dlq_path, replay_lease_seconds=-1)
    with pytest.raises(TypeError, match="dead_letter="):
        ferrule.Policy(dead_letter="dlq.sqlite")  # type: ignore[arg-type]


def test_on_full_reject_and_drop_oldest_are_counted_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    rej = ferrule.DeadLetterQueue(tmp_path / "r.sqlite", max_items=2, on_full="reject", name="rej")
    assert [rej.push(i) is not None for i in range(4)] == [True, True, False, False]
    assert [i.payload for i in rej.list()] == ["0", "1"]
    assert rej.stats()["rejected"] == 2
    drop = ferrule.DeadLetterQueue(tmp_path / "d.sqlite", max_items=2, on_full="drop_oldest", name="drop")
    for i in range(4):
        assert drop.push(i) is not None
    assert [i.payload for i in drop.list()] == ["2", "3"]
    assert drop.stats()["evicted"] == 2
    text = caplog.text
    assert "on_full=reject" in text and "on_full=drop_oldest" in text
    metrics = ferrule.metrics_text()
    assert 'ferrule_dead_letters_total{name="rej",outcome="rejected"} 2' in metrics
    assert 'ferrule_dead_letters_total{name="drop",outcome="evicted"} 2' in metrics
    assert 'ferrule_dead_letter_depth{name="drop"} 2' in metrics
    assert 'ferrule_dead_letter_oldest_age_seconds{name="drop"}' in metrics


def test_replay_removes_successes_keeps_failures_and_poison_never_blocks(dlq_path: Path) -> None:
    q = ferrule.DeadLetterQueue(dlq_path)
    for p in ["ok1", "poison", "ok2", "skip", "ok3"]:
        q.push({"p": p}, ["first failure"])
    seen = []

    def handler(item: ferrule.DeadLetter) -> None:
        seen.append(item.data()["p"])
        if item.data()["p"] == "poison":
            raise RuntimeError("still broken")

    r = q.replay(handler, filter=lambda i: i.data()["p"] != "skip")
    assert seen == ["ok1", "poison", "ok2", "ok3"]
    assert r == ferrule.ReplayReport(succeeded=3, failed=1, skipped=1, busy=0)
    left = {i.data()["p"]: i for i in q.list()}
    assert set(left) == {"poison", "skip"}
    assert left["poison"].errors == ("first failure", "RuntimeError: still broken")
    assert left["poison"].replay_count == 1
    assert q.stats()["replayed"] == 3 and q.stats()["replay_failed"] == 1

    r = q.replay(lambda i: None, max=1)
    assert r.succeeded == 1 and len(q) == 1


def test_replay_async(dlq_path: Path) -> None:
    q = ferrule.DeadLetterQueue(dlq_path)
    for n in range(5):
        q.push({"n": n})

    async def handler(item: ferrule.DeadLetter) -> None:
        await asyncio.sleep(0)
        if item.data()["n"] % 2:
            raise ValueError("odd")

    r = asyncio.run(q.replay_async(handler))
    assert (r.succeeded, r.failed) == (3, 2)
    assert [i.data()["n"] for i in q.list()] == [1, 3]


def test_policy_stores_a_call_that_exhausted_retries_with_args_errors_attempts_and_trace(
    dlq_path: Path,
) -> None:
    q = ferrule.DeadLetterQueue(dlq_path, mask=False)
    calls = []

    @ferrule.Policy(retry=ferrule.Retry(3, backoff=ferrule.Backoff.constant(0.0)), dead_letter=q, name="ask")
    def ask(prompt: str, *, temperature: float) -> str:
        calls.append(prompt)
        raise ConnectionError(f"down #{len(calls)}")

    with ferrule.span("request") as sp:
        with pytest.raises(ferrule.RetryError):
            ask("hello", temperature=0.2)
    assert len(calls) == 3
    [item] = q.list()
    assert item.key == "ask"
    assert item.args == ["hello"] and item.kwargs == {"temperature": 0.2}
    assert item.attempts == 3
    assert item.errors[:3] == (
        "attempt 1: ConnectionError: down #1",
        "attempt 2: ConnectionError: down #2",
        "attempt 3: ConnectionError: down #3",
    )
    assert item.errors[-1].startswith("RetryError: ask: gave up after 3 attempt(s)")
    assert item.trace_id == sp.trace_id


def test_policy_does_not_store_a_call_its_fallback_saved_but_stores_a_failed_fallback(dlq_path: Path) -> None:
    q = ferrule.DeadLetterQueue(dlq_path)

    def boom(x: int) -> int:
        raise KeyError(x)

    saved = ferrule.Policy(fallback=lambda e, x: -x, dead_letter=q)
    assert saved.call(boom, 7) == -7
    assert len(q) == 0

    def bad_fallback(e: BaseException, x: int) -> int:
        raise RuntimeError("fallback broke too")

    lost = ferrule.Policy(fallback=bad_fallback, dead_letter=q, name="lost")
    with pytest.raises(Exception):
        lost.call(boom, 8)
    [item] = q.list()
    assert item.args == [8]
    assert any("KeyError" in e for e in item.errors) and any("fallback broke too" in e for e in item.errors)


def test_payload_is_masked_unless_opted_out(tmp_path: Path) -> None:
    def fail(**kw: object) -> None:
        raise RuntimeError("rejected key sk-abcdefghijklmnopqrstuvwx")

    masked = ferrule.DeadLetterQueue(tmp_path / "m.sqlite")
    with pytest.raises(RuntimeError):
        ferrule.Policy(dead_letter=masked).call(fail, email="ann@example.com")
    [m] = masked.list()
    assert m.kwargs == {"email": "[EMAIL]"}
    assert m.errors == ("RuntimeError: rejected key [SECRET]",)

    raw = ferrule.DeadLetterQueue(tmp_path / "r.sqlite", mask=False)
    with pytest.raises(RuntimeError):
        ferrule.Policy(dead_letter=raw).call(fail, email="ann@example.com")
    assert raw.list()[0].kwargs == {"email": "ann@example.com"}


def test_async_policy_stores_off_the_event_loop(dlq_path: Path) -> None:
    q = ferrule.DeadLetterQueue(dlq_path)

    @ferrule.Policy(retry=ferrule.Retry(2, backoff=ferrule.Backoff.constant(0.0)), dead_letter=q, name="aask")
    async def aask(prompt: str) -> str:
        raise TimeoutError("slow")

    async def main() -> None:
        with pytest.raises(ferrule.RetryError):
            await aask("hi")

    asyncio.run(main())
    [item] = q.list()
    assert (item.key, item.args, item.attempts) == ("aask", ["hi"], 2)


def test_a_dead_letter_written_by_one_process_is_replayed_by_another(dlq_path: Path) -> None:
    q = ferrule.DeadLetterQueue(dlq_path)
    for n in range(3):
        q.push({"n": n})
    script = textwrap.dedent(
        f"""
        import ferrule, json
        q = ferrule.DeadLetterQueue({str(dlq_path)!r})
        seen = []
        r = q.replay(lambda i: seen.append(i.data()["n"]))
        print(json.dumps([seen, r.succeeded]))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [[0, 1, 2], 3]
    assert len(q) == 0


def _client(server: MockLLMServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url, api_key="k", max_retries=0)


def test_openai_request_that_exhausts_retries_lands_in_the_dlq_and_replays_after_the_fault_lifts(
    dlq_path: Path,
) -> None:
    # The first three requests fail with 500 (the fault); from the fourth on the server answers.
    with MockLLMServer(script=["500", "500", "500"]) as server:
        client = _client(server)
        q = ferrule.DeadLetterQueue(dlq_path, mask=False)
        policy = ferrule.Policy(
            retry=ferrule.Retry(3, backoff=ferrule.Backoff.constant(0.0)), dead_letter=q, name="chat"
        )
        messages = [{"role": "user", "content": "summarise the report"}]
        with pytest.raises(ferrule.RetryError):
            policy.call(client.chat.completions.create, model="gpt-4o-mini", messages=messages)
        assert len(server.requests) == 3
        [item] = q.list()
        assert item.kwargs == {"model": "gpt-4o-mini", "messages": messages}
        assert item.attempts == 3
        assert all("InternalServerError" in e for e in item.errors[:3])

        answers = []

        def handler(d: ferrule.DeadLetter) -> None:
            answers.append(client.chat.completions.create(*d.args, **d.kwargs))

        r = q.replay(handler)
        assert r.succeeded == 1 and len(q) == 0
        assert answers[0].choices[0].message.content
        assert server.requests[-1]["json"]["messages"] == messages


def test_openai_async_replay_keeps_a_request_that_still_fails(dlq_path: Path) -> None:
    with MockLLMServer(script=["500", "500", "500"]) as server:
        client = openai.AsyncOpenAI(base_url=server.url, api_key="k", max_retries=0)
        q = ferrule.DeadLetterQueue(dlq_path, mask=False)
        policy = ferrule.Policy(retry=ferrule.Retry(2, backoff=ferrule.Backoff.constant(0.0)), dead_letter=q)

        async def create(**kw: Any) -> Any:
            return await client.chat.completions.create(**kw)

        async def main() -> ferrule.ReplayReport:
            with pytest.raises(ferrule.RetryError):
                await policy.call(create, model="m", messages=[{"role": "user", "content": "a"}])
            # the third request is still faulted: the replay fails and the item stays
            r1 = await q.replay_async(lambda d: client.chat.completions.create(*d.args, **d.kwargs))
            assert (r1.succeeded, r1.failed) == (0, 1)
            return await q.replay_async(lambda d: client.chat.completions.create(*d.args, **d.kwargs))

        r2 = asyncio.run(main())
        assert r2.succeeded == 1 and len(q) == 0
