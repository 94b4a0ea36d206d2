"""The cost a dead man's switch adds to a call: ``switch.beat()`` alone, and a policy call with and
without ``heartbeat=`` (the beat then happens inside the core's success record). Same process, side
by side; the peer for "beat on success" is a hand-written ``time.monotonic()`` store in Python."""

from __future__ import annotations

import contextvars
import time

import ferrule
from ferrule.watch import synthetic as synthetic_marker
from timing import bare, ns_per_call, table


def main() -> None:
    switch = ferrule.DeadMansSwitch("bench", within_seconds=3600)
    plain = ferrule.Policy(name="bench-plain")
    beating = ferrule.Policy(name="bench-beat", heartbeat=ferrule.DeadMansSwitch("bench2", within_seconds=3600))
    last = [0.0]

    def hand_beat() -> None:
        last[0] = time.monotonic()

    f = lambda: 1  # noqa: E731
    rows = [
        ("switch.beat()", ns_per_call(switch.beat)),
        ("hand-written monotonic() store (peer)", ns_per_call(hand_beat)),
        ("Policy.call, no heartbeat", ns_per_call(lambda: plain.call(f))),
        ("Policy.call, heartbeat=switch", ns_per_call(lambda: beating.call(f))),
    ]
    print("alerting: ns per call (lower is better)")
    for name, ns in rows:
        print(f"  {name:45s} {ns:8.1f} ns")
    print(f"  heartbeat overhead per policy call: {rows[3][1] - rows[2][1]:+.1f} ns")
    synthetic_rows()


def synthetic_rows() -> None:
    """What the synthetic mark costs a decorated policy call: with no probe running (one
    global read), while a probe runs elsewhere (the context variable is read too), and inside the
    probe (the call goes through the policy's synthetic twin)."""
    policy = ferrule.Policy(name="bench-synthetic")

    @policy
    def call() -> int:
        return 1

    @bare
    def floor() -> int:
        return 1

    rows = [("pass-through decorator (floor)", ns_per_call(floor)), ("@Policy, no probe running", ns_per_call(call))]
    token = synthetic_marker.enter()  # a probe is running: this context is inside it
    try:
        rows.append(("@Policy, inside a probe (twin)", ns_per_call(call)))
        outside = contextvars.Context()  # a user's context while the probe runs
        rows.append(("@Policy, a probe runs elsewhere", ns_per_call(lambda: outside.run(call))))
        rows.append(("Context.run alone (the row above's harness)", ns_per_call(lambda: outside.run(floor))))
    finally:
        synthetic_marker.leave(token)
    table("synthetic mark on a decorated policy call", rows, against="pass-through decorator (floor)")


if __name__ == "__main__":
    main()
