"""A real ``logwright server`` process for tests: start, kill -9, restart on the same port.

``tracking_server`` (a fixture) serves a fresh store of the session's backend (a SQLite
folder in ``tmp_path``, or under ``--store-backend=postgres+s3`` and ``server`` a fresh
PostgreSQL database with a fresh S3 bucket) and yields a :class:`ServerProcess`.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence

import pytest

_SERVING = re.compile(r"at (http://[^/\s]+)/")


class ServerProcess:
    """``logwright server`` in a child process.

    Args:
        store: the ``--store`` URI.
        artifacts: the ``--artifacts`` URI, or None.
        args: more command-line arguments (``--auth``, ``--workers 2`` ...).
        env: environment of the child (default: this process's).
    """

    def __init__(self, store: str, artifacts: str | None = None, args: Sequence[str] = (),
                 env: dict[str, str] | None = None) -> None:
        self.store, self.artifacts, self.args = store, artifacts, list(args)
        self.env = dict(os.environ if env is None else env)
        self.env.pop("LOGWRIGHT_TRACKING_URI", None)
        self.env.setdefault("LOGWRIGHT_QUIET", "1")
        self.port = 0
        self.url = ""
        self.proc: subprocess.Popen[str] | None = None

    def command(self) -> list[str]:
        """The command line that starts the server."""
        cmd = [sys.executable, "-m", "logwright.cli", "server", "--store", self.store, "--create",
               "--port", str(self.port)]
        if self.artifacts:
            cmd += ["--artifacts", self.artifacts]
        return cmd + self.args

    def start(self, timeout: float = 60.0) -> ServerProcess:
        """Start the server and wait until it listens (the same port again after the first start)."""
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=self.env, start_new_session=True)
        deadline = time.monotonic() + timeout
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        match = _SERVING.search(line)
        if not match:
            err = self.proc.stderr.read() if self.proc.stderr and self.proc.poll() is not None else ""
            self.stop()
            raise RuntimeError(f"logwright server did not start: {line!r} {err}")
        self.url = match.group(1)
        self.port = int(self.url.rsplit(":", 1)[1])
        while time.monotonic() < deadline:
            if self.healthy():
                return self
            time.sleep(0.05)
        raise RuntimeError("logwright server did not answer /health")

    def healthy(self) -> bool:
        """True when ``/health`` answers 200."""
        import urllib.request

        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL the server (and its workers), as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """Stop the server with SIGTERM (SIGKILL after 10 s)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()

    def restart(self) -> ServerProcess:
        """Start again on the same port, over the same store."""
        self.stop()
        return self.start()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def server_store(request: pytest.FixtureRequest, tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str | None]:
    """The (store, artifacts) a test's server serves: PostgreSQL + S3 under those backends, else a folder."""
    from logwright.testing import backends

    if backends.backend(request.config) in (backends.POSTGRES_S3, backends.SERVER):
        return backends.team_store(request, monkeypatch)
    return str(tmp_path / "server-store"), None  # type: ignore[operator]


@pytest.fixture
def tracking_server(request: pytest.FixtureRequest, tmp_path, monkeypatch) -> Iterator[ServerProcess]:
    """A running ``logwright server`` over a fresh store; its journal folder is in ``tmp_path``."""
    monkeypatch.setenv("LOGWRIGHT_JOURNAL_DIR", str(tmp_path / "journal"))
    store, artifacts = server_store(request, tmp_path, monkeypatch)
    server = ServerProcess(store, artifacts)
    server.start()
    try:
        yield server
    finally:
        from logwright import store as stores

        # A later test's server may get the same port: its clients must not reuse this one's store.
        stores.close_stores(lambda s: getattr(s, "location", None) == server.url)
        server.stop()
