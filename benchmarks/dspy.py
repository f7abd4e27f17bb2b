"""DSPy tracing overhead: 300 calls of a ChainOfThought program on DummyLM.

Usage:
    .venv/bin/python benchmarks/dspy.py --tracker none
    .venv/bin/python benchmarks/dspy.py --tracker logwright
    .bench-venv/bin/python benchmarks/dspy.py --tracker mlflow
    .venv/bin/python benchmarks/dspy.py --tracker logwright --otlp   # also export to a local collector

In one process, rounds alternate between the program untraced (the baseline) and
traced until the traces are durable (logwright: ``flush()``; MLflow: its async trace
queue drained), so the added time includes the write; the best round of each counts.
A do-nothing ``BaseCallback`` round measures DSPy's own cost of having any callback
(it runs ``inspect.getcallargs`` per wrapped call). Every traced round's traces are
then counted and checked complete (5 spans under one root). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import sys
import tempfile
import time

# This file is named dspy.py: keep its folder off sys.path so `import dspy` finds DSPy.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


# genai_tracker.py is loaded by path: this folder was taken off sys.path above.
Tracker = runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "genai_tracker.py"))["Tracker"]
_otlp = runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "otlp_collector.py"))

N = 300
SPANS = 5  # ChainOfThought, Predict, adapter format, LM, adapter parse


def make_program():
    """A ChainOfThought program on a DummyLM (no network, no cache)."""
    import dspy
    from dspy.utils import DummyLM

    dspy.configure(lm=DummyLM([{"reasoning": "It is.", "answer": "Paris"}] * (20 * N)))
    return dspy.ChainOfThought("question -> answer")


def run_calls(program, n: int) -> tuple[float, float]:
    """(wall seconds, main-thread CPU seconds) for n calls."""
    start, cpu = time.perf_counter(), time.thread_time()
    for i in range(n):
        program(question=f"What is the capital of France? ({i})")
    return time.perf_counter() - start, time.thread_time() - cpu


def measure(tracker: Tracker, program, rounds: int) -> dict[str, float]:
    """Interleaved rounds: untraced, a do-nothing callback, traced until durable; best of each."""
    import dspy
    from dspy.utils.callback import BaseCallback

    none, noop, call, durable = [], [], [], []
    exp = tracker.experiment("dspy-bench")
    for _ in range(rounds):
        tracker.enable(False)
        none.append(run_calls(program, N))
        with dspy.context(callbacks=[BaseCallback()]):
            noop.append(run_calls(program, N))
        tracker.enable(True)
        start = time.perf_counter()
        call.append(run_calls(program, N))
        tracker.drain()
        durable.append(time.perf_counter() - start)
    tracker.enable(False)
    best = {name: (min(w for w, _ in xs), min(c for _, c in xs))
            for name, xs in (("none", none), ("noop", noop), ("traced", call))}
    per = 1e6 / N
    out = {
        "none_us_per_call": best["none"][0] * per,
        "added_us_per_call_durable": (min(durable) - best["none"][0]) * per,
        "added_us_in_call": (best["traced"][0] - best["none"][0]) * per,
        "noop_callback_added_us": (best["noop"][0] - best["none"][0]) * per,
        "added_us_vs_noop_callback_durable": (min(durable) - best["noop"][0]) * per,
        "cpu_none_us_per_call": best["none"][1] * per,
        "cpu_added_us_in_call": (best["traced"][1] - best["none"][1]) * per,
        "cpu_noop_callback_added_us": (best["noop"][1] - best["none"][1]) * per,
    }
    if tracker.name != "none":
        recorded, complete = tracker.count(exp, SPANS, 100 * N)
        out.update(traces_expected=rounds * N, traces_recorded=recorded, traces_complete=complete)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tracker", choices=["none", "logwright", "mlflow"], default="logwright")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--otlp", action="store_true", help="also export every trace to a local OTLP collector")
    args = parser.parse_args()
    collector = _otlp["start"]() if args.otlp else None
    out: dict[str, object] = {"tracker": args.tracker, "n": N, "python": sys.version.split()[0]}
    with tempfile.TemporaryDirectory() as root:
        tracker = Tracker(args.tracker, root, "dspy")
        program = make_program()
        tracker.experiment("warm-up")
        tracker.enable(True)
        run_calls(program, 50)
        tracker.drain()
        tracker.enable(False)
        out.update(measure(tracker, program, args.rounds))
    if collector is not None:
        out.update({f"otlp_{k}_received": v for k, v in _otlp["stop"](collector).items()})
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}))


if __name__ == "__main__":
    main()
