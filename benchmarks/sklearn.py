"""scikit-learn autolog overhead: time added per fit, logwright vs MLflow.

Workloads:
  * ``lr_iris``: ``LogisticRegression(max_iter=1000).fit`` on iris (150 x 4), 40 fits.
  * ``grid6_bc``: ``GridSearchCV(DecisionTreeClassifier, 6 candidates, cv=5)`` on
    breast_cancer (569 x 30), 6 fits.
  * ``rf50_bc``: ``RandomForestClassifier(n_estimators=50, n_jobs=1)`` on breast_cancer, 6 fits.

Each tracker's tracked fits alternate with untracked fits of the same workload in
the same process (autolog switched on and off between them; for MLflow, whose
``autolog()`` takes seconds, in blocks before and after), so the added time is
measured under the same machine load. ``added_ms`` is the median tracked time minus
the median untracked time; ``cpu_*`` are the same figures in process CPU time
(``time.process_time``, all threads), which a busy machine disturbs far less.

Trackers: ``none``; ``logwright`` (defaults: params, training metrics, dataset,
importances, confusion matrix, the model with skops and MODEL.json, child runs for
searches) and ``logwright`` with ``log_models=False`` (reported as
``logwright-nomodels``); ``mlflow``: ``mlflow.sklearn.autolog()`` defaults into a
SQLite store.

Usage:
    .venv/bin/python benchmarks/sklearn.py --tracker logwright
    .bench-venv/bin/python benchmarks/sklearn.py --tracker mlflow
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings

# This file is named like the framework: keep its folder off sys.path so that
# ``import sklearn`` finds scikit-learn, not this script.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.getcwd()) != _HERE]

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def _workloads() -> dict:
    from sklearn.datasets import load_breast_cancer, load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.tree import DecisionTreeClassifier

    iris, bc = load_iris(return_X_y=True), load_breast_cancer(return_X_y=True)
    grid = {"max_depth": [2, 4, 8], "criterion": ["gini", "entropy"]}
    return {
        "lr_iris": (lambda: LogisticRegression(max_iter=1000), iris, 40),
        "grid6_bc": (lambda: GridSearchCV(DecisionTreeClassifier(random_state=0), grid, cv=5), bc, 6),
        "rf50_bc": (lambda: RandomForestClassifier(n_estimators=50, n_jobs=1, random_state=0), bc, 6),
    }


def _fit_ms(make, data) -> tuple[float, float]:
    """(wall ms, process CPU ms) of one fit: CPU time is what to compare on a loaded machine."""
    X, y = data
    model = make()
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(X, y)
    return (time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000


def _alternating(make, data, reps, on, off) -> tuple[list[float], list[float]]:
    plain, tracked = [], []
    for _ in range(reps):
        off()
        plain.append(_fit_ms(make, data))
        on()
        tracked.append(_fit_ms(make, data))
    off()
    return plain, tracked


def _blocks(make, data, reps, on, off) -> tuple[list[float], list[float]]:
    plain = [_fit_ms(make, data) for _ in range(reps)]
    on()
    tracked = [_fit_ms(make, data) for _ in range(reps)]
    off()
    plain += [_fit_ms(make, data) for _ in range(reps)]
    return plain, tracked


def _variants(tracker: str) -> dict:
    """name -> (on, off, alternate?) for the tracker."""
    if tracker == "logwright":
        import logwright

        logwright.set_tracking_uri(tempfile.mkdtemp(prefix="bench-lw-"))
        off = lambda: logwright.autolog(only=["sklearn"], disable=True)  # noqa: E731
        return {
            "logwright": (lambda: logwright.autolog(only=["sklearn"]), off, True),
            "logwright-nomodels": (lambda: logwright.autolog(only=["sklearn"], log_models=False), off, True),
        }
    if tracker == "mlflow":
        import mlflow

        folder = tempfile.mkdtemp(prefix="bench-mlflow-")
        mlflow.set_tracking_uri(f"sqlite:///{folder}/mlflow.db")
        return {"mlflow": (lambda: mlflow.sklearn.autolog(silent=True),
                           lambda: mlflow.sklearn.autolog(disable=True), False)}
    return {"none": (lambda: None, lambda: None, True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracker", choices=["none", "logwright", "mlflow"], default="logwright")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the repetitions")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    loads = _workloads()
    for name, (on, off, alternate) in _variants(args.tracker).items():
        for work, (make, data, reps) in loads.items():
            reps = max(2, int(reps * args.scale * (0.25 if args.tracker == "mlflow" else 1)))
            _fit_ms(make, data)  # warm-up: imports, first-call caches
            on()
            _fit_ms(make, data)
            off()
            run = _alternating if alternate else _blocks
            plain, tracked = run(make, data, reps, on, off)
            row = {"tracker": name, "workload": work, "fits": reps}
            for i, clock in enumerate(("", "cpu_")):
                base = statistics.median(t[i] for t in plain)
                with_tracker = statistics.median(t[i] for t in tracked)
                row.update({f"{clock}untracked_ms": round(base, 2), f"{clock}tracked_ms": round(with_tracker, 2),
                            f"{clock}added_ms": round(with_tracker - base, 2)})
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
