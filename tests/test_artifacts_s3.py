"""Artifacts in a local folder and in S3 (moto's real HTTP server), through one set of tests.

Every test taking ``artifact_backend`` runs twice: artifacts in the store's folder, then
in a fresh bucket of moto's standalone server (``logwright.testing.s3``). What a user
does (log, list, download, load a model, open the UI's artifact page) must read the same.
"""

from __future__ import annotations

import json
import os

import httpx
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import logwright as lw
from logwright.artifacts import ArtifactUploadError, for_uri
from logwright.models import register_flavour
from logwright.testing.artifacts import artifact_files


def _model(seed: int = 0) -> tuple[LogisticRegression, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] + (1 if seed else -1) * X[:, 1] > 0).astype(int)
    return LogisticRegression().fit(X, y), X




def test_artifact_uri_is_recorded_per_experiment(artifact_backend):
    with lw.start_run() as run:
        lw.log_text("hi", "a.txt")
    exp = lw.Client().get_experiment(run.info.experiment_id)
    uri = lw.get_run(run.info.run_id).info.artifact_uri
    if artifact_backend.remote:
        assert exp.artifact_location == f"{artifact_backend.artifact_uri}/Default"
        assert uri == f"{exp.artifact_location}/{run.info.run_id}"
    else:
        assert uri == os.path.join(exp.artifact_location, run.info.run_id) and os.path.isdir(uri)
    assert for_uri(uri).list() == lw.list_artifacts(run.info.run_id)


def test_log_list_download_round_trip(artifact_backend, tmp_path):
    src = tmp_path / "src"
    (src / "deep" / "er").mkdir(parents=True)
    (src / "a.csv").write_bytes(b"x,y\n1,2\n")
    (src / "deep" / "er" / "b.bin").write_bytes(bytes(range(256)))
    with lw.start_run() as run:
        assert lw.log_artifact(str(src / "a.csv")) == "a.csv"
        assert lw.log_artifacts(str(src), "tree") == "tree"
        lw.log_text("héllo", "notes/hello.txt")
        lw.log_dict({"lr": 0.1, "nan": float("nan")}, "config.json")
    rid = run.info.run_id
    client = lw.Client()
    top = [f for f in client.list_artifacts(rid) if f.path != "context"]  # git.diff of a dirty tree
    assert [(f.path, f.is_dir) for f in top] == [("notes", True), ("tree", True), ("a.csv", False),
                                                 ("config.json", False)]
    assert [(f.path, f.file_size) for f in client.list_artifacts(rid, "tree/deep/er")] == [("tree/deep/er/b.bin", 256)]
    got = client.download_artifacts(rid, "tree", str(tmp_path / "dl"))
    assert open(os.path.join(got, "deep", "er", "b.bin"), "rb").read() == bytes(range(256))
    assert open(os.path.join(got, "a.csv"), "rb").read() == b"x,y\n1,2\n"
    one = client.download_artifacts(rid, "notes/hello.txt", str(tmp_path / "one"))
    assert open(one, encoding="utf-8").read() == "héllo"
    assert json.loads(artifact_files(rid)["config.json"])["lr"] == 0.1
    with pytest.raises(FileNotFoundError):
        client.download_artifacts(rid, "missing.txt", str(tmp_path / "none"))
    with pytest.raises(ValueError, match="escapes"):
        client.download_artifacts(rid, "../other", str(tmp_path / "none"))


def test_log_figure(artifact_backend):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 3, 2])
    with lw.start_run() as run:
        assert lw.log_figure(fig, "plots/curve.png") == "plots/curve.png"
    plt.close(fig)
    data = artifact_files(run.info.run_id)["plots/curve.png"]
    assert data.startswith(b"\x89PNG")


def test_sklearn_model_round_trip_and_replace(artifact_backend):
    model, X = _model()
    with lw.start_run() as run:
        info = lw.log_model(model, "models/clf", input_example=X[:3])
        again, _ = _model(seed=1)
        lw.log_model(again, "models/clf", serialization="pickle")
    rid = run.info.run_id
    files = artifact_files(rid)
    assert sorted(p for p in files if p.startswith("models/")) == ["models/clf/MODEL.json", "models/clf/model.pkl"]
    assert json.loads(files["models/clf/MODEL.json"])["artifact_path"] == "models/clf"
    assert np.array_equal(lw.load_model(info.model_uri).predict(X), again.predict(X))
    assert lw.get_run(rid).data.tags["logwright.model.models/clf"] == "sklearn"
    meta = lw.models.read_model_metadata(info.model_uri)
    assert meta["flavour"] == "sklearn"


