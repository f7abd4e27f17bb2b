"""Stores: where runs, metrics and traces live. Resolves tracking URIs to a store."""

from __future__ import annotations

import os
import sys
import threading

from logwright.store.sqlite import SqliteStore

DEFAULT_FOLDER = "logwright-runs"
DB_NAME = "logwright.db"

_lock = threading.Lock()
_open: dict[str, SqliteStore] = {}
_announced: set[str] = set()


def resolve(uri: str | None) -> tuple[str, str]:
    """Map a tracking URI (folder, ``sqlite:///file.db`` or ``file:`` folder) to (db, artifacts).

    Raises:
        ValueError: the URI scheme is not supported here.
    """
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
        raise ValueError(f"tracking URI {uri!r} is not supported: use a folder or sqlite:///file.db")
    folder = os.path.abspath(os.path.expanduser(uri))
    if folder.endswith(".db") or os.path.isfile(folder):
        return folder, os.path.join(os.path.dirname(folder), "artifacts")
    return os.path.join(folder, DB_NAME), os.path.join(folder, "artifacts")


def get_store(uri: str | None) -> SqliteStore:
    """The process's store for ``uri``, opened (and migrated) on first use."""
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


def open_stores() -> list[SqliteStore]:
    """Every store this process has opened."""
    return list(_open.values())
