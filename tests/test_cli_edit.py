"""Edit commands of the ``logwright`` CLI on a real store (SQLite, or PostgreSQL + S3 with
``--store-backend=postgres+s3``): runs and experiments edited, deleted, restored, purged,
exported, and artifacts downloaded, each checked in the store afterwards."""

from __future__ import annotations

import csv
import io
import json

import pytest

import logwright as lw
from logwright.artifacts import for_uri
from logwright.cli import main
from logwright.exceptions import RunNotFound

# gc removes artifact files itself; through a tracking server (--store-backend=server) it refuses.
_LOCAL_GC = pytest.mark.local_store(reason="gc runs where the store and its artifacts are")


def _run(name: str, **metrics: float) -> str:
    with lw.start_run(run_name=name) as run:
        lw.log_params({"lr": 0.1, "model": name})
        lw.log_metrics(metrics)
        lw.set_tag("team", "vision")
        lw.log_text("hello " + name, "notes/hello.txt")
        lw.log_dict({"a": 1}, "config.json")
    return run.info.run_id


def _cli(store: str, *args: str) -> int:
    return main(["--store", store, *args])


def test_runs_rename_tag_describe_delete_restore_take_id_prefixes(tmp_store, capsys):
    lw.set_experiment("edits")
    run_id = _run("first", acc=0.5)
    prefix = run_id[:8]
    assert _cli(tmp_store, "runs", "rename", prefix, "renamed run") == 0
    assert _cli(tmp_store, "runs", "tag", prefix, "stage=prod", "owner=ana", "--delete", "team") == 0
    assert _cli(tmp_store, "runs", "describe", prefix, "**Best** so far") == 0
    run = lw.Client().get_run(run_id)
    assert run.info.run_name == "renamed run" and run.info.description == "**Best** so far"
    assert run.data.tags["stage"] == "prod" and run.data.tags["owner"] == "ana" and "team" not in run.data.tags
    assert _cli(tmp_store, "runs", "delete", prefix) == 0
    assert "logwright gc" in capsys.readouterr().out
    assert lw.Client().get_run(run_id).info.lifecycle_stage == "deleted"
    assert lw.search_runs(experiment="edits") == []
    assert _cli(tmp_store, "runs", "restore", prefix) == 0
    assert [r.info.run_id for r in lw.search_runs(experiment="edits")] == [run_id]
    assert _cli(tmp_store, "runs", "tag", prefix, "novalue") == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    assert _cli(tmp_store, "runs", "rename", "ffffffffffff", "x") == 1
    assert "not found" in capsys.readouterr().err


def test_experiments_create_rename_delete_restore(tmp_store, capsys):
    client = lw.Client()  # opens (creates) the store
    assert _cli(tmp_store, "experiments", "create", "alpha", "--description", "first try") == 0
    assert _cli(tmp_store, "experiments", "create", "alpha") == 2
    assert "already exists" in capsys.readouterr().err
    exp = client.get_experiment_by_name("alpha")
    assert exp.description == "first try"
    assert _cli(tmp_store, "experiments", "rename", "alpha", "beta") == 0
    assert client.get_experiment(exp.experiment_id).name == "beta"
    assert client.get_experiment_by_name("alpha") is None
    assert _cli(tmp_store, "experiments", "create", "gamma") == 0
    assert _cli(tmp_store, "experiments", "rename", exp.experiment_id, "gamma") == 2
    assert "already exists" in capsys.readouterr().err
    assert _cli(tmp_store, "experiments", "delete", "beta") == 0
    assert client.get_experiment(exp.experiment_id).lifecycle_stage == "deleted"
    assert "beta" not in [e.name for e in client.search_experiments()]
    assert _cli(tmp_store, "experiments", "restore", exp.experiment_id) == 0
    assert client.get_experiment(exp.experiment_id).lifecycle_stage == "active"
    # the old name can be created anew in this process after the rename
    assert client.create_experiment("alpha") != exp.experiment_id


@_LOCAL_GC
def test_gc_asks_then_purges_deleted_runs_with_their_artifacts(tmp_store, capsys, monkeypatch):
    lw.set_experiment("gc")
    doomed, kept = _run("doomed", acc=0.1), _run("kept", acc=0.9)
    with lw.start_run(run_name="traced") as traced_run:
        pass
    client = lw.Client()
    location = client.store.artifact_dir(client.get_run(doomed).info.experiment_id, doomed)
    files = len(for_uri(location).walk())  # 2, and context/git.diff in a dirty checkout
    assert files >= 2
    assert _cli(tmp_store, "gc", "--yes") == 0
    assert "no deleted runs" in capsys.readouterr().out
    client.delete_run(doomed)
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert _cli(tmp_store, "gc") == 1
    out = capsys.readouterr().out
    assert doomed in out and "nothing purged" in out
    assert client.get_run(doomed).info.lifecycle_stage == "deleted"
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert _cli(tmp_store, "gc", "-e", "gc") == 0
    assert f"purged 1 run(s) and {files} artifact file(s)" in capsys.readouterr().out
    with pytest.raises(RunNotFound):
        client.get_run(doomed)
    assert for_uri(location).walk() == []
    assert client.get_metric_history(kept, "acc")[0].value == 0.9
    assert len(lw.Client().artifacts(kept).walk()) >= 2
    assert client.get_run(traced_run.info.run_id).info.lifecycle_stage == "active"


