"""The embedded store: one SQLite file (WAL, busy timeout) plus a local artifacts folder.

Reads use one connection per thread; writes go through the process's
:class:`~logwright.store.writer.Writer`, whose thread alone commits, in batches,
with ``BEGIN IMMEDIATE`` on a dedicated connection, so several threads and
processes can share one store file. A store on read-only media (or a file without
write permission) opens read-only; a store written by a newer logwright is refused.
Database failures reach the caller as :class:`~logwright.exceptions.StoreError`.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from logwright.entities import Experiment
from logwright.exceptions import ExperimentNotFound, StoreError
from logwright.store import sqlite_writes
from logwright.store.migrations import SCHEMA_VERSION, migrate, schema_version
from logwright.store.queued import ExperimentLocationsMixin, QueuedWritesMixin, now_ms
from logwright.store.sqlite_edits import SqliteEditsMixin
from logwright.store.sqlite_pages import PagesMixin
from logwright.store.sqlite_registry import SqliteRegistryMixin
from logwright.store.sqlite_runs import RunsMixin, reading
from logwright.store.sqlite_tokens import SqliteTokensMixin
from logwright.store.sqlite_traces import TracesMixin
from logwright.store.writer import Writer

_logger = logging.getLogger(__name__)

_SQLITE_HEADER = b"SQLite format 3\x00"
_BUSY_TIMEOUT_MS = 60_000
_stores: weakref.WeakSet[SqliteStore] = weakref.WeakSet()



def _check_file(path: str) -> None:
    if not os.path.exists(path):
        return
    if os.path.isdir(path):
        raise StoreError(f"store path {path!r} is a folder, expected an SQLite file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise StoreError(f"cannot read store {path!r}: {exc}") from exc
    if head and head != _SQLITE_HEADER:
        raise StoreError(
            f"{path!r} is not a logwright store (not an SQLite database); it was left untouched"
        )


def _writable(db_path: str) -> bool:
    folder = os.path.dirname(db_path)
    if os.path.exists(db_path):
        return os.access(db_path, os.W_OK) and os.access(folder, os.W_OK)
    return True


class SqliteStore(QueuedWritesMixin, ExperimentLocationsMixin, RunsMixin, PagesMixin, TracesMixin, SqliteRegistryMixin,
                  SqliteTokensMixin, SqliteEditsMixin):
    """Tracking store over one SQLite file (see :class:`~logwright.store.base.Store`).

    Args:
        db_path: the database file (created with its folder when missing).
        artifact_root: folder holding ``<experiment_id>/<run_id>/`` artifact trees.
    """

    def __init__(self, db_path: str, artifact_root: str) -> None:
        self.db_path = os.path.abspath(db_path)
        self.location = self.db_path
        self.artifact_root = os.path.abspath(artifact_root)
        _check_file(self.db_path)
        self.read_only = not _writable(self.db_path)
        if not self.read_only:
            try:
                os.makedirs(os.path.dirname(self.db_path), exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create store folder for {self.db_path!r}: {exc}") from exc
        self._local = threading.local()
        self._write_db: sqlite3.Connection | None = None
        self._new_runs: set[str] = set()  # runs created here whose metrics were never written
        self._owned: set[str] = set()  # RUNNING runs this process owns (heartbeats)
        self._last_beat = 0.0
        self._last_reap = 0.0
        self._locations: dict[str, str] = {}  # experiment id -> artifact location
        self._identity = None
        try:
            db = self._connect()
            if self.read_only:
                self._check_schema(db)
            else:
                migrate(db, self.db_path)
            self._identity = self._stat()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open store {self.db_path!r}: {exc}") from exc
        folder = os.path.dirname(self.db_path)
        self.writer = Writer(
            self._apply, sqlite_writes.classify, sqlite_writes.make_rejecter(folder, self.db_path),
            describe=f"store {self.db_path!r}", check=self._check_present, tick=self._tick,
        )
        _stores.add(self)

    # -- connections ---------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            folder_ok = os.access(os.path.dirname(self.db_path), os.W_OK)
            mode = "mode=ro" if folder_ok else "immutable=1"
            db = sqlite3.connect(f"file:{self.db_path}?{mode}", uri=True, isolation_level=None,
                                 check_same_thread=False, timeout=60)
            db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            return db
        db = sqlite3.connect(self.db_path, isolation_level=None, check_same_thread=False, timeout=60)
        db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            _logger.debug("store %s runs in journal mode %s", self.db_path, mode)
        db.execute("PRAGMA synchronous = NORMAL")
        return db

    def _check_schema(self, db: sqlite3.Connection) -> None:
        version = schema_version(db, self.db_path)
        if version < SCHEMA_VERSION:
            raise StoreError(
                f"store {self.db_path!r} is read-only and has schema version {version}; this logwright "
                f"reads version {SCHEMA_VERSION}: open it once where it is writable to upgrade it"
            )

    def read_db(self) -> sqlite3.Connection:
        """This thread's read connection."""
        db = getattr(self._local, "db", None)
        if db is None or getattr(self._local, "pid", None) != os.getpid():
            db = self._connect()
            self._local.db = db
            self._local.pid = os.getpid()
        return db

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.db_path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def _check_present(self) -> None:
        """Raise StoreError when the database file was deleted or replaced under us."""
        if self._stat() != self._identity:
            raise StoreError(
                f"store {self.db_path!r} was deleted or replaced while in use; what was logged "
                "since is kept in memory until the process exits and cannot be written there"
            )

    def _after_fork(self) -> None:
        self._local = threading.local()
        self._write_db = None
        self._owned = set()
        self._new_runs = set()
        state = self.__dict__.get("_logging_state")
        if state is not None:  # the parent owns its runs: the child writes their params at once
            state.get("params", {}).clear()

    def _note_new_run(self, run_id: str) -> None:
        self._new_runs.add(run_id)  # its first metric chunks need no look-up

    def _refuse_writes(self) -> None:
        if self.read_only:
            raise StoreError(f"store {self.db_path!r} is read-only: it can be read, not written")

    # -- lifecycle -------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> None:
        """Make everything queued so far durable (see :meth:`Writer.flush`)."""
        self.writer.flush(timeout)

    def pending(self) -> int:
        """Queued operations not yet durable."""
        return self.writer.pending()

    def last_ingested(self, client_id: str) -> int:
        """The sequence number of the last batch applied from this HTTP client (0: none)."""
        row = self.read_db().execute("SELECT seq FROM ingest_marks WHERE client_id = ?", (client_id,)).fetchone()
        return int(row[0]) if row else 0

    # -- experiments (synchronous: ids are needed at once) ---------------------------

    def create_experiment(
        self, name: str, tags: Mapping[str, str] | None = None, description: str | None = None,
        artifact_location: str | None = None,
    ) -> str:
        """Create an experiment (or return the id of the existing one with that name).

        Args:
            artifact_location: where its runs' artifacts go (a folder or a URI such as
                ``s3://bucket/prefix``); None: ``<artifact_root>/<experiment_id>``.
        """
        found = self.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        self._refuse_writes()
        try:
            return self._insert_experiment(name, tags, description, artifact_location)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot create experiment {name!r} in {self.db_path!r}: {exc}") from exc

    def _insert_experiment(self, name: str, tags: Mapping[str, str] | None, description: str | None,
                           artifact_location: str | None) -> str:
        db = self.read_db()
        now = now_ms()
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT experiment_id FROM experiments WHERE name = ?", (name,)).fetchone()
            if row is None:
                cur = db.execute(
                    "INSERT INTO experiments (name, description, creation_time, last_update_time, "
                    "artifact_location) VALUES (?, ?, ?, ?, ?)",
                    (name, description, now, now, artifact_location),
                )
                exp_id = cur.lastrowid
                db.executemany(
                    "INSERT OR REPLACE INTO experiment_tags VALUES (?, ?, ?)",
                    [(exp_id, k, v) for k, v in (tags or {}).items()],
                )
            else:
                exp_id = row[0]
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return str(exp_id)

    def _experiment_from_row(self, row: tuple) -> Experiment:
        exp_id = str(row[0])
        tags = dict(
            self.read_db().execute("SELECT key, value FROM experiment_tags WHERE experiment_id = ?", (row[0],))
        )
        return Experiment(
            experiment_id=exp_id, name=row[1], lifecycle_stage=row[2], description=row[3], tags=tags,
            creation_time=row[4], last_update_time=row[5],
            artifact_location=row[6] or os.path.join(self.artifact_root, exp_id),
        )

    _EXP_COLS = "experiment_id, name, lifecycle, description, creation_time, last_update_time, artifact_location"

    @reading
    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with this id; raises ExperimentNotFound."""
        text = str(experiment_id)
        if not text.isdigit() or len(text) > 18:
            raise ExperimentNotFound(experiment_id)
        row = self.read_db().execute(
            f"SELECT {self._EXP_COLS} FROM experiments WHERE experiment_id = ?", (int(text),)
        ).fetchone()
        if row is None:
            raise ExperimentNotFound(experiment_id)
        return self._experiment_from_row(row)

    @reading
    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment with this name, or None."""
        row = self.read_db().execute(f"SELECT {self._EXP_COLS} FROM experiments WHERE name = ?", (name,)).fetchone()
        return None if row is None else self._experiment_from_row(row)

    @reading
    def search_experiments(self, view: str = "active", name_like: str | None = None) -> list[Experiment]:
        """Experiments by lifecycle (``active``, ``deleted`` or ``all``), newest last."""
        sql = f"SELECT {self._EXP_COLS} FROM experiments WHERE 1"
        args: list[Any] = []
        if view != "all":
            sql += " AND lifecycle = ?"
            args.append(view)
        if name_like:
            sql += " AND name LIKE ?"
            args.append(name_like)
        rows = self.read_db().execute(sql + " ORDER BY experiment_id", args).fetchall()
        return [self._experiment_from_row(r) for r in rows]

    @reading
    def experiment_stats(self) -> dict[str, tuple[int, int | None]]:
        """Per experiment id: (run count, last activity in epoch ms)."""
        rows = self.read_db().execute(
            "SELECT experiment_id, COUNT(*), MAX(COALESCE(end_time, start_time)) FROM runs "
            "WHERE lifecycle = 'active' GROUP BY experiment_id"
        )
        return {str(e): (n, last) for e, n, last in rows}

    def set_experiment_lifecycle(self, experiment_id: str, lifecycle: str) -> None:
        """Mark an experiment active or deleted, and every run in it too (as MLflow)."""
        self.get_experiment(experiment_id)
        self._refuse_writes()
        self.flush()  # runs still queued are in the experiment too
        self._write_now("UPDATE runs SET lifecycle = ? WHERE experiment_id = ?", (lifecycle, int(experiment_id)))
        self._write_now(
            "UPDATE experiments SET lifecycle = ?, last_update_time = ? WHERE experiment_id = ?",
            (lifecycle, now_ms(), int(experiment_id)),
        )

    def _write_now(self, sql: str, args: Sequence[Any]) -> None:
        try:
            self.read_db().execute(sql, args)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write to store {self.db_path!r}: {exc}") from exc

    # -- runs: queued writes ---------------------------------------------------------

    def insert_params(self, run_id: str, params: Sequence[tuple[str, str]]) -> dict[str, str]:
        """Write params now in their own transaction; returns conflicting stored values by key."""
        self._refuse_writes()
        db = self.read_db()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                conflicts = sqlite_writes.insert_params(db, [(run_id, k, v) for k, v in params])
                if conflicts:
                    db.execute("ROLLBACK")
                else:
                    db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write params to store {self.db_path!r}: {exc}") from exc
        return {key: stored for _, key, _, stored in conflicts}

    # -- the writer's side -----------------------------------------------------------

    def _apply(self, batch: Sequence[tuple]) -> None:
        db = self._write_db
        if db is None:
            db = self._write_db = self._connect()
        try:
            sqlite_writes.apply_batch(db, batch, self._new_runs)
        except (sqlite3.OperationalError, OSError):
            self._write_db = None  # a failed disk or lock: start over on a fresh connection
            try:
                db.close()
            except sqlite3.Error:
                pass
            raise



def _reset_after_fork() -> None:
    for store in list(_stores):
        store._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
