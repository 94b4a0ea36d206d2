"""`python -m ferrule.mock`: run the OpenAI-compatible mock server until interrupted.

    python -m ferrule.mock --port 8089 --faults '[{"kind": "429", "rate": 0.2}]' --seed 1
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import List, Optional

from .testing import MockLLMServer


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ferrule.mock", description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8089)
    p.add_argument("--faults", default="[]", help="JSON list of fault rules (see ferrule.testing.MockLLMServer)")
    p.add_argument("--script", default="", help="comma-separated fault kinds for the first requests")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--latency-seconds", type=float, default=0.0)
    p.add_argument("--allow-non-loopback", action="store_true")
    a = p.parse_args(argv)
    try:
        rules = json.loads(a.faults)
    except ValueError as e:
        p.error(f"--faults is not JSON: {e}")
    script = [s for s in a.script.split(",") if s]
    server = MockLLMServer(rules, script=script, seed=a.seed, host=a.host, port=a.port,
                           latency_seconds=a.latency_seconds, allow_non_loopback=a.allow_non_loopback)
    print(f"ferrule mock LLM server on {server.url}  (Ctrl-C to stop)", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        print(json.dumps(server.stats()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
