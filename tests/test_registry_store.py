"""The model registry through the Store protocol, on SQLite and on PostgreSQL (``store_uri``)."""

from __future__ import annotations

import threading

import pytest

import logwright as lw
from logwright.exceptions import InvalidFilter, ModelNotFound


@pytest.fixture
def store(store_uri):
    return lw.Client().store


def test_versions_count_up_and_keep_what_was_registered(store):
    sig = {"inputs": {"type": "tensor", "dtype": "float64", "shape": [-1, 4]}, "outputs": None}
    v1 = store.create_model_version("churn", "runs:/r1/model", "r1", "model", "sklearn", sig,
                                    {"stage": "test"}, "first")
    v2 = store.create_model_version("churn", "runs:/r2/model", "r2", "model", "pytorch")
    assert (v1.version, v2.version) == (1, 2)
    got = store.get_model_version("churn", 1)
    assert (got.source, got.run_id, got.artifact_path, got.flavour) == ("runs:/r1/model", "r1", "model", "sklearn")
    assert got.signature == sig and got.tags == {"stage": "test"} and got.description == "first"
    assert got.status == "READY" and got.creation_time > 0 and got.model_uri == "models:/churn/1"
    assert store.get_latest_model_version("churn").version == 2
    model = store.get_registered_model("churn")
    assert model.latest_version == 2 and model.aliases == {} and model.description is None


def test_aliases_move_atomically_and_go_with_their_version(store):
    for run in ("a", "b", "c"):
        store.create_model_version("m", f"runs:/{run}/model", run)
    store.set_registered_model_alias("m", "champion", 1)
    store.set_registered_model_alias("m", "challenger", 2)
    assert store.get_model_version_by_alias("m", "champion").version == 1
    store.set_registered_model_alias("m", "champion", 3)
    assert store.get_model_version_by_alias("m", "champion").version == 3
    assert store.get_model_version("m", 3).aliases == ("champion",)
    assert store.get_registered_model("m").aliases == {"challenger": 2, "champion": 3}
    store.delete_registered_model_alias("m", "challenger")
    with pytest.raises(ModelNotFound):
        store.get_model_version_by_alias("m", "challenger")
    with pytest.raises(ModelNotFound):
        store.set_registered_model_alias("m", "champion", 9)  # no such version: alias unchanged
    assert store.get_model_version_by_alias("m", "champion").version == 3
    store.delete_model_version("m", 3)
    with pytest.raises(ModelNotFound):
        store.get_model_version_by_alias("m", "champion")
    assert store.get_latest_model_version("m").version == 2
    for bad in ("latest", "3", "a/b", "x@y", ""):
        with pytest.raises(ValueError):
            store.set_registered_model_alias("m", bad, 1)


def test_tags_descriptions_and_deletes(store):
    store.create_model_version("m", "runs:/a/model", "a")
    store.set_registered_model_tag("m", "team", "growth")
    store.set_registered_model_tag("m", "team", "risk")
    store.set_model_version_tag("m", 1, "validated", "yes")
    store.update_registered_model("m", "predicts churn")
    store.update_model_version("m", 1, "baseline")
    model, version = store.get_registered_model("m"), store.get_model_version("m", "1")
    assert model.tags == {"team": "risk"} and model.description == "predicts churn"
    assert version.tags == {"validated": "yes"} and version.description == "baseline"
    store.delete_registered_model_tag("m", "team")
    store.delete_model_version_tag("m", 1, "validated")
    assert store.get_registered_model("m").tags == {} and store.get_model_version("m", 1).tags == {}
    store.set_registered_model_alias("m", "prod", 1)
    store.delete_registered_model("m")
    for call in (lambda: store.get_registered_model("m"), lambda: store.get_model_version("m", 1),
                 lambda: store.update_registered_model("m", "x"), lambda: store.delete_registered_model("m")):
        with pytest.raises(ModelNotFound):
            call()
    assert store.search_model_versions() == [] and store.search_registered_models() == []
    assert store.create_model_version("m", "runs:/b/model", "b").version == 1  # a new model starts again


