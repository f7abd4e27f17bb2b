"""Stores: where runs, metrics and traces live. Resolves tracking URIs to a store.

A folder, ``sqlite:///file.db`` or ``file:`` URI opens the embedded SQLite store;
``postgresql://user:pass@host:port/db`` (or ``postgresql+psycopg://``) opens the
PostgreSQL store, importing psycopg only then (``pip install 'logwright[postgres]'``);
``http(s)://host:port`` talks to ``logwright server`` (:mod:`logwright.store.http`).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from logwright.store.sqlite import SqliteStore

DEFAULT_FOLDER = "logwright-runs"
DB_NAME = "logwright.db"

_lock = threading.Lock()
_open: dict[str, Any] = {}  # db path or PostgreSQL URI -> its store
POSTGRES_SCHEMES = ("postgresql://", "postgresql+psycopg://", "postgres://")
_announced: set[str] = set()


def resolve(uri: str | None) -> tuple[str, str]:
    """Map a tracking URI (folder, ``sqlite:///file.db``, ``file:`` folder, ``postgresql://``) to (db, artifacts).

    Raises:
        ValueError: the URI scheme is not supported here.
    """
    if uri and uri.startswith(("http://", "https://")):  # a tracking server: artifacts go through it
        url = uri.rstrip("/")
        return url, url + "/api/v1/artifacts"
    if is_postgres(uri):  # the database and the artifact root PostgresStore uses
        artifacts = os.environ.get("LOGWRIGHT_ARTIFACT_URI") or "logwright-artifacts"
        return uri, artifacts if "://" in artifacts else os.path.abspath(artifacts)  # type: ignore[return-value]
    if uri is None or uri == "":
        folder = os.path.abspath(DEFAULT_FOLDER)
        return os.path.join(folder, DB_NAME), os.path.join(folder, "artifacts")
    if uri.startswith("sqlite:"):
        path = uri[len("sqlite:") :]
        path = path[3:] if path.startswith("///") else path.lstrip("/")
        if uri.startswith("sqlite:////"):
            path = "/" + path.lstrip("/")
        db = os.path.abspath(os.path.expanduser(path))
        return db, os.path.join(os.path.dirname(db), "artifacts")
    if uri.startswith("file:"):
        uri = uri[len("file:") :]
        uri = uri[2:] if uri.startswith("//") else uri
    if "://" in uri:
        raise ValueError(
            f"tracking URI {uri!r} is not supported: use a folder, sqlite:///file.db, postgresql://... "
            "or http://host:port of a logwright server"
        )
    folder = os.path.abspath(os.path.expanduser(uri))
    if folder.endswith(".db") or os.path.isfile(folder):
        return folder, os.path.join(os.path.dirname(folder), "artifacts")
    return os.path.join(folder, DB_NAME), os.path.join(folder, "artifacts")


def is_postgres(uri: str | None) -> bool:
    """True for a ``postgresql://`` (or ``postgresql+psycopg://``) tracking URI."""
    return bool(uri) and uri.startswith(POSTGRES_SCHEMES)  # type: ignore[union-attr]


def _open_postgres(uri: str) -> Any:
    store = _open.get(uri)
    if store is not None:
        return store
    try:
        from logwright.store.postgres import PostgresStore
    except ImportError as exc:
        raise ImportError(
            f"the tracking URI is a PostgreSQL database, which needs psycopg: pip install 'logwright[postgres]' ({exc})"
        ) from exc
    with _lock:
        store = _open.get(uri)
        if store is None:
            store = _open[uri] = PostgresStore(uri)
    return store


def _open_http(uri: str) -> Any:
    from logwright.store.http import HttpStore

    url = uri.rstrip("/")
    with _lock:
        store = _open.get(url)
        if store is None:
            store = _open[url] = HttpStore(url)
    return store


def get_store(uri: str | None) -> Any:
    """The process's store for ``uri`` (SqliteStore, PostgresStore or HttpStore), opened on first use."""
    if is_postgres(uri):
        return _open_postgres(uri)  # type: ignore[arg-type]
    if uri and uri.startswith(("http://", "https://")):
        return _open_http(uri)
    db, artifacts = resolve(uri)
    store = _open.get(db)
    if store is not None:
        return store
    with _lock:
        store = _open.get(db)
        if store is None:
            store = SqliteStore(db, artifacts)
            _open[db] = store
            if uri is None and db not in _announced and not os.environ.get("LOGWRIGHT_QUIET"):
                _announced.add(db)
                print(f"logwright: tracking to {os.path.dirname(db)}", file=sys.stderr)
    return store


def open_stores() -> list[Any]:
    """Every store this process has opened."""
    return list(_open.values())


def close_stores(which: Callable[[Any], bool]) -> None:
    """Flush, close and forget the open stores ``which`` picks (tests drop their databases after)."""
    with _lock:
        picked = [(key, store) for key, store in _open.items() if which(store)]
        for key, _ in picked:
            del _open[key]
    for _, store in picked:
        close = getattr(store, "close", None)
        if close is not None:
            close()
