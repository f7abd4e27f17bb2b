"""The autolog contract for the XGBoost integration, plus its own patch-placement checks."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xgboost as xgb

import logwright
from logwright.autolog import guard
from logwright.testing.contract import check_contract


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    return X, (X[:, 0] > 0).astype(int)


class _Raises(xgb.callback.TrainingCallback):
    """The user's own error, raised from inside training."""

    def after_iteration(self, model, epoch, evals_log):
        raise ValueError("the user's callback failed")


def test_contract_native_train(tmp_store):
    X, y = _data()
    check_contract(
        "xgboost",
        exercise=lambda: xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, y), 3,
                                   evals=[(xgb.DMatrix(X, y), "train")], verbose_eval=False),
        failing=lambda: xgb.train({}, xgb.DMatrix(X, y), 3, callbacks=[_Raises()]),
    )


def test_contract_sklearn_api(tmp_store):
    X, y = _data()
    check_contract(
        "xgboost",
        exercise=lambda: xgb.XGBClassifier(n_estimators=3).fit(X, y, eval_set=[(X, y)], verbose=False),
        failing=lambda: xgb.XGBClassifier(n_estimators=3).fit(X, y + 7),
        check_absent=False,
    )


def test_contract_cv(tmp_store):
    X, y = _data()
    check_contract(
        "xgboost",
        exercise=lambda: xgb.cv({"objective": "binary:logistic"}, xgb.DMatrix(X, y), 3, nfold=2,
                                as_pandas=False),
        roundtrip=False,
        check_absent=False,
    )


def test_every_name_of_train_is_patched_and_restored():
    import xgboost.sklearn
    import xgboost.training

    logwright.autolog(disable=True)
    original = xgboost.training.train
    assert xgb.train is original and xgboost.sklearn.train is original
    fits = {name: cls.__dict__.get("fit") for name, cls in vars(xgboost.sklearn).items()
            if isinstance(cls, type) and issubclass(cls, xgboost.sklearn.XGBModel)}
    assert fits["XGBClassifier"] is not None and fits["XGBRegressor"] is None

    logwright.autolog(only=["xgboost"])
    for owner in (xgb, xgboost.training, xgboost.sklearn):
        assert owner.train is not original and owner.train.__wrapped__ is original
    assert xgb.cv.__wrapped__ is xgboost.training.cv.__wrapped__
    for name in ("XGBModel", "XGBClassifier", "XGBRanker"):
        assert getattr(xgboost.sklearn, name).__dict__["fit"].__wrapped__ is fits[name]

    logwright.autolog(disable=True)
    assert xgb.train is original and xgboost.training.train is original and xgboost.sklearn.train is original
    for name, fit in fits.items():
        assert getattr(xgboost.sklearn, name).__dict__.get("fit") is fit


def test_bug_in_the_callback_never_changes_training(tmp_store, monkeypatch):
    from logwright_xgboost import LogwrightXGBoostCallback

    X, y = _data()
    d = xgb.DMatrix(X, y)
    params = {"objective": "binary:logistic", "seed": 0, "nthread": 1}
    logwright.autolog(disable=True)
    expected = xgb.train(params, d, 4, evals=[(d, "train")], verbose_eval=False).predict(d)
    logwright.autolog(only=["xgboost"])

    def broken(self, *args, **kwargs):
        raise KeyError("bug in logwright")

    monkeypatch.setattr(LogwrightXGBoostCallback, "_values", broken)
    # before_training must hand the model back to XGBoost even when its guarded part fails
    monkeypatch.setattr(LogwrightXGBoostCallback, "_begin", guard("xgboost")(broken))
    monkeypatch.delenv("LOGWRIGHT_STRICT")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = xgb.train(params, d, 4, evals=[(d, "train")], verbose_eval=False)
    np.testing.assert_array_equal(got.predict(d), expected)
    assert any("logwright xgboost autolog" in str(w.message) for w in caught)


def test_sklearn_fit_inside_a_users_run_logs_into_it(tmp_store):
    X, y = _data()
    with logwright.start_run() as run:
        xgb.XGBClassifier(n_estimators=2).fit(X, y)
        xgb.XGBRegressor(n_estimators=2).fit(X, y.astype(float))
    runs = logwright.Client().search_runs()
    assert [r.info.run_id for r in runs] == [run.info.run_id]
    assert runs[0].data.params["objective"] == "binary:logistic"  # first value kept (write-once)


@pytest.mark.parametrize("exclusive", [True])
def test_exclusive_starts_a_nested_run(tmp_store, exclusive):
    X, y = _data()
    logwright.autolog(only=["xgboost"], exclusive=exclusive)
    with logwright.start_run() as run:
        xgb.train({}, xgb.DMatrix(X, y), 2)
    child = [r for r in logwright.Client().search_runs() if r.info.run_id != run.info.run_id]
    assert len(child) == 1 and child[0].info.parent_run_id == run.info.run_id
