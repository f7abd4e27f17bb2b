"""MLflow's own client test cases (tests/tracking/test_client.py, tests/store/tracking/
test_sqlalchemy_store.py), ported to logwright's names: the calls MLflow code makes give
the values MLflow gives. Runs on SQLite and under ``--store-backend=postgres+s3``.
"""

from __future__ import annotations

import math
import time

import pytest

import logwright as lw
from logwright import Metric, Param, RunStatus, RunTag, ViewType
from logwright.exceptions import ExperimentDeleted, ExperimentNotFound, RunDeleted


@pytest.fixture
def client(tmp_store):
    return lw.Client()


@pytest.fixture
def exp(client):
    return client.create_experiment("parity")


# -- positional orders (MLflow: Client.log_metric(run_id, key, value, timestamp, step)) --


def test_metric_entity_is_key_value_timestamp_step():
    m = Metric("loss", 0.5, 1234, 7)
    assert (m.key, m.value, m.timestamp, m.step) == ("loss", 0.5, 1234, 7)


def test_log_metric_positional_timestamp_then_step(client, exp):
    run_id = client.create_run(exp).info.run_id
    client.log_metric(run_id, "m", 1.0, 5, 2)  # MLflow's order: timestamp 5, step 2
    (point,) = client.get_metric_history(run_id, "m")
    assert (point.value, point.timestamp, point.step) == (1.0, 5, 2)


def test_create_run_positional_start_time_tags_run_name(client, exp):
    run = client.create_run(exp, 1_600_000_000_000, {"team": "ml"}, "named")
    got = client.get_run(run.info.run_id)
    assert got.info.start_time == 1_600_000_000_000
    assert got.info.run_name == "named"
    assert got.data.tags["team"] == "ml"
    with pytest.raises(TypeError):  # the pre-MLflow order (name second) fails loudly, never silently
        client.create_run(exp, "a-name")


def test_search_runs_positional_order(client, exp):
    ids = [client.create_run(exp, run_name=f"r{i}").info.run_id for i in range(3)]
    for i, run_id in enumerate(ids):
        client.log_metric(run_id, "acc", i / 10)
    client.delete_run(ids[0])
    page = client.search_runs([exp], "metrics.acc >= 0", ViewType.ALL, 2, ["metrics.acc DESC"])
    assert [r.info.run_id for r in page] == [ids[2], ids[1]]
    rest = client.search_runs([exp], "metrics.acc >= 0", ViewType.ALL, 2, ["metrics.acc DESC"], page.token)
    assert [r.info.run_id for r in rest] == [ids[0]] and rest.token is None
    assert [r.info.run_id for r in client.search_runs([exp], "", ViewType.DELETED_ONLY)] == [ids[0]]


def test_log_batch_with_mlflow_entities(client, exp):
    run_id = client.create_run(exp).info.run_id
    metrics = [Metric("m1", 0.87, 12345, 0), Metric("m2", 0.49, 12346, 1)]
    params = [Param("p1", "p1val"), Param("p2", "p2val")]
    tags = [RunTag("t1", "t1val"), RunTag("t2", "t2val")]
    client.log_batch(run_id=run_id, metrics=metrics, params=params, tags=tags)
    run = client.get_run(run_id)
    assert run.data.metrics == {"m1": 0.87, "m2": 0.49}
    assert run.data.params == {"p1": "p1val", "p2": "p2val"}
    assert run.data.tags["t1"] == "t1val" and run.data.tags["t2"] == "t2val"
    assert client.get_metric_history(run_id, "m2") == [Metric("m2", 0.49, 12346, 1)]
    client.log_batch(run_id, params={"p3": 3}, tags={"t3": "x"})  # logwright's mappings still work
    assert client.get_run(run_id).data.params["p3"] == "3"
    with pytest.raises(TypeError, match="Param"):
        client.log_batch(run_id, params=["not-a-param"])


# -- explicit zeros ----------------------------------------------------------------------


