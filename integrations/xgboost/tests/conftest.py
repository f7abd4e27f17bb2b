"""Fixtures for the XGBoost integration tests: autolog on for each test, small data sets."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

import logwright


@pytest.fixture(autouse=True)
def _autolog(tmp_store):
    import xgboost

    # Tiny data: threads only cost time on a busy CI box (global nthread: XGBoost >= 2.1).
    one_thread = "nthread" in xgboost.get_config()
    logwright.autolog(only=["xgboost"])
    try:
        with xgboost.config_context(nthread=1) if one_thread else contextlib.nullcontext():
            yield
    finally:
        logwright.autolog(disable=True)


@pytest.fixture
def client(tmp_store):
    return logwright.Client()


@pytest.fixture
def binary():
    """(X_train, y_train, X_val, y_val, X_test, y_test): 300/100/100 rows, 6 features."""
    from sklearn.datasets import make_classification

    X, y = make_classification(500, 6, n_informative=4, random_state=0)
    return X[:300], y[:300], X[300:400], y[300:400], X[400:], y[400:]


@pytest.fixture
def multiclass():
    from sklearn.datasets import make_classification

    X, y = make_classification(450, 6, n_informative=4, n_classes=3, random_state=1)
    return X[:300], y[:300], X[300:], y[300:]


def only_run(client):
    """The single run in the store (fails when there are several)."""
    runs = client.search_runs()
    assert len(runs) == 1, [r.info.run_id for r in runs]
    return runs[0]


def history(client, run_id, key):
    return [(m.step, m.value) for m in client.get_metric_history(run_id, key)]


@pytest.fixture
def helpers():
    """only_run / history helpers (test modules are imported with importlib mode)."""

    class Helpers:
        pass

    h = Helpers()
    h.only_run = only_run
    h.history = history
    h.np = np
    return h
