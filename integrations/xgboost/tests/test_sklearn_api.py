"""XGBoost's sklearn wrappers, autologged: one run per fit, metrics through the callback."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import xgboost as xgb

import logwright
from logwright.entities import RunStatus


def test_classifier_fit_is_one_run_with_metrics_params_and_model(client, binary, helpers):
    Xt, yt, Xv, yv, Xs, _ = binary
    clf = xgb.XGBClassifier(n_estimators=7, max_depth=3, eval_metric=["logloss", "error"])
    params_before = clf.get_params()
    clf.fit(Xt, yt, eval_set=[(Xt, yt), (Xv, yv)], verbose=False)

    run = helpers.only_run(client)  # the inner xgboost.train did not start a second run
    rid = run.info.run_id
    assert run.info.status == RunStatus.FINISHED
    p = run.data.params
    assert p["num_boost_round"] == "7" and p["max_depth"] == "3"
    assert p["objective"] == "binary:logistic" and p["eval_metric"] == "['logloss', 'error']"
    assert run.data.tags["estimator_class"] == "xgboost.sklearn.XGBClassifier"
    for name in ("validation_0", "validation_1"):
        for metric in ("logloss", "error"):
            points = helpers.history(client, rid, f"{name}-{metric}")
            assert [s for s, _ in points] == list(range(7))
            assert [v for _, v in points] == pytest.approx(clf.evals_result()[name][metric])
    assert clf.get_params() == params_before and clf.callbacks is None
    assert {(d.name, d.context) for d in run.inputs} == {("train", "training"), ("validation_1", "evaluation")}

    meta = logwright.models.read_model_metadata(f"runs:/{rid}/model")
    assert meta["model_class"] == "xgboost.sklearn:XGBClassifier"
    assert meta["signature"]["inputs"]["shape"] == [-1, 6]
    loaded = logwright.load_model(f"runs:/{rid}/model")
    assert type(loaded) is xgb.XGBClassifier
    np.testing.assert_array_equal(loaded.predict_proba(Xs), clf.predict_proba(Xs))
    np.testing.assert_array_equal(loaded.predict(Xs), clf.predict(Xs))


def test_multiclass_classifier_early_stopping(client, multiclass, helpers):
    Xt, yt, Xv, yv = multiclass
    clf = xgb.XGBClassifier(n_estimators=300, learning_rate=0.9, early_stopping_rounds=2,
                            eval_metric="mlogloss")
    clf.fit(Xt, yt, eval_set=[(Xt, yt), (Xv, yv)], verbose=False)
    m = helpers.only_run(client).data.metrics
    assert m["best_iteration"] == clf.best_iteration
    assert m["best_score"] == pytest.approx(clf.best_score)
    rounds = len(clf.evals_result()["validation_1"]["mlogloss"])
    assert m["stopped_iteration"] == rounds - 1 < 299
    assert m["best_validation_1-mlogloss"] == pytest.approx(clf.best_score)


def test_regressor_with_user_callbacks_and_custom_objective(client, binary, helpers):
    Xt, yt, Xv, yv, Xs, _ = binary
    seen: list[int] = []

    class Recorder(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            seen.append(epoch)
            return False

    def squared_error(y_true, y_pred):
        return y_pred - y_true, np.ones_like(y_pred)

    user_callbacks = [Recorder()]
    reg = xgb.XGBRegressor(n_estimators=4, objective=squared_error, callbacks=user_callbacks)
    reg.fit(Xt, yt.astype(float), eval_set=[(Xv, yv)], verbose=False)

    assert seen == [0, 1, 2, 3]
    assert reg.callbacks is user_callbacks and len(user_callbacks) == 1
    run = helpers.only_run(client)
    assert run.data.params["custom_objective"].endswith("squared_error")
    assert len(helpers.history(client, run.info.run_id, "validation_0-rmse")) == 4
    loaded = logwright.load_model(f"runs:/{run.info.run_id}/model")
    assert type(loaded) is xgb.XGBRegressor
    np.testing.assert_array_equal(loaded.predict(Xs), reg.predict(Xs))


def test_ranker(client, helpers):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(120, 5)), rng.integers(0, 3, size=120)
    qid = np.repeat(np.arange(12), 10)
    ranker = xgb.XGBRanker(n_estimators=3, eval_metric="ndcg@5")
    ranker.fit(X, y, qid=qid, eval_set=[(X, y)], eval_qid=[qid], verbose=False)
    run = helpers.only_run(client)
    assert [s for s, _ in helpers.history(client, run.info.run_id, "validation_0-ndcg@5")] == [0, 1, 2]
    loaded = logwright.load_model(f"runs:/{run.info.run_id}/model")
    assert type(loaded) is xgb.XGBRanker
    np.testing.assert_array_equal(loaded.predict(X), ranker.predict(X))


def test_random_forest_wrapper_refuses_callbacks_metrics_replayed(client, binary, helpers):
    Xt, yt, Xv, yv, Xs, _ = binary
    rf = xgb.XGBRFClassifier(n_estimators=5, eval_metric="logloss")
    rf.fit(Xt, yt, eval_set=[(Xv, yv)], verbose=False)
    run = helpers.only_run(client)
    assert run.data.params["num_parallel_tree"] == "5" and run.data.params["num_boost_round"] == "1"
    assert helpers.history(client, run.info.run_id, "validation_0-logloss") == [
        (0, pytest.approx(rf.evals_result()["validation_0"]["logloss"][0]))]
    np.testing.assert_array_equal(
        logwright.load_model(f"runs:/{run.info.run_id}/model").predict_proba(Xs), rf.predict_proba(Xs))


def test_fit_that_raises_fails_the_run_and_restores_callbacks(client, binary, helpers):
    Xt, yt, *_ = binary
    boom = ValueError("bad round")

    class Explode(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            raise boom

    user_callbacks = [Explode()]
    clf = xgb.XGBClassifier(n_estimators=3, callbacks=user_callbacks)
    with pytest.raises(ValueError) as info:
        clf.fit(Xt, yt)
    assert info.value is boom
    assert clf.callbacks is user_callbacks
    assert helpers.only_run(client).info.status == RunStatus.FAILED


def test_fitted_estimator_pickles_clones_and_deepcopies(binary):
    from sklearn.base import clone

    Xt, yt, *_ = binary
    clf = xgb.XGBClassifier(n_estimators=3).fit(Xt, yt)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict(Xt), clf.predict(Xt))
    np.testing.assert_array_equal(copy.deepcopy(clf).predict(Xt), clf.predict(Xt))
    assert clone(clf).get_params() == clf.get_params()
    booster = pickle.loads(pickle.dumps(clf.get_booster()))
    assert booster.num_boosted_rounds() == 3


def test_input_example_with_log_input_examples(client, binary, helpers):
    pd = pytest.importorskip("pandas")
    Xt, yt, *_ = binary
    logwright.autolog(only=["xgboost"], log_input_examples=True)
    frame = pd.DataFrame(Xt, columns=list("abcdef"))
    xgb.XGBClassifier(n_estimators=2).fit(frame, yt)
    meta = logwright.models.read_model_metadata(f"runs:/{helpers.only_run(client).info.run_id}/model")
    assert meta["input_example"] == "input_example.json"
    assert [c["name"] for c in meta["signature"]["inputs"]["columns"]] == list("abcdef")


def test_with_the_sklearn_integration_each_fit_is_one_run(client, binary, helpers):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from logwright.autolog import registry

    if "sklearn" not in registry.discover():
        pytest.skip("the sklearn integration is not installed")
    Xt, yt, *_ = binary
    logwright.autolog(only=["xgboost", "sklearn"])
    xgb.XGBClassifier(n_estimators=2).fit(Xt, yt)
    run = helpers.only_run(client)  # XGBClassifier is xgboost's alone: no second run
    assert run.data.tags["logwright.autolog"] == "xgboost"
    make_pipeline(StandardScaler(), xgb.XGBClassifier(n_estimators=2)).fit(Xt, yt)
    runs = client.search_runs()
    assert len(runs) == 2  # the Pipeline's fit is the outer call: the inner fit adds no run
