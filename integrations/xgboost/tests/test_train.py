"""xgboost.train and xgboost.cv, autologged, against a real XGBoost and a real store."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import xgboost as xgb

import logwright
from logwright.entities import RunStatus

IMPORTANCE = ("weight", "gain", "cover", "total_gain", "total_cover")
# XGBoost 2.0 keeps callbacks in a set (any order); 2.1 and later keep the list's order.
ORDERED_CALLBACKS = tuple(int(p) for p in xgb.__version__.split(".")[:2]) >= (2, 1)


def _artifacts(client, run_id, path=None):
    """The run's artifacts, less those core writes for every run (its ``context`` folder)."""
    return sorted(f.path for f in client.list_artifacts(run_id, path) if f.path != "context")


def test_binary_two_eval_sets_logs_everything(client, binary, helpers):
    Xt, yt, Xv, yv, _, _ = binary
    dtrain, dval = xgb.DMatrix(Xt, yt), xgb.DMatrix(Xv, yv)
    params = {"objective": "binary:logistic", "eval_metric": ["logloss", "auc"], "max_depth": 3}
    evals_result: dict = {}
    booster = xgb.train(params, dtrain, 12, evals=[(dtrain, "train"), (dval, "val")],
                        evals_result=evals_result, verbose_eval=False)

    run = helpers.only_run(client)
    rid = run.info.run_id
    assert run.info.status == RunStatus.FINISHED
    assert run.data.params == {"objective": "binary:logistic", "eval_metric": "['logloss', 'auc']",
                               "max_depth": "3", "num_boost_round": "12"}
    for name in ("train", "val"):
        for metric in ("logloss", "auc"):
            points = helpers.history(client, rid, f"{name}-{metric}")
            assert [s for s, _ in points] == list(range(12))
            assert [v for _, v in points] == pytest.approx(evals_result[name][metric])
    assert "best_iteration" not in run.data.metrics  # no early stopping

    files = _artifacts(client, rid)
    assert files == sorted(["model", *(f"feature_importance_{k}.json" for k in IMPORTANCE)])
    gain = json.loads(open(client.download_artifacts(rid, "feature_importance_gain.json")).read())
    assert gain == pytest.approx(booster.get_score(importance_type="gain"))
    assert {(d.name, d.context) for d in run.inputs} == {("train", "training"), ("val", "evaluation")}
    train_input = next(d for d in run.inputs if d.name == "train")
    assert json.loads(train_input.shape) == [300, 6]


def test_multiclass_model_round_trip(client, multiclass, helpers):
    Xt, yt, Xv, yv = multiclass
    dtrain, dval = xgb.DMatrix(Xt, yt), xgb.DMatrix(Xv, yv)
    params = {"objective": "multi:softprob", "num_class": 3, "eval_metric": ["mlogloss", "merror"]}
    booster = xgb.train(params, dtrain, 8, evals=[(dtrain, "train"), (dval, "test")], verbose_eval=False)

    run = helpers.only_run(client)
    rid = run.info.run_id
    assert set(run.data.metrics) == {"train-mlogloss", "train-merror", "test-mlogloss", "test-merror"}
    assert len(helpers.history(client, rid, "test-merror")) == 8
    assert _artifacts(client, rid, "model") == ["model/MODEL.json", "model/model.ubj"]
    meta = logwright.models.read_model_metadata(f"runs:/{rid}/model")
    assert meta["flavour"] == "xgboost" and meta["serialization"] == "ubjson"
    assert meta["model_class"] == "xgboost.core:Booster"
    assert meta["signature"]["inputs"] == {"type": "tensor", "dtype": "float32", "shape": [-1, 6]}
    assert meta["signature"]["outputs"]["shape"] == [-1, 3]
    assert meta["requirements"] == [f"xgboost=={xgb.__version__}"]
    loaded = logwright.load_model(f"runs:/{rid}/model")
    assert isinstance(loaded, xgb.Booster)
    np.testing.assert_array_equal(loaded.predict(dval), booster.predict(dval))


def test_dataframe_feature_names_in_signature_and_schema(client, binary, helpers):
    pd = pytest.importorskip("pandas")
    Xt, yt, *_ = binary
    frame = pd.DataFrame(Xt, columns=[f"c{i}" for i in range(6)])
    xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(frame, yt), 3)
    run = helpers.only_run(client)
    meta = logwright.models.read_model_metadata(f"runs:/{run.info.run_id}/model")
    assert [c["name"] for c in meta["signature"]["inputs"]["columns"]] == [f"c{i}" for i in range(6)]
    assert json.loads(run.inputs[0].schema) == {f"c{i}": "float" for i in range(6)}


