"""What every store backend must do alike, and what only PostgreSQL needs checking for.

The contract cases take ``store_uri`` (SQLite, then PostgreSQL: a real server started by
``logwright.testing.postgres`` with initdb/pg_ctl). The PostgreSQL cases check its URIs,
its migrations and newer-schema refusal, and that nothing logged while the server is
down is lost.
"""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

import logwright as lw
from logwright.exceptions import StoreVersionError
from logwright.store import get_store, migrations, postgres_migrations, resolve


def test_import_logwright_does_not_import_psycopg():
    code = "import sys, logwright; print('psycopg' in sys.modules, 'psycopg_pool' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_both_backends_have_the_same_migration_numbers_and_names():
    assert [m[:2] for m in postgres_migrations.MIGRATIONS] == [m[:2] for m in migrations.MIGRATIONS]


def test_traces_and_late_spans_round_trip(store_uri, traces):
    lw.set_experiment("traced")

    @lw.trace(kind="TOOL")
    def add(a, b):
        return a + b

    @lw.trace(kind="CHAIN")
    def pipeline(x):
        return add(x, 1) * 2

    for i in range(5):
        pipeline(i)
    lw.flush()
    found = lw.search_traces(filter="name = 'pipeline'", order_by=["start_time ASC"])
    assert len(found) == 5
    first = min(found, key=lambda t: t.info.start_ns)  # start_time is in ms: ties are likely
    full = lw.get_trace(first.info.trace_id)
    assert [s.name for s in full.spans] == ["pipeline", "add"]
    assert full.spans[0].outputs == 2 and full.spans[1].inputs == {"a": 0, "b": 1}
    store = lw.Client().store
    assert store.trace_ids_like(first.info.trace_id[:12]) == [first.info.trace_id]
    page, total = store.traces_page(None, "span_count = 2", "latency_ms DESC", limit=3)
    assert total == 5 and len(page) == 3


def test_runs_page_groups_children_and_fills_columns(store_uri):
    lw.set_experiment("table")
    with lw.start_run(run_name="parent") as parent:
        lw.log_metric("acc", float("nan"))
        lw.log_param("model", "rf")
        for i in range(3):
            with lw.start_run(run_name=f"child{i}", nested=True):
                lw.log_metric("acc", i / 10)
    store = lw.Client().store
    exp_id = parent.info.experiment_id
    page = store.runs_page(exp_id, None, "metrics.acc DESC", ["acc"], ["model"])
    assert page.total == 1 and page.rows[0].child_count == 3
    assert math.isnan(page.rows[0].metrics["acc"]) and page.rows[0].params == {"model": "rf"}
    flat = store.runs_page(exp_id, "metrics.acc >= 0", "metrics.acc DESC", ["acc"], [])
    assert [r.name for r in flat.rows] == ["child2", "child1", "child0"]  # NaN never matches
    ordered = lw.search_runs(order_by=["metrics.acc DESC"])
    assert ordered[-1].info.run_name == "parent"  # NaN sorts last
    assert store.column_keys(exp_id) == (["acc"], ["model"])
    assert [r.name for r in store.run_rows([parent.info.run_id, "nope"])] == ["parent"]


