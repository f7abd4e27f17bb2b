"""Bad values: a named error at the user's line, or a documented safe conversion; never a lost batch.

Each case logs good data, then the poison value, then more good data, and checks that
every good value is stored and nothing was set aside. The cases that reach the store run on
SQLite and on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import logging
import os

import pytest

import logwright as lw
from logwright.exceptions import ExperimentNotFound, RunNotFound

SURROGATE = "\udce9"  # what errors="surrogateescape" makes of a lone byte 0xE9
HALF_EMOJI = "\ud83d"  # the first half of 😀 from a stream cut in the middle


def _rejected(store: str) -> str:
    """What the store set aside (SQLite: beside its file; PostgreSQL: in its artifact folder)."""
    path = getattr(lw.Client(store).store, "rejected_path", os.path.join(store, "rejected.jsonl"))
    return open(path).read() if os.path.exists(path) else ""


def _orphans(store: str, table: str, run_id: str) -> int:
    if store.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(store) as db:
            return db.execute(f"SELECT COUNT(*) FROM {table} WHERE run_id = %s", (run_id,)).fetchone()[0]
    import sqlite3

    with contextlib.closing(sqlite3.connect(os.path.join(store, "logwright.db"))) as db:
        return db.execute(f"SELECT COUNT(*) FROM {table} WHERE run_id = ?", (run_id,)).fetchone()[0]


@pytest.mark.parametrize("bad", [SURROGATE, HALF_EMOJI, f"ok{SURROGATE}ok"])
def test_lone_surrogates_are_replaced_everywhere(store_uri, bad, caplog):
    caplog.set_level(logging.WARNING)
    with lw.start_run(run_name=f"run {bad}", description=f"about {bad}", tags={f"t{bad}": bad}) as run:
        lw.log_metric("before", 1.0)
        lw.log_param(f"p{bad}", f"v{bad}")
        lw.log_metric(f"m{bad}", 2.0)
        lw.set_tag("tag", bad)
        lw.log_metric("after", 3.0)
    got = lw.get_run(run.info.run_id)
    fixed = bad.replace(SURROGATE, "\ufffd").replace(HALF_EMOJI, "\ufffd")
    assert got.info.run_name == f"run {fixed}"
    assert got.info.description == f"about {fixed}"
    assert got.data.params == {f"p{fixed}": f"v{fixed}"}
    assert got.data.metrics == {"before": 1.0, f"m{fixed}": 2.0, "after": 3.0}
    assert got.data.tags["tag"] == fixed and got.data.tags[f"t{fixed}"] == fixed
    assert got.info.status == "FINISHED"
    assert _rejected(store_uri) == ""


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"step": 2**63}, ValueError, "step of metric 'm' is 9223372036854775808"),
        ({"step": -(2**63) - 1}, ValueError, "outside the 64-bit range"),
        ({"step": 1.5}, ValueError, "whole number"),
        ({"step": "3"}, TypeError, "step of metric 'm' must be an integer"),
        ({"timestamp": 2**63}, ValueError, "timestamp of metric 'm'"),
        ({"timestamp": "2024-01-01"}, TypeError, "timestamp of metric 'm' must be an integer"),
        ({"timestamp": -5}, ValueError, "epoch milliseconds"),
    ],
)
def test_out_of_range_steps_and_timestamps_raise_at_the_call(store_uri, kwargs, error, words):
    with lw.start_run() as run:
        lw.log_metric("m", 1.0)
        with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
            lw.log_metric("m", 2.0, **kwargs)
        lw.log_metric("m", 3.0)
    assert [(p.step, p.value) for p in lw.get_metric_history(run.info.run_id, "m")] == [(0, 1.0), (1, 3.0)]


def test_float_timestamps_and_numpy_steps_are_converted(tmp_store):
    np = pytest.importorskip("numpy")
    with lw.start_run() as run:
        lw.log_metric("m", 1.0, step=np.int64(7), timestamp=1700000000123.9)
    (point,) = lw.get_metric_history(run.info.run_id, "m")
    assert (point.step, point.timestamp) == (7, 1700000000123)


def test_huge_ints_as_metric_values_name_the_key(tmp_store):
    with lw.start_run():
        with pytest.raises(ValueError, match="metric 'm' value 1000"):
            lw.log_metric("m", 10**400)


@pytest.mark.parametrize("bad", [["a", "b"], {"x": 1}, 42])
def test_run_name_and_description_must_be_strings(tmp_store, bad):
    with pytest.raises(TypeError, match="run_name must be a string"):
        lw.start_run(run_name=bad)
    with pytest.raises(TypeError, match="description must be a string"):
        lw.start_run(description=bad)
    assert lw.active_run() is None


def test_delete_tag_with_a_list_names_it(tmp_store):
    with lw.start_run() as run:
        lw.set_tag("keep", "yes")
        with pytest.raises(TypeError, match=r"tag key must be a string, got list: \['a'\]"):
            lw.delete_tag(["a"])
    assert lw.get_run(run.info.run_id).data.tags["keep"] == "yes"


@pytest.mark.local_store(reason="counts rows in the store's database itself")
def test_unknown_run_ids_raise_run_not_found(store_uri):
    client = lw.Client()
    with lw.start_run() as run:
        lw.log_metric("ok", 1.0)
    for call in (
        lambda: client.log_metric("feedface" * 4, "m", 1.0),
        lambda: client.log_metrics("feedface" * 4, {"m": 1.0}),
        lambda: client.set_tag("feedface" * 4, "k", "v"),
        lambda: client.delete_tag("feedface" * 4, "k"),
        lambda: client.log_batch("feedface" * 4, params={"p": 1}),
        lambda: client.log_param("feedface" * 4, "p", 1),
        lambda: lw.log_metric("m", 1.0, run_id="feedface" * 4),
        lambda: client.set_terminated("feedface" * 4),
    ):
        with pytest.raises(RunNotFound, match="feedface"):
            call()
    assert lw.get_run(run.info.run_id).data.metrics == {"ok": 1.0}
    lw.flush()
    for table in ("params", "tags", "latest_metrics", "metric_chunks"):
        assert _orphans(store_uri, table, "feedface" * 4) == 0, table


def test_unknown_experiment_and_parent_ids_raise(tmp_store):
    with pytest.raises(ExperimentNotFound, match="999999"):
        lw.start_run(experiment_id="999999")
    with pytest.raises(RunNotFound, match="not-a-run"):
        lw.start_run(parent_run_id="not-a-run")
    assert lw.active_run() is None


def test_a_param_conflict_leaves_the_rest_of_the_call_unlogged_and_the_run_intact(store_uri):
    with lw.start_run() as run:
        lw.log_params({"a": 1, "b": 2})
        with pytest.raises(lw.ParamConflict, match="'b' was already logged as '2'.*cannot change it to '3'"):
            lw.log_params({"c": 4, "b": 3})
        lw.log_metric("m", 1.0)
    got = lw.get_run(run.info.run_id)
    assert got.data.params == {"a": "1", "b": "2"}
    assert got.data.metrics == {"m": 1.0}


def test_an_op_the_store_refuses_is_set_aside_and_the_rest_commits(store_uri, monkeypatch, caplog):
    """Our own bug (an op the store cannot apply) costs that op only, with one warning."""
    monkeypatch.setenv("LOGWRIGHT_STRICT", "0")
    caplog.set_level(logging.WARNING)
    client = lw.Client()
    with lw.start_run() as run:
        for i in range(100):
            lw.log_metric("m", float(i))
        client.store.writer.put(("metric", run.info.run_id, "bad", object(), 0, 0))  # not a float
        lw.log_param("p", "kept")
        for i in range(100, 200):
            lw.log_metric("m", float(i))
    assert len(lw.get_metric_history(run.info.run_id, "m")) == 200
    assert lw.get_run(run.info.run_id).data.params == {"p": "kept"}
    rejected = _rejected(store_uri)
    assert rejected.count("\n") == 1 and '"op": "metric"' in rejected and "bad" in rejected
    warnings = [r.getMessage() for r in caplog.records if "set aside" in r.getMessage()]
    assert len(warnings) == 1 and "rejected.jsonl" in warnings[0]


def test_max_results_must_be_positive(tmp_store):
    with pytest.raises(ValueError, match="max_results"):
        lw.search_runs(max_results=-1)
