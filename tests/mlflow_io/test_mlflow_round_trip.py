"""``logwright import mlflow`` / ``export mlflow`` on real MLflow stores made with MLflow's own API.

Import an MLflow SQLite store, compare every field with what MLflow reads back, import
again (nothing new), export into a fresh MLflow store, compare again field by field,
export again (nothing new), and import the exported store (the logwright ids come back).
"""

from __future__ import annotations

import pytest

pytest.importorskip("mlflow", reason="needs MLflow: .ci/run builds .mlflow-venv for tests/mlflow_io")

from mlflow import MlflowClient  # noqa: E402

from logwright.cli import main  # noqa: E402
from logwright.store import get_store  # noqa: E402


def _cli(capsys, *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out.strip()


def test_import_keeps_every_field_and_a_second_import_adds_nothing(mlio, mlflow_store, tmp_path, capsys):
    uri, ids = mlflow_store
    lw = str(tmp_path / "lw")
    line = _cli(capsys, "import", "mlflow", uri, "--to", lw)
    assert line.startswith("imported ") and "6 runs" in line and "2 traces" in line, line
    theirs, ours = mlio.mlflow_snapshot(uri), mlio.logwright_snapshot(lw)
    assert ours["runs"].keys() == theirs["runs"].keys()
    for key, run in theirs["runs"].items():
        assert ours["runs"][key] == run, key
    assert ours["traces"] == theirs["traces"]
    store = get_store(lw)
    for name, run_id in ids.items():  # MLflow's run ids are kept, and named by a tag
        run = store.get_run(run_id)
        assert run.info.run_name == name and run.data.tags["mlflow.run_id"] == run_id
    sweep = theirs["runs"][("vision", "sweep")]
    assert len(sweep["metrics"]["loss"]) == 1000 and sweep["description"] == "an lr sweep"
    files = ours["runs"][("vision", "sweep")]["artifacts"]  # the MLflow 3 logged model came along
    assert b"sklearn" in files["mlflow-models/clf/MLmodel"] and "mlflow-models/clf/requirements.txt" in files
    model, version = store.get_registered_model("churn"), store.get_model_version("churn", 1)  # the registry too
    assert (model.description, model.tags, model.aliases) == ("churn classifier", {"team": "vision"}, {"champion": 1})
    assert (version.source, version.run_id) == (f"runs:/{ids['sweep']}/mlflow-models/clf", ids["sweep"])
    assert (version.tags, version.description) == ({"stage": "prod"}, "first")
    assert ours["runs"][("vision", "trial-1-fold-0")]["parent"] == "trial-1"
    assert ours["runs"][("vision", "doomed")]["lifecycle"] == "deleted"
    kinds = {s["name"]: s["type"] for t in ours["traces"].values() for s in t["spans"]}
    assert kinds["FakeListChatModel"] == "CHAT_MODEL" and kinds["rerank"] == "RERANKER"
    rerank = next(t for t in ours["traces"].values() if t["name"] == "rerank")
    assert rerank["tokens"] == {"tokens.input_tokens": 7, "tokens.output_tokens": 3, "tokens.total_tokens": 10}
    assert rerank["state"] == "ERROR" and rerank["run"] == "chain"
    assert _cli(capsys, "import", "mlflow", uri, "--to", lw).startswith("nothing to import")


def test_export_back_to_mlflow_matches_the_original(mlio, mlflow_store, tmp_path, capsys, monkeypatch):
    uri, ids = mlflow_store
    monkeypatch.chdir(tmp_path)
    lw, back = str(tmp_path / "lw"), f"sqlite:///{tmp_path / 'back.db'}"
    _cli(capsys, "import", "mlflow", uri, "--to", lw)
    line = _cli(capsys, "export", "mlflow", back, "--from", lw)
    assert line.startswith("exported ") and "6 runs" in line and "2 traces" in line, line
    theirs, again = mlio.mlflow_snapshot(uri), mlio.mlflow_snapshot(back)
    assert again["runs"].keys() == theirs["runs"].keys()
    for key, run in theirs["runs"].items():
        assert again["runs"][key] == run, key
    assert again["traces"] == theirs["traces"]
    client = MlflowClient(back)
    for run in client.search_runs([e.experiment_id for e in client.search_experiments()]):
        original = ids[run.info.run_name]
        assert run.data.tags["logwright.run_id"] == original and run.data.tags["mlflow.run_id"] == original
        assert run.info.run_id != original  # MLflow chose a new id
    assert _cli(capsys, "export", "mlflow", back, "--from", lw).startswith("nothing to export")
    # Back into the store the runs came from: found by their MLflow ids, nothing added.
    assert _cli(capsys, "export", "mlflow", uri, "--from", lw).startswith("nothing to export")
    # The exported store imported into a fresh logwright store: the same runs under the same ids.
    lw2 = str(tmp_path / "lw2")
    _cli(capsys, "import", "mlflow", back, "--to", lw2)
    assert mlio.logwright_snapshot(lw2) == mlio.logwright_snapshot(lw)
    assert sorted(get_store(lw2).get_run(i).info.run_name for i in ids.values()) == sorted(ids)


def test_reimport_brings_only_what_is_new(mlio, tmp_path, capsys, monkeypatch):
    """An mlruns folder (MLflow's file store) whose run went on: the next import brings only the rest."""
    import mlflow

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.chdir(tmp_path)
    uri = f"file://{tmp_path / 'mlruns'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("grow")
    with mlflow.start_run(run_name="long") as run:
        for step in range(10):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    lw = str(tmp_path / "lw")
    _cli(capsys, "import", "mlflow", uri, "--to", lw)
    client = MlflowClient(uri)
    for step in range(10, 15):  # the run went on; a new file and a new run appeared
        client.log_metric(run.info.run_id, "loss", 1.0 / (step + 1), step=step)
    client.set_tag(run.info.run_id, "stage", "resumed")
    (tmp_path / "late.txt").write_text("late")
    client.log_artifact(run.info.run_id, str(tmp_path / "late.txt"))
    with mlflow.start_run(run_name="second"):
        mlflow.log_param("p", "1")
    line = _cli(capsys, "import", "mlflow", uri, "--to", lw)
    assert "1 runs" in line and "5 metric points" in line and "1 artifact files" in line and "1 params" in line, line
    ours = mlio.logwright_snapshot(lw)
    assert [s for s, _, _ in ours["runs"][("grow", "long")]["metrics"]["loss"]] == list(range(15))
    assert ours["runs"][("grow", "long")]["tags"]["stage"] == "resumed"
    assert _cli(capsys, "import", "mlflow", uri, "--to", lw).startswith("nothing to import")


def test_import_an_mlruns_folder(mlio, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "mlruns"
    ids = mlio.fill_mlflow(f"file://{folder}", str(tmp_path))
    lw = str(tmp_path / "lw")
    line = _cli(capsys, "import", "mlflow", str(folder), "--to", lw)
    assert "6 runs" in line and "2 traces" in line, line
    theirs, ours = mlio.mlflow_snapshot(f"file://{folder}"), mlio.logwright_snapshot(lw)
    for key, run in theirs["runs"].items():
        assert ours["runs"][key] == run, key
    assert ours["traces"] == theirs["traces"]
    assert get_store(lw).get_run(ids["trial-1"]).info.parent_run_id == ids["sweep"]


def test_exported_runs_carry_mlflows_system_tags(mlio, tmp_path, capsys, monkeypatch):
    """Runs logged with logwright itself, exported to a folder: MLflow finds their names, parents and notes."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    import logwright as lw
    from logwright import fluent

    monkeypatch.chdir(tmp_path)
    store = str(tmp_path / "native")
    fluent._reset_for_tests()
    lw.set_tracking_uri(store)
    lw.set_experiment("native")
    with lw.start_run(run_name="outer", description="logged with logwright") as outer:
        lw.log_metric("m", 1.0)
        with lw.start_run(run_name="inner", nested=True) as inner:
            lw.log_param("k", "v")
            with lw.start_span("ask", kind="LLM", inputs={"q": "why"}) as span:
                span.set_attribute("gen_ai.usage.input_tokens", 5)
                span.set_outputs("because")
    lw.flush()
    fluent._reset_for_tests()
    dst = str(tmp_path / "mlruns")  # a folder: MLflow's file store
    _cli(capsys, "export", "mlflow", dst, "--from", store)
    client = MlflowClient(f"file://{dst}")
    exp = client.get_experiment_by_name("native")
    runs = {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}
    assert set(mlio.FIELD_TAGS) - {"mlflow.parentRunId", "mlflow.source.name"} <= set(runs["outer"].data.tags)
    assert runs["outer"].data.tags["mlflow.note.content"] == "logged with logwright"
    assert runs["inner"].data.tags["mlflow.parentRunId"] == runs["outer"].info.run_id
    assert runs["outer"].data.tags["logwright.run_id"] == outer.info.run_id
    assert runs["inner"].data.params == {"k": "v"} and runs["inner"].data.tags["logwright.run_id"] == inner.info.run_id
    (trace,) = mlio.TracingClient(f"file://{dst}").search_traces(locations=[exp.experiment_id])  # spans as a file
    (span,) = trace.data.spans
    assert (span.name, span.span_type, span.inputs, span.outputs) == ("ask", "LLM", {"q": "why"}, "because")
    assert span.attributes["mlflow.chat.tokenUsage"] == {"input_tokens": 5}
    assert trace.info.trace_metadata["mlflow.sourceRun"] == runs["inner"].info.run_id


def test_import_from_and_export_to_an_mlflow_server(mlio, mlflow_server, tmp_path, capsys, monkeypatch):
    """``http://`` on both sides: MLflow's REST API, artifacts through the server's proxy."""
    import logwright as lw
    from logwright import fluent

    monkeypatch.chdir(tmp_path)
    ids = mlio.fill_mlflow(mlflow_server, str(tmp_path))
    ours = str(tmp_path / "lw")
    line = _cli(capsys, "import", "mlflow", mlflow_server, "--to", ours)
    assert "6 runs" in line and "2 traces" in line, line
    theirs, got = mlio.mlflow_snapshot(mlflow_server), mlio.logwright_snapshot(ours)
    for key, run in theirs["runs"].items():
        assert got["runs"][key] == run, key
    assert got["traces"] == theirs["traces"]
    assert get_store(ours).get_run(ids["sweep"]).data.params == {"lr": "0.1", "optimizer": "adam"}
    fluent._reset_for_tests()  # a run logged with logwright goes to the server
    lw.set_tracking_uri(ours)
    lw.set_experiment("from-logwright")
    with lw.start_run(run_name="native") as native:
        for step in range(50):
            lw.log_metric("loss", 1 / (step + 1), step=step)
        lw.log_text("hello", "hello.txt")
        with lw.start_span("answer", kind="LLM", inputs={"q": "?"}) as span:
            span.set_outputs("!")
    lw.flush()
    fluent._reset_for_tests()
    line = _cli(capsys, "export", "mlflow", mlflow_server, "--from", ours)
    assert line.startswith("exported 1 experiments, 1 runs") and "50 metric points, 1 traces" in line, line
    client = MlflowClient(mlflow_server)
    exp = client.get_experiment_by_name("from-logwright")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.data.tags["logwright.run_id"] == native.info.run_id and run.info.run_name == "native"
    assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "loss")) == list(range(50))
    files = mlio.mlflow_snapshot(mlflow_server)["runs"][("from-logwright", "native")]["artifacts"]
    assert files["hello.txt"] == b"hello"  # (with the run's git diff, where it ran in a dirty checkout)
    assert _cli(capsys, "export", "mlflow", mlflow_server, "--from", ours).startswith("nothing to export")


