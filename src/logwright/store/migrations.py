"""Schema of the embedded SQLite store, as forward migrations.

Each migration is a named function applied once, inside a transaction, and
recorded in ``_logwright_migrations``. A store whose newest recorded migration is
newer than this code knows is refused (see :func:`migrate`).

Conventions: run/experiment times are epoch milliseconds; span times are epoch
nanoseconds. A metric's history is stored in chunks: each row of ``metric_chunks``
packs up to a few thousand points as little-endian arrays (int64 steps, float64
values, int64 timestamps), so a million points write and read back in a blink and
NaN/inf keep their exact bits. ``latest_metrics`` holds each key's latest point
for search, where a value stored as NULL is NaN (SQLite turns NaN into NULL).
"""

from __future__ import annotations

import json
import sqlite3
import time
import zlib
from collections.abc import Callable

from logwright.exceptions import StoreVersionError


def _run_script(db: sqlite3.Connection, script: str) -> None:
    # executescript() would COMMIT the migration's transaction half-way.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _m0001_initial(db: sqlite3.Connection) -> None:
    _run_script(
        db,
        """
        CREATE TABLE experiments (
            experiment_id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            lifecycle TEXT NOT NULL DEFAULT 'active',
            description TEXT,
            creation_time INTEGER NOT NULL,
            last_update_time INTEGER NOT NULL
        );
        CREATE TABLE experiment_tags (
            experiment_id INTEGER NOT NULL,
            key TEXT NOT NULL,
            value TEXT,
            PRIMARY KEY (experiment_id, key)
        );
        CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            experiment_id INTEGER NOT NULL,
            run_name TEXT,
            status TEXT NOT NULL,
            start_time INTEGER NOT NULL,
            end_time INTEGER,
            parent_run_id TEXT,
            lifecycle TEXT NOT NULL DEFAULT 'active',
            description TEXT,
            user TEXT,
            source TEXT,
            context TEXT
        );
        CREATE INDEX runs_experiment ON runs (experiment_id, start_time);
        CREATE INDEX runs_parent ON runs (parent_run_id);
        CREATE TABLE params (
            run_id TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (run_id, key)
        ) WITHOUT ROWID;
        CREATE INDEX params_key ON params (key, value);
        CREATE TABLE tags (
            run_id TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT,
            PRIMARY KEY (run_id, key)
        ) WITHOUT ROWID;
        CREATE INDEX tags_key ON tags (key, value);
        CREATE TABLE metric_chunks (
            run_id TEXT NOT NULL,
            key TEXT NOT NULL,
            seq INTEGER NOT NULL,
            n INTEGER NOT NULL,
            steps BLOB NOT NULL,
            vals BLOB NOT NULL,
            timestamps BLOB NOT NULL,
            PRIMARY KEY (run_id, key, seq)
        ) WITHOUT ROWID;
        CREATE TABLE latest_metrics (
            run_id TEXT NOT NULL,
            key TEXT NOT NULL,
            step INTEGER NOT NULL,
            value REAL,
            timestamp INTEGER NOT NULL,
            PRIMARY KEY (run_id, key)
        ) WITHOUT ROWID;
        CREATE INDEX latest_metrics_key ON latest_metrics (key, value);
        CREATE TABLE inputs (
            run_id TEXT NOT NULL,
            name TEXT NOT NULL,
            digest TEXT NOT NULL,
            context TEXT,
            shape TEXT,
            schema TEXT,
            source TEXT,
            PRIMARY KEY (run_id, name, digest)
        ) WITHOUT ROWID;
        CREATE TABLE traces (
            trace_id TEXT PRIMARY KEY,
            experiment_id INTEGER NOT NULL,
            run_id TEXT,
            name TEXT,
            status TEXT NOT NULL,
            start_ns INTEGER NOT NULL,
            end_ns INTEGER,
            input_tokens INTEGER,
            output_tokens INTEGER,
            total_tokens INTEGER,
            span_count INTEGER NOT NULL DEFAULT 0,
            inputs TEXT,
            outputs TEXT
        );
        CREATE INDEX traces_experiment ON traces (experiment_id, start_ns);
        CREATE INDEX traces_run ON traces (run_id);
        CREATE TABLE trace_tags (
            trace_id TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT,
            PRIMARY KEY (trace_id, key)
        ) WITHOUT ROWID;
        CREATE TABLE spans (
            trace_id TEXT NOT NULL,
            span_id TEXT NOT NULL,
            parent_id TEXT,
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            start_ns INTEGER NOT NULL,
            end_ns INTEGER,
            status TEXT NOT NULL,
            status_message TEXT,
            attributes TEXT,
            inputs TEXT,
            outputs TEXT,
            events TEXT,
            PRIMARY KEY (trace_id, span_id)
        ) WITHOUT ROWID;
        """,
    )


