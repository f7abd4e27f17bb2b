"""The model registry's public API: register, alias, tag, search, delete and load by ``models:/`` URIs."""

from __future__ import annotations

import numpy as np
import pytest

import logwright as lw


def _sklearn_model():
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    x, y = make_classification(n_samples=120, n_features=6, random_state=0)
    return LogisticRegression(max_iter=200).fit(x, y), x


def test_register_alias_and_load_by_every_uri_form_on_each_backend(store_uri):
    clf, x = _sklearn_model()
    with lw.start_run() as run:
        info = lw.log_model(clf, "model", input_example=x[:5])
    v1 = lw.register_model(info.model_uri, "churn-classifier", tags={"data": "2026-11"}, description="first")
    assert (v1.name, v1.version, v1.run_id, v1.artifact_path) == ("churn-classifier", 1, run.info.run_id, "model")
    assert v1.flavour == "sklearn" and v1.signature == info.signature and v1.signature["inputs"]["shape"] == [-1, 6]
    assert v1.tags == {"data": "2026-11"} and v1.description == "first" and v1.status == "READY"
    with lw.start_run():
        info2 = lw.log_model(clf, "clf", registered_model_name="churn-classifier")
    assert info2.registered_model_version == 2
    lw.set_registered_model_alias("churn-classifier", "champion", 1)
    assert lw.get_model_version_by_alias("churn-classifier", "champion").version == 1
    assert lw.get_registered_model("churn-classifier").latest_version == 2
    want = clf.predict(x)
    for uri in ("models:/churn-classifier/1", "models:/churn-classifier@champion",
                "models:/churn-classifier/latest", "models:/churn-classifier/2"):
        assert np.array_equal(lw.load_model(uri).predict(x), want), uri
    lw.set_registered_model_alias("churn-classifier", "champion", 2)
    assert lw.Client().get_model_version_by_alias("churn-classifier", "champion").source == info2.model_uri


def test_registering_the_same_model_twice_makes_two_versions(tmp_store):
    clf, _ = _sklearn_model()
    with lw.start_run():
        info = lw.log_model(clf)
    versions = [lw.register_model(info.model_uri, "m").version for _ in range(3)]
    assert versions == [1, 2, 3]
    assert [v.version for v in lw.search_model_versions("name = 'm'")] == [3, 2, 1]


def test_tags_descriptions_search_and_deletes(tmp_store):
    clf, _ = _sklearn_model()
    with lw.start_run() as run:
        info = lw.log_model(clf)
    lw.register_model(info.model_uri, "churn")
    lw.register_model(info.model_uri, "fraud")
    lw.set_registered_model_tag("churn", "team", "growth")
    lw.update_registered_model("churn", "who leaves")
    lw.set_model_version_tag("churn", 1, "validated", True)
    lw.update_model_version("churn", 1, "baseline")
    model = lw.get_registered_model("churn")
    assert model.tags == {"team": "growth"} and model.description == "who leaves"
    version = lw.get_model_version("churn", 1)
    assert version.tags == {"validated": "True"} and version.description == "baseline"
    assert [m.name for m in lw.search_registered_models("tags.team = 'growth'")] == ["churn"]
    assert [m.name for m in lw.search_registered_models("name LIKE '%r%'")] == ["churn", "fraud"]
    found = lw.search_model_versions(f"run_id = '{run.info.run_id}'")
    assert [(v.name, v.version) for v in found] == [("churn", 1), ("fraud", 1)]
    with pytest.raises(lw.InvalidFilter):
        lw.search_model_versions("runid = 'x'")
    lw.delete_registered_model_tag("churn", "team")
    lw.delete_model_version_tag("churn", 1, "validated")
    lw.set_registered_model_alias("churn", "prod", 1)
    lw.delete_registered_model_alias("churn", "prod")
    with pytest.raises(lw.ModelNotFound):
        lw.load_model("models:/churn@prod")
    lw.delete_model_version("fraud", 1)
    with pytest.raises(lw.ModelNotFound):
        lw.get_model_version("fraud", 1)
    assert lw.get_registered_model("fraud").latest_version is None
    lw.delete_registered_model("churn")
    with pytest.raises(lw.ModelNotFound):
        lw.load_model("models:/churn/latest")
    assert lw.load_model(info.model_uri).predict([[0.0] * 6]) is not None  # the run's model stays


