"""A ~1 ms CPU training step (MLP 20->64->2, batch 64, one thread): what autolog adds per step.

    python benchmarks/torch.py --tracker logwright          # .venv: none vs logwright, interleaved
    .bench-venv/bin/python benchmarks/torch.py --tracker mlflow

The plain loop is ``zero_grad(); loss = f(model(x), y); loss.backward(); opt.step()``.
Trackers are measured in alternating blocks inside one process (so machine load hits
them alike); figures are the median and the minimum over blocks of the mean step time
in a block (the minimum is the least disturbed by other processes).

- ``none``: the bare loop.
- ``logwright``: ``logwright.autolog()`` on, no other code; logs loss, lr and step time
  every step (the default), params at the first step.
- ``mlflow``: ``mlflow.autolog()`` on (MLflow has no plain-loop autolog: nothing is
  logged), and the manual MLflow equivalent, ``mlflow.log_metric("loss", loss.item(),
  step)`` every step.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("LOGWRIGHT_QUIET", "1")
if os.path.dirname(os.path.abspath(__file__)) == os.path.abspath(sys.path[0]):
    sys.path.pop(0)  # this file is called torch.py: never let it shadow the torch package

import torch  # noqa: E402 - after the thread settings and the sys.path fix
from torch import nn  # noqa: E402


def make_loop() -> tuple:
    """The model, optimizer and one fixed batch."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    return model, opt, torch.randn(64, 20), torch.randint(0, 2, (64,))


def steps(loop: tuple, n: int, manual_log=None, clock=time.perf_counter) -> float:
    """Mean seconds per training step over ``n`` steps (wall time, or ``clock``)."""
    model, opt, x, y = loop
    t = clock()
    for i in range(n):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        if manual_log is not None:
            manual_log(loss, i)
    return (clock() - t) / n


def measure(variants: dict, n: int, blocks: int, clock=time.perf_counter) -> dict:
    """Alternate the variants block by block; (median, min) of the per-block mean step times.

    The end of a block (``leave``: the run's end, which flushes what is buffered) is
    counted in the block's time.
    """
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(blocks):
        for name, (enter, leave, manual) in variants.items():
            loop = make_loop()
            steps(loop, 20)  # warm-up outside the measurement
            enter()
            t = clock()
            per_step = steps(loop, n, manual, clock)
            leave()
            times[name].append(per_step + (clock() - t - per_step * n) / n)
    return {name: (statistics.median(v), min(v)) for name, v in times.items()}


def _noop() -> None:
    pass


def logwright_variants(store: str) -> dict:
    """Bare loop vs logwright autolog, logging into one run started before the measurement.

    A block ends with autolog disabled (which converts what is buffered) and
    ``logwright.flush()`` (the writer drained): both counted. Starting a run (context
    capture) is a once-per-training cost, measured separately by ``run_start_cost``.
    """
    import logwright

    logwright.set_tracking_uri(store)
    logwright.start_run(run_name="bench")

    def on() -> None:
        logwright.autolog(only=["torch"])

    def off() -> None:
        logwright.autolog(only=["torch"], disable=True)
        logwright.flush()

    return {"none": (_noop, _noop, None), "logwright": (on, off, None)}


def run_start_cost(store: str, n: int = 5) -> float:
    """Median seconds to start and end an (empty) run: paid once per training run."""
    import logwright

    logwright.set_tracking_uri(store)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        logwright.start_run()
        logwright.end_run()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def mlflow_variants(store: str) -> dict:
    """Bare loop vs mlflow.autolog() (logs nothing) vs manual log_metric(loss.item()) per step."""
    import mlflow

    os.makedirs(store, exist_ok=True)
    mlflow.set_tracking_uri(f"sqlite:///{store}/mlflow.db")

    def auto_on() -> None:
        mlflow.autolog(silent=True)

    def auto_off() -> None:
        mlflow.autolog(disable=True, silent=True)

    def manual(loss: torch.Tensor, step: int) -> None:
        mlflow.log_metric("train/loss", loss.item(), step=step)

    return {"none": (_noop, _noop, None), "mlflow_autolog": (auto_on, auto_off, None),
            "mlflow_manual": (mlflow.start_run, mlflow.end_run, manual)}


def _best(fn, calls: int = 20, chunks: int = 300) -> float:
    """Seconds per call: the minimum over chunks (the run least disturbed by other processes)."""
    best = float("inf")
    for _ in range(chunks):
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t) / calls)
    return best