def test_explicit_zero_times_are_kept(client, exp):
    run_id = client.create_run(exp, start_time=0).info.run_id
    client.log_metric(run_id, "m", 1.0, timestamp=0, step=0)
    client.log_batch(run_id, [Metric("b", 2.0, 0, 0)])
    client.set_terminated(run_id, end_time=0)
    run = client.get_run(run_id)
    assert (run.info.start_time, run.info.end_time) == (0, 0)
    assert [p.timestamp for p in client.get_metric_history(run_id, "m")] == [0]
    assert [p.timestamp for p in client.get_metric_history(run_id, "b")] == [0]
    assert [r.info.run_id for r in client.search_runs([exp], "attributes.start_time = 0")] == [run_id]


# -- entities and statuses -----------------------------------------------------------------


def test_run_info_user_id_and_scheduled_status(client, exp):
    run_id = client.create_run(exp).info.run_id
    client.update_run(run_id, status=RunStatus.SCHEDULED)
    info = client.get_run(run_id).info
    assert info.status == "SCHEDULED" and "SCHEDULED" in RunStatus.ALL
    assert info.user_id == info.user and info.run_uuid == run_id
    assert [r.info.run_id for r in client.search_runs([exp], "attributes.status = 'SCHEDULED'")] == [run_id]


def test_update_run_with_empty_name_keeps_the_name(client, exp):
    run_id = client.create_run(exp, run_name="keep-me").info.run_id
    client.update_run(run_id, name="")
    assert client.get_run(run_id).info.run_name == "keep-me"
    client.update_run(run_id, name="renamed")
    assert client.get_run(run_id).info.run_name == "renamed"


# -- metric points: stored once, latest = max by (step, timestamp, value) ---------------------


def test_identical_points_are_stored_once(client, exp):
    run_id = client.create_run(exp).info.run_id
    client.log_metric(run_id, "m", 1.0, 5, 2)
    client.log_metric(run_id, "m", 1.0, 5, 2)
    client.log_metric(run_id, "m", 3.0, 5, 2)
    client.flush()
    client.log_metric(run_id, "m", 1.0, 5, 2)  # repeats a point already committed
    client.log_metric(run_id, "m", 2.0, 5, 2)
    client.log_batch(run_id, [Metric("m", 3.0, 5, 2), Metric("m", 3.0, 5, 2)])
    history = client.get_metric_history(run_id, "m")
    assert sorted(p.value for p in history) == [1.0, 2.0, 3.0]
    assert client.get_run(run_id).data.metrics["m"] == 3.0


def test_points_at_one_step_are_all_kept_and_an_old_one_repeated_is_not(client, exp):
    run_id = client.create_run(exp).info.run_id
    for ts in range(1, 6):  # MLflow-style code logging every point at step 0
        client.log_metric(run_id, "m", float(ts), ts, 0)
    client.flush()
    client.log_metric(run_id, "m", 2.0, 2, 0)  # the same as a stored point, older than the latest
    client.log_metric(run_id, "m", 2.5, 2, 0)  # same step and time, another value: a new point
    history = client.get_metric_history(run_id, "m")
    assert sorted((p.timestamp, p.value) for p in history) == [(1, 1.0), (2, 2.0), (2, 2.5), (3, 3.0),
                                                             (4, 4.0), (5, 5.0)]
    assert client.get_run(run_id).data.metrics["m"] == 5.0


def test_identical_nan_points_are_stored_once(client, exp):
    run_id = client.create_run(exp).info.run_id
    for _ in range(3):
        client.log_metric(run_id, "n", float("nan"), 7, 1)
    history = client.get_metric_history(run_id, "n")
    assert len(history) == 1 and math.isnan(history[0].value)


def test_points_differing_in_one_field_are_all_kept(client, exp):
    run_id = client.create_run(exp).info.run_id
    points = [Metric("m", 1.0, 5, 2), Metric("m", 1.0, 6, 2), Metric("m", 1.0, 5, 3), Metric("m", 1.5, 5, 2)]
    client.log_batch(run_id, points)
    assert len(client.get_metric_history(run_id, "m")) == 4