def _m0002_run_owner(db: sqlite3.Connection) -> None:
    """Who runs a run (host, pid, process start token) and when it last said so."""
    _run_script(
        db,
        """
        ALTER TABLE runs ADD COLUMN owner_host TEXT;
        ALTER TABLE runs ADD COLUMN owner_pid INTEGER;
        ALTER TABLE runs ADD COLUMN owner_start TEXT;
        ALTER TABLE runs ADD COLUMN heartbeat INTEGER;
        CREATE INDEX runs_status ON runs (status)
        """,
    )


def _m0003_trace_spans_column(db: sqlite3.Connection) -> None:
    """Every span of a trace in one column, ``traces.spans``: a finished trace is one row write.

    The column holds one JSON array with an array per span (``[span_id, parent_id,
    name, kind, start_ns, end_ns, status, status_message, attributes, events, inputs,
    outputs]``, see :mod:`logwright.tracing.records`), as UTF-8, zlib-compressed when
    that saves space. Each trace's ``spans`` rows move there unchanged (JSON columns
    embedded as they are, text that is not JSON as a JSON string); rows whose trace
    does not exist stay in ``spans``, which is dropped once empty.
    """
    db.execute("ALTER TABLE traces ADD COLUMN spans BLOB")
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'spans'").fetchone() is None:
        return
    factory, db.text_factory = db.text_factory, _lenient_text
    try:
        cursor = db.execute(
            "SELECT trace_id, span_id, parent_id, name, kind, start_ns, end_ns, status, status_message, "
            "attributes, events, inputs, outputs FROM spans ORDER BY trace_id"
        )
        trace_id, parts = None, []
        for row in cursor:
            if row[0] != trace_id:
                _m0003_store(db, trace_id, parts)
                trace_id, parts = row[0], []
            head = json.dumps(list(row[1:9]), ensure_ascii=False)
            parts.append(f"{head[:-1]},{','.join(_m0003_json(text) for text in row[9:])}]")
        _m0003_store(db, trace_id, parts)
    finally:
        db.text_factory = factory
    db.execute("DELETE FROM spans WHERE trace_id IN (SELECT trace_id FROM traces WHERE spans IS NOT NULL)")
    if db.execute("SELECT 1 FROM spans LIMIT 1").fetchone() is None:
        db.execute("DROP TABLE spans")


def _lenient_text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _m0003_json(text: str | None) -> str:
    if text is None:
        return "null"
    try:
        json.loads(text)
    except ValueError:
        return json.dumps(text, ensure_ascii=False)
    return text


def _m0003_store(db: sqlite3.Connection, trace_id: str | None, parts: list[str]) -> None:
    if trace_id is None:
        return
    data = f"[{','.join(parts)}]".encode("utf-8", "replace")
    if len(data) >= 1024:
        packed = zlib.compress(data, 1)
        if len(packed) < len(data) - len(data) // 8:
            data = packed
    db.execute("UPDATE traces SET spans = ? WHERE trace_id = ?", (data, trace_id))


def _m0004_experiment_artifact_location(db: sqlite3.Connection) -> None:
    """Where an experiment's artifacts live (a folder or an ``s3://`` URI); NULL: the store's default."""
    db.execute("ALTER TABLE experiments ADD COLUMN artifact_location TEXT")


