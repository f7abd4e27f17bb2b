"""Reliability: what SIGKILL loses, and how much memory logging takes (logwright only).

Workloads, each in a fresh child interpreter logging into a fresh store:

* ``kills``: a child logs metric points (step = index) or ``@logwright.trace`` calls in
  a tight loop and writes the index and ``time.time()`` of every 1,000th to a progress
  file; the parent SIGKILLs it at a seeded random moment 1.1-3 s after its first
  1,000, then reads the store back. Figures per kind, summed over the kills: points
  lost among those the child reported logged, lost among those older than 1 s at the
  kill (goal: 0), the age of the newest stored point at the kill (how far durability
  lagged), and the run's status as a fresh reader sees it.
* ``rss``: peak RSS of the child (``VmHWM``; Linux's ``ru_maxrss`` keeps the forking
  parent's peak across exec, so it would report the parent's) for: a run with one point (baseline);
  1,000,000 metric points logged then flushed; 100,000 traces with a 4 KB input; and a
  stalled store: the parent holds ``BEGIN EXCLUSIVE`` on the database for ``--stall-s``
  seconds while the child logs ``--stall-points`` points (back-pressure must bound
  memory, and every point must be there once the lock is released).

Usage:
    env -u PYTHONDONTWRITEBYTECODE OMP_NUM_THREADS=1 .venv/bin/python benchmarks/reliability.py
    .venv/bin/python benchmarks/reliability.py --kills 5 --skip-rss      # quicker

Prints one JSON line of figures (seconds and MB unless named otherwise).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from typing import Any

from logwright.testing.crash import LOGGING_LOOP

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("LOGWRIGHT_QUIET", "1")

_PRELUDE = """\
import json, os, sys, time
import logwright as lw
lw.set_tracking_uri(sys.argv[1])
def peak_mb():  # VmHWM: ru_maxrss would include the parent's peak, kept across fork+exec
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024
"""

_LOOP = LOGGING_LOOP  # logs until killed; see logwright.testing.crash

_BASELINE = _PRELUDE + """\
with lw.start_run():
    lw.log_metric("m", 1.0)
lw.flush()
print(json.dumps({"peak_mb": peak_mb()}))
"""

_POINTS = _PRELUDE + """\
n = int(sys.argv[2])
t = time.perf_counter()
with lw.start_run() as run:
    for i in range(n):
        lw.log_metric("m", float(i))
    lw.flush()
print(json.dumps({"peak_mb": peak_mb(), "seconds": time.perf_counter() - t, "run_id": run.info.run_id}))
"""

_TRACES = _PRELUDE + """\
n, payload = int(sys.argv[2]), "x" * 4096
@lw.trace
def call(text, i):
    return i
t = time.perf_counter()
with lw.start_run() as run:
    for i in range(n):
        call(payload, i)
    lw.flush()
print(json.dumps({"peak_mb": peak_mb(), "seconds": time.perf_counter() - t, "run_id": run.info.run_id}))
"""

# Logs while the parent holds the database's write lock; reports the longest a single
# 1,000-point stretch took (how long back-pressure held the user's thread).
_STALLED = _PRELUDE + """\
n, go = int(sys.argv[2]), sys.argv[3]
run = lw.start_run()
lw.flush()
print(run.info.run_id, flush=True)
while not os.path.exists(go):
    time.sleep(0.001)
t = last = time.perf_counter()
longest = 0.0
for i in range(n):
    lw.log_metric("m", float(i), step=i)
    if i % 1000 == 999:
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
logged = time.perf_counter() - t
lw.end_run()
print(json.dumps({"peak_mb": peak_mb(), "log_s": logged, "total_s": time.perf_counter() - t,
                  "longest_1000_points_s": longest}))
"""


def _child(program: str, *args: str, timeout: float = 600) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", program, *args], capture_output=True, text=True,
                         timeout=timeout, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _lines(path: str) -> int:
    try:
        with open(path, encoding="utf-8") as fh:
            return len(fh.read().splitlines())
    except FileNotFoundError:
        return 0


def _progress(path: str) -> tuple[str, list[tuple[int, float]]]:
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    reports = [(int(a), float(b)) for a, _, b in (line.partition(" ") for line in lines[1:]) if a.isdigit()]
    return lines[0].split()[1], reports


def _stored(store: str, kind: str, run_id: str) -> tuple[set[int], float | None]:
    """Indexes stored and the newest one's time (epoch seconds)."""
    import logwright as lw
    from logwright.tracing import search_traces

    if kind == "metric":
        points = lw.Client(store).get_metric_history(run_id, "m")
        return {m.step for m in points}, max((m.timestamp / 1000 for m in points), default=None)
    lw.set_tracking_uri(store)  # every trace of the store: the run row may be lost too
    traces = search_traces(experiment="Default", max_results=10**7)
    return {t.spans[0].inputs["i"] for t in traces}, max((t.info.end_ns / 1e9 for t in traces), default=None)


