"""Tracing overhead: a 3-level tree of 10 spans around trivial functions.

root -> 3 x mid -> 2 x leaf each: 10 spans per trace. Two payloads: ``int`` (an int
in, an int out) and ``dict`` (a small dict in, a list out: JSON serialization
runs). For each, the same functions run undecorated (baseline, same process)
and decorated with the tracker's decorator.

Figures:
  * ``added_us_per_span``: (decorated loop - undecorated loop) / spans, before
    anything is flushed: what the user's thread pays per span.
  * ``sustained_spans_per_s``: spans / (decorated loop + flush until every trace
    is in the store): what the store absorbs end to end.
  * ``cpu_us_per_span_incl_writer``: process CPU time (every thread: the user's,
    the writer's) per span over decorated loop + flush, minus the baseline's;
    steadier than wall time on a busy machine.

Usage:
    .venv/bin/python benchmarks/tracing.py --tracker logwright
    .bench-venv/bin/python benchmarks/tracing.py --tracker mlflow
    .venv/bin/python benchmarks/tracing.py --tracker none
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

SPANS_PER_TRACE = 10


def build(decorate, payload: str):
    """The root function of the 10-span tree, each level wrapped by ``decorate``."""
    if payload == "int":
        @decorate
        def leaf(x):
            return x + 1
    else:
        @decorate
        def leaf(x):
            return [x["a"], x["b"]]

    @decorate
    def mid(x):
        return leaf(x), leaf(x)

    @decorate
    def root(x):
        return mid(x), mid(x), mid(x)

    return root


def _arg(payload: str, i: int):
    return i if payload == "int" else {"a": i, "b": "text", "c": [1, 2]}


def loop(fn, payload: str, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        fn(_arg(payload, i))
    return time.perf_counter() - start


def setup(tracker: str, root: str):
    """(decorator, flush) for the tracker, writing into a fresh store under ``root``."""
    if tracker == "none":
        return (lambda f: f), (lambda: None)
    if tracker == "logwright":
        import logwright as lw

        lw.set_tracking_uri(os.path.join(root, "store"))
        lw.set_experiment("bench")
        return lw.trace, lw.flush
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{os.path.join(root, 'mlflow.db')}")
    mlflow.set_experiment("bench")

    def flush():
        fn = getattr(mlflow, "flush_trace_async_logging", None)
        if fn is not None:
            fn()

    return mlflow.trace, flush


def count_stored(tracker: str) -> int:
    if tracker == "logwright":
        import logwright as lw

        store = lw.Client().store
        return store.read_db().execute("SELECT COUNT(*) FROM spans").fetchone()[0]
    if tracker == "mlflow":
        import mlflow

        traces = mlflow.search_traces(max_results=100_000, return_type="list")
        return sum(len(t.data.spans) for t in traces)
    return 0


def measure(tracker: str, payload: str, n: int, repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as root:
        decorate, flush = setup(tracker, root)
        plain = build(lambda f: f, payload)
        traced = build(decorate, payload)
        traced(_arg(payload, 0))  # warm up: store creation, imports
        flush()
        base, hot, total, cpu_base, cpu = [], [], [], [], []
        for _ in range(repeat):
            cpu_start = time.process_time()
            base.append(loop(plain, payload, n))
            cpu_base.append(time.process_time() - cpu_start)
            cpu_start = time.process_time()
            start = time.perf_counter()
            hot.append(loop(traced, payload, n))
            flush()
            total.append(time.perf_counter() - start)
            cpu.append(time.process_time() - cpu_start)
        spans = n * SPANS_PER_TRACE
        stored = count_stored(tracker)
    base_s, hot_s, total_s = min(base), statistics.median(hot), statistics.median(total)
    return {
        "payload": payload,
        "spans_per_run": spans,
        "spans_stored": stored,
        "baseline_us_per_span": base_s / spans * 1e6,
        "added_us_per_span": (hot_s - base_s) / spans * 1e6,
        "sustained_spans_per_s": spans / total_s if tracker != "none" else None,
        "cpu_us_per_span_incl_writer": (statistics.median(cpu) - min(cpu_base)) / spans * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracker", choices=["none", "logwright", "mlflow"], default="logwright")
    parser.add_argument("--traces", type=int, default=5000, help="traces per timed loop")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for payload in ("int", "dict"):
        figures = measure(args.tracker, payload, args.traces, args.repeat)
        figures["tracker"] = args.tracker
        figures["python"] = sys.version.split()[0]
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
