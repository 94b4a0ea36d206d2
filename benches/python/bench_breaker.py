"""Circuit breaker overhead on the success path: ferrule vs pybreaker and circuitbreaker, with a bare
pass-through decorator as the floor."""

from __future__ import annotations

import functools

import circuitbreaker
import pybreaker

import ferrule
from timing import bare, bare_async, ns_per_await, ns_per_call, table




def main() -> None:
    def work(x):
        return x

    async def awork(x):
        return x

    fb = ferrule.CircuitBreaker("bench", failure_rate=0.5, window=100, min_calls=20)
    pb = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=30)
    cb = circuitbreaker.CircuitBreaker(failure_threshold=5, recovery_timeout=30)

    f_plain = work
    f_bare = bare(work)
    f_ferrule = fb(work)
    f_pyb = pb(work)
    f_cb = cb(work)
    f_ferrule_call = functools.partial(fb.call, work)
    rows = [
        ("plain call (no wrapper)", ns_per_call(lambda: f_plain(1))),
        ("bare pass-through decorator", ns_per_call(lambda: f_bare(1))),
        ("ferrule.CircuitBreaker decorator", ns_per_call(lambda: f_ferrule(1))),
        ("ferrule.CircuitBreaker.call", ns_per_call(lambda: f_ferrule_call(1))),
        ("pybreaker 1.4 decorator", ns_per_call(lambda: f_pyb(1))),
        ("circuitbreaker 2.1 decorator", ns_per_call(lambda: f_cb(1))),
    ]
    # The call through a lambda costs the same in every row; the target is the decorated call alone.
    lam = ns_per_call(lambda: None)
    rows = [(n, ns - lam) for n, ns in rows]
    table("circuit breaker, sync success path (lambda overhead subtracted)", rows,
          against="ferrule.CircuitBreaker decorator", target=("ferrule.CircuitBreaker decorator", 350))

    a_bare = bare_async(awork)
    a_ferrule = fb(awork)
    a_cb = cb(awork)
    arows = [
        ("bare async pass-through decorator", ns_per_await(lambda: a_bare(1))),
        ("ferrule.CircuitBreaker async decorator", ns_per_await(lambda: a_ferrule(1))),
        ("circuitbreaker 2.1 async decorator", ns_per_await(lambda: a_cb(1))),
    ]
    table("circuit breaker, async success path (awaited in a running loop)", arows,
          against="ferrule.CircuitBreaker async decorator")
    s = fb.stats()
    assert s["failures"] == 0 and s["successes"] > 0, s


if __name__ == "__main__":
    main()
