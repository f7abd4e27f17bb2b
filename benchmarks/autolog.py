"""Autolog costs: enabling in a fresh process, the non-logging patched-call path, run context.

    python benchmarks/autolog.py --tracker logwright          # .venv
    .bench-venv/bin/python benchmarks/autolog.py --tracker mlflow

- ``enable``: ``autolog()`` in a fresh interpreter (median of N processes): time of the
  call alone (after ``import logwright`` / ``import mlflow``), and the framework
  modules it imported; ``enable_no_cache``: the same with an empty cache folder (the
  first process after an install: the entry points are scanned and every
  integration class is imported).
- ``reentrant``: a patched method called inside another autologged call (the plain
  path), minus the same unpatched call: overhead per call.
- ``context``: run-context capture, first call in a process and cached calls.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("LOGWRIGHT_QUIET", "1")

FRAMEWORKS = ("torch", "sklearn", "xgboost", "lightning", "pytorch_lightning", "langchain_core",
              "langchain", "dspy", "numpy", "pandas", "scipy", "tensorflow", "keras", "transformers")

_ENABLE = {
    "logwright": ("import logwright", "logwright.autolog()"),
    "mlflow": ("import mlflow", "mlflow.autolog()"),
    "none": ("pass", "pass"),
}


def enable_once(tracker: str, cache_home: str | None = None) -> dict:
    """A fresh interpreter: import time, autolog() time, and what each imported.

    ``cache_home``: the process's ``XDG_CACHE_HOME`` (an empty folder: no entry-point cache yet).
    """
    imp, call = _ENABLE[tracker]
    code = (
        "import sys, time, json, warnings, logging\nwarnings.simplefilter('ignore')\n"
        "logging.disable(logging.CRITICAL)\n"
        f"start = set(sys.modules)\nt = time.perf_counter()\n{imp}\nimported = time.perf_counter() - t\n"
        f"before = set(sys.modules)\nc = time.process_time()\nt = time.perf_counter()\n{call}\n"
        "elapsed = time.perf_counter() - t\ncpu = time.process_time() - c\n"
        f"fw = lambda mods: sorted({{m.split('.')[0] for m in mods}} & set({FRAMEWORKS!r}))\n"
        "print(json.dumps({'ms': elapsed * 1e3, 'cpu_ms': cpu * 1e3, 'import_ms': imported * 1e3,"
        " 'frameworks': fw(set(sys.modules) - before), 'modules': len(set(sys.modules) - before),"
        " 'import_frameworks': fw(before - start)}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # as users run it
    env["MLFLOW_TRACKING_URI"] = "file:///tmp/mlflow-bench-runs"
    if cache_home is not None:
        env["XDG_CACHE_HOME"] = cache_home
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_enable(tracker: str, repeat: int, cold: bool = False) -> dict:
    """Median over ``repeat`` fresh processes (``cold``: each with an empty cache folder)."""
    import tempfile

    enable_once(tracker)  # compiles what changed and fills the entry-point cache: not counted
    runs = []
    for _ in range(repeat):
        if not cold:
            runs.append(enable_once(tracker))
            continue
        with tempfile.TemporaryDirectory() as empty:
            runs.append(enable_once(tracker, empty))
    return {"median_ms": statistics.median(r["ms"] for r in runs), "min_ms": min(r["ms"] for r in runs),
            "cpu_median_ms": statistics.median(r["cpu_ms"] for r in runs),
            "cpu_min_ms": min(r["cpu_ms"] for r in runs),
            "import_median_ms": statistics.median(r["import_ms"] for r in runs),
            "frameworks": runs[-1]["frameworks"], "modules": runs[-1]["modules"],
            "frameworks_imported_by_import": runs[-1]["import_frameworks"]}


def _per_call(obj, n: int) -> float:
    """Best of 7 rounds of ``obj.score(1)`` (attribute access included), CPU seconds per call."""
    best = float("inf")
    for _ in range(7):
        t = time.process_time()
        for _ in range(n):
            obj.score(1)
        best = min(best, (time.process_time() - t) / n)
    return best


def bench_reentrant(n: int) -> dict:
    """Per-call overhead of a patched method on the re-entrant (non-logging) path, in microseconds."""
    import tempfile

    import logwright
    from logwright.autolog import logging_call
    from logwright.testing import toy

    folder = tempfile.mkdtemp()
    logwright.set_tracking_uri(os.path.join(folder, "store"))
    with toy.installed(folder) as fw:
        mod = fw.load()
        plain = _per_call(mod.Sub(), n)
        logwright.autolog(only=["toy"])
        with logging_call("bench"):  # inside another autologged call: the plain path
            patched = _per_call(mod.Sub(), n)  # Sub.score is patched
        logwright.autolog(disable=True)
    mod.CALLS.clear()
    return {"plain_us": plain * 1e6, "patched_us": patched * 1e6, "overhead_us": (patched - plain) * 1e6}


def bench_context() -> dict:
    """Run-context capture: the first call in a fresh process, and a cached call."""
    code = (
        "import time\nt = time.perf_counter()\nfrom logwright import context\ncontext.capture()\n"
        "first = time.perf_counter() - t\nt = time.perf_counter()\n"
        "for _ in range(1000): context.capture()\n"
        "print(first * 1e3, (time.perf_counter() - t))\n"
    )
    firsts, cached = [], []
    for _ in range(5):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        a, b = map(float, out.stdout.split())
        firsts.append(a)
        cached.append(b)
    return {"first_ms": statistics.median(firsts), "cached_us": statistics.median(cached) * 1e3}


def main() -> None:
    """Print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tracker", choices=["none", "logwright", "mlflow"], default="logwright")
    parser.add_argument("--repeat", type=int, default=15, help="fresh processes for the enable figure")
    parser.add_argument("--calls", type=int, default=200_000)
    args = parser.parse_args()
    figures: dict = {"tracker": args.tracker, "python": sys.version.split()[0],
                     "enable": bench_enable(args.tracker, args.repeat)}
    if args.tracker == "logwright":
        figures["enable_no_cache"] = bench_enable(args.tracker, args.repeat, cold=True)
        figures["reentrant"] = bench_reentrant(args.calls)
        figures["context"] = bench_context()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