def test_a_killed_writer_process_leaves_a_killed_run_with_its_points(store_uri):
    code = (
        "import os, logwright as lw\n"
        f"lw.set_tracking_uri({store_uri!r})\n"
        "run = lw.start_run()\n"
        "for i in range(100):\n    lw.log_metric('m', float(i))\n"
        "lw.flush()\nprint(run.info.run_id, flush=True)\nos._exit(9)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    run_id = out.stdout.strip()
    assert run_id, out.stderr
    got = lw.get_run(run_id)
    assert got.info.status == "KILLED"
    assert len(lw.get_metric_history(run_id, "m")) == 100


# -- PostgreSQL only ------------------------------------------------------------------


def test_postgresql_uri_forms_open_one_database(postgres_uri):
    store = get_store(postgres_uri)
    assert type(store).__name__ == "PostgresStore" and ":***@" not in store.location
    other = get_store(postgres_uri.replace("postgresql://", "postgresql+psycopg://"))
    exp = store.create_experiment("shared")
    assert other.get_experiment_by_name("shared").experiment_id == exp
    other.close()
    assert resolve(postgres_uri)[0] == postgres_uri  # what integrations compare to tell stores apart


def test_migrations_are_recorded_and_a_newer_database_is_refused(postgres_uri):
    import psycopg

    get_store(postgres_uri)
    with psycopg.connect(postgres_uri, autocommit=True) as conn:
        rows = conn.execute("SELECT version, name FROM _logwright_migrations ORDER BY version").fetchall()
        assert rows == [m[:2] for m in postgres_migrations.MIGRATIONS]
        conn.execute("INSERT INTO _logwright_migrations VALUES (999, 'future', 0)")
    from logwright.store.postgres import PostgresStore

    with pytest.raises(StoreVersionError, match="schema version 999.*newer logwright"):
        PostgresStore(postgres_uri)


def test_password_is_not_shown_in_messages():
    from logwright.store.postgres import conninfo, redact

    assert redact("postgresql://ann:s3cret@db:5432/runs") == "postgresql://ann:***@db:5432/runs"
    assert conninfo("postgresql+psycopg://ann@db/runs") == "postgresql://ann@db/runs"


def test_nothing_is_lost_while_the_server_is_down(postgres_server, tmp_path, monkeypatch, caplog):
    """Stop the server mid-run: logging goes on, the writer retries, everything lands on restart."""
    monkeypatch.setenv("LOGWRIGHT_ARTIFACT_URI", str(tmp_path / "artifacts"))
    name = postgres_server.create_database()
    uri = postgres_server.uri(name)
    client = lw.Client(uri)
    run_id = client.create_run(None).info.run_id
    for i in range(1000):
        client.log_metric(run_id, "m", float(i))
    client.flush()
    postgres_server.pg_ctl("stop")
    try:
        for i in range(1000, 3000):
            client.log_metric(run_id, "m", float(i))
        client.set_tag(run_id, "while", "down")
        assert client.store.writer.flush(timeout=1.5) is False  # still waiting, nothing dropped
        assert client.store.pending() > 0
    finally:
        postgres_server.pg_ctl("start")
    client.flush()
    history = client.get_metric_history(run_id, "m")
    assert [p.value for p in history] == [float(i) for i in range(3000)]
    assert [p.step for p in history] == list(range(3000))
    assert client.get_run(run_id).data.tags["while"] == "down"
    assert any("cannot write to store" in r.getMessage() for r in caplog.records)
    client.set_terminated(run_id)
    client.flush()


def test_a_missing_server_skips_outside_ci_and_fails_in_ci(monkeypatch):
    from logwright.testing import postgres as fixture

    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot run in CI: no binaries"):
        fixture._unavailable("no binaries")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="skipped: no binaries"):
        fixture._unavailable("no binaries")


def test_postgresql_sets_aside_a_nul_character_and_keeps_the_rest(postgres_uri, tmp_path, monkeypatch):
    monkeypatch.setenv("LOGWRIGHT_STRICT", "0")
    monkeypatch.setenv("LOGWRIGHT_ARTIFACT_URI", str(tmp_path / "artifacts"))
    client = lw.Client(postgres_uri)
    run_id = client.create_run(None).info.run_id
    client.log_param(run_id, "good", "yes")
    client.set_tag(run_id, "bad", "a\x00b")
    client.log_metric(run_id, "m", 1.0)
    client.set_terminated(run_id)
    got = client.get_run(run_id)
    assert got.data.params == {"good": "yes"} and got.data.metrics == {"m": 1.0} and "bad" not in got.data.tags
    rejected = (tmp_path / "artifacts" / "rejected.jsonl").read_text()
    assert '"op": "tag"' in rejected and "NUL" in rejected
    with pytest.raises(lw.RunNotFound):
        client.get_run("ab\x00c")
    with pytest.raises(lw.InvalidFilter, match="U\\+0000"):
        client.search_runs(None, "tags.bad = 'a\x00b'")
