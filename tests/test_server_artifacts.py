"""Artifacts through a real ``logwright server`` process: what an ``http://`` client logs is stored,
byte for byte, in the server's own repository (a SQLite store's folder, or S3 behind PostgreSQL)."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import threading
import time
import urllib.request
from urllib.parse import urlsplit

import pytest

import logwright as lw
from logwright import fluent
from logwright.artifacts import ArtifactUploadError, _tar, for_uri
from logwright.artifacts.http import HttpArtifacts
from logwright.store import close_stores
from logwright.testing.server import ServerProcess

np = pytest.importorskip("numpy")


@pytest.fixture(params=["sqlite", "postgres+s3"])
def server(request, tmp_path, monkeypatch):
    """A server over a SQLite folder store, then over PostgreSQL + moto S3; set as the tracking URI."""
    monkeypatch.setenv("LOGWRIGHT_JOURNAL_DIR", str(tmp_path / "journal"))
    monkeypatch.setenv("LOGWRIGHT_QUIET", "1")
    if request.param == "sqlite":
        process = ServerProcess(str(tmp_path / "store"))
    else:
        artifacts = request.getfixturevalue("s3_uri")  # AWS_ENDPOINT_URL and fake keys: the server inherits them
        monkeypatch.setenv("LOGWRIGHT_ARTIFACT_URI", artifacts)  # for the store opened here to check
        process = ServerProcess(request.getfixturevalue("postgres_uri"), artifacts)
    fluent._reset_for_tests()
    with process:
        lw.set_tracking_uri(process.url)
        try:
            yield process
        finally:
            lw.flush()
            fluent._reset_for_tests()
            close_stores(lambda s: getattr(s, "location", None) == process.url)


def _direct(server: ServerProcess, run_id: str):
    """The run's repository as the server keeps it (its folder or S3 prefix), opened here."""
    client = lw.Client(server.store)
    return client.artifacts(run_id)


def _files(server: ServerProcess, run_id: str) -> set[str]:
    """The run's files in the server's repository, less the run context (a dirty tree's git diff)."""
    return {f.path for f in _direct(server, run_id).walk() if not f.path.startswith("context/")}


