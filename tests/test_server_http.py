"""The http:// tracking URI against a real ``logwright server`` process: what a user logs is there."""

from __future__ import annotations

import gzip
import json
import math
import urllib.error
import urllib.request

import pytest

import logwright as lw
from logwright import fluent
from logwright.entities import RunStatus
from logwright.exceptions import InvalidFilter, ParamConflict, RunNotFound, StoreError
from logwright.store import wire
from logwright.testing.server import ServerProcess


@pytest.fixture
def server(tracking_server: ServerProcess):
    """The server, set as this process's tracking URI."""
    fluent._reset_for_tests()
    lw.set_tracking_uri(tracking_server.url)
    yield tracking_server
    lw.flush()
    fluent._reset_for_tests()


def _direct(server: ServerProcess) -> lw.Client:
    """The server's own store, opened directly (to check what really landed)."""
    return lw.Client(server.store)


def test_a_run_logged_through_the_server_is_in_its_store(server):
    with lw.start_run(run_name="remote", description="through http") as run:
        lw.log_params({"lr": 0.01, "layers": 3})
        for step in range(2_000):
            lw.log_metric("loss", 1.0 / (step + 1), step=step)
        lw.log_metric("weird", math.nan)
        lw.set_tags({"team": "vision", "emoji": "caf\u00e9 \U0001f600"})
        with lw.start_run(run_name="child", nested=True) as child:
            lw.log_metric("acc", 0.5)
    stored = _direct(server).get_run(run.info.run_id)
    assert stored.info.status == RunStatus.FINISHED and stored.info.run_name == "remote"
    assert stored.info.description == "through http"
    assert stored.data.params == {"lr": "0.01", "layers": "3"}
    assert stored.data.tags["emoji"] == "caf\u00e9 \U0001f600"
    history = _direct(server).get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(s, 1.0 / (s + 1)) for s in range(2_000)]
    assert math.isnan(stored.data.metrics["weird"])
    assert _direct(server).get_run(child.info.run_id).info.parent_run_id == run.info.run_id
    # and the client reads the same back through the API
    remote = lw.get_run(run.info.run_id)
    assert remote.data.params == stored.data.params and remote.info.end_time == stored.info.end_time
    assert remote.info.artifact_uri == f"{server.url}/api/v1/artifacts/{run.info.run_id}"
    found = lw.search_runs(filter_string="params.lr = '0.01'")
    assert [r.info.run_id for r in found] == [run.info.run_id]


def test_traces_go_through_the_server(server):
    @lw.trace(name="answer")
    def answer(question: str) -> str:
        with lw.start_span("lookup", kind="RETRIEVER") as span:
            span.set_outputs(["doc"])
        return question.upper()

    with lw.start_run() as run:
        answer("why?")
    traces = _direct(server).store.search_traces(run_id=run.info.run_id)
    assert len(traces) == 1
    trace = _direct(server).store.get_trace(traces[0].info.trace_id)
    assert [s.name for s in trace.spans] == ["answer", "lookup"]
    assert trace.spans[0].outputs == "WHY?" and trace.spans[1].outputs == ["doc"]


def test_errors_come_back_as_the_exceptions_a_local_store_raises(server):
    client = lw.Client()
    with pytest.raises(RunNotFound) as info:
        client.get_run("0" * 32)
    assert info.value.run_id == "0" * 32
    with pytest.raises(InvalidFilter, match="position"):
        client.search_runs(filter_string="metrics.acc >>> 1")
    with lw.start_run():
        lw.log_param("seed", 1)
        with pytest.raises(ParamConflict, match="seed"):
            lw.log_param("seed", 2)