@_LOCAL_GC
def test_gc_keeps_runs_whose_model_is_registered_and_refuses_live_runs(tmp_store, capsys):
    lw.set_experiment("gc-registry")
    run_id = _run("registered", acc=0.3)
    client = lw.Client()
    client.store.create_model_version("churn", f"runs:/{run_id}/model", run_id=run_id, artifact_path="model")
    assert _cli(tmp_store, "gc", "--run-ids", run_id[:8], "--yes") == 2
    assert "is not deleted" in capsys.readouterr().err
    client.delete_run(run_id)
    assert _cli(tmp_store, "gc", "--yes") == 0
    out = capsys.readouterr().out
    assert "keeping run" in out and "churn v1" in out
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"


def test_store_purge_runs_purges_only_deleted_runs(tmp_store):
    lw.set_experiment("purge")
    alive, gone = _run("alive", acc=1.0), _run("gone", acc=2.0)
    store = lw.Client().store
    lw.Client().delete_run(gone)
    assert store.purge_runs([alive, gone, "nope"]) == [gone]
    assert store.run_exists(gone) is None and store.run_exists(alive) is not None
    assert store.get_metric_history(alive, "acc")[0].value == 1.0
    assert store.run_ids_like(gone[:10]) == []


def test_artifacts_download_a_path_or_the_whole_run(tmp_store, tmp_path, capsys):
    lw.set_experiment("download")
    run_id = _run("files", acc=0.2)
    assert _cli(tmp_store, "artifacts", "download", run_id[:8], "notes/hello.txt", "-d", str(tmp_path / "one")) == 0
    assert (tmp_path / "one" / "hello.txt").read_text() == "hello files"
    assert _cli(tmp_store, "artifacts", "download", run_id[:8], "-d", str(tmp_path / "all")) == 0
    assert (tmp_path / "all" / "notes" / "hello.txt").read_text() == "hello files"
    assert json.loads((tmp_path / "all" / "config.json").read_text()) == {"a": 1}
    capsys.readouterr()
    assert _cli(tmp_store, "artifacts", "download", run_id[:8], "missing.txt", "-d", str(tmp_path)) == 1
    assert "no artifact 'missing.txt'" in capsys.readouterr().err
    lw.Client().delete_run(run_id)  # a deleted run's files stay until gc, and can be read
    assert _cli(tmp_store, "artifacts", "list", run_id[:8]) == 0
    assert "config.json" in capsys.readouterr().out
    assert _cli(tmp_store, "artifacts", "download", run_id[:8], "config.json", "-d", str(tmp_path / "del")) == 0
    assert json.loads((tmp_path / "del" / "config.json").read_text()) == {"a": 1}


def test_runs_export_csv_json_parquet(tmp_store, tmp_path, capsys):
    lw.set_experiment("export")
    ids = {_run("a", acc=0.25, loss=float("nan")), _run("b", acc=0.75)}
    assert _cli(tmp_store, "runs", "export", "-e", "export", "--format", "csv") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["run_id"] for r in rows} == ids
    by_name = {r["run_name"]: r for r in rows}
    assert by_name["a"]["metrics.acc"] == "0.25" and by_name["a"]["metrics.loss"] == "NaN"
    assert by_name["b"]["metrics.loss"] == "" and by_name["b"]["params.model"] == "b"
    assert by_name["a"]["experiment"] == "export" and by_name["a"]["start_time"].endswith("Z")
    assert _cli(tmp_store, "runs", "export", "-e", "export", "--format", "json", "-f", "metrics.acc > 0.5") == 0
    (only,) = json.loads(capsys.readouterr().out)
    assert only["run_name"] == "b" and only["tags.team"] == "vision" and isinstance(only["start_time"], int)
    assert _cli(tmp_store, "runs", "export", "--format", "parquet") == 2
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "runs.parquet"
    assert _cli(tmp_store, "runs", "export", "-e", "export", "--format", "parquet", "-O", str(out)) == 0
    table = pq.read_table(out).to_pylist()
    assert sorted(r["metrics.acc"] for r in table) == [0.25, 0.75]
    assert {r["run_id"] for r in table} == ids