def test_torch_model_round_trip(artifact_backend):
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(torch.nn.Linear(3, 2))
    x = torch.randn(4, 3)
    with lw.start_run():
        info = lw.log_model(net, "net", input_example=x)
    loaded = lw.load_model(info.model_uri)
    assert torch.allclose(loaded(x), net(x))


def test_large_file_goes_up_in_parts(artifact_backend, tmp_path):
    big = tmp_path / "weights.bin"
    block = os.urandom(1 << 20)
    with open(big, "wb") as fh:
        for i in range(17):
            fh.write(bytes([i]) + block[1:])
    with lw.start_run() as run:
        lw.log_artifact(str(big), "ckpt")
    got = lw.Client().download_artifacts(run.info.run_id, "ckpt/weights.bin", str(tmp_path / "dl"))
    assert open(got, "rb").read() == big.read_bytes()
    if artifact_backend.remote:
        repo = lw.Client().artifacts(run.info.run_id)
        head = repo._s3.head_object(Bucket=repo.bucket, Key=repo._key("ckpt/weights.bin"))
        assert head["ContentLength"] == 17 << 20
        assert head["ETag"].strip('"').endswith("-3")  # 17 MB in 8 MB parts: a 3-part upload


def test_ui_artifact_pages(artifact_backend):
    pytest.importorskip("uvicorn")
    from logwright.server.sample import serve

    model, X = _model()
    with lw.start_run() as run:
        lw.log_text("line one\nline two\n", "logs/train.log")
        lw.log_dict({"a": 1}, "config.json")
        lw.log_model(model, "model", input_example=X[:2])
    rid = run.info.run_id
    lw.flush()
    with serve(artifact_backend.tracking_uri) as url, httpx.Client(base_url=url) as http:
        listing = http.get(f"/api/runs/{rid}/artifacts").json()
        assert {e["path"] for e in listing["entries"]} >= {"logs", "model", "config.json"}
        page = http.get(f"/runs/{rid}/artifacts", params={"path": "logs/train.log"})
        assert page.status_code == 200 and "line two" in page.text
        preview = http.get(f"/api/runs/{rid}/artifacts", params={"path": "config.json"}).json()["file"]
        assert preview["kind"] == "json" and preview["size"] == len(json.dumps({"a": 1}, indent=2))
        raw = http.get(f"/runs/{rid}/artifact", params={"path": "logs/train.log", "download": "1"})
        assert raw.status_code == 200 and raw.content == b"line one\nline two\n"
        assert "attachment" in raw.headers["content-disposition"]
        assert raw.headers["x-content-type-options"] == "nosniff"
        (card,) = http.get(f"/api/runs/{rid}").json()["models"]
        assert card["path"] == "model" and card["flavour"] == "sklearn" and card["error"] is None
        assert http.get(f"/runs/{rid}/artifact", params={"path": "nope.txt"}).status_code == 404
        assert http.get(f"/runs/{rid}/artifacts", params={"path": "../x"}).status_code == 400


# -- failed uploads (S3 only) ----------------------------------------------------------------


class _Files:
    """A flavour writing four files (three parts and a manifest), to fail an upload half-way."""

    name = "files"

    def can_log(self, model):
        return isinstance(model, dict) and model.get("kind") == "files"

    def save(self, model, path, **kw):
        for i in range(3):
            with open(os.path.join(path, f"part{i}.bin"), "wb") as fh:
                fh.write(bytes([i]) * 1000)
        return {}

    def load(self, path, meta):
        return sorted(os.listdir(path))

    def requirements(self):
        return []


_FAULT = "logwright-test-fault"


def _fail_puts(repo, fail_on: set[int], status: int = 503) -> list[str]:
    """Answer PutObject calls numbered in ``fail_on`` (1-based) with ``status`` before they are sent."""
    from botocore.awsrequest import AWSResponse

    calls: list[str] = []

    class _Raw:
        def stream(self, **kw):
            yield b""

    def before_send(request, **kw):
        if request.method != "PUT":
            return None
        calls.append(request.url)
        if len(calls) in fail_on:
            return AWSResponse(request.url, status, {}, _Raw())
        return None

    repo._s3.meta.events.register("before-send.s3.PutObject", before_send, unique_id=_FAULT)
    return calls


