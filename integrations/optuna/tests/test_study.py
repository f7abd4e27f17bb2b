"""A study's optimize is a parent run, each trial a child run: what a user reads back."""

from __future__ import annotations

import json

import pytest

import logwright
from logwright.testing.contract import check_contract

optuna = pytest.importorskip("optuna")


def quadratic(trial):
    x = trial.suggest_float("x", -10, 10)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    return (x - 2) ** 2 + (1 if kind == "b" else 0)


def seeded(**kwargs):
    return optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0), **kwargs)


def test_contract(tmp_store):
    check_contract(
        "optuna",
        exercise=lambda: seeded(study_name="contract").optimize(quadratic, n_trials=2),
        failing=lambda: seeded().optimize(lambda t: 1 / 0, n_trials=1),
        obj=lambda: seeded(),
    )


def test_study_is_a_parent_run_and_each_trial_a_child_with_params_and_value(client, study_runs):
    study = seeded(study_name="quad", direction="minimize")
    assert study.optimize(quadratic, n_trials=4) is None
    parent, trials = study_runs(client)
    assert parent.info.run_name == "quad" and parent.info.status == "FINISHED"
    assert parent.data.tags["logwright.autolog"] == "optuna"
    assert parent.data.params == {"study_name": "quad", "direction": "minimize", "sampler": "RandomSampler",
                                  "pruner": "MedianPruner", "n_trials": "4", "timeout": "None", "n_jobs": "1"}
    assert sorted(trials) == [0, 1, 2, 3]
    for t in study.trials:
        run = trials[t.number]
        assert run.info.parent_run_id == parent.info.run_id and run.info.status == "FINISHED"
        assert run.info.run_name == f"trial-{t.number}"
        assert run.data.params == {"x": str(t.params["x"]), "kind": t.params["kind"]}
        assert run.data.metrics["value"] == t.value and run.data.metrics["duration_s"] >= 0
        assert run.data.tags["optuna.trial.state"] == "COMPLETE"
    best = study.best_trial
    assert parent.data.metrics["best_value"] == best.value
    assert parent.data.metrics["best_trial_number"] == best.number
    assert json.loads(parent.data.tags["best_params"]) == best.params
    assert parent.data.tags["best_trial_run_id"] == trials[best.number].info.run_id
    assert parent.data.metrics["n_trials_complete"] == 4


def test_best_value_curve_follows_the_study(client, study_runs):
    study = seeded(direction="maximize")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=6)
    parent, _ = study_runs(client)
    values = [p.value for p in client.get_metric_history(parent.info.run_id, "trial_value")]
    best = [p.value for p in client.get_metric_history(parent.info.run_id, "best_value")]
    steps = [p.step for p in client.get_metric_history(parent.info.run_id, "best_value")]
    assert values == [t.value for t in study.trials] and steps == list(range(6))
    assert best == [max(values[: i + 1]) for i in range(6)]


def test_intermediate_values_are_a_curve_by_step_and_pruned_trials_say_so(client, study_runs):
    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        for step in range(3):
            trial.report(x * (step + 1), step)
            trial.report(99.0, step)  # Optuna keeps a step's first value: so do we
            if trial.number == 1 and step == 1:
                raise optuna.TrialPruned()
        return x

    study = seeded()
    study.optimize(objective, n_trials=2)
    _, trials = study_runs(client)
    for t in study.trials:
        curve = client.get_metric_history(trials[t.number].info.run_id, "intermediate_value")
        assert [(p.step, p.value) for p in curve] == sorted(t.intermediate_values.items())
    pruned = trials[1]
    assert study.trials[1].state.name == "PRUNED"
    assert pruned.data.tags["optuna.trial.state"] == "PRUNED" and pruned.info.status == "FINISHED"
    assert pruned.data.metrics["value"] == study.trials[1].value == study.trials[1].intermediate_values[1]


def test_failed_trials_caught_by_optuna_and_invalid_values(client, study_runs):
    def objective(trial):
        x = trial.suggest_int("x", 0, 3)
        if trial.number == 0:
            raise ValueError("bad x")
        if trial.number == 1:
            return float("nan")
        return x

    study = seeded()
    study.optimize(objective, n_trials=3, catch=(ValueError,))
    parent, trials = study_runs(client)
    assert [t.state.name for t in study.trials] == ["FAIL", "FAIL", "COMPLETE"]
    assert trials[0].info.status == "FAILED" and trials[0].data.tags["optuna.trial.state"] == "FAIL"
    assert trials[0].data.tags["logwright.error"] == "ValueError: bad x"
    assert trials[1].info.status == "FAILED" and "nan" in trials[1].data.tags["logwright.error"]
    assert trials[2].info.status == "FINISHED"
    assert parent.info.status == "FINISHED" and parent.data.metrics["n_trials_failed"] == 2


