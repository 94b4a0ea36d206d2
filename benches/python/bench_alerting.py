"""The cost a dead man's switch adds to a call: ``switch.beat()`` alone, and a policy call with and
without ``heartbeat=`` (the beat then happens inside the core's success record). Same process, side
by side; the peer for "beat on success" is a hand-written ``time.monotonic()`` store in Python."""

from __future__ import annotations

import time

import ferrule
from timing import ns_per_call


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


if __name__ == "__main__":
    main()