def test_early_stopping_logs_best_and_stopped_iteration(client, binary, helpers):
    Xt, yt, Xv, yv, _, _ = binary
    dtrain, dval = xgb.DMatrix(Xt, yt), xgb.DMatrix(Xv, yv)
    params = {"objective": "binary:logistic", "eval_metric": "logloss", "learning_rate": 0.9}
    evals_result: dict = {}
    booster = xgb.train(params, dtrain, 200, evals=[(dtrain, "train"), (dval, "val")],
                        early_stopping_rounds=3, evals_result=evals_result, verbose_eval=False)

    run = helpers.only_run(client)
    m, p = run.data.metrics, run.data.params
    rounds = len(evals_result["val"]["logloss"])
    assert rounds < 200
    assert p["early_stopping_rounds"] == "3"
    assert m["best_iteration"] == booster.best_iteration
    assert m["best_score"] == pytest.approx(booster.best_score)
    assert m["stopped_iteration"] == rounds - 1
    assert m["best_val-logloss"] == pytest.approx(evals_result["val"]["logloss"][booster.best_iteration])
    assert m["best_train-logloss"] == pytest.approx(evals_result["train"]["logloss"][booster.best_iteration])
    assert len(helpers.history(client, run.info.run_id, "val-logloss")) == rounds


def test_custom_objective_and_metric_names(client, binary, helpers):
    Xt, yt, Xv, yv, _, _ = binary
    dtrain, dval = xgb.DMatrix(Xt, yt), xgb.DMatrix(Xv, yv)

    def squared_log(predt, dtrain):
        y = dtrain.get_label()
        p = 1.0 / (1.0 + np.exp(-predt))
        return p - y, p * (1.0 - p)

    def my_error(predt, dmat):
        return "my_error", float(np.mean((predt > 0) != dmat.get_label()))

    xgb.train({"disable_default_eval_metric": 1}, dtrain, 5, obj=squared_log, custom_metric=my_error,
              evals=[(dval, "val")], maximize=False, verbose_eval=False)
    run = helpers.only_run(client)
    p = run.data.params
    assert p["custom_objective"].endswith("squared_log")
    assert p["custom_metric"].endswith("my_error")
    assert p["maximize"] == "False"
    assert [s for s, _ in helpers.history(client, run.info.run_id, "val-my_error")] == list(range(5))


