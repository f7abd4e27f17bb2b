"""A real Arize Phoenix, started from its own venv, that logwright exports traces to.

Phoenix lives in ``.phoenix-venv`` (built by ``scripts/phoenix-check``) or in the Python
named by ``$LOGWRIGHT_PHOENIX_PYTHON``, never in ``.venv``; without it these tests skip.
Spans are read back through Phoenix's REST API (``GET /v1/projects/<name>/spans``, what
``phoenix.client.Client().spans.get_spans`` calls), with attributes as Phoenix stores them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

import logwright
from logwright import tracing

_ROOT = Path(__file__).resolve().parents[2]
if importlib.util.find_spec("langchain_core") is None or importlib.util.find_spec("dspy") is None:
    collect_ignore_glob = ["test_*.py"]  # the workloads need both frameworks


def _phoenix_python() -> str | None:
    named = os.environ.get("LOGWRIGHT_PHOENIX_PYTHON")
    if named:
        return shutil.which(named)
    venv = _ROOT / ".phoenix-venv" / "bin" / "python"
    return str(venv) if venv.exists() else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PhoenixServer:
    """``python -m phoenix.server.main serve`` on 127.0.0.1, stoppable and restartable."""

    def __init__(self, python: str, folder: Path) -> None:
        self.python, self.folder = python, folder
        self.port, self.grpc_port = _free_port(), _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 180.0) -> None:
        """Start Phoenix (its data stays in ``folder`` across restarts) and wait until it answers."""
        env = {**os.environ, "PHOENIX_HOST": "127.0.0.1", "PHOENIX_PORT": str(self.port),
               "PHOENIX_GRPC_PORT": str(self.grpc_port), "PHOENIX_WORKING_DIR": str(self.folder),
               "PHOENIX_TELEMETRY_ENABLED": "false"}
        log = open(self.folder / "phoenix.log", "ab")  # noqa: SIM115 - the child holds it
        self.process = subprocess.Popen([self.python, "-m", "phoenix.server.main", "serve"], env=env,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Phoenix exited: {(self.folder / 'phoenix.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"Phoenix did not answer on {self.url} within {timeout} s")

    def stop(self) -> None:
        """End Phoenix's process group; nothing listens on the port afterwards."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def spans(self, project: str) -> list[dict]:
        """Every span Phoenix stores under ``project`` (empty when it has no such project)."""
        out: list[dict] = []
        cursor = None
        while True:
            query = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
            url = f"{self.url}/v1/projects/{urllib.parse.quote(project, safe='')}/spans?" + urllib.parse.urlencode(query)
            try:
                with urllib.request.urlopen(url, timeout=30) as response:
                    payload = json.loads(response.read())
            except urllib.error.HTTPError as error:
                if error.code == 404:
                    return out
                raise
            out.extend(payload["data"])
            cursor = payload.get("next_cursor")
            if not cursor or not payload["data"]:
                return out

    def graphql(self, query: str) -> dict:
        """The ``data`` of a query to Phoenix's GraphQL API (what its web UI reads)."""
        request = urllib.request.Request(self.url + "/graphql", data=json.dumps({"query": query}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = json.loads(response.read())
        assert not payload.get("errors"), payload["errors"]
        return payload["data"]

    def wait_for_spans(self, project: str, count: int, timeout: float = 60.0) -> list[dict]:
        """The project's spans once Phoenix has inserted at least ``count`` (it inserts in batches)."""
        deadline = time.monotonic() + timeout
        while True:
            logwright.flush()
            found = self.spans(project)
            if len(found) >= count or time.monotonic() > deadline:
                time.sleep(0.5)  # a duplicate would arrive with the rest; give it the time to
                return self.spans(project)
            time.sleep(0.5)


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory) -> PhoenixServer:
    """A Phoenix server for this module's tests (skips when no Phoenix venv is found)."""
    python = _phoenix_python()
    if python is None:
        pytest.skip("no Phoenix: run scripts/phoenix-check (builds .phoenix-venv) "
                    "or set LOGWRIGHT_PHOENIX_PYTHON")
    server = PhoenixServer(python, tmp_path_factory.mktemp("phoenix"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def to_phoenix(phoenix, tmp_store, tmp_path, monkeypatch) -> PhoenixServer:
    """LOGWRIGHT_OTLP_ENDPOINT set to Phoenix's /v1/traces, LangChain and DSPy autologged."""
    monkeypatch.setenv("LOGWRIGHT_OTLP_SPOOL", str(tmp_path / "spool"))
    monkeypatch.setenv("LOGWRIGHT_OTLP_MAX_BACKOFF", "1")
    monkeypatch.setenv("LOGWRIGHT_OTLP_ENDPOINT", phoenix.url + "/v1/traces")
    tracing._reset_for_tests()
    logwright.autolog(only=["langchain", "dspy"])
    yield phoenix
    logwright.autolog(disable=True)
    logwright.flush()
    monkeypatch.delenv("LOGWRIGHT_OTLP_ENDPOINT")
    tracing._reset_for_tests()
