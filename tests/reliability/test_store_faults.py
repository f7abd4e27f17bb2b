"""Storage faults caused for real: disk full, a read-only store, a store deleted mid-run, corruption.

Each fault runs in a child process (a full disk is a file size limit, RLIMIT_FSIZE; a
read-only store is file modes, enforced for root by dropping CAP_DAC_OVERRIDE), and the
test counts what was lost afterwards.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import textwrap

import pytest

import logwright as lw
from logwright.exceptions import StoreError


def _child(code: str, store: str, timeout: float = 120, as_unprivileged: bool = False) -> subprocess.CompletedProcess:
    prog = textwrap.dedent(code)
    cmd = [sys.executable, "-c", prog, store]
    if as_unprivileged and os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: file modes cannot be enforced")
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *cmd]
    env = {**os.environ, "LOGWRIGHT_QUIET": "1", "LOGWRIGHT_STRICT": "0"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.sqlite_only(reason="fills the disk under the SQLite file (a file-size limit)")
def test_disk_full_keeps_every_point_and_says_so(tmp_store):
    out = _child(
        """
        import logging, os, resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        import logwright as lw
        store = sys.argv[1]
        lw.set_tracking_uri(store)
        run = lw.start_run()
        print(run.info.run_id, flush=True)
        lw.log_metric("m", 0.0)
        lw.flush()
        files = [os.path.join(store, f) for f in os.listdir(store)]
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max(os.path.getsize(f) for f in files) + 16384, hard))
        for i in range(1, 100_001):
            lw.log_metric("m", float(i))
        written = lw.Client().store.writer.flush(timeout=3)
        print("flushed while full:", written, flush=True)
        resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))  # space is freed
        for i in range(100_001, 110_001):
            lw.log_metric("m", float(i))
        lw.end_run()
        """,
        tmp_store,
    )
    assert out.returncode == 0, out.stderr
    run_id = out.stdout.split()[0]
    assert "flushed while full: False" in out.stdout
    history = lw.get_metric_history(run_id, "m")
    assert len(history) == 110_001  # nothing lost, including points logged while the disk was full
    assert [p.step for p in history] == list(range(110_001))
    assert [p.value for p in history[::10_000]] == [float(i) for i in range(0, 110_001, 10_000)]
    assert lw.get_run(run_id).info.status == "FINISHED"
    failures = [line for line in out.stderr.splitlines() if "cannot write to store" in line]
    assert len(failures) == 1, out.stderr
    assert "disk full" in failures[0] or "I/O error" in failures[0]
    assert "operations waiting, retrying" in failures[0]
    assert "writable again" in out.stderr
    assert "cannot rollback" not in out.stderr


@pytest.fixture
def read_only_store(tmp_store):
    with lw.start_run(run_name="finished project") as run:
        lw.log_metric("acc", 0.9)
        lw.log_param("lr", 0.1)
    lw.flush()
    lw.Client().store.read_db().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    paths = [tmp_store, *(os.path.join(d, f) for d, _, files in os.walk(tmp_store) for f in files)]
    for path in paths:
        os.chmod(path, os.stat(path).st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    yield tmp_store, run.info.run_id
    for path in paths:
        os.chmod(path, os.stat(path).st_mode | stat.S_IWUSR)


def test_a_read_only_store_opens_for_reading_and_refuses_writes(read_only_store):
    store, run_id = read_only_store
    before = {f: os.path.getmtime(os.path.join(store, f)) for f in os.listdir(store)}
    out = _child(
        """
        import sys
        import logwright as lw
        from logwright.exceptions import StoreError
        lw.set_tracking_uri(sys.argv[1])
        run = lw.get_run(sys.argv[2])
        print(run.info.run_name, run.data.metrics, run.data.params)
        print([r.info.run_id for r in lw.search_runs(filter="metrics.acc > 0.5")] == [sys.argv[2]])
        for call in (lambda: lw.start_run(), lambda: lw.log_metric("x", 1.0, run_id=sys.argv[2]),
                     lambda: lw.set_experiment("new one")):
            try:
                call()
                print("wrote!")
            except StoreError as exc:
                print("refused:", exc)
        """.replace("sys.argv[2]", repr(run_id)),
        store,
        as_unprivileged=True,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "finished project {'acc': 0.9} {'lr': '0.1'}"
    assert lines[1] == "True"
    assert len([line for line in lines[2:] if line.startswith("refused:") and "read-only" in line]) == 3
    assert "wrote!" not in out.stdout
    assert before == {f: os.path.getmtime(os.path.join(store, f)) for f in os.listdir(store)}


@pytest.mark.sqlite_only(reason="deletes the store folder")
def test_a_store_deleted_mid_run_is_an_error_at_the_next_flush(tmp_store):
    out = _child(
        """
        import shutil, sys
        import logwright as lw
        from logwright.exceptions import StoreError
        lw.set_tracking_uri(sys.argv[1])
        lw.start_run()
        lw.log_metric("m", 1.0)
        lw.flush()
        shutil.rmtree(sys.argv[1])
        lw.log_metric("m", 2.0)
        try:
            lw.flush()
            print("silently lost")
        except StoreError as exc:
            print("error:", exc)
        """,
        tmp_store,
    )
    assert "silently lost" not in out.stdout
    assert "error:" in out.stdout and "was deleted or replaced while in use" in out.stdout
    assert "could not be written" in out.stderr or "could not end run" in out.stderr  # said again at exit


@pytest.mark.sqlite_only(reason="corrupts the SQLite file")
def test_a_corrupt_store_raises_store_error(tmp_store):
    with lw.start_run():
        for i in range(2000):
            lw.log_param(f"p{i}", "x" * 100)
    lw.flush()
    db_path = os.path.join(tmp_store, "logwright.db")
    lw.Client().store.read_db().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    from logwright import fluent

    fluent._reset_for_tests()
    from logwright import store as store_module

    store_module._open.clear()
    size = os.path.getsize(db_path)
    with open(db_path, "r+b") as fh:  # keep the header, scramble every page after the first
        fh.seek(4096)
        fh.write(os.urandom(size - 4096))
    with pytest.raises(StoreError):
        client = lw.Client(tmp_store)
        client.search_runs()
        client.get_run("0" * 32)


def test_a_file_that_is_not_a_store_is_left_untouched(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"my thesis, do not touch" * 100)
    with pytest.raises(StoreError, match="not a logwright store"):
        lw.Client(f"sqlite:///{path}")
    assert path.read_bytes() == b"my thesis, do not touch" * 100


@pytest.mark.sqlite_only(reason="locks the SQLite file from another connection")
def test_a_locked_store_waits_instead_of_dropping(tmp_store):
    with lw.start_run() as run:
        lw.log_metric("m", 0.0)
        lw.flush()
        other = sqlite3.connect(os.path.join(tmp_store, "logwright.db"), timeout=0)
        other.execute("BEGIN EXCLUSIVE")
        for i in range(1, 5001):
            lw.log_metric("m", float(i))
        other.execute("ROLLBACK")
        other.close()
    assert len(lw.get_metric_history(run.info.run_id, "m")) == 5001
