"""Hyperparameter searches: parent run, child runs, best model; joblib workers never log."""

from __future__ import annotations

import csv
import io

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.svm import SVC

import logwright

GRID = {"C": [0.1, 1.0, 10.0], "kernel": ["linear", "rbf"]}


def _children(read, parent_id):
    return [r for r in read.runs() if r.info.parent_run_id == parent_id]


def test_grid_search_n_jobs_2(read):
    X, y = load_iris(return_X_y=True)
    search = GridSearchCV(SVC(), GRID, cv=3, n_jobs=2).fit(X, y)
    parent = read.only_run()
    assert parent.info.status == "FINISHED"
    assert parent.data.params["best_C"] == str(search.best_params_["C"])
    assert parent.data.params["best_kernel"] == search.best_params_["kernel"]
    assert parent.data.params["estimator"] == "SVC" and parent.data.params["cv"] == "3"
    assert parent.data.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    assert "training_accuracy" in parent.data.metrics
    children = _children(read, parent.info.run_id)
    assert len(children) == 5  # max_tuning_runs default; 6 candidates
    ranks = sorted(c.data.metrics["rank_test_score"] for c in children)
    assert ranks == sorted(np.sort(search.cv_results_["rank_test_score"])[:5].astype(float).tolist())
    for child in children:
        assert child.info.status == "FINISHED"
        assert {"C", "kernel"} == set(child.data.params)
        assert {"mean_test_score", "std_test_score", "rank_test_score"} <= set(child.data.metrics)
    text = open(read.path(parent, "cv_results.csv")).read()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 6 and "mean_test_score" in rows[0]
    model = logwright.load_model(f"runs:/{parent.info.run_id}/model")
    assert type(model) is SVC and model.C == search.best_params_["C"]
    assert np.array_equal(model.predict(X), search.predict(X))


def test_max_tuning_runs_none_logs_every_candidate(read):
    X, y = load_iris(return_X_y=True)
    logwright.autolog(only=["sklearn"], log_models=False, sklearn={"max_tuning_runs": None})
    RandomizedSearchCV(LogisticRegression(max_iter=300), {"C": [0.1, 1, 10, 100]}, n_iter=4, cv=2,
                       random_state=0).fit(X, y)
    parent = read.only_run()
    assert len(_children(read, parent.info.run_id)) == 4


def test_threading_backend_workers_do_not_log(read):
    X, y = load_iris(return_X_y=True)
    with joblib.parallel_backend("threading", n_jobs=2):
        GridSearchCV(SVC(), GRID, cv=3, n_jobs=2).fit(X, y)
    parent = read.only_run()  # no stray top-level runs from the worker threads
    assert len(read.runs()) == 1 + 5
    assert parent.data.params["n_jobs"] == "2"


def test_halving_search(read):
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingGridSearchCV

    X, y = load_iris(return_X_y=True)
    logwright.autolog(only=["sklearn"], log_models=False, sklearn={"max_tuning_runs": 2})
    search = HalvingGridSearchCV(SVC(), GRID, cv=3, random_state=0).fit(X, y)
    parent = read.only_run()
    assert parent.data.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    assert len(_children(read, parent.info.run_id)) == 2


def test_search_over_pipeline_logs_its_own_params_not_the_estimators(read):
    from scipy.stats import loguniform
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True)
    logwright.autolog(only=["sklearn"], log_models=False)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=300))])
    grid = {"clf__C": [0.1, 1.0], "scale__with_mean": [True, False]}
    search = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    params = read.only_run().data.params
    assert not [k for k in params if k.startswith("estimator__")]
    assert params["estimator"] == "Pipeline(scale=StandardScaler, clf=LogisticRegression)"
    assert params["estimator_class"] == "sklearn.pipeline.Pipeline"
    assert params["param_grid"] == str(grid) and params["cv"] == "2" and params["refit"] == "True"
    assert params["best_clf__C"] == str(search.best_params_["clf__C"])
    assert params["best_scale__with_mean"] == str(search.best_params_["scale__with_mean"])
    assert "steps" not in params and "memory" not in params
    # distributions are described by name and arguments, not by an object address
    RandomizedSearchCV(LogisticRegression(max_iter=300), {"C": loguniform(0.01, 10)}, n_iter=2, cv=2,
                       random_state=0).fit(X, y)
    searched = [r for r in read.runs(parent=False) if "param_distributions" in r.data.params][0]
    assert searched.data.params["param_distributions"] == "{'C': loguniform(0.01, 10)}"
