"""A 10-million-event burst from Python through the whole telemetry pipeline (5M spans into the
read-back ring and the export queue of an unreachable collector, 5M structured log events through
the rate limiter to a file): memory stays flat and every event is accounted for exactly.

It runs in a child process so the counters and the resident set are this burst's alone."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import ferrule

    def rss_kib():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4

    HALF = 5_000_000
    WARM = HALF // 100
    ferrule.configure(otlp_endpoint="http://127.0.0.1:9", sample_ratio=1.0,
                      log_sink=ferrule.LogFile(sys.argv[1]), log_level="info", log_dedup_seconds=86400.0)
    span, emit = ferrule.span, ferrule.emit

    def one(i):
        with span("burst"):
            pass
        # 1000 distinct warnings repeating (the repeats are rate-limited and counted) and a
        # debug event in every 10 (below the level).
        emit("retry.attempt", level="debug" if i % 10 == 0 else "warning",
             message="retrying for bob@example.com", attempt=i % 1000)

    for i in range(WARM):
        one(i)
    before = rss_kib()
    for i in range(WARM, HALF):
        one(i)
    after = rss_kib()
    ferrule.configure(otlp_endpoint=False)  # stops the export worker: the counts settle
    st = ferrule.telemetry_stats()
    print(json.dumps({"sent": HALF, "grew_kib": after - before, **{k: v for k, v in st.items()
                      if isinstance(v, int) and not isinstance(v, bool)}}))
    """
)


def test_ten_million_events_from_python_stay_bounded_and_are_all_counted(tmp_path: Path) -> None:
    log = tmp_path / "burst.jsonl"
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(log)], capture_output=True, text=True,
                         timeout=900, check=True)
    st = json.loads(out.stdout.strip().splitlines()[-1])
    sent = st["sent"]
    # spans: the ring holds its capacity and evicted the rest; the export queue's drops, queue,
    # failures and deliveries add up to every span.
    assert st["spans_ended"] == sent
    assert st["recent_len"] == st["recent_capacity"]
    assert st["recent_len"] + st["recent_evicted"] == sent
    assert st["export_dropped"] > 0 and st["export_queued"] <= st["export_capacity"]
    assert st["export_dropped"] + st["export_queued"] + st["export_failed_spans"] + st["exported_spans"] == sent
    # logs: every burst event is written (the first of each of the 900 distinct warnings),
    # rate-limited, or below the level. Ferrule's own warnings (export failures) share the logger,
    # so the suppressed total may exceed the burst's by theirs, never fall short of it.
    written = log.read_text().splitlines()
    assert len(written) == st["logs_emitted"]
    assert all("bob@example.com" not in x for x in written)
    burst_lines = [x for x in written if '"retry.attempt"' in x]
    assert len(burst_lines) == 900
    assert st["logs_below_level"] == sent // 10
    own_lines = len(written) - len(burst_lines)
    assert st["logs_suppressed"] >= sent - sent // 10 - 900
    assert st["logs_suppressed"] - (sent - sent // 10 - 900) <= st["export_failed_spans"] + own_lines
    # 5M span records or log lines held anywhere would be gigabytes; only the fixed slots exist.
    assert st["grew_kib"] < 32 * 1024, st