def _status(store: str, run_id: str) -> str:
    import logwright as lw
    from logwright.exceptions import RunNotFound

    try:
        return lw.Client(store).get_run(run_id).info.status
    except RunNotFound:
        return "run lost"


def kill_once(store: str, kind: str, delay: float) -> dict[str, Any]:
    """SIGKILL one logging child ``delay`` s after its first 1,000 points; count the loss."""
    progress = store + ".progress"
    os.makedirs(os.path.dirname(progress), exist_ok=True)
    child = subprocess.Popen([sys.executable, "-c", _LOOP, store, progress, kind])
    while _lines(progress) < 2:
        if child.poll() is not None:
            raise RuntimeError(f"child exited early with {child.returncode}")
        time.sleep(0.005)
    time.sleep(delay)
    killed_at = time.time()
    child.kill()
    child.wait()
    run_id, reports = _progress(progress)
    old = max((i for i, t in reports if t <= killed_at - 1.0), default=-1) + 1
    reported = reports[-1][0] + 1
    stored, newest = _stored(store, kind, run_id)
    return {
        "reported": reported, "stored": len(stored), "old": old,
        "lost_old": sum(1 for i in range(old) if i not in stored),
        "lost_reported": sum(1 for i in range(reported) if i not in stored),
        "lag_s": killed_at - newest if newest is not None else killed_at - reports[0][1],
        "status": _status(store, run_id),
    }


def bench_kills(root: str, kind: str, kills: int, rng: random.Random) -> dict[str, Any]:
    """Kill ``kills`` children logging ``kind`` (metric or trace); sum what was lost."""
    runs = [kill_once(os.path.join(root, f"{kind}-{n}", "store"), kind, rng.uniform(1.1, 3.0))
            for n in range(kills)]
    lags = [r["lag_s"] for r in runs]
    return {
        "kills": kills,
        "reported_logged": sum(r["reported"] for r in runs),
        "lost_of_reported": sum(r["lost_reported"] for r in runs),
        "older_than_1s": sum(r["old"] for r in runs),
        "lost_older_than_1s": sum(r["lost_old"] for r in runs),
        "kills_losing_older_than_1s": sum(1 for r in runs if r["lost_old"]),
        "newest_stored_age_at_kill_median_s": statistics.median(lags),
        "newest_stored_age_at_kill_max_s": max(lags),
        "run_status_after": dict(Counter(r["status"] for r in runs)),
    }


def bench_stalled(root: str, points: int, stall_s: float) -> dict[str, Any]:
    """Hold the write lock ``stall_s`` s while a child logs ``points`` points; check none is lost."""
    store = os.path.join(root, "stalled")
    go = os.path.join(root, "stalled.go")
    child = subprocess.Popen([sys.executable, "-c", _STALLED, store, str(points), go],
                             stdout=subprocess.PIPE, text=True)
    run_id = child.stdout.readline().strip()
    lock = sqlite3.connect(os.path.join(store, "logwright.db"), isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    open(go, "w").close()
    time.sleep(stall_s)
    lock.execute("ROLLBACK")
    lock.close()
    out, _ = child.communicate(timeout=600)
    result = json.loads(out.strip().splitlines()[-1])
    import logwright as lw

    client = lw.Client(store)
    steps, _, _ = client.store.get_metric_series(run_id, "m")
    result.update(points=points, stall_s=stall_s, stored=len(steps),
                  lost=points - len(set(steps)), status=client.get_run(run_id).info.status)
    return result


def bench_rss(root: str, points: int, traces: int, stall_points: int, stall_s: float) -> dict[str, Any]:
    """Peak RSS of children: baseline, 1M points, 100k 4 KB traces, a stalled store."""
    out: dict[str, Any] = {"baseline_peak_mb": _child(_BASELINE, os.path.join(root, "base"))["peak_mb"]}
    got = _child(_POINTS, os.path.join(root, "points"), str(points))
    out.update(points=points, points_peak_mb=got["peak_mb"], points_s=got["seconds"])
    got = _child(_TRACES, os.path.join(root, "traces"), str(traces))
    out.update(traces_4kb=traces, traces_peak_mb=got["peak_mb"], traces_s=got["seconds"])
    out["stalled"] = bench_stalled(root, stall_points, stall_s)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tracker", choices=["logwright"], default="logwright")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--stall-points", type=int, default=2_000_000)
    parser.add_argument("--stall-s", type=float, default=5.0)
    parser.add_argument("--skip-rss", action="store_true")
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="lw-bench-")
    try:
        rng = random.Random(args.seed)
        result: dict[str, Any] = {"tracker": args.tracker, "seed": args.seed}
        for kind in ("metric", "trace"):
            result[f"sigkill_{kind}"] = bench_kills(root, kind, args.kills, rng)
        if not args.skip_rss:
            result["rss"] = bench_rss(root, args.points, args.traces, args.stall_points, args.stall_s)
        print(json.dumps(result))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
