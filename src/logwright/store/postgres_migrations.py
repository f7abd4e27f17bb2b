"""Schema of the PostgreSQL store, as forward migrations with SQLite's numbers and names.

The same tables as :mod:`logwright.store.migrations`, in PostgreSQL types: times are
``BIGINT`` epoch milliseconds (span times nanoseconds), text is ``TEXT COLLATE "C"``
(bytewise, as SQLite compares), a metric chunk's arrays and a trace's span array are
``BYTEA``. ``latest_metrics.value`` keeps NaN natively (``double precision``); the search
language reads it as NULL. Each migration runs in one transaction under an advisory lock,
so processes opening a new database at once migrate it once, and is recorded in
``_logwright_migrations``; a database with a newer migration is refused
(:class:`~logwright.exceptions.StoreVersionError`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from logwright.exceptions import StoreVersionError
from logwright.store.migrations import MIGRATIONS as SQLITE_MIGRATIONS
from logwright.store.migrations import REGISTRY_SCHEMA, SERVER_SCHEMA

_LOCK_KEY = 0x6C6F6777  # pg_advisory_xact_lock key of migrations ("logw")
_T = 'TEXT COLLATE "C"'


def _run_script(conn: Any, script: str) -> None:
    for statement in script.replace("{T}", _T).split(";"):
        if statement.strip():
            conn.execute(statement)


def _m0001_initial(conn: Any) -> None:
    _run_script(
        conn,
        """
        CREATE TABLE experiments (
            experiment_id BIGSERIAL PRIMARY KEY,
            name {T} NOT NULL UNIQUE,
            lifecycle {T} NOT NULL DEFAULT 'active',
            description {T},
            creation_time BIGINT NOT NULL,
            last_update_time BIGINT NOT NULL
        );
        CREATE TABLE experiment_tags (
            experiment_id BIGINT NOT NULL,
            key {T} NOT NULL,
            value {T},
            PRIMARY KEY (experiment_id, key)
        );
        CREATE TABLE runs (
            run_id {T} PRIMARY KEY,
            experiment_id BIGINT NOT NULL,
            run_name {T},
            status {T} NOT NULL,
            start_time BIGINT NOT NULL,
            end_time BIGINT,
            parent_run_id {T},
            lifecycle {T} NOT NULL DEFAULT 'active',
            description {T},
            "user" {T},
            source {T},
            context {T}
        );
        CREATE INDEX runs_experiment ON runs (experiment_id, start_time);
        CREATE INDEX runs_parent ON runs (parent_run_id);
        CREATE TABLE params (
            run_id {T} NOT NULL,
            key {T} NOT NULL,
            value {T} NOT NULL,
            PRIMARY KEY (run_id, key)
        );
        CREATE INDEX params_key ON params (key, value);
        CREATE TABLE tags (
            run_id {T} NOT NULL,
            key {T} NOT NULL,
            value {T},
            PRIMARY KEY (run_id, key)
        );
        CREATE INDEX tags_key ON tags (key, value);
        CREATE TABLE metric_chunks (
            run_id {T} NOT NULL,
            key {T} NOT NULL,
            seq INTEGER NOT NULL,
            n INTEGER NOT NULL,
            steps BYTEA NOT NULL,
            vals BYTEA NOT NULL,
            timestamps BYTEA NOT NULL,
            PRIMARY KEY (run_id, key, seq)
        );
        CREATE TABLE latest_metrics (
            run_id {T} NOT NULL,
            key {T} NOT NULL,
            step BIGINT NOT NULL,
            value DOUBLE PRECISION,
            timestamp BIGINT NOT NULL,
            PRIMARY KEY (run_id, key)
        );
        CREATE INDEX latest_metrics_key ON latest_metrics (key, value);
        CREATE TABLE inputs (
            run_id {T} NOT NULL,
            name {T} NOT NULL,
            digest {T} NOT NULL,
            context {T},
            shape {T},
            schema {T},
            source {T},
            PRIMARY KEY (run_id, name, digest)
        );
        CREATE TABLE traces (
            trace_id {T} PRIMARY KEY,
            experiment_id BIGINT NOT NULL,
            run_id {T},
            name {T},
            status {T} NOT NULL,
            start_ns BIGINT NOT NULL,
            end_ns BIGINT,
            input_tokens BIGINT,
            output_tokens BIGINT,
            total_tokens BIGINT,
            span_count INTEGER NOT NULL DEFAULT 0,
            inputs {T},
            outputs {T}
        );
        CREATE INDEX traces_experiment ON traces (experiment_id, start_ns);
        CREATE INDEX traces_run ON traces (run_id);
        CREATE TABLE trace_tags (
            trace_id {T} NOT NULL,
            key {T} NOT NULL,
            value {T},
            PRIMARY KEY (trace_id, key)
        )
        """,
    )


def _m0002_run_owner(conn: Any) -> None:
    """Who runs a run (host, pid, process start token) and when it last said so."""
    _run_script(
        conn,
        """
        ALTER TABLE runs ADD COLUMN owner_host {T};
        ALTER TABLE runs ADD COLUMN owner_pid BIGINT;
        ALTER TABLE runs ADD COLUMN owner_start {T};
        ALTER TABLE runs ADD COLUMN heartbeat BIGINT;
        CREATE INDEX runs_status ON runs (status)
        """,
    )


def _m0003_trace_spans_column(conn: Any) -> None:
    """Every span of a trace in ``traces.spans`` (see :mod:`logwright.store.trace_blob`).

    PostgreSQL stores were never written with a ``spans`` table, so nothing moves.
    """
    conn.execute("ALTER TABLE traces ADD COLUMN spans BYTEA")


def _m0004_experiment_artifact_location(conn: Any) -> None:
    """Where an experiment's artifacts live (a folder or an ``s3://`` URI); NULL: the store's default."""
    _run_script(conn, "ALTER TABLE experiments ADD COLUMN artifact_location {T}")


def _m0005_model_registry(conn: Any) -> None:
    """Registered models, their versions, tags and aliases (SQLite's tables, deletes cascade)."""
    _run_script(conn, REGISTRY_SCHEMA.replace("{I}", "BIGINT"))


def _m0006_server(conn: Any) -> None:
    """The tracking server's tables: each HTTP client's last applied batch, and API tokens (hashed)."""
    _run_script(conn, SERVER_SCHEMA.replace("{I}", "BIGINT"))


MIGRATIONS: list[tuple[int, str, Callable[[Any], None]]] = [
    (1, "initial", _m0001_initial),
    (2, "run_owner", _m0002_run_owner),
    (3, "trace_spans_column", _m0003_trace_spans_column),
    (4, "experiment_artifact_location", _m0004_experiment_artifact_location),
    (5, "model_registry", _m0005_model_registry),
    (6, "server", _m0006_server),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]
# One migration list per backend, with the same version numbers and names.
assert [m[:2] for m in MIGRATIONS] == [m[:2] for m in SQLITE_MIGRATIONS]


def schema_version(conn: Any, where: str) -> int:
    """The database's schema version (0 when it has none).

    Raises:
        StoreVersionError: the database was written by a newer logwright.
    """
    found = conn.execute("SELECT to_regclass('_logwright_migrations') IS NOT NULL").fetchone()[0]
    current = conn.execute("SELECT MAX(version) FROM _logwright_migrations").fetchone()[0] if found else 0
    current = current or 0
    if current > SCHEMA_VERSION:
        from logwright import __version__

        raise StoreVersionError(
            f"store {where!r} has schema version {current}, written by a newer logwright; "
            f"this logwright {__version__} knows schema version {SCHEMA_VERSION}. "
            "Upgrade logwright to open it."
        )
    return current


def migrate(conn: Any, where: str) -> None:
    """Apply every migration the database lacks, each in its own transaction.

    Args:
        conn: a psycopg connection in autocommit mode.
        where: the store's location, for messages.

    Raises:
        StoreVersionError: the database was written by a newer logwright.
    """
    current = schema_version(conn, where)
    if current == SCHEMA_VERSION:
        return
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS _logwright_migrations ("
            "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
        )
    for version, name, apply in MIGRATIONS:
        if version <= current:
            continue
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            again = conn.execute("SELECT 1 FROM _logwright_migrations WHERE version = %s", (version,)).fetchone()
            if again is None:  # another process may have migrated meanwhile
                apply(conn)
                conn.execute(
                    "INSERT INTO _logwright_migrations VALUES (%s, %s, %s)",
                    (version, name, int(time.time() * 1000)),
                )
