"""The fluent API end to end on a real store: each test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import math

import pytest

import logwright as lw
from logwright.entities import RunStatus


def test_run_lifecycle_params_metrics_tags(store_uri):
    lw.set_experiment("exp")
    with lw.start_run(run_name="first", tags={"team": "ml"}, description="hello") as run:
        lw.log_params({"lr": 0.1, "model": "rf"})
        lw.log_param("depth", 3)
        for value in (0.5, 0.4, 0.3):
            lw.log_metric("loss", value)
        lw.log_metrics({"acc": 0.9, "f1": 0.8}, step=7)
        lw.set_tag("stage", "dev")
    got = lw.get_run(run.info.run_id)
    assert got.info.status == RunStatus.FINISHED
    assert got.info.run_name == "first"
    assert got.info.description == "hello"
    assert got.info.end_time >= got.info.start_time
    assert got.data.params == {"lr": "0.1", "model": "rf", "depth": "3"}
    assert got.data.metrics == {"loss": 0.3, "acc": 0.9, "f1": 0.8}
    assert got.data.tags["team"] == "ml" and got.data.tags["stage"] == "dev"
    assert got.data.tags["logwright.source.name"]
    history = lw.get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 0.5), (1, 0.4), (2, 0.3)]
    assert [m.step for m in lw.get_metric_history(run.info.run_id, "acc")] == [7]
    assert lw.search_experiments()[0].name in {"exp", "Default"}


def test_step_continues_after_explicit_step_and_on_resume(store_uri):
    with lw.start_run() as run:
        lw.log_metric("x", 1.0, step=10)
        lw.log_metric("x", 2.0)
    with lw.start_run(run_id=run.info.run_id):
        lw.log_metric("x", 3.0)
    steps = [m.step for m in lw.get_metric_history(run.info.run_id, "x")]
    assert steps == [10, 11, 12]
    assert lw.get_run(run.info.run_id).info.status == RunStatus.FINISHED


def test_nan_and_infinities_round_trip(store_uri):
    with lw.start_run() as run:
        lw.log_metric("nan", float("nan"))
        lw.log_metric("pinf", float("inf"))
        lw.log_metric("ninf", float("-inf"))
    metrics = lw.get_run(run.info.run_id).data.metrics
    assert math.isnan(metrics["nan"])
    assert metrics["pinf"] == float("inf") and metrics["ninf"] == float("-inf")
    assert math.isnan(lw.get_metric_history(run.info.run_id, "nan")[0].value)


def test_nested_runs_and_parent(store_uri):
    with lw.start_run(run_name="parent") as parent:
        with lw.start_run(run_name="child", nested=True) as child:
            assert lw.active_run().info.run_id == child.info.run_id
        assert lw.active_run().info.run_id == parent.info.run_id
    assert lw.get_run(child.info.run_id).info.parent_run_id == parent.info.run_id
    with pytest.raises(RuntimeError, match="already active"), lw.start_run():
        lw.start_run()


def test_exception_marks_failed_and_reraises(store_uri):
    error = ValueError("boom")
    with pytest.raises(ValueError) as caught, lw.start_run() as run:
        lw.log_metric("before", 1.0)
        raise error
    assert caught.value is error
    got = lw.get_run(run.info.run_id)
    assert got.info.status == RunStatus.FAILED
    assert got.data.tags["logwright.error"] == "ValueError: boom"
    assert got.data.metrics == {"before": 1.0}


def test_keyboard_interrupt_marks_killed(store_uri):
    with pytest.raises(KeyboardInterrupt), lw.start_run() as run:
        raise KeyboardInterrupt
    assert lw.get_run(run.info.run_id).info.status == RunStatus.KILLED


def test_param_write_once(store_uri):
    with lw.start_run() as run:
        lw.log_param("lr", 0.1)
        lw.log_param("lr", 0.1)  # same value: no-op
        with pytest.raises(lw.ParamConflict, match=r"'lr'.*'0.1'.*'0.2'"):
            lw.log_param("lr", 0.2)
        lw.log_metric("kept", 1.0)
    data = lw.get_run(run.info.run_id).data
    assert data.params == {"lr": "0.1"} and data.metrics == {"kept": 1.0}


def test_logging_without_run_starts_one(store_uri, caplog):
    lw.log_metric("auto", 1.0)
    run = lw.active_run()
    assert run is not None
    lw.log_metric("auto", 2.0)
    lw.end_run()
    assert lw.active_run() is None
    assert [m.value for m in lw.get_metric_history(run.info.run_id, "auto")] == [1.0, 2.0]
    assert sum("no active run" in r.getMessage() for r in caplog.records) <= 1


def test_artifacts_text_dict_figure(store_uri, tmp_path):
    src = tmp_path / "data.csv"
    src.write_text("a,b\n1,2\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    with lw.start_run() as run:
        assert lw.log_artifact(str(src)) == "data.csv"
        assert lw.log_artifact(str(src), "tables") == "tables/data.csv"
        lw.log_text("hi", "notes/readme.txt")
        lw.log_dict({"x": [1, 2], "nan": float("nan")}, "config.json")
        lw.log_figure(fig, "plots/line.png")
    plt.close(fig)
    from logwright.artifacts import for_uri

    repo = for_uri(lw.get_run(run.info.run_id).info.artifact_uri)  # a folder, or the server's files
    assert repo.open("notes/readme.txt").read() == b"hi"
    assert json.load(repo.open("config.json"))["x"] == [1, 2]
    assert repo.open("plots/line.png").read(4) == b"\x89PNG"
    names = [f.path for f in lw.list_artifacts(run.info.run_id) if f.path != "context"]
    assert names == ["notes", "plots", "tables", "config.json", "data.csv"]


def test_log_input_dataset(store_uri):
    import pandas as pd

    df = pd.DataFrame({"a": [1, 2, 3], "b": [0.1, 0.2, 0.3]})
    with lw.start_run() as run:
        ds = lw.log_input(df, name="train", context="training", source="memory")
    [got] = lw.get_run(run.info.run_id).inputs
    assert got == ds
    assert got.name == "train" and json.loads(got.shape) == [3, 2]
    assert json.loads(got.schema) == {"a": "int64", "b": "float64"}
    assert len(got.digest) == 16


def test_search_runs_filter_order_and_pages(store_uri):
    lw.set_experiment("search")
    for i in range(7):
        with lw.start_run(run_name=f"r{i}"):
            lw.log_param("model", "rf" if i % 2 else "lr")
            lw.log_metric("acc", i / 10)
    best = lw.search_runs(filter="params.model = 'rf' and metrics.acc > 0.2", order_by=["metrics.acc DESC"])
    assert [r.info.run_name for r in best] == ["r5", "r3"]
    either = lw.search_runs(filter="metrics.acc >= 0.6 or attributes.run_name = 'r0'")
    assert sorted(r.info.run_name for r in either) == ["r0", "r6"]
    page1 = lw.search_runs(order_by=["metrics.acc"], max_results=3)
    page2 = lw.search_runs(order_by=["metrics.acc"], max_results=3, page_token=page1.token)
    page3 = lw.search_runs(order_by=["metrics.acc"], max_results=3, page_token=page2.token)
    names = [r.info.run_name for r in [*page1, *page2, *page3]]
    assert names == [f"r{i}" for i in range(7)] and page3.token is None
    frame = best.to_pandas()
    assert list(frame["metrics.acc"]) == [0.5, 0.3]
    with pytest.raises(lw.InvalidFilter) as bad:
        lw.search_runs(filter="metrics.acc >> 1")
    assert bad.value.position > 0


def test_delete_and_restore_run(store_uri):
    with lw.start_run() as run:
        pass
    lw.delete_run(run.info.run_id)
    assert lw.search_runs() == []
    lw.restore_run(run.info.run_id)
    assert [r.info.run_id for r in lw.search_runs()] == [run.info.run_id]


def test_client_by_explicit_id(store_uri):
    client = lw.Client(store_uri)
    exp = client.create_experiment("explicit", tags={"k": "v"})
    assert client.create_experiment("explicit") == exp
    assert client.get_experiment(exp).tags == {"k": "v"}
    run = client.create_run(exp, run_name="c")
    client.log_metric(run.info.run_id, "m", 1.5, step=3)
    client.log_params(run.info.run_id, {"p": 1})
    client.set_terminated(run.info.run_id)
    got = client.get_run(run.info.run_id)
    assert got.data.metrics == {"m": 1.5} and got.data.params == {"p": "1"}
    assert got.info.status == "FINISHED"
    assert [r.info.run_id for r in client.search_runs([exp])] == [run.info.run_id]
    with pytest.raises(lw.RunNotFound, match="nope"):
        client.get_run("nope")
