"""The embedded store: locations, URIs, schema versions and migrations."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

import logwright as lw
from logwright.store import resolve
from logwright.store.migrations import SCHEMA_VERSION


def test_default_store_is_a_visible_folder_in_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGWRIGHT_")}
    code = "import logwright as lw\nwith lw.start_run():\n    lw.log_metric('m', 1)\nlw.log_metric('n', 2)\n"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("logwright: tracking to") == 1
    assert (tmp_path / "logwright-runs" / "logwright.db").is_file()


@pytest.mark.parametrize(
    ("uri", "db"),
    [
        ("sqlite:///rel/x.db", "rel/x.db"),
        ("folder", "folder/logwright.db"),
        ("file.db", "file.db"),
    ],
)
def test_uri_forms(tmp_path, monkeypatch, uri, db):
    monkeypatch.chdir(tmp_path)
    got_db, artifacts = resolve(uri)
    assert got_db == str(tmp_path / db)
    assert artifacts == os.path.join(os.path.dirname(got_db), "artifacts")
    assert resolve(f"sqlite:////{tmp_path}/abs.db")[0] == f"{tmp_path}/abs.db"
    with pytest.raises(ValueError, match="not supported"):
        resolve("s3://bucket/x")


def test_sqlite_uri_round_trip(tmp_path):
    lw.set_tracking_uri(f"sqlite:///{tmp_path}/one.db")
    try:
        with lw.start_run() as run:
            lw.log_metric("m", 1.0)
        assert lw.Client(f"sqlite:///{tmp_path}/one.db").get_run(run.info.run_id).data.metrics == {"m": 1.0}
    finally:
        from logwright import fluent

        fluent._reset_for_tests()


@pytest.mark.sqlite_only(reason="reads SQLite's schema table and journal mode")
def test_migrations_are_recorded_and_wal_is_on(tmp_store):
    client = lw.Client(tmp_store)
    db = sqlite3.connect(client.store.db_path)
    rows = db.execute("SELECT version, name FROM _logwright_migrations").fetchall()
    assert rows[-1][0] == SCHEMA_VERSION and rows[0] == (1, "initial")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"experiments", "runs", "params", "metric_chunks", "latest_metrics", "tags", "inputs",
            "traces", "trace_tags"} <= tables
    assert "spans" not in tables  # schema 3: a trace's spans live in traces.spans


def test_newer_store_is_refused_naming_both_versions(tmp_path):
    path = tmp_path / "new.db"
    lw.Client(f"sqlite:///{path}")
    db = sqlite3.connect(path)
    db.execute("INSERT INTO _logwright_migrations VALUES (999, 'future', 0)")
    db.commit()
    db.close()
    code = f"import logwright as lw; lw.Client('sqlite:///{path}')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode != 0
    assert "schema version 999" in out.stderr and f"schema version {SCHEMA_VERSION}" in out.stderr
    assert "newer logwright" in out.stderr


def test_reopen_in_another_process_keeps_everything(store_uri):
    with lw.start_run() as run:
        lw.log_params({"a": 1})
        lw.log_metric("m", 0.25)
    lw.flush()
    code = (
        f"import logwright as lw; r = lw.Client({store_uri!r}).get_run({run.info.run_id!r}); "
        "print(r.data.params, r.data.metrics, r.info.status)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "{'a': '1'} {'m': 0.25} FINISHED", out.stderr