def test_latest_value_is_max_by_step_timestamp_value(client, exp):
    run_id = client.create_run(exp).info.run_id
    client.log_metric(run_id, "a", 5.0, 100, 3)
    client.log_metric(run_id, "a", 9.0, 999, 2)  # an older step, later time: not the latest
    client.log_metric(run_id, "b", 1.0, 200, 1)
    client.log_metric(run_id, "b", 0.5, 100, 1)  # same step, earlier time
    client.log_metric(run_id, "c", 4.0, 100, 1)
    client.log_metric(run_id, "c", 2.0, 100, 1)  # same step and time: the larger value wins
    client.flush()
    client.log_metric(run_id, "c", 3.0, 100, 1)
    assert client.get_run(run_id).data.metrics == {"a": 5.0, "b": 1.0, "c": 4.0}


def test_latest_value_counts_nan_as_zero_like_mlflow(client, exp):
    run_id = client.create_run(exp).info.run_id
    client.log_metric(run_id, "n", float("nan"), 5, 2)
    client.log_metric(run_id, "n", -1.0, 5, 2)  # -1 < NaN (0): NaN stays
    client.log_metric(run_id, "p", -1.0, 5, 2)
    client.log_metric(run_id, "p", float("nan"), 5, 2)  # NaN (0) > -1: NaN wins
    client.log_metric(run_id, "q", float("nan"), 5, 2)
    client.log_metric(run_id, "q", 1.0, 5, 2)  # 1 > NaN (0)
    metrics = client.get_run(run_id).data.metrics
    assert math.isnan(metrics["n"]) and math.isnan(metrics["p"]) and metrics["q"] == 1.0


# -- deleted runs and experiments --------------------------------------------------------------


def test_logging_into_a_deleted_run_raises(client, exp):
    run_id = client.create_run(exp).info.run_id
    client.log_metric(run_id, "m", 1.0)
    client.delete_run(run_id)
    for call in (lambda: client.log_metric(run_id, "m", 2.0), lambda: client.set_tag(run_id, "t", "v"),
                 lambda: client.log_param(run_id, "p", 1), lambda: client.log_batch(run_id, [Metric("m", 1, 1, 1)])):
        with pytest.raises(RunDeleted, match=run_id):
            call()
    fresh = lw.Client(client.tracking_uri)  # another client of the same store sees it too
    with pytest.raises(RunDeleted):
        fresh.log_metric(run_id, "m", 3.0)
    client.restore_run(run_id)
    client.log_metric(run_id, "m", 4.0, step=9)
    assert client.get_run(run_id).data.metrics["m"] == 4.0


def test_a_deleted_runs_artifacts_stay_readable(client, exp, tmp_path):
    run_id = client.create_run(exp).info.run_id
    client.log_text(run_id, "hello", "notes/a.txt")
    client.delete_run(run_id)
    assert [f.path for f in client.list_artifacts(run_id, "notes")] == ["notes/a.txt"]
    path = client.download_artifacts(run_id, "notes/a.txt", str(tmp_path))
    assert open(path, encoding="utf-8").read() == "hello"
    with pytest.raises(RunDeleted):
        client.log_text(run_id, "more", "notes/b.txt")
    assert [f.path for f in client.list_artifacts(run_id, "notes")] == ["notes/a.txt"]


def test_delete_and_restore_experiment_cascade_to_runs(client, exp):
    other = client.create_experiment("other")
    ids = [client.create_run(exp).info.run_id for _ in range(2)]
    kept = client.create_run(other).info.run_id
    client.delete_experiment(exp)
    assert all(client.get_run(r).info.lifecycle_stage == "deleted" for r in ids)
    assert client.get_run(kept).info.lifecycle_stage == "active"
    assert {r.info.run_id for r in client.search_runs(None)} == {kept}
    assert {r.info.run_id for r in client.search_runs(None, run_view_type=ViewType.DELETED_ONLY)} == set(ids)
    with pytest.raises(RunDeleted):
        client.log_metric(ids[0], "m", 1.0)
    with pytest.raises(ExperimentDeleted):  # MLflow: "must be in the 'active' state"
        client.create_run(exp)
    client.restore_experiment(exp)
    assert all(client.get_run(r).info.lifecycle_stage == "active" for r in ids)
    assert {r.info.run_id for r in client.search_runs([exp])} == set(ids)


