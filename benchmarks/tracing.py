"""Tracing overhead, sustained throughput into the store, and memory.

Workloads (each traced function is trivial, so the figures are the tracker's cost):

* ``tree``: root -> 3 x mid -> 2 x leaf each, 10 spans per trace, with two
  payloads: ``int`` (an int in, an int out) and ``dict`` (a small dict in, a list
  out: JSON serialization runs). The same functions also run undecorated
  (baseline, same process).
* ``fanout``: a root calling 9 children (10 spans per trace) in a tight loop of
  ``--fanout-traces`` traces: the store's sustained intake.
* memory: in a fresh subprocess each, ``--memory-spans`` spans of ``tree`` traces,
  and ``--memory-traces`` one-span traces whose input is a 4 KB prompt.

Figures:
  * ``added_us_per_span``: (decorated loop - undecorated loop) / spans, before
    anything is flushed: what the user's thread pays per span.
  * ``sustained_spans_per_s``: spans / (loop from the first span + flush until
    every trace is durable in the store).
  * ``cpu_us_per_span_incl_writer``: process CPU time (every thread: the user's,
    the writer's) per span over loop + flush, minus the baseline's; steadier
    than wall time on a busy machine.
  * ``rss_mb``: resident memory before the loop (after the first trace), at the
    peak (``ru_maxrss``) and after the flush.

Usage:
    .venv/bin/python benchmarks/tracing.py --tracker logwright
    .bench-venv/bin/python benchmarks/tracing.py --tracker mlflow
    .venv/bin/python benchmarks/tracing.py --tracker none
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import string
import subprocess
import sys
import tempfile
import time

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

SPANS_PER_TRACE = 10


def _prompt(size: int = 4096) -> str:
    """A 4 KB prompt of pseudo-words: compresses about like English (2-3x), unlike a repeated sentence."""
    rng = random.Random(14)
    words = ["".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 10))) for _ in range(5000)]
    weights = [1 / rank for rank in range(1, len(words) + 1)]  # Zipf, as in natural language
    return " ".join(rng.choices(words, weights, k=size // 3))[:size]


PROMPT = _prompt()


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


def build_fanout(decorate):
    """A root calling 9 children: 10 spans per trace."""
    @decorate
    def child(x, k):
        return x + k

    @decorate
    def root(x):
        return [child(x, k) for k in range(9)]

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
    """Spans stored in the tracker's store (read back through its public API)."""
    if tracker == "logwright":
        import logwright as lw

        store, seen, spans, page = lw.Client().store, 0, 0, 5000
        while True:  # paged: a store of 600k spans read at once would dwarf the figures measured
            traces = store.search_traces(None, max_results=page, offset=seen)
            seen += len(traces)
            spans += sum(t.info.span_count for t in traces)
            if len(traces) < page:
                return spans
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
        "workload": f"tree-{payload}",
        "spans_per_run": spans,
        "spans_stored": stored,
        "spans_created": spans * repeat + SPANS_PER_TRACE,
        "baseline_us_per_span": base_s / spans * 1e6,
        "added_us_per_span": (hot_s - base_s) / spans * 1e6,
        "sustained_spans_per_s": spans / total_s if tracker != "none" else None,
        "cpu_us_per_span_incl_writer": (statistics.median(cpu) - min(cpu_base)) / spans * 1e6,
    }


def measure_fanout(tracker: str, n: int, repeat: int) -> dict:
    """Spans/s from the first span of a tight fan-out loop until all of it is durable."""
    rates = []
    with tempfile.TemporaryDirectory() as root:
        decorate, flush = setup(tracker, root)
        traced = build_fanout(decorate)
        traced(0)
        flush()
        for _ in range(repeat):
            start = time.perf_counter()
            for i in range(n):
                traced(i)
            flush()
            rates.append(n * SPANS_PER_TRACE / (time.perf_counter() - start))
        stored = count_stored(tracker)
    return {
        "workload": "fanout",
        "spans_per_run": n * SPANS_PER_TRACE,
        "spans_stored": stored,
        "spans_created": (n * repeat + 1) * SPANS_PER_TRACE,
        "sustained_spans_per_s": statistics.median(rates) if tracker != "none" else None,
        "sustained_spans_per_s_min": min(rates) if tracker != "none" else None,
    }


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    """This process's peak RSS: VmHWM, since ``ru_maxrss`` keeps the parent's peak across exec."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(tracker: str, kind: str, n: int) -> None:
    """Runs in a fresh interpreter: one memory workload, prints its figures as JSON."""
    with tempfile.TemporaryDirectory() as root:
        decorate, flush = setup(tracker, root)
        if kind == "spans":
            traced = build(decorate, "int")
            traced(0)
            calls, arg = n // SPANS_PER_TRACE, (lambda i: i)
        else:
            @decorate
            def traced(prompt, i):
                return {"answer": f"answer {i}", "tokens": len(prompt)}

            traced(PROMPT, 0)
            calls = n
        flush()
        before = _rss_mb()
        start = time.perf_counter()
        for i in range(calls):
            if kind == "spans":
                traced(arg(i))
            else:
                traced(PROMPT[:-8] + f"{i:08d}", i)
        flush()
        elapsed = time.perf_counter() - start
        after = _rss_mb()
        peak = _peak_rss_mb()
    print(json.dumps({
        "workload": f"memory-{kind}", "count": n, "rss_mb_before": round(before, 1),
        "rss_mb_peak": round(peak, 1), "rss_mb_after_flush": round(after, 1), "seconds": round(elapsed, 2),
        "payload_mb": round(n * len(PROMPT) / 2**20, 1) if kind == "inputs" else None,
    }))


def measure_memory(tracker: str, kind: str, n: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--tracker", tracker, "--memory-child", kind, "--count", str(n)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracker", choices=["none", "logwright", "mlflow"], default="logwright")
    parser.add_argument("--traces", type=int, default=5000, help="traces per timed loop (tree)")
    parser.add_argument("--fanout-traces", type=int, default=20_000, help="traces per timed loop (fanout)")
    parser.add_argument("--memory-spans", type=int, default=100_000)
    parser.add_argument("--memory-traces", type=int, default=100_000, help="one-span traces with 4 KB inputs")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory-child", choices=["spans", "inputs"], help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.tracker, args.memory_child, args.count)
        return
    results = [measure_memory(args.tracker, "spans", args.memory_spans),
               measure_memory(args.tracker, "inputs", args.memory_traces)]
    results += [measure(args.tracker, payload, args.traces, args.repeat) for payload in ("int", "dict")]
    results.append(measure_fanout(args.tracker, args.fanout_traces, args.repeat))
    for figures in results:
        figures["tracker"] = args.tracker
        figures["python"] = sys.version.split()[0]
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
