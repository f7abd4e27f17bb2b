"""Autologged fits inside an objective log into that trial's run (real scikit-learn)."""

from __future__ import annotations

import pytest

import logwright

optuna = pytest.importorskip("optuna")
pytest.importorskip("sklearn")


@pytest.fixture
def data():
    from sklearn.datasets import make_classification

    return make_classification(60, 4, random_state=0)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_a_sklearn_fit_in_the_objective_logs_into_the_trials_run(client, data, n_jobs, study_runs):
    from sklearn.linear_model import LogisticRegression

    logwright.autolog(only=["optuna", "sklearn"], log_models=False, log_datasets=False)
    X, y = data

    def objective(trial):
        c = trial.suggest_float("C", 0.01, 10, log=True)
        return LogisticRegression(C=c, max_iter=50).fit(X, y).score(X, y)

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=4, n_jobs=n_jobs)
    parent, trials = study_runs(client)  # one top-level run: the fits made none of their own
    assert sorted(trials) == [0, 1, 2, 3]
    for t in study.trials:
        run = trials[t.number]
        assert run.data.params["C"] == str(t.params["C"]) and run.data.params["max_iter"] == "50"
        assert run.data.tags["estimator_name"] == "LogisticRegression"
        assert run.data.metrics["training_score"] == pytest.approx(t.value)
    assert "estimator_name" not in parent.data.tags


def test_reports_from_inside_another_autologged_call_are_on_the_curve(client, study_runs):
    """A pruning callback reports from inside xgboost.train (as optuna-integration's does)."""
    xgb = pytest.importorskip("xgboost")
    import numpy as np

    logwright.autolog(only=["optuna", "xgboost"], log_models=False, log_datasets=False)
    rng = np.random.default_rng(0)
    dtrain = xgb.DMatrix(rng.normal(size=(40, 3)), label=rng.integers(0, 2, 40))

    class Pruning(xgb.callback.TrainingCallback):
        def __init__(self, trial):
            self.trial = trial

        def after_iteration(self, model, epoch, evals_log):
            self.trial.report(evals_log["train"]["logloss"][-1], epoch)
            if self.trial.number == 1 and epoch == 2:
                raise optuna.TrialPruned()
            return False

    def objective(trial):
        depth = trial.suggest_int("max_depth", 1, 3)
        booster = xgb.train({"max_depth": depth, "objective": "binary:logistic", "nthread": 1}, dtrain, 4,
                            evals=[(dtrain, "train")], verbose_eval=False, callbacks=[Pruning(trial)])
        return float(booster.eval(dtrain).split(":")[1])

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=2)
    _, trials = study_runs(client)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "PRUNED"]
    for t in study.trials:
        run = trials[t.number]
        curve = client.get_metric_history(run.info.run_id, "intermediate_value")
        assert [(p.step, p.value) for p in curve] == sorted(t.intermediate_values.items())
        assert run.data.params["max_depth"] == str(t.params["max_depth"])
    assert trials[0].data.metrics["train-logloss"] > 0  # xgboost's own metrics, in the trial's run
