"""Post-training metrics, pickling of patched objects, and coverage of all_estimators()."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression, Ridge

import logwright


def _split():
    X, y = load_iris(return_X_y=True)
    return X[::2], X[1::2], y[::2], y[1::2]


def test_score_and_metric_functions_log_into_the_fit_run(read):
    X_train, X_test, y_train, y_test = _split()
    model = LogisticRegression(max_iter=300).fit(X_train, y_train)
    y_pred = model.predict(X_test)
    acc = skm.accuracy_score(y_test, y_pred)
    f1 = skm.f1_score(y_test, y_pred, average="macro")
    score = model.score(X_test, y_test)
    skm.accuracy_score(y_test, y_pred)  # again: numbered
    m = read.only_run().data.metrics
    assert m["accuracy_score_X_test"] == pytest.approx(acc)
    assert m["f1_score_X_test"] == pytest.approx(f1)
    assert m["score_X_test"] == pytest.approx(score)
    assert m["accuracy_score_X_test-2"] == pytest.approx(acc)


def test_unnamed_dataset_is_eval_and_untracked_models_log_nothing(read):
    X_train, X_test, y_train, y_test = _split()
    model = LogisticRegression(max_iter=300).fit(X_train, y_train)
    proba = model.predict_proba(X_test[::2] * 1.0)
    skm.log_loss(y_test[::2], proba)
    logwright.autolog(only=["sklearn"], sklearn={"log_post_training_metrics": False})
    skm.log_loss(y_test[::2], model.predict_proba(X_test[::2] * 1.0))
    m = read.only_run().data.metrics
    assert "log_loss_eval" in m and "log_loss_eval-2" not in m
    skm.accuracy_score(y_test, y_test)  # not a tracked prediction: nothing logged
    assert not any(k.startswith("accuracy_score") for k in read.only_run().data.metrics)


def test_regressor_post_training(read):
    X, y = load_diabetes(return_X_y=True)
    X_holdout, y_holdout = X[300:], y[300:]
    reg = Ridge().fit(X[:300], y[:300])
    skm.mean_squared_error(y_holdout, reg.predict(X_holdout))
    assert "mean_squared_error_X_holdout" in read.only_run().data.metrics


def test_patched_objects_pickle_and_copy(read):
    X_train, X_test, y_train, _ = _split()
    model = LogisticRegression(max_iter=300).fit(X_train, y_train)
    assert pickle.loads(pickle.dumps(skm.accuracy_score)) is skm.accuracy_score
    scorer = skm.make_scorer(skm.f1_score, average="macro")
    back = pickle.loads(pickle.dumps(scorer))
    assert back(model, X_test, model.predict(X_test)) == pytest.approx(1.0)
    again = pickle.loads(pickle.dumps(model))
    assert np.array_equal(again.predict(X_test), model.predict(X_test))
    bound = pickle.loads(pickle.dumps(model.predict))
    assert np.array_equal(bound(X_test), model.predict(X_test))
    assert np.array_equal(copy.deepcopy(model).predict(X_test), model.predict(X_test))
    assert copy.deepcopy(skm.accuracy_score) is skm.accuracy_score


def _proxies() -> set[int]:
    from logwright.autolog.registry import registry

    return {id(a.proxy) for a in registry.applied("sklearn")}


def _patched(cls, method, proxies=None) -> bool:
    proxies = _proxies() if proxies is None else proxies
    for klass in cls.__mro__:
        if method in klass.__dict__:
            return id(klass.__dict__[method]) in proxies
    return False


def test_every_all_estimators_class_is_patched():
    from sklearn.base import BaseEstimator
    from sklearn.utils import all_estimators

    missing = []
    estimators = all_estimators()
    proxies = _proxies()
    for name, cls in estimators:
        for method in ("fit", "fit_transform", "fit_predict", "partial_fit"):
            definer = next((k for k in cls.__mro__ if method in k.__dict__), None)
            if definer is None or not issubclass(definer, BaseEstimator):
                continue  # absent, or a mixin's (TransformerMixin.fit_transform calls the patched fit)
            if not _patched(cls, method, proxies):
                missing.append(f"{name}.{method}")
        if not _patched(cls, "fit", proxies):
            missing.append(f"{name}.fit")
    assert missing == []


def test_disable_restores_late_patches():
    from sklearn.cluster import Birch  # imported after autolog(): patched by the import hook
    from sklearn.metrics import _classification

    original = Birch.__dict__["fit"].__wrapped__
    original_metric = skm.accuracy_score.__wrapped__
    assert _patched(Birch, "fit") and _patched(Birch, "predict")
    assert skm.accuracy_score is _classification.accuracy_score
    assert id(skm.accuracy_score) in _proxies()
    logwright.autolog(disable=True)
    assert Birch.__dict__["fit"] is original
    assert skm.accuracy_score is _classification.accuracy_score is original_metric
    logwright.autolog(only=["sklearn"])
    assert _patched(Birch, "fit")
    assert skm.accuracy_score is _classification.accuracy_score