def test_search_models_and_versions_with_the_filter_language(store):
    store.create_model_version("churn-classifier", "runs:/r1/model", "r1", flavour="sklearn")
    store.create_model_version("churn-classifier", "runs:/r2/model", "r2", flavour="xgboost")
    store.create_model_version("fraud", "runs:/r2/m", "r2", flavour="pytorch", tags={"gpu": "yes"})
    store.set_registered_model_tag("fraud", "team", "risk")
    names = lambda models: [m.name for m in models]  # noqa: E731
    assert names(store.search_registered_models()) == ["churn-classifier", "fraud"]
    assert names(store.search_registered_models("name LIKE 'churn%'")) == ["churn-classifier"]
    assert names(store.search_registered_models("name LIKE 'CHURN%'")) == []
    assert names(store.search_registered_models("name ILIKE 'CHURN%'")) == ["churn-classifier"]
    assert names(store.search_registered_models("tags.team = 'risk'")) == ["fraud"]
    assert names(store.search_registered_models("name != 'fraud'")) == ["churn-classifier"]
    pairs = lambda vs: [(v.name, v.version) for v in vs]  # noqa: E731
    assert pairs(store.search_model_versions("run_id = 'r2'")) == [("churn-classifier", 2), ("fraud", 1)]
    assert pairs(store.search_model_versions("name = 'churn-classifier' AND version >= 2")) == [
        ("churn-classifier", 2)]
    assert pairs(store.search_model_versions("tags.gpu = 'yes' AND flavour = 'pytorch'")) == [("fraud", 1)]
    assert pairs(store.search_model_versions(max_results=1)) == [("churn-classifier", 2)]
    for bad in ("name = ", "nme = 'x'", "name = 'x' OR name = 'y'", "version = 'x'", "name > 'a'", "name = 3",
                "tags.team = 'a' AND", "run_id = 'x'@", "version = 99999999999999999999"):
        with pytest.raises(InvalidFilter):
            store.search_model_versions(bad) if "run_id" in bad or "version" in bad else \
                store.search_registered_models(bad)


def test_concurrent_registrations_get_distinct_version_numbers(store):
    got: list[int] = []
    errors: list[BaseException] = []

    def register(worker: int) -> None:
        try:
            for i in range(5):
                got.append(store.create_model_version("shared", f"runs:/w{worker}/{i}", f"w{worker}").version)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(got) == list(range(1, 41))
    assert len(store.search_model_versions("name = 'shared'")) == 40


def test_illegal_model_names_are_refused(store):
    for bad in ("", " x", "a/b", "a@b", "x" * 300, "tab\there"):
        with pytest.raises(ValueError):
            store.create_model_version(bad, "runs:/r/model")
    with pytest.raises(TypeError):
        store.create_model_version(None, "runs:/r/model")
    with pytest.raises(ModelNotFound):
        store.get_model_version("nope", 1)
    with pytest.raises(ValueError):
        store.get_model_version("nope", "one")


def test_registrations_from_several_processes_get_distinct_version_numbers(store_uri):
    import os
    import subprocess
    import sys

    code = ("import logwright as lw, sys\nstore = lw.Client().store\n"
            "print(' '.join(str(store.create_model_version('multi', f'runs:/p{sys.argv[1]}/{i}').version)"
            " for i in range(10)))")
    env = {**os.environ, "LOGWRIGHT_TRACKING_URI": store_uri, "LOGWRIGHT_QUIET": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(n)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for n in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outs]
    numbers = sorted(int(n) for out, _ in outs for n in out.split())
    assert numbers == list(range(1, 41))
    sources = {v.source for v in lw.Client().store.search_model_versions("name = 'multi'")}
    assert len(sources) == 40