def _digest(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _raw(server: ServerProcess, method: str, path: str, body: bytes = b"",
         headers: dict[str, str] | None = None) -> tuple[int, dict]:
    """One request exactly as written (no client-side path normalisation)."""
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, path, body=body if method != "GET" else None, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    return response.status, (json.loads(data) if data.startswith(b"{") else {})


def test_a_20_mb_file_round_trips_byte_equal(server, tmp_path):
    big = tmp_path / "weights.bin"
    big.write_bytes(os.urandom(20 * 1024 * 1024))
    with lw.start_run() as run:
        lw.log_artifact(str(big), "checkpoints")
    run_id = run.info.run_id
    client = lw.Client()
    assert [(f.path, f.file_size) for f in client.list_artifacts(run_id, "checkpoints")] == [
        ("checkpoints/weights.bin", big.stat().st_size)]
    got = client.download_artifacts(run_id, "checkpoints/weights.bin", str(tmp_path / "down"))
    assert _digest(got) == _digest(str(big))
    stored = _direct(server, run_id).download("checkpoints/weights.bin", str(tmp_path / "direct"))
    assert _digest(stored) == _digest(str(big))  # really in the server's repository
    with client.artifacts(run_id).open("checkpoints/weights.bin") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == _digest(str(big))


def test_a_folder_and_text_json_figure_artifacts(server, tmp_path):
    src = tmp_path / "report"
    (src / "tables" / "deep").mkdir(parents=True)
    (src / "summary.md").write_text("# results\n")
    (src / "tables" / "scores.csv").write_text("a,b\n1,2\n")
    (src / "tables" / "deep" / "caf\u00e9 n\u00b01.txt").write_text("unicode")
    (src / "empty.txt").write_bytes(b"")
    with lw.start_run() as run:
        lw.log_artifacts(str(src), "report")
        lw.log_text("hello", "notes/hello.txt")
        lw.log_dict({"lr": 0.1}, "config.json")
        matplotlib = pytest.importorskip("matplotlib")
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.plot([1, 2, 3])
        lw.log_figure(fig, "plots/curve.png")
        plt.close(fig)
    run_id = run.info.run_id
    expected = {"report/summary.md", "report/tables/scores.csv", "report/tables/deep/caf\u00e9 n\u00b01.txt",
                "report/empty.txt", "notes/hello.txt", "config.json", "plots/curve.png"}
    assert _files(server, run_id) == expected
    client = lw.Client()
    assert [f.path for f in client.list_artifacts(run_id, "report")] == [
        "report/tables", "report/empty.txt", "report/summary.md"]
    folder = client.download_artifacts(run_id, "report", str(tmp_path / "down"))
    assert (tmp_path / "down" / "report" / "tables" / "deep" / "caf\u00e9 n\u00b01.txt").read_text() == "unicode"
    assert os.path.getsize(os.path.join(folder, "empty.txt")) == 0
    assert json.loads(client.artifacts(run_id).open("config.json").read()) == {"lr": 0.1}
    with client.artifacts(run_id).open("plots/curve.png") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_log_model_then_load_model_by_run_and_registry(server, tmp_path):
    linear = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(0)
    X = rng.random((40, 3))
    y = (X[:, 0] > 0.5).astype(int)
    model = linear.LogisticRegression().fit(X, y)
    with lw.start_run() as run:
        info = lw.log_model(model, "clf", input_example=X[:2], registered_model_name="churn")
        lw.log_model(model, "clf", input_example=X[:2])  # the same name again replaces the model
        lw.log_text("not a model", "notes/readme.txt")
        with pytest.raises(FileExistsError, match="notes"):
            lw.log_model(model, "notes")  # a folder of other artifacts is not replaced
    expected = model.predict(X)
    assert (lw.load_model(info.model_uri).predict(X) == expected).all()
    assert (lw.load_model("models:/churn/1").predict(X) == expected).all()
    lw.Client().set_registered_model_alias("churn", "champion", 1)
    assert (lw.load_model("models:/churn@champion").predict(X) == expected).all()
    stored = _files(server, run.info.run_id)
    assert "clf/MODEL.json" in stored and "notes/readme.txt" in stored
    assert not any(p.startswith("notes/") and p != "notes/readme.txt" for p in stored)
    assert lw.Client().get_run(run.info.run_id).data.tags["logwright.model.clf"] == "sklearn"


def test_autolog_logs_the_model_through_the_server(server):
    linear = pytest.importorskip("sklearn.linear_model")
    X = np.arange(40, dtype=float).reshape(20, 2)
    y = (X[:, 0] > 20).astype(int)
    lw.autolog()
    try:
        with lw.start_run() as run:
            model = linear.LogisticRegression().fit(X, y)
    finally:
        lw.autolog(disable=True)
    files = _files(server, run.info.run_id)
    assert "model/MODEL.json" in files
    assert (lw.load_model(f"runs:/{run.info.run_id}/model").predict(X) == model.predict(X)).all()


def test_the_ui_artifacts_page_lists_them(server):
    with lw.start_run() as run:
        lw.log_text("col,val\nx,1\n", "tables/t.csv")
        lw.log_text("<b>hi</b>", "notes.txt")
    run_id = run.info.run_id
    with urllib.request.urlopen(f"{server.url}/runs/{run_id}/artifacts", timeout=30) as response:
        page = response.read().decode()
    assert "tables" in page and "notes.txt" in page
    with urllib.request.urlopen(f"{server.url}/api/runs/{run_id}/artifacts?path=tables", timeout=30) as response:
        listing = json.loads(response.read())
    assert [e["path"] for e in listing["entries"]] == ["tables/t.csv"]
    with urllib.request.urlopen(f"{server.url}/runs/{run_id}/artifact?path=notes.txt", timeout=30) as response:
        assert response.read() == b"<b>hi</b>"


def test_paths_that_leave_the_run_are_refused(server, tmp_path):
    with lw.start_run() as run:
        lw.log_text("inside", "ok.txt")
    base = f"/api/v1/artifacts/{run.info.run_id}"
    for path in ("../../../escape.txt", "%2e%2e/%2e%2e/escape.txt", "/tmp/escape.txt", ".logwright-tmp-x",
                 "a/../../escape.txt"):
        status, answer = _raw(server, "PUT", f"{base}/{path}", b"evil")
        assert status == 400, (path, status, answer)
        assert _raw(server, "GET", f"{base}/{path}")[0] == 400
    assert _raw(server, "PUT", "/api/v1/artifacts/..%2F..%2Fx/y.txt", b"evil")[0] in (400, 404)
    assert _files(server, run.info.run_id) == {"ok.txt"}
    assert not list(tmp_path.rglob("escape.txt"))
    with pytest.raises(ValueError, match="escapes"):
        lw.Client().log_text(run.info.run_id, "x", "../escape.txt")


def test_a_folder_that_changed_since_it_was_approved_is_not_replaced(server, tmp_path):
    with lw.start_run() as run:
        lw.log_text("someone else's", "target/a.txt")
    new = tmp_path / "MODEL.json"
    new.write_text("{}")
    members = [_tar.member("MODEL.json", str(new))]
    status, answer = _raw(server, "POST", f"/api/v1/artifacts/{run.info.run_id}/target?mode=replace&marker=MODEL.json",
                          b"".join(_tar.stream(members)), {"X-Logwright-Existing": "absent"})
    assert (status, answer["type"]) == (409, "ListingChanged")
    assert _files(server, run.info.run_id) == {"target/a.txt"}


def test_an_upload_cut_short_stores_nothing(server):
    with lw.start_run() as run:
        lw.log_text("x", "kept.txt")
    parts = urlsplit(server.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(f"PUT /api/v1/artifacts/{run.info.run_id}/cut.bin HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                     "Content-Length: 10000000\r\n\r\n".encode() + os.urandom(300_000))
    repo = lw.Client().artifacts(run.info.run_id)
    time.sleep(0.5)  # let the server notice the cut connection
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _leftovers(server, run.info.run_id):
        time.sleep(0.1)
    assert repo.kind("cut.bin") is None and _files(server, run.info.run_id) == {"kept.txt"}
    assert not _leftovers(server, run.info.run_id)


def _leftovers(server: ServerProcess, run_id: str) -> list[str]:
    """logwright's hidden temporary names left in a local run folder (none to see on S3)."""
    repo = _direct(server, run_id)
    root = getattr(repo, "root", "")
    if "://" in root or not os.path.isdir(root):
        return []
    return [name for _, dirs, files in os.walk(root) for name in dirs + files if name.startswith(".logwright-")]


def test_a_read_only_server_refuses_puts_with_403(tmp_path, monkeypatch):
    monkeypatch.setenv("LOGWRIGHT_JOURNAL_DIR", str(tmp_path / "journal"))
    store = str(tmp_path / "store")
    local = lw.Client(store)
    run_id = local.create_run(None, run_name="seeded").info.run_id
    local.log_text(run_id, "kept", "a.txt")
    local.flush()
    with ServerProcess(store, args=["--read-only"]) as server:
        status, answer = _raw(server, "PUT", f"/api/v1/artifacts/{run_id}/b.txt", b"x" * 100_000)
        assert status == 403 and "read-only" in answer["error"]
        repo = for_uri(f"{server.url}/api/v1/artifacts/{run_id}")
        assert isinstance(repo, HttpArtifacts)
        with pytest.raises(ArtifactUploadError, match="'c.txt'.*read-only"):
            repo.write_bytes("c.txt", b"y")
        folder = tmp_path / "folder"
        folder.mkdir()
        (folder / "f.txt").write_text("z")
        with pytest.raises(ArtifactUploadError, match="403"):
            repo.log_dir(str(folder), "d")
        assert repo.open("a.txt").read() == b"kept"  # reading is still allowed
    assert {f.path for f in local.artifacts(run_id).walk() if not f.path.startswith("context/")} == {"a.txt"}


def test_an_upload_waits_for_a_restarting_server(server, tmp_path, monkeypatch):
    data = tmp_path / "data.bin"
    data.write_bytes(os.urandom(3 * 1024 * 1024))
    with lw.start_run() as run:
        lw.log_text("before", "before.txt")
        server.stop()
        restarter = threading.Timer(1.5, server.start)
        restarter.start()
        try:
            lw.log_artifact(str(data))  # retried with backoff until the server is back
        finally:
            restarter.join()
    stored = _direct(server, run.info.run_id).download("data.bin", str(tmp_path / "down"))
    assert _digest(stored) == _digest(str(data))
    server.stop()
    monkeypatch.setenv("LOGWRIGHT_HTTP_RETRY", "1")
    repo = for_uri(f"{server.url}/api/v1/artifacts/{run.info.run_id}")
    started = time.monotonic()
    with pytest.raises(ArtifactUploadError, match="'data.bin'.*cannot reach"):
        repo.log_file(str(data))
    assert time.monotonic() - started < 30
    server.start()


@pytest.mark.sqlite_only(reason="checks the server's store folder for the shared copy")
def test_shared_content_is_stored_once_on_the_server(tmp_path, monkeypatch):
    monkeypatch.setenv("LOGWRIGHT_JOURNAL_DIR", str(tmp_path / "journal"))
    store = str(tmp_path / "store")
    with ServerProcess(store) as server:
        client = lw.Client(server.url)
        runs = [client.create_run(None).info.run_id for _ in range(2)]
        client.flush()
        for run_id in runs:
            client.artifacts(run_id).write_shared("context/git.diff", b"diff --git a b\n", "ignored")
        local = lw.Client(store)
        paths = [local.artifacts(r).path("context/git.diff") for r in runs]
        assert [open(p, "rb").read() for p in paths] == [b"diff --git a b\n"] * 2
        assert os.stat(paths[0]).st_ino == os.stat(paths[1]).st_ino  # one copy, linked into both runs
        for run_id in runs:
            client.set_terminated(run_id)
        client.flush()
        close_stores(lambda s: getattr(s, "location", None) == server.url)
