"""Parallel trials (n_jobs threads) and multi-objective studies."""

from __future__ import annotations

import threading
import time

import pytest

import logwright

optuna = pytest.importorskip("optuna")


def test_n_jobs_2_trials_are_neither_lost_nor_mixed_up(client, study_runs):
    threads = set()

    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        threads.add(threading.get_ident())
        for step in range(3):
            time.sleep(0.01)  # let the two threads' trials overlap
            trial.report(x + step, step)
        logwright.log_metric("x_seen", x)  # the user's own logging goes to the trial's run too
        return x * 10

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(objective, n_trials=10, n_jobs=2)
    parent, trials = study_runs(client)
    assert len(threads) == 2 and sorted(trials) == list(range(10))
    assert parent.data.params["n_jobs"] == "2" and parent.data.metrics["n_trials_complete"] == 10
    for t in study.trials:
        run = trials[t.number]
        assert run.info.parent_run_id == parent.info.run_id and run.info.status == "FINISHED"
        assert run.data.params == {"x": str(t.params["x"])}
        assert run.data.metrics["value"] == t.value and run.data.metrics["x_seen"] == t.params["x"]
        curve = client.get_metric_history(run.info.run_id, "intermediate_value")
        assert [(p.step, p.value) for p in curve] == sorted(t.intermediate_values.items())
    assert parent.data.metrics["best_value"] == study.best_value
    assert logwright.active_run() is None


def test_n_jobs_2_with_a_failure_reaches_the_user_and_leaves_no_run_running(client, study_runs):
    def objective(trial):
        x = trial.suggest_int("x", 0, 100)
        time.sleep(0.01)
        if trial.number == 3:
            raise RuntimeError("trial 3 broke")
        return x

    study = optuna.create_study()
    with pytest.raises(RuntimeError, match="trial 3 broke"):
        study.optimize(objective, n_trials=8, n_jobs=2)
    parent, trials = study_runs(client)
    assert parent.info.status == "FAILED"
    assert all(r.info.status != "RUNNING" for r in trials.values())
    assert trials[3].data.tags["optuna.trial.state"] == "FAIL" and trials[3].info.status == "FAILED"
    states = {t.number: t.state.name for t in study.trials}
    assert {n: r.data.tags["optuna.trial.state"] for n, r in trials.items()} == states


def test_multi_objective_values_and_pareto_front(client, study_runs):
    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        return x, (1 - x) ** 2

    study = optuna.create_study(directions=["minimize", "maximize"], sampler=optuna.samplers.RandomSampler(seed=2))
    study.optimize(objective, n_trials=6)
    parent, trials = study_runs(client)
    assert parent.data.params["directions"] == "minimize,maximize" and "direction" not in parent.data.params
    assert parent.data.params["sampler"] == "RandomSampler"
    for t in study.trials:
        metrics = trials[t.number].data.metrics
        assert (metrics["value_0"], metrics["value_1"]) == tuple(t.values)
    front = sorted(t.number for t in study.best_trials)
    assert parent.data.tags["best_trials"] == ",".join(map(str, front))
    assert parent.data.metrics["n_best_trials"] == len(front)


def test_multi_objective_metric_names_are_the_studys(client, study_runs):
    study = optuna.create_study(directions=["minimize", "minimize"])
    study.set_metric_names(["loss", "latency"])
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), 2.0), n_trials=2)
    _, trials = study_runs(client)
    assert trials[0].data.metrics["loss"] == study.trials[0].values[0]
    assert trials[1].data.metrics["latency"] == 2.0
