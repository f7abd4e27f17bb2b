"""S3 fixtures: moto's standalone server on 127.0.0.1, a fresh bucket per test, and
``artifact_backend``, which runs a test once with local artifacts and once with S3.

moto (``pip install 'moto[server]'``, in logwright's ``dev`` extra) is started once
per session as a real HTTP server (``python -m moto.server``) on a free port; boto3
talks to it through ``AWS_ENDPOINT_URL`` with fake credentials, exactly as it would to
MinIO. Without moto the S3 cases are skipped with the reason, except under CI
(``CI=true``), where they fail.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

FAKE_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _missing(what: str) -> None:
    reason = f"{what}: install logwright's dev extra (pip install 'moto[server]' boto3)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} - CI must run the S3 tests", pytrace=False)
    pytest.skip(reason)


@dataclass
class MotoServer:
    """A running moto server: its ``endpoint`` URL and process."""

    endpoint: str
    process: subprocess.Popen

    def stop(self) -> None:
        """Stop the server (its buckets are gone)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_moto(timeout: float = 30.0) -> MotoServer:
    """Start ``python -m moto.server`` on 127.0.0.1 and a free port; returns once it answers."""
    port = _free_port()
    # Its request log goes to a file: a pipe nobody reads fills up and stalls the server.
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"moto server exited: {log.read().decode(errors='replace')[-2000:]}")
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
            return MotoServer(endpoint, proc)
        except OSError:
            time.sleep(0.1)
    MotoServer(endpoint, proc).stop()
    raise RuntimeError(f"moto server did not answer on {endpoint} within {timeout} s")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """moto's S3 server for the session (skipped outside CI when moto or boto3 is missing)."""
    for module in ("moto", "boto3"):
        if importlib.util.find_spec(module) is None:
            _missing(f"{module} is not installed")
    server = start_moto()
    yield server
    server.stop()


@pytest.fixture
def s3_uri(moto_server, monkeypatch) -> str:
    """A fresh bucket on the moto server, with AWS_ENDPOINT_URL and fake credentials set;
    returns ``s3://<bucket>/artifacts``."""
    for key, value in {**FAKE_ENV, "AWS_ENDPOINT_URL": moto_server.endpoint}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    from logwright.artifacts import s3

    bucket = f"lw-{uuid.uuid4().hex[:16]}"
    s3.client().create_bucket(Bucket=bucket)
    return f"s3://{bucket}/artifacts"


@dataclass
class ArtifactBackend:
    """Where a test's runs keep their files: ``kind`` is ``local`` or ``s3``."""

    kind: str
    tracking_uri: str
    artifact_uri: str | None

    @property
    def remote(self) -> bool:
        """True for S3."""
        return self.kind == "s3"


@pytest.fixture(params=["local", "s3"])
def artifact_backend(request, tmp_store, tmp_path, monkeypatch) -> ArtifactBackend:
    """The test runs twice: artifacts in the store's folder, then in a moto S3 bucket
    (``set_tracking_uri(store, artifact_uri="s3://...")``). On a PostgreSQL ``tmp_store``
    (``--store-backend=postgres+s3``) the local case is a folder in ``tmp_path``."""
    import logwright

    if request.param == "local":
        if "://" not in tmp_store:
            return ArtifactBackend("local", tmp_store, None)
        folder = str(tmp_path / "artifacts")
        monkeypatch.setenv("LOGWRIGHT_ARTIFACT_URI", folder)
        logwright.set_tracking_uri(tmp_store, artifact_uri=folder)
        return ArtifactBackend("local", tmp_store, folder)

    uri = request.getfixturevalue("s3_uri")
    logwright.set_tracking_uri(tmp_store, artifact_uri=uri)
    return ArtifactBackend("s3", tmp_store, uri)