def test_the_registry_works_through_the_server(server):
    with lw.start_run() as run:
        pass
    client = lw.Client()
    version = client.store.create_model_version("ranker", f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    client.store.set_registered_model_alias("ranker", "champion", version.version)
    assert client.store.get_model_version_by_alias("ranker", "champion").version == 1
    assert _direct(server).store.get_registered_model("ranker").aliases == {"champion": 1}


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_batch_sent_twice_is_applied_once(server):
    with lw.start_run() as run:
        pass
    ops = [("metric", run.info.run_id, "m", float(i), 1_000 + i, i) for i in range(100)]
    body = wire.batch_body("client-under-test", 1, ops)
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    first = _post(f"{server.url}/api/v1/writes", body, headers)
    again = _post(f"{server.url}/api/v1/writes", body, headers)
    assert first == (200, {"seq": 1, "applied": True, "ops": 100})
    assert again == (200, {"seq": 1, "applied": False, "ops": 100})
    assert len(_direct(server).get_metric_history(run.info.run_id, "m")) == 100


def test_a_malformed_batch_is_refused_with_400_and_nothing_written(server):
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    bad = gzip.compress(json.dumps({"client": "c", "seq": 1, "ops": [["drop_table", "runs"]]}).encode())
    status, answer = _post(f"{server.url}/api/v1/writes", bad, headers)
    assert status == 400 and "not a write operation" in answer["error"]
    status, answer = _post(f"{server.url}/api/v1/writes", b"not gzip", headers)
    assert status == 400
    status, answer = _post(f"{server.url}/api/v1/store/create_token", b"{}", {"Content-Type": "application/json"})
    assert status == 404  # tokens are managed on the server's machine only


def test_health_and_info(server):
    with urllib.request.urlopen(server.url + "/health", timeout=10) as response:
        assert json.loads(response.read()) == {"status": "ok"}
    with urllib.request.urlopen(server.url + "/api/v1/info", timeout=10) as response:
        info = json.loads(response.read())
    assert info["server"] == "logwright" and info["api"] == 1 and info["read_only"] is False


def test_a_read_only_server_refuses_writes_at_the_call(tmp_path, monkeypatch):
    monkeypatch.setenv("LOGWRIGHT_JOURNAL_DIR", str(tmp_path / "journal"))
    store = str(tmp_path / "store")
    local = lw.Client(store)
    run_id = local.create_run(None, run_name="seeded").info.run_id
    local.set_terminated(run_id)
    local.flush()
    with ServerProcess(store, args=["--read-only"]) as server:
        fluent._reset_for_tests()
        lw.set_tracking_uri(server.url)
        try:
            assert lw.get_run(run_id).info.run_name == "seeded"
            with pytest.raises(StoreError, match="read"):
                lw.Client().log_metric(run_id, "m", 1.0)
        finally:
            fluent._reset_for_tests()
    assert local.get_metric_history(run_id, "m") == []


@pytest.mark.sqlite_only(reason="locks the server's SQLite file from another connection")
def test_a_batch_the_store_cannot_take_now_gets_503_and_is_applied_once_when_retried(tmp_path, monkeypatch):
    import sqlite3

    monkeypatch.setenv("LOGWRIGHT_JOURNAL_DIR", str(tmp_path / "journal"))
    store = str(tmp_path / "store")
    local = lw.Client(store)
    run_id = local.create_run(None).info.run_id
    local.flush()
    env = {**__import__("os").environ, "LOGWRIGHT_SERVER_FLUSH_WAIT": "1"}
    with ServerProcess(store, env=env) as server:
        body = wire.batch_body("locked-client", 1, [("metric", run_id, "m", float(i), 1_000 + i, i) for i in range(50)])
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        db = sqlite3.connect(f"{store}/logwright.db", timeout=60)
        db.execute("BEGIN EXCLUSIVE")  # another process holds the database
        try:
            first = _post(f"{server.url}/api/v1/writes", body, headers)
            second = _post(f"{server.url}/api/v1/writes", body, headers)  # the client's retry
        finally:
            db.execute("ROLLBACK")
            db.close()
        third = _post(f"{server.url}/api/v1/writes", body, headers)
    assert first[0] == 503 and second[0] == 503 and "retry" in first[1]["error"]
    assert third[0] == 200
    assert [m.step for m in local.get_metric_history(run_id, "m")] == list(range(50))  # once, not twice
