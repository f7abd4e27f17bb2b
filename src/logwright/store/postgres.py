"""The team store: runs and traces in PostgreSQL (psycopg 3 and a connection pool).

``postgresql://user:pass@host:port/db`` (or ``postgresql+psycopg://``) as a tracking URI.
The schema and its semantics are SQLite's (:mod:`logwright.store.postgres_migrations`):
the same queued writes through the same background :class:`~logwright.store.writer.Writer`,
each batch one transaction on the writer's own connection; reads on a pool of
connections. Many processes on many hosts may write into one database: auto-steps and
metric chunks are serialized per (run, key) by advisory locks, params are write-once.
While the server is unreachable the writer keeps everything queued and retries; writing
resumes when the server is back. Artifacts go to ``LOGWRIGHT_ARTIFACT_URI`` when set,
else to the local folder ``./logwright-artifacts``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import psycopg
import psycopg.sql
import psycopg_pool

from logwright.entities import Experiment
from logwright.exceptions import ExperimentNotFound, StoreError
from logwright.store import postgres_writes
from logwright.store.common import rejecter
from logwright.store.postgres_edits import PostgresEditsMixin
from logwright.store.postgres_migrations import migrate
from logwright.store.postgres_reads import ReadsMixin, reading
from logwright.store.postgres_registry import PostgresRegistryMixin
from logwright.store.postgres_tokens import PostgresTokensMixin
from logwright.store.queued import ExperimentLocationsMixin, QueuedWritesMixin, now_ms
from logwright.store.writer import Writer

_logger = logging.getLogger(__name__)

DEFAULT_ARTIFACTS = "logwright-artifacts"
_EXP_COLS = "experiment_id, name, lifecycle, description, creation_time, last_update_time, artifact_location"
_stores: weakref.WeakSet[PostgresStore] = weakref.WeakSet()
_orphans: list[Any] = []  # a forked child's copies of the parent's connections: never closed



def conninfo(uri: str) -> str:
    """The libpq connection string of a tracking URI (``postgresql+psycopg://`` becomes ``postgresql://``)."""
    if uri.startswith("postgresql+psycopg://"):
        return "postgresql://" + uri[len("postgresql+psycopg://"):]
    if uri.startswith("postgres://"):
        return "postgresql://" + uri[len("postgres://"):]
    return uri


def redact(uri: str) -> str:
    """The URI without its password, for messages."""
    head, sep, tail = uri.partition("://")
    creds, at, host = tail.rpartition("@")
    if not at or ":" not in creds:
        return uri
    return f"{head}{sep}{creds.split(':', 1)[0]}:***@{host}"


class PostgresStore(QueuedWritesMixin, ExperimentLocationsMixin, ReadsMixin, PostgresRegistryMixin, PostgresTokensMixin,
                    PostgresEditsMixin):
    """Tracking store in a PostgreSQL database (see :class:`~logwright.store.base.Store`).

    Args:
        uri: ``postgresql://user:pass@host:port/db`` or ``postgresql+psycopg://...``.
        artifact_root: where runs' artifact folders go (a folder or a URI); None:
            ``LOGWRIGHT_ARTIFACT_URI``, else ``./logwright-artifacts``.
        pool_size: the most read connections this process opens.

    Raises:
        StoreError: the server cannot be reached or the database cannot be used.
        StoreVersionError: the database was written by a newer logwright.
    """

    def __init__(self, uri: str, artifact_root: str | None = None, pool_size: int = 8) -> None:
        self.uri = uri
        self.location = redact(uri)
        self.db_path = self.location  # what `logwright ui` prints as where it serves from
        self._conninfo = conninfo(uri)
        artifact_root = artifact_root or os.environ.get("LOGWRIGHT_ARTIFACT_URI") or DEFAULT_ARTIFACTS
        self.artifact_root = artifact_root if "://" in artifact_root else os.path.abspath(artifact_root)
        self.read_only = False
        self._pool_size = pool_size
        self._pool: psycopg_pool.ConnectionPool | None = None
        self._pool_lock = threading.Lock()
        self._write_conn: psycopg.Connection | None = None
        self._owned: set[str] = set()
        self._last_beat = 0.0
        self._last_reap = 0.0
        self._locations: dict[str, str] = {}
        try:
            with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=10) as conn:
                self.database = conn.info.dbname
                migrate(conn, self.location)
        except psycopg.Error as exc:
            raise StoreError(f"cannot open store {self.location}: {exc}") from exc
        folder = self.artifact_root if "://" not in self.artifact_root else os.path.abspath(DEFAULT_ARTIFACTS)
        self.rejected_path = os.path.join(folder, "rejected.jsonl")  # operations the server refused
        self.writer = Writer(
            self._apply, postgres_writes.classify, rejecter(self.rejected_path, self.location),
            describe=f"store {self.location}", tick=self._tick,
        )
        _stores.add(self)

    # -- connections ---------------------------------------------------------------

    def _get_pool(self) -> psycopg_pool.ConnectionPool:
        pool = self._pool
        if pool is None:
            with self._pool_lock:
                pool = self._pool
                if pool is None:
                    pool = psycopg_pool.ConnectionPool(
                        self._conninfo, min_size=1, max_size=self._pool_size, kwargs={"autocommit": True},
                        check=psycopg_pool.ConnectionPool.check_connection, timeout=30, open=True,
                        name=f"logwright {self.location}",
                    )
                    self._pool = pool
        return pool

    @contextlib.contextmanager
    def _db(self) -> Iterator[psycopg.Connection]:
        with self._get_pool().connection() as conn:
            yield conn

    def _all(self, sql: str, args: Sequence[Any] = (), binary: bool = False) -> list[tuple]:
        with self._db() as conn:
            return conn.execute(sql, args, binary=binary).fetchall()

    def _one(self, sql: str, args: Sequence[Any] = ()) -> tuple | None:
        with self._db() as conn:
            return conn.execute(sql, args).fetchone()

    def _execute(self, sql: str, args: Sequence[Any] = ()) -> None:
        try:
            with self._db() as conn:
                conn.execute(sql, args)
        except psycopg.Error as exc:
            raise StoreError(f"cannot write to store {self.location}: {exc}") from exc

    def close(self) -> None:
        """Flush what is queued, then close every connection of this store (no more heartbeats)."""
        self._owned = set()
        self.writer.close()
        conn, self._write_conn = self._write_conn, None
        if conn is not None:
            conn.close()
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def _after_fork(self) -> None:
        # The parent's sockets must stay open in the parent: closing them here would end its sessions.
        _orphans.extend(x for x in (self._pool, self._write_conn) if x is not None)
        self._pool = None
        self._pool_lock = threading.Lock()
        self._write_conn = None
        self._owned = set()
        state = self.__dict__.get("_logging_state")
        if state is not None:
            state.get("params", {}).clear()

    # -- lifecycle -------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> None:
        """Make everything queued so far durable (see :meth:`Writer.flush`)."""
        self.writer.flush(timeout)

    def pending(self) -> int:
        """Queued operations not yet durable."""
        return self.writer.pending()

    def last_ingested(self, client_id: str) -> int:
        """The sequence number of the last batch applied from this HTTP client (0: none)."""
        row = self._one("SELECT seq FROM ingest_marks WHERE client_id = %s", (client_id,))
        return int(row[0]) if row else 0

    # -- experiments -----------------------------------------------------------------

    def create_experiment(self, name: str, tags: Mapping[str, str] | None = None, description: str | None = None,
                          artifact_location: str | None = None) -> str:
        """Create an experiment (or return the id of the existing one with that name)."""
        found = self.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        try:
            with self._db() as conn, conn.transaction():
                now = now_ms()
                row = conn.execute(
                    "INSERT INTO experiments (name, description, creation_time, last_update_time, artifact_location) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING RETURNING experiment_id",
                    (name, description, now, now, artifact_location),
                ).fetchone()
                if row is None:  # another process created it meanwhile
                    return str(conn.execute("SELECT experiment_id FROM experiments WHERE name = %s",
                                            (name,)).fetchone()[0])
                with conn.cursor() as cur:
                    cur.executemany("INSERT INTO experiment_tags VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                                    [(row[0], k, v) for k, v in (tags or {}).items()])
                return str(row[0])
        except psycopg.Error as exc:
            raise StoreError(f"cannot create experiment {name!r} in {self.location}: {exc}") from exc

    def _experiment(self, row: tuple) -> Experiment:
        exp_id = str(row[0])
        tags = dict(self._all("SELECT key, value FROM experiment_tags WHERE experiment_id = %s", (row[0],)))
        location = row[6] or f"{self.artifact_root.rstrip('/')}/{exp_id}"
        return Experiment(experiment_id=exp_id, name=row[1], lifecycle_stage=row[2], description=row[3], tags=tags,
                          creation_time=row[4], last_update_time=row[5], artifact_location=location)

    @reading
    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with this id; raises ExperimentNotFound."""
        text = str(experiment_id)
        if not text.isdigit() or len(text) > 18:
            raise ExperimentNotFound(experiment_id)
        row = self._one(f"SELECT {_EXP_COLS} FROM experiments WHERE experiment_id = %s", (int(text),))
        if row is None:
            raise ExperimentNotFound(experiment_id)
        return self._experiment(row)

    @reading
    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment with this name, or None."""
        row = self._one(f"SELECT {_EXP_COLS} FROM experiments WHERE name = %s", (name,))
        return None if row is None else self._experiment(row)

    @reading
    def search_experiments(self, view: str = "active", name_like: str | None = None) -> list[Experiment]:
        """Experiments by lifecycle (``active``, ``deleted`` or ``all``), oldest first."""
        sql, args = f"SELECT {_EXP_COLS} FROM experiments WHERE TRUE", []
        if view != "all":
            sql += " AND lifecycle = %s"
            args.append(view)
        if name_like:
            sql += " AND name ILIKE %s ESCAPE ''"  # SQLite's LIKE: ASCII case-insensitive
            args.append(name_like)
        return [self._experiment(r) for r in self._all(sql + " ORDER BY experiment_id", args)]

    @reading
    def experiment_stats(self) -> dict[str, tuple[int, int | None]]:
        """Per experiment id: (run count, last activity in epoch ms)."""
        rows = self._all("SELECT experiment_id, COUNT(*), MAX(COALESCE(end_time, start_time)) FROM runs "
                         "WHERE lifecycle = 'active' GROUP BY experiment_id")
        return {str(e): (n, last) for e, n, last in rows}

    def set_experiment_lifecycle(self, experiment_id: str, lifecycle: str) -> None:
        """Mark an experiment active or deleted, and every run in it too (as MLflow)."""
        self.get_experiment(experiment_id)
        self.flush()  # runs still queued are in the experiment too
        self._execute("UPDATE runs SET lifecycle = %s WHERE experiment_id = %s", (lifecycle, int(experiment_id)))
        self._execute("UPDATE experiments SET lifecycle = %s, last_update_time = %s WHERE experiment_id = %s",
                      (lifecycle, now_ms(), int(experiment_id)))

    # -- runs: queued writes ---------------------------------------------------------

    def insert_params(self, run_id: str, params: Sequence[tuple[str, str]]) -> dict[str, str]:
        """Write params now in their own transaction; returns conflicting stored values by key."""
        rows = [(run_id, k, v) for k, v in params]
        try:
            with self._db() as conn, conn.transaction(), conn.cursor() as cur:
                conflicts = postgres_writes.insert_params(cur, rows)
                if conflicts:
                    raise psycopg.Rollback()  # leaves the block quietly, nothing written
        except psycopg.Error as exc:
            raise StoreError(f"cannot write params to store {self.location}: {exc}") from exc
        return {key: stored for _, key, _, stored in conflicts}

    # -- the writer's side -----------------------------------------------------------

    def _apply(self, batch: Sequence[tuple]) -> None:
        conn = self._write_conn
        if conn is None or conn.closed:
            conn = self._write_conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=10)
        try:
            postgres_writes.apply_batch(conn, batch)
        except psycopg.Error as exc:
            if postgres_writes.classify(exc) != "op" or conn.broken:
                self._write_conn = None  # a lost server: start over on a fresh connection
                with contextlib.suppress(psycopg.Error):
                    conn.close()
            raise



def create_database(server_uri: str, name: str) -> None:
    """Create an empty database ``name`` on the server of ``server_uri`` (tests, benchmarks)."""
    with psycopg.connect(conninfo(server_uri), autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))


def drop_database(server_uri: str, name: str) -> None:
    """Drop database ``name`` on the server of ``server_uri``, ending its sessions first."""
    with psycopg.connect(conninfo(server_uri), autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(psycopg.sql.Identifier(name)))


def _reset_after_fork() -> None:
    for store in list(_stores):
        store._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