REGISTRY_SCHEMA = """
    CREATE TABLE registered_models (
        name {T} PRIMARY KEY,
        description {T},
        creation_time {I} NOT NULL,
        last_update_time {I} NOT NULL
    );
    CREATE TABLE model_versions (
        name {T} NOT NULL REFERENCES registered_models (name) ON DELETE CASCADE,
        version {I} NOT NULL,
        run_id {T},
        artifact_path {T},
        source {T} NOT NULL,
        flavour {T},
        signature {T},
        status {T} NOT NULL DEFAULT 'READY',
        description {T},
        creation_time {I} NOT NULL,
        last_update_time {I} NOT NULL,
        PRIMARY KEY (name, version)
    );
    CREATE INDEX model_versions_run ON model_versions (run_id);
    CREATE TABLE registered_model_tags (
        name {T} NOT NULL REFERENCES registered_models (name) ON DELETE CASCADE,
        key {T} NOT NULL,
        value {T},
        PRIMARY KEY (name, key)
    );
    CREATE TABLE model_version_tags (
        name {T} NOT NULL,
        version {I} NOT NULL,
        key {T} NOT NULL,
        value {T},
        PRIMARY KEY (name, version, key),
        FOREIGN KEY (name, version) REFERENCES model_versions (name, version) ON DELETE CASCADE
    );
    CREATE TABLE registered_model_aliases (
        name {T} NOT NULL REFERENCES registered_models (name) ON DELETE CASCADE,
        alias {T} NOT NULL,
        version {I} NOT NULL,
        PRIMARY KEY (name, alias)
    )
"""
"""The model registry's tables (``{T}`` text, ``{I}`` integer), shared with the PostgreSQL migrations.

Deletes cascade in PostgreSQL; the SQLite store deletes child rows itself (its
connections do not turn foreign keys on).
"""


def _m0005_model_registry(db: sqlite3.Connection) -> None:
    """Registered models, their versions, tags and aliases (see :mod:`logwright.store.sqlite_registry`)."""
    _run_script(db, REGISTRY_SCHEMA.replace("{T}", "TEXT").replace("{I}", "INTEGER"))


SERVER_SCHEMA = """
    CREATE TABLE ingest_marks (
        client_id {T} PRIMARY KEY,
        seq {I} NOT NULL,
        updated {I} NOT NULL
    );
    CREATE TABLE api_tokens (
        token_id {T} PRIMARY KEY,
        name {T} NOT NULL UNIQUE,
        secret_hash {T} NOT NULL UNIQUE,
        read_only {I} NOT NULL DEFAULT 0,
        created {I} NOT NULL,
        last_used {I},
        revoked {I}
    )
"""


def _m0006_server(db: sqlite3.Connection) -> None:
    """The tracking server's tables: each HTTP client's last applied batch, and API tokens (hashed)."""
    _run_script(db, SERVER_SCHEMA.replace("{T}", "TEXT").replace("{I}", "INTEGER"))


MIGRATIONS: list[tuple[int, str, Callable[[sqlite3.Connection], None]]] = [
    (1, "initial", _m0001_initial),
    (2, "run_owner", _m0002_run_owner),
    (3, "trace_spans_column", _m0003_trace_spans_column),
    (4, "experiment_artifact_location", _m0004_experiment_artifact_location),
    (5, "model_registry", _m0005_model_registry),
    (6, "server", _m0006_server),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


def schema_version(db: sqlite3.Connection, path: str) -> int:
    """The store's schema version (0 for an empty file).

    Raises:
        StoreVersionError: the store was written by a newer logwright.
    """
    has_table = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_logwright_migrations'"
    ).fetchone()
    current = db.execute("SELECT MAX(version) FROM _logwright_migrations").fetchone()[0] if has_table else 0
    current = current or 0
    if current > SCHEMA_VERSION:
        from logwright import __version__

        raise StoreVersionError(
            f"store {path!r} has schema version {current}, written by a newer logwright; "
            f"this logwright {__version__} knows schema version {SCHEMA_VERSION}. "
            "Upgrade logwright to open it."
        )
    return current


def migrate(db: sqlite3.Connection, path: str) -> None:
    """Apply every migration the store lacks, each in its own transaction.

    Raises:
        StoreVersionError: the store was written by a newer logwright.
    """
    db.execute(
        "CREATE TABLE IF NOT EXISTS _logwright_migrations ("
        "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
    )
    current = schema_version(db, path)
    for version, name, apply in MIGRATIONS:
        if version <= current:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            again = db.execute(
                "SELECT 1 FROM _logwright_migrations WHERE version = ?", (version,)
            ).fetchone()
            if again is None:  # another process may have migrated meanwhile
                apply(db)
                db.execute(
                    "INSERT INTO _logwright_migrations VALUES (?, ?, ?)",
                    (version, name, int(time.time() * 1000)),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
