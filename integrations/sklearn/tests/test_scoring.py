"""Training metrics never call into user code unless asked, score a bounded number of rows,
and sparse input in any scipy format is logged with its dataset."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import metrics as skm
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import logwright


class Counting(ClassifierMixin, BaseEstimator):
    """A user's classifier that counts the calls made into it."""

    calls: list[str] = []

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        Counting.calls.append("predict")
        return np.full(len(X), self.classes_[0])

    def predict_proba(self, X):
        Counting.calls.append("predict_proba")
        return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))

    def score(self, X, y, sample_weight=None):
        Counting.calls.append("score")
        return 0.5


class MyLogisticRegression(LogisticRegression):
    """A user's subclass of a scikit-learn estimator (inherits the patched fit)."""

    def predict(self, X):
        Counting.calls.append("subclass predict")
        return super().predict(X)


def _training(run) -> dict:
    return {k: v for k, v in run.data.metrics.items() if k.startswith("training_")}


@pytest.fixture(autouse=True)
def _reset_calls():
    Counting.calls.clear()


def test_user_estimator_in_a_pipeline_is_not_called_by_default(read):
    X, y = load_iris(return_X_y=True)
    Pipeline([("scale", StandardScaler()), ("clf", Counting())]).fit(X, y)
    run = read.only_run()
    assert Counting.calls == []
    assert run.info.status == "FINISHED" and _training(run) == {}
    assert run.data.params["clf"] == "Counting()" and [d.name for d in run.inputs] == ["X"]


def test_user_subclass_and_user_function_are_not_called_by_default(read):
    X, y = load_iris(return_X_y=True)
    MyLogisticRegression(max_iter=300).fit(X, y)
    seen = []

    def double(Z):
        seen.append(len(Z))
        return Z * 2

    Pipeline([("f", FunctionTransformer(double)), ("clf", LogisticRegression(max_iter=300))]).fit(X, y)
    assert Counting.calls == [] and seen == [150]  # the pipeline's fit only
    assert all(_training(r) == {} for r in read.runs())


def test_training_metrics_all_calls_user_estimators(read):
    X, y = load_iris(return_X_y=True)
    logwright.autolog(only=["sklearn"], log_models=False, sklearn={"training_metrics": "all"})
    Pipeline([("scale", StandardScaler()), ("clf", Counting())]).fit(X, y)
    assert "predict" in Counting.calls
    assert _training(read.only_run())["training_accuracy"] == pytest.approx(1 / 3)


def test_training_metrics_none_and_a_bad_value(read):
    X, y = load_iris(return_X_y=True)
    logwright.autolog(only=["sklearn"], log_models=False, sklearn={"training_metrics": "none"})
    LogisticRegression(max_iter=300).fit(X, y)
    run = read.only_run()
    assert _training(run) == {} and run.data.params["max_iter"] == "300"
    logwright.autolog(only=["sklearn"], sklearn={"training_metrics": "some"})
    with pytest.raises(ValueError, match="training_metrics must be one of"):  # before any run starts
        LogisticRegression(max_iter=300).fit(X, y)
    assert len(read.runs()) == 1


@pytest.mark.parametrize("frame", [False, True])
def test_rows_scored_are_capped_to_an_even_sample(read, frame):
    data = load_breast_cancer(as_frame=frame)
    X, y = data.data, data.target
    logwright.autolog(only=["sklearn"], log_models=False, sklearn={"max_scored_rows": 100})
    model = LogisticRegression(max_iter=5000).fit(X, y)
    run = read.only_run()
    assert run.data.tags["training_metrics_rows"] == "95 of 569"  # every 6th row
    Xs, ys = (X.iloc[::6], y.iloc[::6]) if frame else (X[::6], y[::6])
    assert run.data.metrics["training_accuracy"] == pytest.approx(skm.accuracy_score(ys, model.predict(Xs)))
    assert run.data.metrics["training_log_loss"] == pytest.approx(skm.log_loss(ys, model.predict_proba(Xs)))
    assert json.loads(run.inputs[0].shape) == [569, 30]  # the dataset is still the whole of X


def test_below_the_cap_every_row_is_scored(read):
    X, y = load_iris(return_X_y=True)
    LogisticRegression(max_iter=300).fit(X, y)
    assert "training_metrics_rows" not in read.only_run().data.tags


@pytest.mark.parametrize("fmt", ["coo", "lil", "dia", "dok", "csr", "csc"])
def test_sparse_input_in_any_format_logs_its_dataset(read, monkeypatch, fmt):
    monkeypatch.setenv("LOGWRIGHT_STRICT", "1")  # any error of ours would raise
    X, y = load_iris(return_X_y=True)
    dense_digest = None
    Xs = getattr(sp.csr_matrix(X), f"to{fmt}")()
    logwright.autolog(only=["sklearn"], sklearn={"max_scored_rows": 100})  # slicing a sparse X too
    LogisticRegression(max_iter=300).fit(Xs, y)
    run = read.only_run()
    assert run.info.status == "FINISHED"
    assert json.loads(run.inputs[0].shape) == [150, 4]
    assert run.data.tags["training_metrics_rows"] == "75 of 150" and "training_accuracy" in run.data.metrics
    from logwright.datasets import describe

    dense_digest = describe(sp.csr_matrix(X), targets=y).digest  # one digest whatever the format
    assert run.inputs[0].digest == dense_digest


def test_scikit_learns_test_helpers_count_as_user_code():
    import functools

    from logwright_sklearn._scoring import is_builtin
    from sklearn.ensemble import StackingClassifier
    from sklearn.utils._mocking import CheckingClassifier

    assert is_builtin(StackingClassifier([("lr", LogisticRegression())], final_estimator=LogisticRegression()))
    assert not is_builtin(StackingClassifier([("c", CheckingClassifier())]))
    assert not is_builtin(FunctionTransformer(functools.partial(lambda Z, k: Z * k, k=2)))
    assert is_builtin(FunctionTransformer(np.log1p))
