"""What a fit logs: params, tags, training metrics (checked against sklearn.metrics), data, model."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.cluster import KMeans
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.ensemble import RandomForestClassifier, VotingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression, SGDClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import logwright


def _model_dir(run) -> str:
    return logwright.Client().download_artifacts(run.info.run_id, "model")


def test_classifier_multiclass_logs_params_tags_metrics_data_model(read):
    X, y = load_iris(return_X_y=True)
    X_train = X.copy()
    model = LogisticRegression(C=0.5, max_iter=500).fit(X_train, y)
    run = read.only_run()
    assert run.info.status == "FINISHED"
    assert run.data.params["C"] == "0.5" and run.data.params["max_iter"] == "500"
    assert run.data.tags["estimator_name"] == "LogisticRegression"
    assert run.data.tags["estimator_class"] == "sklearn.linear_model._logistic.LogisticRegression"
    m = run.data.metrics
    pred, proba = model.predict(X), model.predict_proba(X)
    assert m["training_accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    for key, fn in (("precision", skm.precision_score), ("recall", skm.recall_score), ("f1", skm.f1_score)):
        assert m[f"training_{key}"] == pytest.approx(fn(y, pred, average="weighted"), rel=1e-12)
    assert m["training_log_loss"] == pytest.approx(skm.log_loss(y, proba), rel=1e-9)
    assert m["training_roc_auc"] == pytest.approx(
        skm.roc_auc_score(y, proba, multi_class="ovr", average="weighted"), rel=1e-12)
    assert m["training_score"] == pytest.approx(model.score(X, y))
    assert [d.name for d in run.inputs] == ["X_train"]
    assert json.loads(run.inputs[0].shape) == [150, 4]
    files = read.artifacts(run)
    assert {"feature_importances.json", "confusion_matrix.json", "model/MODEL.json", "model/model.skops"} <= files
    cm = json.loads(open(logwright.Client().download_artifacts(run.info.run_id, "confusion_matrix.json")).read())
    assert cm["matrix"] == skm.confusion_matrix(y, pred).tolist()
    meta = json.load(open(os.path.join(_model_dir(run), "MODEL.json")))
    assert meta["flavour"] == "sklearn" and meta["serialization"] == "skops"
    assert meta["signature"]["inputs"]["shape"] == [-1, 4]
    loaded = logwright.load_model(f"runs:/{run.info.run_id}/model")
    assert np.array_equal(loaded.predict(X), pred)
    assert np.allclose(loaded.predict_proba(X), proba)


def test_binary_classifier_metrics_and_pos_label(read):
    X, y = load_breast_cancer(return_X_y=True)
    logwright.autolog(only=["sklearn"], sklearn={"pos_label": 0})
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X[:300], y[:300])
    m = read.only_run().data.metrics
    pred, proba = model.predict(X[:300]), model.predict_proba(X[:300])[:, 1]
    assert m["training_precision"] == pytest.approx(skm.precision_score(y[:300], pred, pos_label=0))
    assert m["training_f1"] == pytest.approx(skm.f1_score(y[:300], pred, pos_label=0))
    assert m["training_roc_auc"] == pytest.approx(skm.roc_auc_score(y[:300], proba))
    imp = json.loads(open(logwright.Client().download_artifacts(read.only_run().info.run_id, "feature_importances.json")).read())
    assert imp["kind"] == "feature_importances" and len(imp["values"]) == 30


def test_regressor_metrics_match_sklearn(read):
    X, y = load_diabetes(return_X_y=True)
    model = LinearRegression().fit(X, y)
    m = read.only_run().data.metrics
    pred = model.predict(X)
    assert m["training_mse"] == pytest.approx(skm.mean_squared_error(y, pred))
    assert m["training_rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, pred)))
    assert m["training_mae"] == pytest.approx(skm.mean_absolute_error(y, pred))
    assert m["training_r2"] == pytest.approx(skm.r2_score(y, pred))
    assert m["training_score"] == pytest.approx(model.score(X, y))


def test_regressor_sample_weight(read):
    X, y = load_diabetes(return_X_y=True)
    w = np.linspace(0.5, 2.0, len(y))
    model = LinearRegression().fit(X, y, sample_weight=w)
    m = read.only_run().data.metrics
    pred = model.predict(X)
    assert m["training_r2"] == pytest.approx(skm.r2_score(y, pred, sample_weight=w))
    assert m["training_mae"] == pytest.approx(skm.mean_absolute_error(y, pred, sample_weight=w))


def test_clusterer_inertia_and_silhouette(read):
    X, _ = load_iris(return_X_y=True)
    km = KMeans(n_clusters=3, n_init=2, random_state=0)
    labels = km.fit_predict(X)
    m = read.only_run().data.metrics
    assert m["training_inertia"] == pytest.approx(km.inertia_)
    assert m["training_silhouette"] == pytest.approx(skm.silhouette_score(X, labels))
    assert m["training_score"] == pytest.approx(km.score(X))


def test_pipeline_is_one_run_with_step_params(read):
    X, y = load_iris(return_X_y=True)
    pipe = Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression(C=2.0, max_iter=300))]).fit(X, y)
    run = read.only_run()
    assert run.data.params["lr__C"] == "2.0" and run.data.params["scale__with_mean"] == "True"
    assert run.data.tags["estimator_name"] == "Pipeline"
    assert "training_accuracy" in run.data.metrics
    imp = json.loads(open(logwright.Client().download_artifacts(run.info.run_id, "feature_importances.json")).read())
    assert imp["kind"] == "coefficients" and imp["features"] == ["x0", "x1", "x2", "x3"]
    loaded = logwright.load_model(f"runs:/{run.info.run_id}/model")
    assert np.array_equal(loaded.predict(X), pipe.predict(X))


def test_voting_classifier_nested_fits_log_once(read):
    X, y = load_iris(return_X_y=True)
    VotingClassifier([("lr", LogisticRegression(max_iter=300)), ("rf", RandomForestClassifier(n_estimators=3))]).fit(X, y)
    assert len(read.runs()) == 1
    assert "lr__C" in read.only_run().data.params


def _passthrough(X, **kwargs):
    return X


def test_long_param_values_are_truncated(read):
    X, y = load_iris(return_X_y=True)
    from sklearn.preprocessing import FunctionTransformer

    big = {f"k{i}": "v" * 50 for i in range(300)}
    Pipeline([("f", FunctionTransformer(_passthrough, kw_args=big)), ("lr", LogisticRegression(max_iter=300))]).fit(X, y)
    value = read.only_run().data.params["f__kw_args"]
    assert len(value) == 6000 and value.endswith("...[truncated]")


def test_partial_fit_steps_metrics_in_one_run(read):
    X, y = load_iris(return_X_y=True)
    clf = SGDClassifier(random_state=0)
    for i in range(3):
        clf.partial_fit(X[i::3], y[i::3], classes=np.unique(y))
    run = read.only_run()
    assert run.info.status == "FINISHED"
    history = logwright.get_metric_history(run.info.run_id, "training_accuracy")
    assert [p.step for p in history] == [0, 1, 2]


def test_sparse_input(read):
    from scipy import sparse

    X, y = load_iris(return_X_y=True)
    Xs = sparse.csr_matrix(X)
    model = LogisticRegression(max_iter=500).fit(Xs, y)
    run = read.only_run()
    assert "training_accuracy" in run.data.metrics
    assert json.loads(run.inputs[0].shape) == [150, 4]
    loaded = logwright.load_model(f"runs:/{run.info.run_id}/model")
    assert np.array_equal(loaded.predict(Xs), model.predict(Xs))


def test_dataframe_column_names_in_signature_and_input_example(read):
    pd = pytest.importorskip("pandas")
    data = load_iris(as_frame=True)
    logwright.autolog(only=["sklearn"], log_input_examples=True)
    model = LogisticRegression(max_iter=500).fit(data.data, data.target)
    run = read.only_run()
    meta = json.load(open(os.path.join(_model_dir(run), "MODEL.json")))
    names = [c["name"] for c in meta["signature"]["inputs"]["columns"]]
    assert names == list(data.data.columns)
    assert meta["input_example"] == "input_example.json"
    loaded = logwright.load_model(f"runs:/{run.info.run_id}/model")
    assert isinstance(data.data, pd.DataFrame)
    assert np.array_equal(loaded.predict(data.data), model.predict(data.data))


def test_fit_that_raises_marks_run_failed_and_keeps_exception(read):
    X, y = load_iris(return_X_y=True)
    bad = LogisticRegression(C=-1.0)
    with pytest.raises(ValueError) as info:
        bad.fit(X, y)
    caught = info.value
    try:
        LogisticRegression(C=-1.0).fit(X, y)
    except ValueError as again:
        assert type(again) is type(caught)
    failed = [r for r in read.runs() if r.info.status == "FAILED"]
    assert len(failed) == 2 and "'C' parameter" in failed[0].data.tags["logwright.error"]


def test_exception_object_is_the_users(read):
    from sklearn.preprocessing import FunctionTransformer

    class Boom(Exception):
        pass

    err = Boom("mine")

    def explode(X):
        raise err

    X, y = load_iris(return_X_y=True)
    with pytest.raises(Boom) as info:
        Pipeline([("f", FunctionTransformer(explode)), ("lr", LogisticRegression())]).fit(X, y)
    assert info.value is err
    assert read.only_run().info.status == "FAILED"


def test_log_models_false_and_serialization_pickle(read):
    X, y = load_iris(return_X_y=True)
    logwright.autolog(only=["sklearn"], log_models=False)
    LogisticRegression(max_iter=300).fit(X, y)
    assert not any(p.startswith("model/") for p in read.artifacts(read.runs()[0]))
    logwright.autolog(only=["sklearn"], sklearn={"serialization": "pickle"})
    model = LogisticRegression(max_iter=300, C=3.0).fit(X, y)
    run = [r for r in read.runs() if r.data.params["C"] == "3.0"][0]
    meta = json.load(open(os.path.join(_model_dir(run), "MODEL.json")))
    assert meta["serialization"] == "pickle"
    assert np.array_equal(logwright.load_model(f"runs:/{run.info.run_id}/model").predict(X), model.predict(X))


def test_user_run_is_logged_into(read):
    X, y = load_iris(return_X_y=True)
    with logwright.start_run() as run:
        LogisticRegression(max_iter=300).fit(X, y)
        LogisticRegression(max_iter=300, C=2.0).fit(X, y)  # a conflicting param is skipped, not an error
    got = logwright.get_run(run.info.run_id)
    assert got.data.params["C"] == "1.0" and len(read.runs()) == 1


def test_multioutput_classifier_still_logs(read):
    X, y = load_iris(return_X_y=True)
    Y = np.column_stack([y, (y > 0).astype(int)])
    model = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, Y)
    run = read.only_run()
    assert run.info.status == "FINISHED" and "training_score" in run.data.metrics
    loaded = logwright.load_model(f"runs:/{run.info.run_id}/model")
    assert np.array_equal(loaded.predict(X), model.predict(X))


def test_class_instead_of_instance_gets_sklearns_own_error_in_strict_mode(read, monkeypatch):
    from sklearn.decomposition import PCA

    def attempt() -> Exception:
        try:
            Pipeline([("pca", PCA), ("clf", LogisticRegression())]).fit([[1.0]], [0])
        except Exception as exc:  # noqa: BLE001 - compared below
            return exc
        raise AssertionError("the fit should fail")

    logwright.autolog(disable=True)
    plain = attempt()
    monkeypatch.setenv("LOGWRIGHT_STRICT", "1")  # our get_params(deep=True) used to raise first
    logwright.autolog(only=["sklearn"])
    logged = attempt()
    assert (type(logged), str(logged)) == (type(plain), str(plain))