def test_bad_sources_names_and_uris_are_refused(tmp_store):
    with lw.start_run() as run:
        lw.log_text("not a model", "notes/readme.txt")
    with pytest.raises(FileNotFoundError):
        lw.register_model(f"runs:/{run.info.run_id}/notes", "m")
    with pytest.raises(lw.RunNotFound):
        lw.register_model("runs:/nosuchrun/model", "m")
    with pytest.raises(ValueError):
        lw.register_model(f"runs:/{run.info.run_id}/model", "a/b")
    for bad in ("models:/", "models:/m", "models:/m/0", "models:/m/x", "models:/m@"):
        with pytest.raises(ValueError):
            lw.load_model(bad)
    with pytest.raises(lw.ModelNotFound):
        lw.load_model("models:/nothing/1")
    assert lw.search_registered_models() == []


def _register_and_load_all(model, name: str, **log_kwargs):
    with lw.start_run():
        info = lw.log_model(model, "model", registered_model_name=name, **log_kwargs)
    lw.set_registered_model_alias(name, "champion", info.registered_model_version)
    return [lw.load_model(f"models:/{name}/{info.registered_model_version}"),
            lw.load_model(f"models:/{name}@champion"), lw.load_model(f"models:/{name}/latest")]


def test_xgboost_model_loads_by_every_models_uri(tmp_store):
    xgb = pytest.importorskip("xgboost")
    _, x = _sklearn_model()
    y = (x[:, 0] > 0).astype(int)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 2}, xgb.DMatrix(x, label=y), 5)
    want = booster.predict(xgb.DMatrix(x))
    for loaded in _register_and_load_all(booster, "xgb-churn"):
        assert np.array_equal(loaded.predict(xgb.DMatrix(x)), want)


def test_torch_model_loads_by_every_models_uri(tmp_store):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2)).eval()
    x = torch.randn(10, 6)
    with torch.no_grad():
        want = net(x)
    for loaded in _register_and_load_all(net, "torch-churn", input_example=x[:2]):
        loaded.eval()
        with torch.no_grad():
            assert torch.equal(loaded(x), want)


def test_dspy_program_loads_by_every_models_uri(tmp_store):
    dspy = pytest.importorskip("dspy")
    from dspy.utils import DummyLM

    program = dspy.Predict("question -> answer")
    with dspy.context(lm=DummyLM([{"answer": "paris"}] * 20)):
        want = program(question="capital of France?").answer
        for loaded in _register_and_load_all(program, "qa"):
            assert isinstance(loaded, dspy.Predict)
            assert loaded(question="capital of France?").answer == want == "paris"


def test_autolog_registers_each_model_it_logs(tmp_store):
    pytest.importorskip("sklearn")
    with pytest.raises(ValueError):
        lw.autolog(only=["sklearn"], registered_model_name="bad/name")
    lw.autolog(only=["sklearn"], registered_model_name="auto-churn")
    try:
        clf, x = _sklearn_model()  # fit under autolog: logged as runs:/<run>/model and registered
        clf2, _ = _sklearn_model()
    finally:
        lw.autolog(disable=True)
    versions = lw.search_model_versions("name = 'auto-churn'")
    assert [v.version for v in versions] == [2, 1] and {v.flavour for v in versions} == {"sklearn"}
    assert np.array_equal(lw.load_model("models:/auto-churn/latest").predict(x), clf2.predict(x))
    with lw.start_run():
        lw.log_model(clf, "plain")  # outside autolog: not registered
    assert len(lw.search_model_versions("name = 'auto-churn'")) == 2


def test_autolog_registers_the_model_of_a_torch_loop_run(tmp_store):
    torch = pytest.importorskip("torch")
    logwright_torch = pytest.importorskip("logwright_torch")
    lw.autolog(only=["torch"], registered_model_name="auto-net")
    try:
        net = torch.nn.Linear(3, 2)
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        with logwright_torch.loop("tiny", model=net, input_example=torch.ones(2, 3)):
            for _ in range(3):
                opt.zero_grad()
                net(torch.randn(4, 3)).sum().backward()
                opt.step()
    finally:
        lw.autolog(disable=True)
    (version,) = lw.search_model_versions("name = 'auto-net'")
    assert version.flavour == "pytorch" and version.run_id == lw.last_active_run().info.run_id
    with torch.no_grad():
        assert torch.equal(lw.load_model("models:/auto-net/1")(torch.ones(1, 3)), net(torch.ones(1, 3)))