def test_an_uncaught_error_reaches_the_user_and_fails_trial_and_study(client, study_runs):
    def objective(trial):
        trial.suggest_float("x", 0, 1)
        if trial.number == 1:
            raise KeyError("boom")
        return 1.0

    study = seeded()
    with pytest.raises(KeyError, match="boom") as info:
        study.optimize(objective, n_trials=3)
    assert info.value.args == ("boom",)
    parent, trials = study_runs(client)
    assert sorted(trials) == [0, 1] and [t.state.name for t in study.trials] == ["COMPLETE", "FAIL"]
    assert trials[1].info.status == "FAILED" and trials[1].data.tags["optuna.trial.state"] == "FAIL"
    assert parent.info.status == "FAILED" and "boom" in parent.data.tags["logwright.error"]
    assert logwright.active_run() is None


def test_results_and_callbacks_are_unchanged(client):
    def objective(trial):
        return trial.suggest_float("x", -1, 1) ** 2

    seen = []

    def users_callback(study, trial):
        seen.append((trial.number, trial.state.name))
        if trial.number == 2:
            study.stop()

    logwright.autolog(disable=True)
    plain = seeded()
    plain.optimize(objective, n_trials=5, callbacks=[users_callback])
    expected, seen[:] = list(seen), []
    logwright.autolog(only=["optuna"])
    logged = seeded()
    callbacks = (users_callback,)
    assert logged.optimize(objective, n_trials=5, callbacks=callbacks) is None
    assert callbacks == (users_callback,) and seen == expected == [(0, "COMPLETE"), (1, "COMPLETE"), (2, "COMPLETE")]
    assert [(t.number, t.params, t.value, t.state) for t in logged.trials] == [
        (t.number, t.params, t.value, t.state) for t in plain.trials]
    assert logged.best_params == plain.best_params and logged.user_attrs == plain.user_attrs


def test_inside_a_users_run_trials_are_its_children(client, study_runs):
    with logwright.start_run(run_name="mine") as mine:
        seeded(study_name="inner").optimize(quadratic, n_trials=2)
    parent, trials = study_runs(client)
    assert parent.info.run_id == mine.info.run_id and parent.data.params["study_name"] == "inner"
    assert all(r.info.parent_run_id == mine.info.run_id for r in trials.values())


def test_trials_go_to_the_experiment_of_the_users_run(client, study_runs):
    elsewhere = client.create_experiment("elsewhere")
    with logwright.start_run(experiment_id=elsewhere) as mine:
        seeded().optimize(quadratic, n_trials=2)
    _, trials = study_runs(client)
    assert {r.info.experiment_id for r in trials.values()} == {elsewhere} == {mine.info.experiment_id}


def test_the_trials_user_attrs_are_tags(client, study_runs):
    def objective(trial):
        trial.set_user_attr("note", "hello")
        return trial.suggest_float("x", 0, 1)

    seeded().optimize(objective, n_trials=1)
    _, trials = study_runs(client)
    assert trials[0].data.tags["optuna.user_attr.note"] == "hello"


def test_second_optimize_call_is_a_second_run_that_knows_the_earlier_best(client):
    study = seeded()
    study.optimize(quadratic, n_trials=3)
    study.optimize(quadratic, n_trials=2)
    runs = [r for r in client.search_runs(None, max_results=None) if r.info.parent_run_id is None]
    assert len(runs) == 2
    latest = max(runs, key=lambda r: r.info.start_time)
    assert latest.data.metrics["best_value"] == study.best_value


def test_the_callback_by_hand_logs_each_trial_after_the_fact(client, study_runs):
    from logwright_optuna import LogwrightOptunaCallback

    logwright.autolog(disable=True)

    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        trial.report(x, 0)
        return x

    with logwright.start_run() as mine:
        study = seeded()
        study.optimize(objective, n_trials=2, callbacks=[LogwrightOptunaCallback()])
    parent, trials = study_runs(client)
    assert parent.info.run_id == mine.info.run_id and sorted(trials) == [0, 1]
    assert trials[1].data.metrics["value"] == study.trials[1].value
    assert trials[1].data.metrics["intermediate_value"] == study.trials[1].value
    assert parent.data.metrics["best_value"] == study.best_value
    assert parent.data.tags["best_trial_run_id"] == trials[study.best_trial.number].info.run_id


def test_ctrl_c_in_a_trial_reaches_the_user_and_marks_both_runs_killed(client, study_runs):
    def objective(trial):
        trial.suggest_float("x", 0, 1)
        if trial.number == 1:
            raise KeyboardInterrupt
        return 1.0

    study = seeded()
    with pytest.raises(KeyboardInterrupt):
        study.optimize(objective, n_trials=3)
    parent, trials = study_runs(client)
    assert parent.info.status == "KILLED" and sorted(trials) == [0, 1]
    assert trials[1].info.status == "KILLED" and trials[1].data.tags["optuna.trial.state"] == "FAIL"
    assert study.trials[1].state.name == "FAIL"
