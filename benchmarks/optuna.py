"""Optuna autolog overhead per trial: studies of cheap trials, tracked and untracked.

Workload: ``optuna.create_study(sampler=RandomSampler(seed))`` (in-memory storage),
``optimize`` of ``TRIALS`` trials whose objective suggests one float, reports 5
intermediate values and returns a quadratic: next to no work of its own, so what a
tracker adds per trial stands out (a real trial trains something for seconds).

Each tracked study is interleaved with an untracked study of the same workload in
the same process (autolog switched on and off between them), ``BLOCKS`` times, so
the added time is measured against a baseline taken under the same machine load.

Figures (wall clock, perf_counter; ``cpu``: process_time of every thread, the
tracker's background writer included):
  * ``<clock>_untracked_ms_per_trial`` / ``<clock>_tracked_ms_per_trial``: median over blocks.
  * ``<clock>_added_ms_per_trial``: median of the pairwise (tracked - untracked) differences.
  * ``tpe_untracked_ms_per_trial``: Optuna's default sampler (TPE) on the same objective,
    untracked, for scale.

logwright: ``logwright.autolog(only=["optuna"])`` into a fresh SQLite store (a parent run,
a child run per trial with params, 5 curve points, value, duration, state; the parent's
best-so-far metrics); ``logwright.flush()`` closes each tracked block. MLflow (when
``mlflow.optuna`` is importable): its Optuna integration, ``mlflow.optuna.MlflowStorage``
(the study stored in MLflow runs: one run per trial) on a SQLite tracking store, with
``flush_all_batches()`` closing each tracked block.

Usage:
    .venv/bin/python benchmarks/optuna.py --tracker none
    .venv/bin/python benchmarks/optuna.py --tracker logwright
    .bench-venv/bin/python benchmarks/optuna.py --tracker mlflow --trials 20 --blocks 3  # MLflow is slow
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
# ``import optuna`` finds Optuna, not this script.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.getcwd()) != _HERE]

TRIALS = 100
BLOCKS = 7


def objective(trial) -> float:
    """One float, five intermediate values, a quadratic."""
    x = trial.suggest_float("x", -10, 10)
    for step in range(5):
        trial.report((x - 2) ** 2 + 1 / (step + 1), step)
    return (x - 2) ** 2


def _study(seed: int, storage=None, sampler=None):
    import optuna

    return optuna.create_study(storage=storage, sampler=sampler or optuna.samplers.RandomSampler(seed=seed))


def _block(make_study, trials: int = TRIALS, done=lambda: None) -> tuple[float, float]:
    """(wall ms, cpu ms) per trial of one study of ``trials`` trials."""
    study = make_study()
    wall, cpu = time.perf_counter(), time.process_time()
    study.optimize(objective, n_trials=trials)
    done()
    return ((time.perf_counter() - wall) * 1000 / trials, (time.process_time() - cpu) * 1000 / trials)


def _tracked(tracker: str):
    """(make a tracked study, after a tracked block, before an untracked block)."""
    if tracker == "logwright":
        import logwright

        logwright.set_tracking_uri(tempfile.mkdtemp(prefix="bench-lw-"))
        state = {"seed": 0}

        def make():
            logwright.autolog(only=["optuna"])
            state["seed"] += 1
            return _study(state["seed"])

        def done():
            logwright.flush()
            logwright.autolog(only=["optuna"], disable=True)

        return make, done
    if tracker == "mlflow":
        import mlflow
        from mlflow.optuna import MlflowStorage

        folder = tempfile.mkdtemp(prefix="bench-mlflow-")
        mlflow.set_tracking_uri(f"sqlite:///{folder}/mlflow.db")
        experiment_id = mlflow.create_experiment("optuna-bench")
        storages = []

        def make():
            storages.append(MlflowStorage(experiment_id=experiment_id))
            return _study(len(storages), storage=storages[-1])

        return make, lambda: storages[-1].flush_all_batches()
    return None, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tracker", choices=["none", "logwright", "mlflow"], default="none")
    parser.add_argument("--trials", type=int, default=TRIALS, help="trials per study")
    parser.add_argument("--blocks", type=int, default=BLOCKS, help="tracked/untracked study pairs")
    args = parser.parse_args()
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    _block(lambda: _study(0))  # warm up imports and the sampler
    make, done = _tracked(args.tracker)
    samples: dict[str, list[float]] = {k: [] for k in ("wall_off", "cpu_off", "wall_on", "cpu_on")}
    for block in range(args.blocks):
        wall, cpu = _block(lambda b=block: _study(1000 + b), args.trials)
        samples["wall_off"].append(wall)
        samples["cpu_off"].append(cpu)
        if make is not None:
            wall, cpu = _block(make, args.trials, done)
            samples["wall_on"].append(wall)
            samples["cpu_on"].append(cpu)
    result: dict[str, object] = {"tracker": args.tracker, "optuna": optuna.__version__, "trials": args.trials,
                                 "blocks": args.blocks}
    for clock in ("wall", "cpu"):
        result[f"{clock}_untracked_ms_per_trial"] = round(statistics.median(samples[f"{clock}_off"]), 3)
        if make is not None:
            result[f"{clock}_tracked_ms_per_trial"] = round(statistics.median(samples[f"{clock}_on"]), 3)
            added = [on - off for on, off in zip(samples[f"{clock}_on"], samples[f"{clock}_off"], strict=True)]
            result[f"{clock}_added_ms_per_trial"] = round(statistics.median(added), 3)
    result["tpe_untracked_ms_per_trial"] = round(
        _block(lambda: _study(0, sampler=optuna.samplers.TPESampler(seed=0)))[0], 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
