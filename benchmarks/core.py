"""Core tracking workloads: import, log_metric, 1M points, history read, run creation, search.

Usage:
    .venv/bin/python benchmarks/core.py --tracker logwright
    .bench-venv/bin/python benchmarks/core.py --tracker mlflow
    .venv/bin/python benchmarks/core.py --tracker none      # import baseline only

Each prints one JSON line of figures (seconds unless named otherwise).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def import_ms(module: str | None, repeat: int = 15) -> float:
    """Median wall time of a fresh interpreter importing ``module`` (None: ``pass``)."""
    code = f"import {module}" if module else "pass"
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def bench_logwright(root: str, big: int) -> dict[str, float]:
    import logwright as lw

    lw.set_tracking_uri(os.path.join(root, "store"))
    out: dict[str, float] = {}
    with lw.start_run() as run:
        lat = []
        for i in range(100_000):
            t = time.perf_counter_ns()
            lw.log_metric("lat", float(i))
            lat.append(time.perf_counter_ns() - t)
        out["log_metric_median_us"] = statistics.median(lat) / 1000
        lw.flush()
        t = time.perf_counter()
        for i in range(big):
            lw.log_metric("big", float(i))
        lw.flush()
        out["points_logged_and_flushed"] = big
        out["points_total_s"] = time.perf_counter() - t
    t = time.perf_counter()
    history = lw.get_metric_history(run.info.run_id, "lat")
    out["read_100k_history_s"] = time.perf_counter() - t
    assert len(history) == 100_000
    lw.set_experiment("runs")
    t = time.perf_counter()
    n_runs = 500
    for i in range(n_runs):
        with lw.start_run():
            lw.log_params({f"p{j}": j for j in range(5)})
            for j in range(5):
                lw.log_metric(f"m{j}", j * i)
    out["run_create_ms"] = (time.perf_counter() - t) / n_runs * 1000
    client = lw.Client()
    exp = client.create_experiment("search")
    for i in range(10_000):
        run_id = client.create_run(exp).info.run_id
        client.log_metric(run_id, "acc", (i % 100) / 100)
        client.log_params(run_id, {"model": "rf" if i % 3 else "lr"})
        client.set_terminated(run_id) if i % 1000 == 0 else None
    client.flush()
    out["search_runs_n"] = 10_000
    t = time.perf_counter()
    found = client.search_runs([exp], "metrics.acc > 0.9 and params.model = 'rf'", max_results=10_000)
    out["search_two_clause_s"] = time.perf_counter() - t
    out["search_matches"] = len(found)
    t = time.perf_counter()
    client.search_runs([exp], None, max_results=1000)
    out["search_unfiltered_1000_s"] = time.perf_counter() - t
    return out


def bench_mlflow(root: str) -> dict[str, float]:
    import mlflow
    from mlflow.entities import Metric

    mlflow.set_tracking_uri(f"sqlite:///{root}/mlflow.db")
    client = mlflow.MlflowClient()
    out: dict[str, float] = {}
    with mlflow.start_run() as run:
        lat = []
        for i in range(300):
            t = time.perf_counter_ns()
            mlflow.log_metric("lat", float(i), step=i)
            lat.append(time.perf_counter_ns() - t)
        out["log_metric_median_us"] = statistics.median(lat) / 1000
        ts = int(time.time() * 1000)
        t = time.perf_counter()
        n = 100_000
        for start in range(0, n, 1000):
            client.log_batch(run.info.run_id, [Metric("hist", float(i), ts, i) for i in range(start, start + 1000)])
        out["points_logged_and_flushed"] = n
        out["points_total_s"] = time.perf_counter() - t
    t = time.perf_counter()
    history = client.get_metric_history(run.info.run_id, "hist")
    out["read_100k_history_s"] = time.perf_counter() - t
    assert len(history) == 100_000
    mlflow.set_experiment("runs")
    t = time.perf_counter()
    n_runs = 30
    for i in range(n_runs):
        with mlflow.start_run():
            mlflow.log_params({f"p{j}": j for j in range(5)})
            for j in range(5):
                mlflow.log_metric(f"m{j}", j * i)
    out["run_create_ms"] = (time.perf_counter() - t) / n_runs * 1000
    exp = client.create_experiment("search")
    n_search = 2_000
    for i in range(n_search):
        run_id = client.create_run(exp).info.run_id
        client.log_batch(run_id, metrics=[Metric("acc", (i % 100) / 100, ts, 0)],
                         params=[mlflow.entities.Param("model", "rf" if i % 3 else "lr")])
    out["search_runs_n"] = n_search
    t = time.perf_counter()
    found = client.search_runs([exp], "metrics.acc > 0.9 and params.model = 'rf'", max_results=10_000)
    out["search_two_clause_s"] = time.perf_counter() - t
    out["search_matches"] = len(found)
    t = time.perf_counter()
    client.search_runs([exp], "", max_results=1000)
    out["search_unfiltered_1000_s"] = time.perf_counter() - t
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tracker", choices=["none", "logwright", "mlflow"], default="logwright")
    parser.add_argument("--points", type=int, default=1_000_000)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="lw-bench-")
    try:
        result: dict[str, object] = {"tracker": args.tracker, "python_pass_ms": import_ms(None)}
        if args.tracker == "none":
            pass
        elif args.tracker == "logwright":
            result["import_ms"] = import_ms("logwright")
            result.update(bench_logwright(root, args.points))
        else:
            result["import_ms"] = import_ms("mlflow", repeat=5)
            result.update(bench_mlflow(root))
        print(json.dumps(result))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
