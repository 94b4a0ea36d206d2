"""Router decision overhead: ferrule.Router over three endpoints vs hand-written weighted-random and
round-robin routers (the floor any router costs), and litellm's Router decision
(`get_available_deployment`) when litellm is importable (`make bench` installs it from
requirements-bench-peers.txt into .venv-litellm). litellm is not pinned in
requirements-dev.txt: it installs ~380 MB (litellm itself ~200 MB, botocore, tiktoken, aiohttp...),
so this row appears only where it is installed; it runs offline (no request is sent: the decision
alone is timed)."""

from __future__ import annotations

import itertools
import os
import random

import ferrule
from timing import ns_per_await, ns_per_call, table


def main() -> None:
    def a(x: int) -> int:
        return x

    def b(x: int) -> int:
        return x

    def c(x: int) -> int:
        return x

    fns = [a, b, c]
    weights = [1.0, 2.0, 3.0]

    def weighted_random(x: int) -> int:
        return random.choices(fns, weights)[0](x)

    cycle = itertools.cycle(fns)

    def round_robin(x: int) -> int:
        return next(cycle)(x)

    eps = [ferrule.Endpoint(f.__name__, f, weight=w) for f, w in zip(fns, weights)]
    routers = {s: ferrule.Router(eps, s, name=f"bench-{s}") for s in ("weighted", "round_robin", "least_outstanding", "p2c_ewma", "latency")}

    rows = [
        ("direct call (no router)", ns_per_call(lambda: a(1))),
        ("hand-written weighted random (random.choices)", ns_per_call(lambda: weighted_random(1))),
        ("hand-written round robin (itertools.cycle)", ns_per_call(lambda: round_robin(1))),
    ]
    for s, r in routers.items():
        call = r.call
        rows.append((f"ferrule.Router {s}", ns_per_call(lambda call=call: call(1))))
    # Sync hedging: once warmed, every call runs on a pool thread while the caller waits (the delay
    # floor of 1 s keeps the hedge itself from firing: this row is the cost of the thread handoff).
    hr = ferrule.Router(eps, "round_robin", name="bench-hedge", hedge=True, hedge_min_delay_seconds=1.0)
    for _ in range(100):
        hr.call(1)
    rows.append(("ferrule.Router round_robin, hedge=True (pool handoff)", ns_per_call(lambda: hr.call(1), n=20_000, repeats=3)))
    try:
        # Offline: litellm would otherwise try to fetch its model price map at import.
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        # `make bench` installs litellm in its own venv; appended last, so ferrule's pinned
        # packages (openai among them) still win.
        if os.environ.get("FERRULE_LITELLM_SITE"):
            import sys

            sys.path.append(os.environ["FERRULE_LITELLM_SITE"])
        import litellm  # type: ignore[import-not-found]

        litellm.suppress_debug_info = True
        lr = litellm.Router(
            model_list=[
                {"model_name": "gpt", "litellm_params": {"model": f"openai/m{i}", "api_key": "k", "api_base": "http://127.0.0.1:9/v1", "weight": w}}
                for i, w in enumerate(weights)
            ],
            routing_strategy="simple-shuffle",
        )
        pick = lr.get_available_deployment
        rows.append(("litellm Router.get_available_deployment (decision only)", ns_per_call(lambda: pick(model="gpt"), n=20_000, repeats=3)))
        lr2 = litellm.Router(
            model_list=[
                {"model_name": "gpt", "litellm_params": {"model": f"openai/m{i}", "api_key": "k", "api_base": "http://127.0.0.1:9/v1"}}
                for i in range(3)
            ],
            routing_strategy="least-busy",
        )
        pick2 = lr2.get_available_deployment
        rows.append(("litellm Router least-busy (decision only)", ns_per_call(lambda: pick2(model="gpt"), n=20_000, repeats=3)))
    except ImportError:
        print("(litellm not installed: its rows are skipped; see this file's docstring)")
    lam = ns_per_call(lambda: None)
    rows = [(n, ns - lam) for n, ns in rows]
    table("router decision + call, sync (lambda overhead subtracted)", rows, against="ferrule.Router weighted")

    async def aa(x: int) -> int:
        return x

    async def ab(x: int) -> int:
        return x

    ar = ferrule.Router([ferrule.Endpoint("a", aa), ferrule.Endpoint("b", ab)], name="bench-async")
    acycle = itertools.cycle([aa, ab])

    async def hand_rr(x: int) -> int:
        return await next(acycle)(x)

    arows = [
        ("direct await (no router)", ns_per_await(lambda: aa(1))),
        ("hand-written async round robin", ns_per_await(lambda: hand_rr(1))),
        ("ferrule.Router weighted, async", ns_per_await(lambda: ar.call(1))),
    ]
    ahr = ferrule.Router([ferrule.Endpoint("a", aa), ferrule.Endpoint("b", ab)], name="bench-async-hedge", hedge=True, hedge_min_delay_seconds=1.0)
    arows.append(("ferrule.Router hedge=True, async (armed, never fires)", ns_per_await(lambda: ahr.call(1), n=20_000, repeats=3)))
    table("router decision + call, async (awaited in a running loop)", arows, against="ferrule.Router weighted, async")
    s = routers["weighted"].stats()
    assert sum(e["errors"] for e in s["endpoints"]) == 0 and sum(e["successes"] for e in s["endpoints"]) > 0, s


if __name__ == "__main__":
    main()