def test_an_import_stopped_half_way_finishes_when_run_again(mlio, mlflow_store, tmp_path, capsys):
    """Ctrl-C after the third run (raised from the progress bar): what was written stays; the rerun does the rest."""
    from logwright.mlflow_io import import_mlflow
    from logwright.mlflow_io.source import MlflowSource
    from logwright.store.copy import Counts, Progress, StoreCopier, run_copy

    class _CtrlC(Progress):
        def step(self, what: str) -> None:
            super().step(what)
            if self.done == 3:
                raise KeyboardInterrupt

    uri, _ = mlflow_store
    lw = str(tmp_path / "lw")
    copier = StoreCopier(MlflowSource(uri), get_store(lw))
    copier.progress = _CtrlC(0, enabled=False)
    first = Counts()
    with pytest.raises(KeyboardInterrupt):
        run_copy(copier, progress=False, counts=first)
    assert first.runs == 3
    rest = import_mlflow(uri, lw, progress=False)
    assert rest.runs == 3 and rest.traces == 2 and rest.metric_points + first.metric_points == 1010
    theirs, ours = mlio.mlflow_snapshot(uri), mlio.logwright_snapshot(lw)
    for key, run in theirs["runs"].items():
        assert ours["runs"][key] == run, key
    assert ours["traces"] == theirs["traces"]
    assert _cli(capsys, "import", "mlflow", uri, "--to", lw).startswith("nothing to import")


def test_import_from_mlflow_on_postgresql(mlio, postgres_server, tmp_path, capsys, monkeypatch):
    """``postgresql://``: MLflow's SQL store on a throwaway PostgreSQL server (psycopg2, MLflow's driver)."""
    pytest.importorskip("psycopg2", reason="MLflow reads postgresql:// through psycopg2")
    monkeypatch.chdir(tmp_path)
    uri = postgres_server.uri(postgres_server.create_database())
    ids = mlio.fill_mlflow(uri, str(tmp_path))
    lw = str(tmp_path / "lw")
    line = _cli(capsys, "import", "mlflow", uri, "--to", lw)
    assert "6 runs" in line and "2 traces" in line and "1,010 metric points" in line, line
    theirs, ours = mlio.mlflow_snapshot(uri), mlio.logwright_snapshot(lw)
    for key, run in theirs["runs"].items():
        assert ours["runs"][key] == run, key
    assert ours["traces"] == theirs["traces"]
    assert get_store(lw).get_run(ids["trial-1-fold-0"]).info.parent_run_id == ids["trial-1"]
    assert _cli(capsys, "import", "mlflow", uri, "--to", lw).startswith("nothing to import")
