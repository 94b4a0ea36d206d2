"""Metrics overhead: ferrule's core registry vs prometheus_client, same process, same run.
Labelled counter increment and histogram observe (through a kept handle, and resolving the label
set on every call), and the exposition of 10,000 series vs `prometheus_client.generate_latest`."""

from __future__ import annotations

import time

import prometheus_client
from prometheus_client import CollectorRegistry, generate_latest

import ferrule
from timing import QUICK, ns_per_call, table


def main() -> None:
    lam = ns_per_call(lambda: None)  # the lambda every row pays; subtracted below

    fc = ferrule.Counter("bench_calls_total", "calls", ["model"])
    reg = CollectorRegistry()
    pc = prometheus_client.Counter("bench_calls_total", "calls", ["model"], registry=reg)
    fh, ph = fc.labels(model="gpt-4o"), pc.labels(model="gpt-4o")
    rows = [
        ("ferrule handle.inc()", ns_per_call(lambda: fh.inc())),
        ("ferrule counter.labels(model=...).inc()", ns_per_call(lambda: fc.labels(model="gpt-4o").inc())),
        ("prometheus_client 0.26 bound child.inc()", ns_per_call(lambda: ph.inc())),
        ("prometheus_client 0.26 labels(model=...).inc()", ns_per_call(lambda: pc.labels(model="gpt-4o").inc())),
    ]
    rows = [(n, ns - lam) for n, ns in rows]
    table("labelled counter increment (lambda overhead subtracted)", rows,
          against="ferrule handle.inc()", target=("ferrule handle.inc()", 200))

    fhist = ferrule.Histogram("bench_latency_seconds", "latency", ["model"])
    phist = prometheus_client.Histogram("bench_latency_seconds", "latency", ["model"], registry=reg)
    fhh, phh = fhist.labels(model="gpt-4o"), phist.labels(model="gpt-4o")
    rows = [
        ("ferrule handle.observe(v)", ns_per_call(lambda: fhh.observe(0.3))),
        ("ferrule hist.labels(model=...).observe(v)", ns_per_call(lambda: fhist.labels(model="gpt-4o").observe(0.3))),
        ("prometheus_client 0.26 bound child.observe(v)", ns_per_call(lambda: phh.observe(0.3))),
        ("prometheus_client 0.26 labels(...).observe(v)", ns_per_call(lambda: phist.labels(model="gpt-4o").observe(0.3))),
    ]
    rows = [(n, ns - lam) for n, ns in rows]
    table("histogram observe (lambda overhead subtracted)", rows,
          against="ferrule handle.observe(v)", target=("ferrule handle.observe(v)", 250))

    # 10,000 series: 5,000 counter series and 5,000 gauge series, in both libraries.
    n = 1000 if QUICK else 5000
    fwide = ferrule.Counter("bench_wide_total", "wide", ["route"], max_series=n)
    fg = ferrule.Gauge("bench_wide_gauge", "wide", ["route"], max_series=n)
    preg = CollectorRegistry()
    pwide = prometheus_client.Counter("bench_wide_total", "wide", ["route"], registry=preg)
    pg = prometheus_client.Gauge("bench_wide_gauge", "wide", ["route"], registry=preg)
    for i in range(n):
        r = f"/v1/route/{i}"
        fwide.labels(r).inc(i)
        fg.labels(r).set(i)
        pwide.labels(r).inc(i)
        pg.labels(r).set(i)
    f_text, p_text = ferrule.metrics_text(), generate_latest(preg).decode()
    assert f_text.count("\nbench_wide_total{") == n and p_text.count("\nbench_wide_total{") == n
    reps = 3 if QUICK else 10

    def best(fn) -> float:  # type: ignore[no-untyped-def]
        b = float("inf")
        for _ in range(reps):
            t0 = time.perf_counter_ns()
            fn()
            b = min(b, time.perf_counter_ns() - t0)
        return b

    rows = [
        (f"ferrule.metrics_text() ({2 * n} series + built-ins)", best(ferrule.metrics_text)),
        (f"ferrule.metrics_text(openmetrics=True)", best(lambda: ferrule.metrics_text(openmetrics=True))),
        (f"prometheus_client generate_latest ({2 * n} series)", best(lambda: generate_latest(preg))),
    ]
    table(f"exposition of {2 * n} series (ns per scrape)", rows,
          against=f"ferrule.metrics_text() ({2 * n} series + built-ins)")


if __name__ == "__main__":
    main()
