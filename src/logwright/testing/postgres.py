"""A real PostgreSQL server for tests: Debian's ``postgresql`` binaries, no Docker.

``postgres_server`` (session-scoped) runs ``initdb`` and ``pg_ctl`` in a temporary
folder and listens on 127.0.0.1 on a free port, as the ``postgres`` OS user when the
tests run as root (``initdb`` refuses root). ``postgres_uri`` gives each test a fresh,
empty database on it. Without the binaries the tests that use them skip with the
reason, except under ``CI=true``, where they fail: CI must run them.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

_USER = "postgres"


@dataclass
class PostgresServer:
    """A running test server.

    Attributes:
        host: the address it listens on.
        port: its TCP port.
        user: the database superuser (trust authentication on 127.0.0.1).
        folder: the data folder.
        durable: fsync on, as a real server runs (benchmarks); off for tests.
    """

    host: str
    port: int
    user: str
    folder: str
    durable: bool = False

    def uri(self, database: str = "postgres") -> str:
        """A ``postgresql://`` URI for one database of the server."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def create_database(self) -> str:
        """Create a fresh empty database; returns its name."""
        from logwright.store.postgres import create_database

        name = f"lw_{uuid.uuid4().hex[:16]}"
        create_database(self.uri(), name)
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, ending its connections first."""
        from logwright.store.postgres import drop_database

        drop_database(self.uri(), name)

    def pg_ctl(self, action: str) -> None:
        """Run ``pg_ctl stop`` or ``pg_ctl start`` on the server (tests of outages)."""
        bindir = find_binaries()
        if bindir is None:
            raise RuntimeError("the PostgreSQL binaries are gone")
        args = [os.path.join(bindir, "pg_ctl"), "-D", self.folder, "-w", "-m", "fast", action]
        if action == "start":
            args[-1:] = ["-l", os.path.join(self.folder, "server.log"), "start", "-o", _options(self)]
        _run(args)


def find_binaries() -> str | None:
    """The folder holding ``initdb`` and ``pg_ctl`` (Debian's newest version first), or None."""
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True):
        if os.access(os.path.join(folder, "initdb"), os.X_OK):
            return folder
    found = shutil.which("initdb")
    return os.path.dirname(os.path.realpath(found)) if found else None


def _version(folder: str) -> tuple[int, ...]:
    name = folder.split("/")[-2]
    return tuple(int(p) for p in name.split(".") if p.isdigit())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", _USER, "--"] if shutil.which("runuser") else ["su", _USER, "-s", "/bin/sh", "-c"]


def _run(args: list[str]) -> None:
    prefix = _as_user()
    if prefix[:1] == ["su"]:
        args = [" ".join(args)]
    done = subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stdout}{done.stderr}")


def _options(server: PostgresServer) -> str:
    # A socket folder inside the data folder (no /run/postgresql); throwaway test data: no fsync.
    fast = "" if server.durable else " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    return f"-h {server.host} -p {server.port} -k {server.folder} -c max_connections=300{fast}"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL tests cannot run in CI: {reason}")
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


@contextlib.contextmanager
def running_server(durable: bool = False) -> Iterator[PostgresServer]:
    """Start a throwaway server (initdb + pg_ctl) and stop and delete it afterwards.

    Args:
        durable: keep fsync on (benchmarks); tests leave it off.

    Raises:
        RuntimeError: the binaries are missing or the server did not start.
    """
    bindir = find_binaries()
    if bindir is None:
        raise RuntimeError("no initdb under /usr/lib/postgresql/*/bin nor on PATH (apt-get install postgresql)")
    root = tempfile.mkdtemp(prefix="logwright-pg-")
    folder = os.path.join(root, "data")
    if os.geteuid() == 0:
        shutil.chown(root, _USER)
    server = PostgresServer("127.0.0.1", _free_port(), _USER, folder, durable)
    try:
        _run([os.path.join(bindir, "initdb"), "-D", folder, "-U", _USER, "--auth=trust", "--encoding=UTF8",
              "--locale=C", "--no-sync"])
        server.pg_ctl("start")
        yield server
    finally:
        with contextlib.suppress(RuntimeError, subprocess.SubprocessError):
            server.pg_ctl("stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole test session (skips, or fails under CI, without one)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install 'logwright[postgres]')")
    if find_binaries() is None:
        _unavailable("the PostgreSQL server binaries are not installed (apt-get install postgresql)")
    if os.geteuid() == 0 and subprocess.run(["id", _USER], capture_output=True, check=False).returncode:
        _unavailable(f"running as root and there is no {_USER!r} OS user to run the server")
    with running_server() as server:
        yield server
        from logwright import store

        # Flush and close what the session opened on it while it still runs (not at exit).
        store.close_stores(lambda s: f"@{server.host}:{server.port}/" in getattr(s, "uri", ""))


@pytest.fixture
def postgres_uri(postgres_server: PostgresServer) -> Iterator[str]:
    """A ``postgresql://`` URI of a fresh, empty database, dropped after the test."""
    name = postgres_server.create_database()
    yield postgres_server.uri(name)
    from logwright import store

    store.close_stores(lambda s: getattr(s, "database", None) == name)
    postgres_server.drop_database(name)


@pytest.fixture(params=["sqlite", "postgres", "server"])
def store_uri(request, tmp_path, monkeypatch) -> Iterator[str]:
    """The contract suite's store: each test runs on SQLite, on PostgreSQL and through a server.

    Sets a fresh store (a folder in ``tmp_path``, a fresh database on the session's
    server, or the ``http://`` URL of a ``logwright server`` process over a fresh SQLite
    folder) as the tracking URI and yields its URI. A test marked ``local_store`` (it
    opens the store in this process) skips the server case.
    """
    from logwright import fluent, set_tracking_uri

    if request.param == "server":
        marker = request.node.get_closest_marker("local_store")
        if marker is not None:
            pytest.skip(f"needs the store in this process ({marker.kwargs.get('reason', '')})")
        uri = request.getfixturevalue("tracking_server").url
    elif request.param == "sqlite":
        uri = str(tmp_path / "store")
    else:
        uri = request.getfixturevalue("postgres_uri")
        monkeypatch.setenv("LOGWRIGHT_ARTIFACT_URI", str(tmp_path / "artifacts"))
    monkeypatch.delenv("LOGWRIGHT_TRACKING_URI", raising=False)
    fluent._reset_for_tests()
    set_tracking_uri(uri)
    yield uri
    import logwright

    logwright.flush()
    fluent._reset_for_tests()
