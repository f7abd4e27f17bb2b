"""MLflow's fluent API test cases (tests/tracking/fluent/test_fluent.py), ported to
logwright's names: keywords, run resumption and deleted runs/experiments behave as in
MLflow. Runs on SQLite and under ``--store-backend=postgres+s3``.
"""

from __future__ import annotations

import logging

import pytest

import logwright as lw
from logwright import RunStatus, ViewType
from logwright.exceptions import ExperimentDeleted, ExperimentNotFound, RunDeleted


def test_set_experiment_by_experiment_name_keyword(tmp_store):
    exp = lw.set_experiment(experiment_name="by-keyword")
    with lw.start_run() as run:
        pass
    assert exp.name == "by-keyword"
    assert lw.get_run(run.info.run_id).info.experiment_id == exp.experiment_id
    assert lw.set_experiment(name="by-keyword").experiment_id == exp.experiment_id


def test_set_experiment_on_a_deleted_experiment_raises(tmp_store):
    client = lw.Client()
    exp_id = client.create_experiment("gone")
    client.delete_experiment(exp_id)
    with pytest.raises(ExperimentDeleted, match="gone"):
        lw.set_experiment("gone")
    with pytest.raises(ExperimentDeleted):
        lw.set_experiment(experiment_id=exp_id)
    client.restore_experiment(exp_id)
    assert lw.set_experiment("gone").experiment_id == exp_id


def test_resume_applies_tags_description_and_name_and_reads_running(tmp_store):
    with lw.start_run(run_name="first", tags={"a": "1"}) as run:
        lw.log_metric("m", 1.0)
    run_id = run.info.run_id
    with lw.start_run(run_id=run_id, tags={"b": "2"}, description="resumed", run_name="second") as again:
        assert again.info.status == RunStatus.RUNNING and again.info.end_time is None
        assert lw.get_run(run_id).info.status == RunStatus.RUNNING
        lw.log_metric("m", 2.0)
    got = lw.get_run(run_id)
    assert got.info.status == RunStatus.FINISHED
    assert got.data.tags["a"] == "1" and got.data.tags["b"] == "2"
    assert got.info.description == "resumed" and got.info.run_name == "second"
    assert got.data.metrics == {"m": 2.0}


def test_run_resumed_inside_a_block_ends_with_it(tmp_store):
    with lw.start_run() as earlier:
        pass
    with lw.start_run() as outer:
        with lw.start_run(run_id=earlier.info.run_id, nested=True) as inner:
            assert lw.active_run() is inner
        assert lw.get_run(earlier.info.run_id).info.status == RunStatus.FINISHED
        assert lw.active_run() is outer
    assert lw.get_run(outer.info.run_id).info.status == RunStatus.FINISHED
    with pytest.raises(ValueError):
        with lw.start_run(run_id=earlier.info.run_id):
            raise ValueError("boom")
    assert lw.get_run(earlier.info.run_id).info.status == RunStatus.FAILED


def test_resuming_a_deleted_run_raises(tmp_store):
    with lw.start_run() as run:
        pass
    lw.delete_run(run.info.run_id)
    with pytest.raises(RunDeleted, match=run.info.run_id):
        lw.start_run(run_id=run.info.run_id)
    assert lw.active_run() is None
    with pytest.raises(RunDeleted):
        lw.log_metric("m", 1.0, run_id=run.info.run_id)


def _three_experiments():
    ids = {}
    for name in ("a", "b", "c"):
        lw.set_experiment(name)
        with lw.start_run(run_name=f"run-{name}") as run:
            lw.log_metric("acc", {"a": 0.1, "b": 0.2, "c": 0.3}[name])
        ids[name] = run.info.run_id
    return ids


def test_search_runs_keywords(tmp_store):
    ids = _three_experiments()
    names = lambda runs: sorted(r.info.run_name for r in runs)  # noqa: E731
    assert names(lw.search_runs(experiment_names=["a", "b"])) == ["run-a", "run-b"]
    assert names(lw.search_runs(search_all_experiments=True)) == ["run-a", "run-b", "run-c"]
    assert names(lw.search_runs()) == ["run-c"]  # the current experiment
    assert names(lw.search_runs(search_all_experiments=True, filter_string="metrics.acc > 0.15")) == \
        ["run-b", "run-c"]
    lw.delete_run(ids["c"])
    assert names(lw.search_runs(experiment_names=["c"], run_view_type=ViewType.DELETED_ONLY)) == ["run-c"]
    assert names(lw.search_runs(experiment_names=["c"], run_view_type=ViewType.ALL)) == ["run-c"]
    assert names(lw.search_runs(experiment_names=["c"])) == []
    with pytest.raises(ValueError, match="not both"):
        lw.search_runs(experiment_ids=["1"], experiment_names=["a"])


def test_search_runs_output_formats(tmp_store):
    _three_experiments()
    frame = lw.search_runs(experiment_names=["a", "b"], output_format="pandas", order_by=["metrics.acc DESC"])
    assert list(frame["metrics.acc"]) == [0.2, 0.1]
    assert list(frame["status"]) == ["FINISHED", "FINISHED"]
    listed = lw.search_runs(experiment_names=["a"], output_format="list")
    assert [r.data.metrics for r in listed] == [{"acc": 0.1}]
    with pytest.raises(ValueError, match="output_format"):
        lw.search_runs(output_format="json")


def test_search_runs_with_unknown_experiment_names_is_empty_like_mlflow(tmp_store, caplog):
    _three_experiments()
    with caplog.at_level(logging.WARNING, logger="logwright.fluent_search"):
        assert lw.search_runs(experiment_names=["nope"]) == []
    assert "nope" in caplog.text
    assert [r.info.run_name for r in lw.search_runs(experiment_names=["nope", "a"])] == ["run-a"]
    with pytest.raises(ExperimentNotFound):  # ids and logwright's `experiment=` name a typo loudly
        lw.search_runs(experiment="nope")


def test_fluent_search_runs_max_results_none_and_beyond_one_page(tmp_store):
    lw.set_experiment("many")
    client = lw.Client()
    exp = client.get_experiment_by_name("many").experiment_id
    for _ in range(7):
        client.create_run(exp)
    assert len(lw.search_runs(max_results=None)) == 7
    assert len(lw.search_runs(max_results=100_000)) == 7  # pages like MLflow's fluent search_runs
    assert len(lw.search_runs(max_results=3)) == 3


def test_search_experiments_keywords(tmp_store):
    _three_experiments()
    lw.Client().delete_experiment(lw.Client().get_experiment_by_name("b").experiment_id)
    assert [e.name for e in lw.search_experiments()] == ["c", "a"]
    assert [e.name for e in lw.search_experiments(view_type=ViewType.ALL)] == ["c", "b", "a"]
    assert [e.name for e in lw.search_experiments(view_type=ViewType.DELETED_ONLY)] == ["b"]
    assert [e.name for e in lw.search_experiments(filter_string="name = 'a'")] == ["a"]
    assert [e.name for e in lw.search_experiments(max_results=1)] == ["c"]
    assert [e.name for e in lw.search_experiments(order_by=["name"])] == ["a", "c"]
    assert [e.name for e in lw.search_experiments("all", filter="%b%")] == ["b"]  # logwright's first API