# -- search_runs limits and experiments -------------------------------------------------------


def test_search_runs_max_results_none_and_limit(client, exp):
    for _ in range(5):
        client.create_run(exp)
    everything = client.search_runs([exp], max_results=None)
    assert len(everything) == 5 and everything.token is None
    assert len(client.search_runs([exp], max_results=50_000)) == 5
    with pytest.raises(ValueError, match="at most 50,000"):
        client.search_runs([exp], max_results=50_001)


def test_search_runs_with_unknown_experiment_raises(client, exp):
    # Chosen difference (README, "Coming from MLflow"): MLflow returns [] for an unknown id.
    with pytest.raises(ExperimentNotFound):
        client.search_runs(["no-such-experiment"])
    with pytest.raises(ExperimentNotFound):
        client.search_runs(["123456"])


def _make_experiments(client):
    names = []
    for i, tag in enumerate(["x", "x", "y", None]):
        time.sleep(0.003)  # distinct creation times, as MLflow's test does
        client.create_experiment(f"active_{i}", tags={"tag": tag} if tag else None)
        names.append(f"active_{i}")
    for i in range(2):
        time.sleep(0.003)
        client.delete_experiment(client.create_experiment(f"deleted_{i}"))
    return names


def test_search_experiments_like_mlflow(client):
    active = _make_experiments(client)
    deleted = ["deleted_0", "deleted_1"]
    assert [e.name for e in client.search_experiments(ViewType.ACTIVE_ONLY)] == active[::-1]
    assert [e.name for e in client.search_experiments(ViewType.DELETED_ONLY)] == deleted[::-1]
    assert [e.name for e in client.search_experiments(ViewType.ALL)] == deleted[::-1] + active[::-1]
    assert len(client.search_experiments(ViewType.ALL, max_results=5)) == 5
    assert [e.name for e in client.search_experiments(filter_string="name = 'active_1'")] == ["active_1"]
    assert [e.name for e in client.search_experiments(filter_string="name ILIKE 'ACTIVE_%'")] == active[::-1]
    assert [e.name for e in client.search_experiments(filter_string="name LIKE 'ACTIVE_%'")] == []
    assert [e.name for e in client.search_experiments(filter_string="tags.tag = 'x'")] == ["active_1", "active_0"]
    assert [e.name for e in client.search_experiments(filter_string="tags.`tag` != 'x'")] == ["active_2"]
    newest = client.search_experiments(max_results=1)[0]
    assert [e.name for e in client.search_experiments(
        filter_string=f"creation_time >= {newest.creation_time}")] == ["active_3"]
    assert [e.name for e in client.search_experiments(order_by=["name DESC"], max_results=3)] == \
        sorted(active, reverse=True)[:3]


def test_search_experiments_pages_and_refuses_bad_filters(client):
    active = _make_experiments(client)
    first = client.search_experiments(max_results=3)
    second = client.search_experiments(max_results=3, page_token=first.token)
    assert [e.name for e in [*first, *second]] == active[::-1] and second.token is None
    for bad in ("name > 'a'", "creation_time = 'x'", "owner = 'me'", "name = 'a' or name = 'b'"):
        with pytest.raises(lw.InvalidFilter):
            client.search_experiments(filter_string=bad)
    with pytest.raises(lw.InvalidFilter):
        client.search_experiments(order_by=["tags.x"])
    with pytest.raises(ValueError, match="view type"):
        client.search_experiments("nope")
