"""``logwright store copy SRC DST``: every kind of record arrives the same, twice copies nothing,
and a copy stopped by Ctrl-C (SIGINT to a real subprocess) finishes when run again.

The destination's artifacts are a local folder and, through ``artifact_backend``, an S3
bucket on moto's server.
"""

from __future__ import annotations

import math
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import time

import numpy as np
from sklearn.linear_model import LogisticRegression

import logwright as lw
from logwright import fluent
from logwright.artifacts import for_uri
from logwright.cli import main
from logwright.client import Client
from logwright.entities import Dataset

_SPECIALS = [float("nan"), float("inf"), float("-inf"), -0.0, 5e-324, 1.7976931348623157e308]


def _fill(uri: str, tmp_path) -> dict[str, str]:
    """A store holding every kind of record; returns a few ids."""
    fluent._reset_for_tests()
    lw.set_tracking_uri(uri)
    lw.set_experiment("copy-me")
    X = np.arange(12, dtype=float).reshape(6, 2)
    model = LogisticRegression().fit(X, [0, 1] * 3)
    with lw.start_run(run_name="parent", description="the sweep") as parent:
        lw.log_params({"lr": "0.1", "nested": "yes"})
        lw.set_tags({"team": "ml", "ünï": "cödé"})
        for i, value in enumerate(_SPECIALS):
            lw.log_metric("special", value, step=i * 7 - 3, timestamp=1_700_000_000_000 + i)
        lw.log_metric("back", 2.0, step=10, timestamp=5)
        lw.log_metric("back", 1.0, step=3, timestamp=6)  # out of order
        lw.log_metric("back", 1.5, step=3, timestamp=4)  # same step, earlier time
        for step in range(300):
            lw.log_metric("loss", 1 / (step + 1), step=step)
        lw.log_input(Dataset("train", "abc123", "training", "[6, 2]", '{"x": "float"}', "s3://data/train"))
        lw.log_text("notes", "notes/readme.txt")
        lw.log_model(model, "model", input_example=X[:2])
        with lw.start_span("root", kind="CHAIN", attributes={"a": 1, "f": 0.5}, inputs={"q": "x"}) as root:
            lw.update_current_trace(tags={"user": "ada"}, name="renamed")
            with lw.start_span("child", kind="LLM") as child:
                child.add_event("token", {"i": 1}, timestamp_ns=123)
                child.set_attribute("gen_ai.usage.input_tokens", 7)
                child.set_outputs(["a", None, 1.5])
                child.set_status("ERROR", "bad")
            root.set_outputs("done")
        for i, status in enumerate(("FINISHED", "FAILED", "KILLED")):
            with lw.start_run(run_name=f"child-{i}", nested=True) as child_run:
                lw.log_metric("acc", 0.5 + i / 10)
            lw.Client().set_terminated(child_run.info.run_id, status, end_time=1_700_000_100_000 + i)
    with lw.start_run(run_name="doomed") as doomed:
        lw.log_param("p", "1")
    lw.delete_run(doomed.info.run_id)
    lw.set_experiment("second")
    with lw.start_run(run_name="other"):
        lw.log_metric("m", 1.0)
    lw.flush()
    ids = {"parent": parent.info.run_id, "doomed": doomed.info.run_id}
    fluent._reset_for_tests()
    return ids


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


def _snapshot(uri: str) -> dict:
    """Everything a user can read from a store, with ids of experiments replaced by names."""
    client = Client(uri)
    store = client.store
    store.flush()
    out: dict = {"experiments": {}, "runs": {}, "traces": {}}
    for exp in store.search_experiments("all"):
        out["experiments"][exp.name] = (exp.lifecycle_stage, exp.description, exp.tags)
        for run in store.search_runs([exp.experiment_id], None, None, 1000, 0, "all"):
            info = run.info
            rid = info.run_id
            history = {k: [(m.step, _bits(m.value), m.timestamp) for m in store.get_metric_history(rid, k)]
                       for k in store.metric_keys(rid)}
            repo = for_uri(info.artifact_uri)
            files = {}
            for f in repo.walk():
                with repo.open(f.path) as fh:
                    files[f.path] = fh.read()
            out["runs"][rid] = {
                "experiment": exp.name, "name": info.run_name, "status": info.status, "start": info.start_time,
                "end": info.end_time, "parent": info.parent_run_id, "lifecycle": info.lifecycle_stage,
                "user": info.user, "source": info.source, "description": info.description,
                "params": run.data.params, "tags": run.data.tags,
                "latest": {k: _bits(v) for k, v in run.data.metrics.items()},
                "inputs": sorted(run.inputs, key=repr), "context": run.context, "history": history,
                "files": files,
            }
        for trace in store.search_traces([exp.experiment_id], max_results=1000):
            info = trace.info
            out["traces"][trace.trace_id] = (exp.name, info.run_id, info.name, info.status, info.start_ns,
                                             info.end_ns, info.input_tokens, info.output_tokens,
                                             info.total_tokens, info.span_count, info.tags, trace.spans)
    return out


def _copy(src: str, dst: str, capsys, *extra: str) -> str:
    rc = main(["store", "copy", src, dst, *extra])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    return captured.out