@pytest.fixture
def s3_run(artifact_backend):
    if not artifact_backend.remote:
        pytest.skip("upload faults are an object-store matter")
    register_flavour(_Files())
    with lw.start_run() as run:
        lw.flush()  # the run's context files are stored: the uploads counted below are the model's
        yield run


def test_failed_model_upload_keeps_nothing_and_says_so(s3_run):
    repo = lw.Client().artifacts(s3_run.info.run_id)
    calls = _fail_puts(repo, fail_on=set(range(2, 100)))  # the second file fails, every retry too
    try:
        with pytest.raises(ArtifactUploadError, match=r"could not store 'model/part1.bin' in s3://.*after retries"):
            lw.log_model({"kind": "files"}, "model")
    finally:
        repo._s3.meta.events.unregister("before-send.s3.PutObject", unique_id=_FAULT)
    assert len(calls) >= 3  # retried
    assert [f.path for f in repo.walk() if f.path.startswith("model")] == []  # part0 was uploaded, then deleted
    assert "logwright.model.model" not in lw.get_run(s3_run.info.run_id).data.tags
    with pytest.raises(FileNotFoundError, match="not a logged model"):
        lw.load_model(f"runs:/{s3_run.info.run_id}/model")


def test_transient_upload_faults_are_retried(s3_run):
    repo = lw.Client().artifacts(s3_run.info.run_id)
    _fail_puts(repo, fail_on={1, 2, 4})
    try:
        info = lw.log_model({"kind": "files"}, "model")
    finally:
        repo._s3.meta.events.unregister("before-send.s3.PutObject", unique_id=_FAULT)
    assert lw.load_model(info.model_uri) == ["MODEL.json", "part0.bin", "part1.bin", "part2.bin"]


def test_model_json_is_written_last(s3_run):
    repo = lw.Client().artifacts(s3_run.info.run_id)
    calls = _fail_puts(repo, fail_on=set())
    try:
        lw.log_model({"kind": "files"}, "model")
    finally:
        repo._s3.meta.events.unregister("before-send.s3.PutObject", unique_id=_FAULT)
    names = [c.rsplit("/", 1)[1].split("?")[0] for c in calls]
    assert names[-1] == "MODEL.json" and sorted(names[:-1]) == ["part0.bin", "part1.bin", "part2.bin"]


def test_server_stopped_mid_upload_is_a_clear_error(artifact_backend, tmp_path, monkeypatch):
    if not artifact_backend.remote:
        pytest.skip("a stopped server is an object-store matter")
    from logwright.testing.s3 import start_moto

    server = start_moto()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint)
        monkeypatch.setenv("LOGWRIGHT_S3_MAX_ATTEMPTS", "2")
        lw.set_tracking_uri(artifact_backend.tracking_uri, artifact_uri="s3://doomed/artifacts")
        from logwright.artifacts import s3

        s3.client().create_bucket(Bucket="doomed")
        lw.set_experiment("doomed")
        src = tmp_path / "src"
        src.mkdir()
        for i in range(4):
            (src / f"f{i}.txt").write_text(str(i))
        with lw.start_run() as run:
            repo = lw.Client().artifacts(run.info.run_id)
            repo._s3.meta.events.register("before-send.s3.PutObject", unique_id=_FAULT,
                                          handler=lambda request, **kw: server.stop() if request.url.endswith("/files/f2.txt") else None)
            try:
                with pytest.raises(ArtifactUploadError, match=r"could not store 'files/f2.txt'.*was not stored"):
                    lw.log_artifacts(str(src), "files")
            finally:
                repo._s3.meta.events.unregister("before-send.s3.PutObject", unique_id=_FAULT)
    finally:
        server.stop()


def test_a_local_run_of_a_store_rooted_in_s3_keeps_its_shared_copy_locally(tmp_path, monkeypatch):
    """A run folder on disk never writes its shared copy to a folder named 's3:' in the cwd."""
    from logwright.artifacts.local import LocalArtifacts

    monkeypatch.chdir(tmp_path)
    run_dir = tmp_path / "root" / "exp" / "run"
    repo = LocalArtifacts(str(run_dir))
    assert repo.write_shared("context/git.diff", b"diff", "s3://bucket/artifacts/.shared") == "context/git.diff"
    assert (run_dir / "context" / "git.diff").read_bytes() == b"diff"
    assert not (tmp_path / "s3:").exists()
    assert list((tmp_path / "root" / ".shared").iterdir())
