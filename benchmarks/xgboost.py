"""XGBoost autolog overhead: 100 rounds on 10,000 x 20 with one eval set.

Workload: ``make_classification(12_000, 20)``; 10,000 rows train, 2,000 rows are the
one eval set; ``binary:logistic`` with ``logloss``, ``nthread=1``, 100 rounds,
``xgboost.train(..., evals=[(dval, "val")], verbose_eval=False)``.

Each tracker's timed trains are interleaved with untracked trains of the same
workload in the same process (autolog switched on and off between them), so the
added time is measured against a baseline taken under the same machine load.

Figures, for two clocks: ``wall`` (perf_counter) and ``cpu`` (process_time: CPU
time of every thread of the process, so the tracker's background threads count;
it is the steadier figure on a shared, loaded machine):
  * ``<clock>_untracked_ms`` / ``<clock>_tracked_ms``: median time of one ``train``.
  * ``<clock>_added_ms`` and ``<clock>_added_pct``: tracked - untracked (median of the
    pairwise differences), and as a share of untracked.
  * ``<clock>_added_ms_of_min`` / ``<clock>_added_pct_of_min``: fastest tracked -
    fastest untracked (contention only ever adds time, so the minima are the least
    disturbed samples).
  * ``outside_train_cpu_ms``: CPU time the tracker spends around XGBoost's own train
    (a probe sits between the tracker's patch and XGBoost: run start/end, params,
    importance, model, inputs); the tracker's per-round work runs inside train.
  * ``own_cpu_ms`` / ``own_cpu_pct`` (logwright only): ``outside_train_cpu_ms`` plus
    100 x ``per_iteration_us``: logwright's whole cost per train, measured piece by
    piece, so machine load does not drown it.
  * ``per_iteration_us`` (logwright only): one ``after_iteration`` of the callback
    (one eval set, one metric: one batched write), timed over 20,000 calls.

logwright runs with its defaults (a run per train, params, per-round metrics,
five importance JSONs, the model as UBJSON with MODEL.json, the train and eval
DMatrix as inputs); MLflow runs ``mlflow.xgboost.autolog()`` with its defaults
(models logged) into a SQLite store.

Usage:
    .venv/bin/python benchmarks/xgboost.py --tracker none
    .venv/bin/python benchmarks/xgboost.py --tracker logwright
    .bench-venv/bin/python benchmarks/xgboost.py --tracker mlflow
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

# This file is named like the framework: keep its folder off sys.path so that
# ``import xgboost`` finds XGBoost, not this script.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.getcwd()) != _HERE]

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROUNDS = 100
PARAMS = {"objective": "binary:logistic", "eval_metric": "logloss", "nthread": 1, "max_depth": 6}


def _data():
    import xgboost as xgb
    from sklearn.datasets import make_classification

    X, y = make_classification(12_000, 20, n_informative=10, random_state=0)
    return xgb.DMatrix(X[:10_000], y[:10_000]), xgb.DMatrix(X[10_000:], y[10_000:])


def _train(dtrain, dval):
    import xgboost as xgb

    return xgb.train(PARAMS, dtrain, ROUNDS, evals=[(dval, "val")], verbose_eval=False)


_inner_cpu: list[float] = []


def _install_probe() -> None:
    """Put a timer between ``xgboost.train`` and XGBoost's own train, under any tracker.

    Trackers wrap ``xgboost.train`` as they find it, so the probe times XGBoost's train
    (with the tracker's callback inside) and the rest of a tracked call is the
    tracker's own work around it: run start/end, params, artifacts, model.
    """
    import functools

    import xgboost

    real = xgboost.train

    @functools.wraps(real)
    def train(*args, **kwargs):
        start = time.process_time()
        try:
            return real(*args, **kwargs)
        finally:
            _inner_cpu.append(time.process_time() - start)

    xgboost.train = train


def _timed(samples: dict[str, list[float]], key: str, dtrain, dval) -> None:
    """One train, timed by the wall clock and by this process's CPU time (all threads)."""
    wall, cpu = time.perf_counter(), time.process_time()
    _train(dtrain, dval)
    samples[f"cpu_{key}"].append(time.process_time() - cpu)
    samples[f"wall_{key}"].append(time.perf_counter() - wall)
    samples[f"outside_{key}"].append(samples[f"cpu_{key}"][-1] - _inner_cpu[-1])


def _toggle(tracker: str):
    """(on, off, flush) callables for the tracker."""
    if tracker == "logwright":
        import logwright

        logwright.set_tracking_uri(tempfile.mkdtemp(prefix="bench-lw-"))
        return (lambda: logwright.autolog(only=["xgboost"]),
                lambda: logwright.autolog(only=["xgboost"], disable=True), logwright.flush)
    if tracker == "mlflow":
        import mlflow

        folder = tempfile.mkdtemp(prefix="bench-mlflow-")
        mlflow.set_tracking_uri(f"sqlite:///{folder}/mlflow.db")
        return (lambda: mlflow.xgboost.autolog(silent=True),
                lambda: mlflow.xgboost.autolog(disable=True), lambda: None)
    return (lambda: None, lambda: None, lambda: None)


def per_iteration_us(calls: int = 20_000) -> float:
    """Microseconds per ``after_iteration`` of logwright's callback (one metric, one write)."""
    from logwright_xgboost import LogwrightXGBoostCallback

    import logwright

    client = logwright.Client()
    run = client.create_run(run_name="per-iteration")
    callback = LogwrightXGBoostCallback(client, run.info.run_id)
    log = {"val": {"logloss": [0.5]}}
    start = time.perf_counter()
    for epoch in range(calls):
        callback.after_iteration(None, epoch, log)
    elapsed = time.perf_counter() - start
    client.set_terminated(run.info.run_id)
    return elapsed / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracker", choices=("none", "logwright", "mlflow"), default="logwright")
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()

    dtrain, dval = _data()
    _install_probe()
    on, off, flush = _toggle(args.tracker)
    _train(dtrain, dval)  # warm-up: thread pools, first DMatrix use
    on()
    _train(dtrain, dval)  # warm-up with the tracker (imports, store creation)
    flush()
    off()
    samples: dict[str, list[float]] = {f"{c}_{k}": [] for c in ("wall", "cpu", "outside")
                                       for k in ("none", "on")}
    for _ in range(args.repeats):
        _timed(samples, "none", dtrain, dval)
        if args.tracker != "none":
            on()
            _timed(samples, "on", dtrain, dval)
            off()
            flush()  # normally a no-op: the run's end already made its data durable
    out: dict = {"tracker": args.tracker, "rounds": ROUNDS, "repeats": args.repeats}
    for clock in ("wall", "cpu"):
        base = statistics.median(samples[f"{clock}_none"])
        out[f"{clock}_untracked_ms"] = round(base * 1e3, 1)
        if samples[f"{clock}_on"]:
            added = statistics.median(
                [t - u for t, u in zip(samples[f"{clock}_on"], samples[f"{clock}_none"], strict=True)])
            out[f"{clock}_tracked_ms"] = round(statistics.median(samples[f"{clock}_on"]) * 1e3, 1)
            out[f"{clock}_added_ms"] = round(added * 1e3, 1)
            out[f"{clock}_added_pct"] = round(100 * added / base, 1)
            best = min(samples[f"{clock}_on"]) - min(samples[f"{clock}_none"])
            out[f"{clock}_added_ms_of_min"] = round(best * 1e3, 1)
            out[f"{clock}_added_pct_of_min"] = round(100 * best / min(samples[f"{clock}_none"]), 1)
    if samples["outside_on"]:
        outside = statistics.median(samples["outside_on"]) - statistics.median(samples["outside_none"])
        out["outside_train_cpu_ms"] = round(outside * 1e3, 2)
    if args.tracker == "logwright":
        out["per_iteration_us"] = round(per_iteration_us(), 2)
        out["own_cpu_ms"] = round(outside * 1e3 + ROUNDS * out["per_iteration_us"] / 1e3, 2)
        out["own_cpu_pct"] = round(100 * out["own_cpu_ms"] / out["cpu_untracked_ms"], 2)
    print(json.dumps(out))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