def test_copy_keeps_every_record_and_a_second_copy_copies_nothing(artifact_backend, tmp_path, capsys):
    src = str(tmp_path / "src")
    ids = _fill(src, tmp_path)
    dst = str(tmp_path / "dst")
    extra = ("--artifact-uri", artifact_backend.artifact_uri) if artifact_backend.remote else ()
    out = _copy(src, dst, capsys, *extra)
    assert "copied 2 experiments, 6 runs" in out and "1 traces" in out
    before, after = _snapshot(src), _snapshot(dst)
    assert after["experiments"].keys() == before["experiments"].keys()
    for rid, run in before["runs"].items():
        for field, value in run.items():
            assert after["runs"][rid][field] == value, (rid, field)
    assert after["traces"] == before["traces"]
    special = after["runs"][ids["parent"]]["history"]["special"]
    assert [s for s, _, _ in special] == [-3, 4, 11, 18, 25, 32]
    assert math.isnan(struct.unpack("<d", special[0][1])[0])
    assert after["runs"][ids["doomed"]]["lifecycle"] == "deleted"
    X = np.arange(12, dtype=float).reshape(6, 2)
    predictions = []
    for uri in (src, dst):
        fluent._reset_for_tests()
        lw.set_tracking_uri(uri)
        predictions.append(list(lw.load_model(f"runs:/{ids['parent']}/model").predict_proba(X).ravel()))
    assert predictions[0] == predictions[1]
    dst_run = lw.get_run(ids["parent"])
    if artifact_backend.remote:
        assert dst_run.info.artifact_uri.startswith(artifact_backend.artifact_uri + "/copy-me/")
    fluent._reset_for_tests()
    assert _copy(src, dst, capsys, *extra).strip() == "nothing to copy: the destination already holds everything"
    assert _snapshot(dst) == after


def test_copy_refuses_a_missing_source_and_the_same_store(tmp_path, capsys):
    assert main(["store", "copy", str(tmp_path / "nothing"), str(tmp_path / "dst")]) == 2
    assert "no store at" in capsys.readouterr().err
    src = str(tmp_path / "src")
    Client(src).create_experiment("x")
    assert main(["store", "copy", src, f"sqlite:///{src}/logwright.db"]) == 1
    assert "same store" in capsys.readouterr().err


def _big_store(uri: str, runs: int, points: int) -> None:
    fluent._reset_for_tests()
    client = Client(uri)
    exp = client.create_experiment("big")
    for r in range(runs):
        rid = client.create_run(exp, run_name=f"run-{r}").info.run_id
        client.log_params(rid, {"r": r})
        for step in range(points):
            client.log_metric(rid, "x", step * 0.5, step=step, timestamp=step)
        client.log_text(rid, f"file {r}", f"files/{r}.txt")
        client.set_terminated(rid, flush=False)
    client.flush()
    fluent._reset_for_tests()


def _dst_runs(dst: str) -> int:
    db = os.path.join(dst, "logwright.db")
    if not os.path.exists(db):
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM runs").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_copy_interrupted_by_ctrl_c_finishes_when_run_again(tmp_path, capsys):
    src, dst = str(tmp_path / "src"), str(tmp_path / "dst")
    _big_store(src, runs=40, points=20_000)
    cmd = [sys.executable, "-m", "logwright.cli", "store", "copy", src, dst]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "LOGWRIGHT_FLUSH_INTERVAL": "0.05"})
    deadline = time.monotonic() + 120
    while _dst_runs(dst) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert "interrupted" in err and "Run the same command again to finish" in err
    assert 0 < _dst_runs(dst) < 40  # stopped half-way
    rest = _copy(src, dst, capsys)
    assert "copied" in rest
    assert _snapshot(dst)["runs"] == _snapshot(src)["runs"]
    assert _copy(src, dst, capsys).startswith("nothing to copy")


def test_copy_sqlite_to_postgres_and_s3_and_back(tmp_path, capsys, postgres_uri, s3_uri):
    src, back = str(tmp_path / "src"), str(tmp_path / "back")
    _fill(src, tmp_path)
    out = _copy(src, postgres_uri, capsys, "--artifact-uri", s3_uri)
    assert "copied 2 experiments, 6 runs" in out
    assert _copy(src, postgres_uri, capsys).startswith("nothing to copy")
    _copy(postgres_uri, back, capsys)
    before = _snapshot(src)
    for uri in (postgres_uri, back):
        after = _snapshot(uri)
        assert after["runs"] == before["runs"], uri
        assert after["traces"] == before["traces"], uri
    assert _copy(postgres_uri, back, capsys).startswith("nothing to copy")


def test_progress_bar_counts_runs_and_traces(tmp_path, capsys):
    from logwright.store.copy import copy_store

    src = str(tmp_path / "src")
    _fill(src, tmp_path)
    counts = copy_store(src, str(tmp_path / "dst"), progress=True)
    bar = capsys.readouterr().err
    assert bar.count("\r[") == 7 and "] 7/7 " in bar and bar.endswith("\n")  # 6 runs, 1 trace
    assert (counts.runs, counts.traces, counts.metric_points) == (6, 1, 313)