def _best_pair(first, second, calls: int = 50, chunks: int = 400) -> tuple[float, float]:
    """:func:`_best` of two functions, chunk by chunk interleaved so both see the same load."""
    best = [float("inf"), float("inf")]
    for _ in range(chunks):
        for i, fn in enumerate((first, second)):
            t = time.perf_counter()
            for _ in range(calls):
                fn()
            best[i] = min(best[i], (time.perf_counter() - t) / calls)
    return best[0], best[1]


def breakdown(store: str) -> dict:
    """What autolog adds per step, part by part, each timed as the best of many short chunks.

    ``backward``: the patched ``Tensor.backward`` minus the original on the same graph;
    ``step_hook``: the optimizer post-hook; ``flush``: converting and handing one step's
    record to the writer; ``writer``: the background writer committing it. Their sum over
    the bare step's best time is the added fraction, free of the machine's load noise.
    """
    import logwright
    from logwright.autolog.registry import registry

    logwright.set_tracking_uri(store)
    loop = make_loop()
    model, opt, x, y = loop
    bare = _best(lambda: steps(loop, 1))
    logwright.autolog(only=["torch"])
    steps(loop, 5)
    logger = registry.integrations["torch"].steps
    scalar = torch.ones((), requires_grad=True)
    loss = scalar * 2.0  # the wrapper's cost does not depend on the graph: use the smallest
    patched, original = torch.Tensor.backward, torch.Tensor.backward.__wrapped__
    with_patch, without = _best_pair(lambda: patched(loss, retain_graph=True),
                                     lambda: original(loss, retain_graph=True))
    parts = {"backward": max(with_patch - without, 0.0), "step_hook": _best(lambda: logger.on_step(opt, (), {}))}
    logger.pending.clear()
    logger.flush()
    logwright.flush()
    records = 2000
    for _ in range(records):
        logger.on_step(opt, (), {})
        if len(logger._buffer) >= 190:  # keep the records for one timed flush below
            break
    n = len(logger._buffer)
    t = time.perf_counter()
    logger.flush()
    parts["flush"] = (time.perf_counter() - t) / n
    t = time.process_time()
    logwright.flush()
    parts["writer"] = (time.process_time() - t) / n
    logwright.end_run()
    logwright.autolog(only=["torch"], disable=True)
    return {"bare_step": bare, **parts}


def logwright_end() -> None:
    """End the benchmark's run."""
    import logwright

    logwright.end_run()


def main() -> None:
    """Print per-step times and the added time vs the bare loop."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracker", choices=["none", "logwright", "mlflow"], default="logwright")
    parser.add_argument("--steps", type=int, default=1000, help="steps per block")
    parser.add_argument("--blocks", type=int, default=9)
    parser.add_argument("--breakdown", action="store_true",
                        help="logwright: also time each part of the added work (robust on a busy machine)")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="cpu: process CPU time (all threads, the writer's included), "
                             "less disturbed by other processes on a busy machine")
    args = parser.parse_args()
    torch.set_num_threads(1)
    store = tempfile.mkdtemp(prefix="bench-torch-")
    if args.tracker == "none":
        variants = {"none": (_noop, _noop, None)}
    elif args.tracker == "logwright":
        variants = logwright_variants(os.path.join(store, "lw"))
    else:
        variants = mlflow_variants(os.path.join(store, "mlruns"))
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    result = measure(variants, args.steps, args.blocks, clock)
    if args.tracker == "logwright":
        logwright_end()
        print(f"run start + end (once per training run): {run_start_cost(store) * 1e3:.1f} ms")
        if args.breakdown:
            parts = breakdown(os.path.join(store, "parts"))
            bare = parts.pop("bare_step")
            added = sum(parts.values())
            detail = ", ".join(f"{k} {v * 1e6:.1f}" for k, v in parts.items())
            print(f"breakdown (best of chunks): bare step {bare * 1e6:.1f} us; added {added * 1e6:.1f} us "
                  f"= {added / bare * 100:.2f}% ({detail} us)")
    base_median, base_min = result["none"]
    print(f"torch {torch.__version__}, {args.blocks} blocks x {args.steps} steps, one thread, "
          f"{args.clock} clock")
    for name, (median, best) in result.items():
        print(f"{name:>15}: median {median * 1e6:8.1f} us/step ({(median / base_median - 1) * 100:+6.2f}% vs none)"
              f"   min {best * 1e6:8.1f} us/step ({(best / base_min - 1) * 100:+6.2f}% vs none)")


if __name__ == "__main__":
    main()