def test_user_callbacks_keep_order_and_evals_result_filled(client, binary, helpers):
    Xt, yt, Xv, yv, _, _ = binary
    calls: list[tuple[str, int]] = []

    class Recorder(xgb.callback.TrainingCallback):
        def __init__(self, tag):
            super().__init__()
            self.tag = tag

        def after_iteration(self, model, epoch, evals_log):
            calls.append((self.tag, epoch))
            return False

    evals_result: dict = {}
    callbacks = [Recorder("a"), Recorder("b")]
    xgb.train({"eval_metric": "rmse"}, xgb.DMatrix(Xt, yt), 3, evals=[(xgb.DMatrix(Xv, yv), "val")],
              callbacks=callbacks, evals_result=evals_result, verbose_eval=False)
    expected = [("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2), ("b", 2)]
    assert calls == expected if ORDERED_CALLBACKS else sorted(calls) == sorted(expected)
    assert len(callbacks) == 2  # the user's list is not modified
    assert len(evals_result["val"]["rmse"]) == 3
    assert len(helpers.history(client, helpers.only_run(client).info.run_id, "val-rmse")) == 3


def test_user_callback_stops_training(client, binary, helpers):
    Xt, yt, *_ = binary

    class StopAt(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            return epoch == 3

    dtrain = xgb.DMatrix(Xt, yt)
    booster = xgb.train({}, dtrain, 50, evals=[(dtrain, "train")], callbacks=[StopAt()], verbose_eval=False)
    assert booster.num_boosted_rounds() == 4
    run = helpers.only_run(client)
    assert [s for s, _ in helpers.history(client, run.info.run_id, "train-rmse")] == [0, 1, 2, 3]


def test_failing_training_marks_run_failed_and_reraises_same_exception(client, binary, helpers):
    Xt, yt, *_ = binary
    boom = RuntimeError("boom at round 2")

    class Explode(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            if epoch == 2:
                raise boom
            return False

    dtrain = xgb.DMatrix(Xt, yt)
    with pytest.raises(RuntimeError) as info:
        xgb.train({}, dtrain, 10, evals=[(dtrain, "train")], callbacks=[Explode()], verbose_eval=False)
    assert info.value is boom
    run = helpers.only_run(client)
    assert run.info.status == RunStatus.FAILED
    assert run.data.tags["logwright.error"] == "RuntimeError: boom at round 2"
    assert run.data.params["num_boost_round"] == "10"
    steps = [s for s, _ in helpers.history(client, run.info.run_id, "train-rmse")]
    # logwright's callback runs first, so it saw round 2 before the user's raised (2.1+)
    assert steps == [0, 1, 2] if ORDERED_CALLBACKS else steps in ([0, 1], [0, 1, 2])


def test_cv_logs_mean_and_std_per_round_to_one_run(client, binary, helpers):
    Xt, yt, *_ = binary
    result = xgb.cv({"objective": "binary:logistic", "eval_metric": "logloss"}, xgb.DMatrix(Xt, yt),
                    num_boost_round=6, nfold=3, seed=0)
    run = helpers.only_run(client)
    rid = run.info.run_id
    assert run.data.params["nfold"] == "3" and run.data.params["num_boost_round"] == "6"
    for key in ("train-logloss-mean", "train-logloss-std", "test-logloss-mean", "test-logloss-std"):
        points = helpers.history(client, rid, key)
        assert [s for s, _ in points] == list(range(6))
        assert [v for _, v in points] == pytest.approx(list(result[key]))
    assert _artifacts(client, rid) == []  # cv trains no model of its own


def test_cv_early_stopping(client, binary, helpers):
    Xt, yt, *_ = binary
    result = xgb.cv({"objective": "binary:logistic", "learning_rate": 0.9}, xgb.DMatrix(Xt, yt),
                    num_boost_round=200, nfold=3, early_stopping_rounds=2, seed=0)
    m = helpers.only_run(client).data.metrics
    assert m["best_iteration"] == len(result) - 1
    assert m["best_test-logloss-mean"] == pytest.approx(result["test-logloss-mean"].iloc[-1])


def test_knobs(client, binary, helpers):
    Xt, yt, *_ = binary
    logwright.autolog(only=["xgboost"], log_models=False, log_datasets=False,
                      xgboost={"log_every_n_iter": 5, "importance_types": ("gain",), "log_plots": True})
    dtrain = xgb.DMatrix(Xt, yt)
    xgb.train({}, dtrain, 12, evals=[(dtrain, "train")], verbose_eval=False)
    run = helpers.only_run(client)
    rid = run.info.run_id
    assert [s for s, _ in helpers.history(client, rid, "train-rmse")] == [0, 5, 10, 11]
    assert _artifacts(client, rid) == ["feature_importance_gain.json", "feature_importance_gain.png"]
    png = client.download_artifacts(rid, "feature_importance_gain.png")
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert run.inputs == ()


@pytest.mark.parametrize(("knobs", "message"), [({"log_every_n_iter": 0}, "log_every_n_iter"),
                                                ({"importance_types": ["gains"]}, "importance_types")])
def test_bad_knob_value_is_reported_before_any_run(client, binary, knobs, message):
    logwright.autolog(only=["xgboost"], xgboost=knobs)
    with pytest.raises(ValueError, match=message):  # strict mode re-raises our error
        xgb.train({}, xgb.DMatrix(binary[0], binary[1]), 2)
    assert client.search_runs() == []


def test_gblinear_logs_weight_importance_only(client, binary, helpers):
    Xt, yt, *_ = binary
    xgb.train({"booster": "gblinear"}, xgb.DMatrix(Xt, yt), 3)
    rid = helpers.only_run(client).info.run_id
    assert [f for f in _artifacts(client, rid) if f.startswith("feature")] == ["feature_importance_weight.json"]


def test_logs_into_the_users_active_run_and_continues_steps(client, binary, helpers):
    Xt, yt, *_ = binary
    dtrain = xgb.DMatrix(Xt, yt)
    with logwright.start_run() as run:
        first = xgb.train({}, dtrain, 3, evals=[(dtrain, "train")], verbose_eval=False)
        xgb.train({}, dtrain, 2, evals=[(dtrain, "train")], xgb_model=first, verbose_eval=False)
        assert logwright.active_run().info.run_id == run.info.run_id
    only = helpers.only_run(client)
    assert only.info.run_id == run.info.run_id and only.info.status == RunStatus.FINISHED
    assert [s for s, _ in helpers.history(client, run.info.run_id, "train-rmse")] == [0, 1, 2, 3, 4]


def test_model_folder_is_native_ubjson(client, binary, helpers):
    Xt, yt, *_ = binary
    booster = xgb.train({}, xgb.DMatrix(Xt, yt), 3)
    rid = helpers.only_run(client).info.run_id
    path = os.path.join(client.download_artifacts(rid, "model"), "model.ubj")
    plain = xgb.Booster()
    plain.load_model(path)  # loadable by XGBoost alone, no logwright involved
    d = xgb.DMatrix(Xt)
    np.testing.assert_array_equal(plain.predict(d), booster.predict(d))
