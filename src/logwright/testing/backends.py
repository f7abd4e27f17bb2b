"""Which store ``tmp_store`` hands out: ``--store-backend=sqlite`` (default), ``postgres+s3`` or ``server``.

With ``--store-backend=postgres+s3`` every test that uses ``tmp_store`` gets a fresh
database on the session's PostgreSQL server (``postgres_server``) as its tracking URI
and a fresh bucket on the session's moto S3 server as its artifact URI (set with
``set_tracking_uri(uri, artifact_uri=...)`` and in ``LOGWRIGHT_ARTIFACT_URI``, with
``AWS_ENDPOINT_URL`` and fake credentials, so child processes use them too). A test
that reads the SQLite file itself is marked ``@pytest.mark.sqlite_only`` and skipped
there with the reason. Asking for that backend without the servers fails the test: it
is never skipped away. With ``--store-backend=server`` each such test gets a fresh
``logwright server`` process over that PostgreSQL database and S3 bucket, and its
``http://`` URL as the tracking URI: everything goes through the REST API.
"""

from __future__ import annotations

import pytest

SQLITE = "sqlite"
POSTGRES_S3 = "postgres+s3"
SERVER = "server"
BACKENDS = (SQLITE, POSTGRES_S3, SERVER)
OPTION = "--store-backend"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--store-backend``."""
    parser.getgroup("logwright").addoption(
        OPTION, choices=BACKENDS, default=SQLITE,
        help="the store tmp_store hands out: a SQLite folder (default) or a fresh PostgreSQL "
             "database with a fresh S3 bucket on moto for artifacts",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``sqlite_only`` marker."""
    config.addinivalue_line(
        "markers", "sqlite_only(reason): the test reads or writes the SQLite store file itself; "
                   "skipped under --store-backend=postgres+s3 and server")
    config.addinivalue_line(
        "markers", "local_store(reason): the test needs the store in this process (it opens the database "
                   "or artifact folder itself); skipped under --store-backend=server")


def backend(config: pytest.Config) -> str:
    """The ``--store-backend`` of this session (``sqlite`` when the option is not registered)."""
    try:
        return config.getoption(OPTION)
    except ValueError:
        return SQLITE


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``sqlite_only`` tests under another backend, with the marker's reason."""
    chosen = backend(config)
    if chosen == SQLITE:
        return
    for item in items:
        marker = item.get_closest_marker("sqlite_only")
        if marker is None and chosen == SERVER:
            marker = item.get_closest_marker("local_store")
        if marker is not None:
            why = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "uses the SQLite file")
            item.add_marker(pytest.mark.skip(reason=f"SQLite only ({why}); --store-backend={chosen}"))


def team_store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """A fresh PostgreSQL database URI and S3 artifact URI for one test.

    Environment changes go through ``monkeypatch`` (undone after the test). A missing
    server, psycopg, moto or boto3 fails the test instead of skipping it.
    """
    try:
        uri = request.getfixturevalue("postgres_uri")
        artifacts = request.getfixturevalue("s3_uri")  # sets AWS_ENDPOINT_URL and fake keys
    except pytest.skip.Exception as exc:
        pytest.fail(f"{OPTION}={POSTGRES_S3} needs its servers: {exc}", pytrace=False)
    monkeypatch.setenv("LOGWRIGHT_ARTIFACT_URI", artifacts)
    return uri, artifacts
