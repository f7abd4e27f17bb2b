"""LangChain tracing overhead: 1,000 invokes of prompt | fake chat model | parser.

Usage:
    .venv/bin/python benchmarks/langchain.py --tracker none
    .venv/bin/python benchmarks/langchain.py --tracker logwright
    .bench-venv/bin/python benchmarks/langchain.py --tracker mlflow
    .venv/bin/python benchmarks/langchain.py --tracker logwright --otlp   # also export to a local collector

In one process, rounds alternate between the chain untraced (the baseline), the chain
with a do-nothing ``BaseCallbackHandler`` (langchain-core's own cost of running any
handler: ``*_noop_handler_added_us``; the tracker's share is ``*_vs_noop_handler*``) and
traced until the traces are durable (logwright: ``flush()``; MLflow: its async trace
queue drained), so the added time includes the write; the best round of each counts.
Two workloads: 1,000 back-to-back ``invoke`` and 1,000 ``ainvoke`` under
``asyncio.gather`` 10 at a time. ``*_cpu_added_in_call_us`` is the calling thread's
CPU time added per invoke (steadier than wall time on a busy machine). Every traced round's traces are then counted and
checked complete (4 spans under one root). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


import otlp_collector  # noqa: E402 - beside this script
from genai_tracker import Tracker  # noqa: E402 - beside this script, after the thread settings

N = 1000
CONCURRENCY = 10


def make_chain():
    """The 3-step LCEL chain: a chat prompt, a fake chat model, a string parser."""
    from langchain_core.language_models.fake_chat_models import FakeListChatModel
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    prompt = ChatPromptTemplate.from_messages([("system", "Answer briefly."), ("human", "{question}")])
    return prompt | FakeListChatModel(responses=["Paris is the capital of France."]) | StrOutputParser()


def run_sync(chain, n: int, config=None) -> float:
    start = time.perf_counter()
    for i in range(n):
        chain.invoke({"question": f"question {i}"}, config)
    return time.perf_counter() - start


def run_async(chain, n: int, config=None) -> float:
    async def gather_all() -> None:
        for base in range(0, n, CONCURRENCY):
            await asyncio.gather(*(chain.ainvoke({"question": f"q {base + j}"}, config) for j in range(CONCURRENCY)))

    start = time.perf_counter()
    asyncio.run(gather_all())
    return time.perf_counter() - start


def noop_config() -> dict:
    """A do-nothing callback handler: langchain-core's own cost of having any handler."""
    from langchain_core.callbacks import BaseCallbackHandler

    class Noop(BaseCallbackHandler):
        run_inline = True  # as logwright's handler: called inline, in the task's own context

    return {"callbacks": [Noop()]}


def measure(tracker: Tracker, chain, runner, label: str, rounds: int) -> dict[str, float]:
    """Interleaved rounds (untraced, a no-op handler, traced until durable); best of each."""
    none_s, traced_s, call_s, none_cpu, traced_cpu, noop_s, noop_cpu = [], [], [], [], [], [], []
    exp = tracker.experiment(label)
    noop = noop_config()
    for _ in range(rounds):
        tracker.enable(False)
        cpu = time.thread_time()
        none_s.append(runner(chain, N))
        none_cpu.append(time.thread_time() - cpu)
        cpu = time.thread_time()
        noop_s.append(runner(chain, N, noop))
        noop_cpu.append(time.thread_time() - cpu)
        tracker.enable(True)
        start, cpu = time.perf_counter(), time.thread_time()
        runner(chain, N)
        call_s.append(time.perf_counter() - start)
        traced_cpu.append(time.thread_time() - cpu)
        tracker.drain()
        traced_s.append(time.perf_counter() - start)
    tracker.enable(False)
    out = {f"{label}_none_s": min(none_s), f"{label}_traced_call_s": min(call_s),
           f"{label}_traced_durable_s": min(traced_s)}
    if tracker.name != "none":
        recorded, complete = tracker.count(exp, 4, 100 * N)
        out[f"{label}_traces_expected"] = rounds * N
        out[f"{label}_traces_recorded"] = recorded
        out[f"{label}_traces_complete"] = complete
    out[f"{label}_added_us_per_invoke"] = (min(traced_s) - min(none_s)) / N * 1e6
    out[f"{label}_added_in_call_us"] = (min(call_s) - min(none_s)) / N * 1e6
    # CPU time of the calling thread: steadier than wall time on a busy machine; it leaves
    # out the writer's (and exporter's) threads, so it is the handler's share in the call.
    out[f"{label}_cpu_added_in_call_us"] = (min(traced_cpu) - min(none_cpu)) / N * 1e6
    # langchain-core's own cost of any handler, and the tracker's share beyond it
    out[f"{label}_noop_handler_added_us"] = (min(noop_s) - min(none_s)) / N * 1e6
    out[f"{label}_added_us_vs_noop_handler_durable"] = (min(traced_s) - min(noop_s)) / N * 1e6
    out[f"{label}_cpu_noop_handler_added_us"] = (min(noop_cpu) - min(none_cpu)) / N * 1e6
    out[f"{label}_cpu_added_vs_noop_handler_us"] = (min(traced_cpu) - min(noop_cpu)) / N * 1e6
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tracker", choices=["none", "logwright", "mlflow"], default="logwright")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--otlp", action="store_true", help="also export every trace to a local OTLP collector")
    args = parser.parse_args()
    collector = otlp_collector.start() if args.otlp else None
    chain = make_chain()
    out: dict[str, object] = {"tracker": args.tracker, "n": N, "python": sys.version.split()[0]}
    with tempfile.TemporaryDirectory() as root:
        tracker = Tracker(args.tracker, root, "langchain")
        tracker.experiment("warm-up")
        tracker.enable(True)
        run_sync(chain, 200)
        tracker.drain()
        out.update(measure(tracker, chain, run_sync, "sync", args.rounds))
        out.update(measure(tracker, chain, run_async, "async", args.rounds))
    if collector is not None:
        out.update({f"otlp_{k}_received": v for k, v in otlp_collector.stop(collector).items()})
    print(json.dumps({k: round(v, 6) if isinstance(v, float) else v for k, v in out.items()}))


if __name__ == "__main__":
    main()
