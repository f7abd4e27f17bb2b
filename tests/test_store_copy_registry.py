"""``logwright store copy`` and ``logwright sync`` copy the model registry: registered models with their
descriptions and tags, versions with their numbers, sources (the copied runs), flavours, signatures,
tags and descriptions, and aliases; idempotently, from SQLite into SQLite, PostgreSQL and a server."""

from __future__ import annotations

import pytest

import logwright as lw
from logwright import fluent
from logwright.cli import main
from logwright.client import Client
from logwright.testing.flavours import dict_flavour

WEIGHTS = {"w": [0.5, -2.0], "b": 0.25}


@pytest.fixture(autouse=True)
def registered_dict_flavour():
    with dict_flavour():
        fluent._reset_for_tests()
        yield
        fluent._reset_for_tests()


@pytest.fixture(params=["sqlite", "postgres", "server"])
def dst_uri(request, tmp_path):
    """The destination: a SQLite folder, a fresh PostgreSQL database, or a ``logwright server``'s URL."""
    if request.param == "postgres":
        return request.getfixturevalue("postgres_uri")
    if request.param == "server":
        return request.getfixturevalue("tracking_server").url
    return str(tmp_path / "dst")


def _run_with_model(client: Client, experiment: str, name: str, model: dict) -> str:
    exp = client.get_experiment_by_name(experiment)
    exp_id = exp.experiment_id if exp is not None else client.create_experiment(experiment)
    run_id = client.create_run(exp_id, run_name=name).info.run_id
    lw.log_model(model, "model", client=client, run_id=run_id, input_example=[[1.0, 2.0]])
    client.set_terminated(run_id)
    client.flush()
    return run_id


def _source(uri: str) -> dict[str, str]:
    """SRC: churn-classifier versions 1 and 3 (2 deleted), aliases, tags, descriptions; fraud in another experiment."""
    client = Client(uri)
    a = _run_with_model(client, "churn", "a", WEIGHTS)
    b = _run_with_model(client, "churn", "b", {"w": [1.0]})
    f = _run_with_model(client, "fraud", "f", {"w": [9.0]})
    client.register_model(f"runs:/{a}/model", "churn-classifier", tags={"data": "oct"}, description="first")
    client.register_model(f"runs:/{b}/model", "churn-classifier")
    client.register_model(f"runs:/{b}/model", "churn-classifier", tags={"data": "nov"})
    client.delete_model_version("churn-classifier", 2)
    client.set_registered_model_alias("churn-classifier", "champion", 3)
    client.set_registered_model_alias("churn-classifier", "challenger", 1)
    client.update_registered_model("churn-classifier", "Predicts who cancels.")
    client.set_registered_model_tag("churn-classifier", "team", "growth")
    client.register_model(f"runs:/{f}/model", "fraud")
    return {"a": a, "b": b, "f": f}


def _registry(uri: str) -> dict:
    """Everything a user reads back from a store's registry, times left out."""
    client = Client(uri)
    out = {}
    for m in client.search_registered_models():
        versions = {v.version: (v.source, v.run_id, v.artifact_path, v.flavour, v.signature, v.tags,
                                v.description, v.aliases, v.status) for v in client.search_model_versions(
                                    f"name = '{m.name}'")}
        out[m.name] = (m.description, m.tags, m.aliases, versions)
    return out


def _cli(capsys, *argv: str) -> str:
    rc = main(list(argv))
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    return captured.out.strip()


def test_store_copy_then_sync_copy_the_registry_idempotently(tmp_path, dst_uri, capsys):
    src = str(tmp_path / "src")
    ids = _source(src)
    first = _cli(capsys, "store", "copy", src, dst_uri)
    assert "2 registered models, 3 model versions" in first, first
    assert _registry(dst_uri) == _registry(src)
    churn = _registry(dst_uri)["churn-classifier"]
    assert sorted(churn[3]) == [1, 3] and churn[2] == {"challenger": 1, "champion": 3}
    assert churn[3][3][:3] == (f"runs:/{ids['b']}/model", ids["b"], "model")
    dst = Client(dst_uri)
    assert dst.get_run(ids["b"]).info.run_name == "b"  # the version's source run is in DST
    fluent._reset_for_tests()
    lw.set_tracking_uri(dst_uri)
    assert lw.load_model("models:/churn-classifier@challenger") == WEIGHTS
    assert lw.load_model("models:/churn-classifier/3") == {"w": [1.0]}
    assert _cli(capsys, "store", "copy", src, dst_uri) == \
        "nothing to copy: the destination already holds everything"

    client = Client(src)  # SRC goes on: an alias moves, a tag and a description change, a new version
    client.set_registered_model_alias("churn-classifier", "champion", 1)
    client.set_model_version_tag("churn-classifier", 3, "data", "dec")
    client.update_model_version("churn-classifier", 3, "retrained")
    client.set_registered_model_tag("churn-classifier", "owner", "ana")
    client.register_model(f"runs:/{ids['a']}/model", "churn-classifier")
    synced = _cli(capsys, "sync", src, dst_uri)
    assert "0 registered models, 1 model versions, 4 registry updates" in synced, synced
    assert _registry(dst_uri) == _registry(src)
    assert Client(dst_uri).get_model_version_by_alias("churn-classifier", "champion").version == 1
    assert _cli(capsys, "sync", src, dst_uri) == "nothing to sync: the destination already holds everything"


def test_sync_of_one_experiment_copies_only_its_versions(tmp_path, capsys):
    src, dst = str(tmp_path / "src"), str(tmp_path / "dst")
    _source(src)
    Client(dst).store.flush()  # DST exists (sync needs a store there)
    line = _cli(capsys, "sync", src, dst, "-e", "churn")
    assert "1 registered models, 2 model versions" in line, line
    assert sorted(_registry(dst)) == ["churn-classifier"]
    assert _registry(dst)["churn-classifier"] == _registry(src)["churn-classifier"]


def test_a_number_the_destination_gave_another_model_is_copied_under_the_next_and_found_again(tmp_path, capsys,
                                                                                            caplog):
    src, dst = str(tmp_path / "src"), str(tmp_path / "dst")
    theirs = _run_with_model(Client(dst), "elsewhere", "theirs", {"w": [7.0]})
    Client(dst).register_model(f"runs:/{theirs}/model", "fraud")  # DST's own version 1 of "fraud"
    ids = _source(src)
    with caplog.at_level("WARNING", logger="logwright.store.copy_registry"):
        line = _cli(capsys, "sync", src, dst)
    assert "version 1 of registered model 'fraud' is another model" in caplog.text
    assert "1 registered models" in line, line  # churn-classifier; fraud was there
    fraud = {v.version: v.run_id for v in Client(dst).search_model_versions("name = 'fraud'")}
    assert fraud == {1: theirs, 2: ids["f"]}
    assert _cli(capsys, "sync", src, dst) == "nothing to sync: the destination already holds everything"
    assert _registry(dst)["churn-classifier"] == _registry(src)["churn-classifier"]
