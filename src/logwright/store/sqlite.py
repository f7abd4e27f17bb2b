"""The embedded store: one SQLite file (WAL, busy timeout) plus a local artifacts folder.

Reads use one connection per thread; writes go through the process's
:class:`~logwright.store.writer.Writer`, which commits batches with
``BEGIN IMMEDIATE`` on a dedicated connection, so several threads and processes
can share one store file.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
import weakref
from array import array
from collections.abc import Sequence
from typing import Any

from logwright.entities import (
    Dataset,
    Experiment,
    Metric,
    Run,
    RunData,
    RunInfo,
)
from logwright.exceptions import ExperimentNotFound, RunNotFound, StoreError
from logwright.store import series
from logwright.store.migrations import migrate
from logwright.store.sqlite_pages import PagesMixin
from logwright.store.sqlite_traces import TracesMixin
from logwright.store.writer import Writer

_logger = logging.getLogger(__name__)

_SQLITE_HEADER = b"SQLite format 3\x00"
_BUSY_TIMEOUT_MS = 60_000
_CHUNK = 500
_stores: weakref.WeakSet[SqliteStore] = weakref.WeakSet()
_new_runs: set[str] = set()  # runs created by this process whose metrics were never written


def _now_ms() -> int:
    return int(time.time() * 1000)


def _check_file(path: str) -> None:
    if not os.path.exists(path):
        return
    if os.path.isdir(path):
        raise StoreError(f"store path {path!r} is a folder, expected an SQLite file")
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head and head != _SQLITE_HEADER:
        raise StoreError(
            f"{path!r} is not a logwright store (not an SQLite database); it was left untouched"
        )


class SqliteStore(PagesMixin, TracesMixin):
    """Tracking store over one SQLite file.

    Args:
        db_path: the database file (created with its folder when missing).
        artifact_root: folder holding ``<experiment_id>/<run_id>/`` artifact trees.
    """

    def __init__(self, db_path: str, artifact_root: str) -> None:
        self.db_path = os.path.abspath(db_path)
        self.artifact_root = os.path.abspath(artifact_root)
        _check_file(self.db_path)
        os.makedirs(os.path.dirname(self.db_path), exist_ok=True)
        self._local = threading.local()
        self._write_db: sqlite3.Connection | None = None
        try:
            migrate(self._connect(), self.db_path)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open store {self.db_path!r}: {exc}") from exc
        self.writer = Writer(self._apply)
        _stores.add(self)

    # -- connections ---------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(
            self.db_path, isolation_level=None, check_same_thread=False, timeout=60
        )
        db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            _logger.debug("store %s runs in journal mode %s", self.db_path, mode)
        db.execute("PRAGMA synchronous = NORMAL")
        return db

    def read_db(self) -> sqlite3.Connection:
        """This thread's read connection."""
        db = getattr(self._local, "db", None)
        if db is None or getattr(self._local, "pid", None) != os.getpid():
            db = self._connect()
            self._local.db = db
            self._local.pid = os.getpid()
        return db

    def _after_fork(self) -> None:
        self._local = threading.local()
        self._write_db = None

    def flush(self) -> None:
        """Make everything queued so far durable."""
        self.writer.flush()

    # -- experiments (synchronous: ids are needed at once) ---------------------------

    def create_experiment(
        self, name: str, tags: dict[str, str] | None = None, description: str | None = None
    ) -> str:
        """Create an experiment (or return the id of the existing one with that name)."""
        db = self.read_db()
        now = _now_ms()
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute(
                "SELECT experiment_id FROM experiments WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                cur = db.execute(
                    "INSERT INTO experiments (name, description, creation_time, last_update_time)"
                    " VALUES (?, ?, ?, ?)",
                    (name, description, now, now),
                )
                exp_id = cur.lastrowid
                db.executemany(
                    "INSERT OR REPLACE INTO experiment_tags VALUES (?, ?, ?)",
                    [(exp_id, k, str(v)) for k, v in (tags or {}).items()],
                )
            else:
                exp_id = row[0]
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return str(exp_id)

    def _experiment_from_row(self, row: tuple) -> Experiment:
        exp_id = str(row[0])
        tags = dict(
            self.read_db().execute(
                "SELECT key, value FROM experiment_tags WHERE experiment_id = ?", (row[0],)
            )
        )
        return Experiment(
            experiment_id=exp_id,
            name=row[1],
            lifecycle_stage=row[2],
            description=row[3],
            tags=tags,
            creation_time=row[4],
            last_update_time=row[5],
            artifact_location=os.path.join(self.artifact_root, exp_id),
        )

    _EXP_COLS = "experiment_id, name, lifecycle, description, creation_time, last_update_time"

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with this id; raises ExperimentNotFound."""
        row = self.read_db().execute(
            f"SELECT {self._EXP_COLS} FROM experiments WHERE experiment_id = ?",
            (str(experiment_id),),
        ).fetchone()
        if row is None:
            raise ExperimentNotFound(experiment_id)
        return self._experiment_from_row(row)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment with this name, or None."""
        row = self.read_db().execute(
            f"SELECT {self._EXP_COLS} FROM experiments WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else self._experiment_from_row(row)

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

    def experiment_stats(self) -> dict[str, tuple[int, int | None]]:
        """Per experiment id: (run count, last activity in epoch ms)."""
        rows = self.read_db().execute(
            "SELECT experiment_id, COUNT(*), MAX(COALESCE(end_time, start_time)) FROM runs "
            "WHERE lifecycle = 'active' GROUP BY experiment_id"
        )
        return {str(e): (n, last) for e, n, last in rows}

    def set_experiment_lifecycle(self, experiment_id: str, lifecycle: str) -> None:
        """Mark an experiment active or deleted."""
        self.get_experiment(experiment_id)
        self.read_db().execute(
            "UPDATE experiments SET lifecycle = ?, last_update_time = ? WHERE experiment_id = ?",
            (lifecycle, _now_ms(), str(experiment_id)),
        )

    # -- runs ----------------------------------------------------------------------

    def artifact_dir(self, experiment_id: str, run_id: str) -> str:
        """Absolute folder of a run's artifacts."""
        return os.path.join(self.artifact_root, str(experiment_id), run_id)

    _RUN_COLS = (
        "run_id, experiment_id, run_name, status, start_time, end_time, parent_run_id, "
        "lifecycle, user, source, description, context"
    )

    def _info(self, row: tuple) -> RunInfo:
        return RunInfo(
            run_id=row[0],
            experiment_id=str(row[1]),
            run_name=row[2],
            status=row[3],
            start_time=row[4],
            end_time=row[5],
            parent_run_id=row[6],
            artifact_uri=self.artifact_dir(row[1], row[0]),
            lifecycle_stage=row[7],
            user=row[8],
            source=row[9],
            description=row[10],
        )

    def get_run(self, run_id: str) -> Run:
        """The run with every param, tag, latest metric and input; raises RunNotFound."""
        runs = self._runs_by_ids([run_id])
        if not runs:
            raise RunNotFound(run_id)
        return runs[0]

    def run_exists(self, run_id: str) -> tuple[str, str] | None:
        """(experiment_id, status) of a run, or None when there is no such run."""
        row = self.read_db().execute(
            "SELECT experiment_id, status FROM runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        return None if row is None else (str(row[0]), row[1])

    def _runs_by_ids(self, run_ids: Sequence[str]) -> list[Run]:
        db = self.read_db()
        rows: dict[str, tuple] = {}
        params: dict[str, dict[str, str]] = {}
        tags: dict[str, dict[str, str]] = {}
        metrics: dict[str, dict[str, float]] = {}
        inputs: dict[str, list[Dataset]] = {}
        for start in range(0, len(run_ids), _CHUNK):
            chunk = list(run_ids[start : start + _CHUNK])
            marks = ",".join("?" * len(chunk))
            for row in db.execute(f"SELECT {self._RUN_COLS} FROM runs WHERE run_id IN ({marks})", chunk):
                rows[row[0]] = row
            for rid, k, v in db.execute(f"SELECT run_id, key, value FROM params WHERE run_id IN ({marks})", chunk):
                params.setdefault(rid, {})[k] = v
            for rid, k, v in db.execute(f"SELECT run_id, key, value FROM tags WHERE run_id IN ({marks})", chunk):
                tags.setdefault(rid, {})[k] = v
            for rid, k, v in db.execute(
                f"SELECT run_id, key, value FROM latest_metrics WHERE run_id IN ({marks})", chunk
            ):
                metrics.setdefault(rid, {})[k] = float("nan") if v is None else v
            for r in db.execute(
                "SELECT run_id, name, digest, context, shape, schema, source FROM inputs "
                f"WHERE run_id IN ({marks})",
                chunk,
            ):
                inputs.setdefault(r[0], []).append(Dataset(*r[1:]))
        out = []
        for rid in run_ids:
            row = rows.get(rid)
            if row is None:
                continue
            data = RunData(params.get(rid, {}), metrics.get(rid, {}), tags.get(rid, {}))
            context = json.loads(row[11]) if row[11] else {}
            out.append(Run(self._info(row), data, tuple(inputs.get(rid, ())), context))
        return out

    def search_runs(
        self,
        experiment_ids: Sequence[str] | None,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        max_results: int = 1000,
        offset: int = 0,
        view: str = "active",
    ) -> list[Run]:
        """Runs matching a filter (see :mod:`logwright.search`), ordered and paged."""
        from logwright.search import compile_run_filter, compile_run_order_by

        where, args = compile_run_filter(filter_string)
        order, order_args = compile_run_order_by(order_by)
        sql = f"SELECT r.run_id FROM runs r WHERE ({where})"
        if experiment_ids is not None:
            ids = [str(e) for e in experiment_ids]
            sql += f" AND r.experiment_id IN ({','.join('?' * len(ids))})"
            args = [*args, *ids]
        if view != "all":
            sql += " AND r.lifecycle = ?"
            args = [*args, view]
        sql += f" ORDER BY {order} LIMIT ? OFFSET ?"
        ids = [r[0] for r in self.read_db().execute(sql, [*args, *order_args, max_results, offset])]
        return self._runs_by_ids(ids)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric, by step then time."""
        steps, vals, stamps = series.read_series(self.read_db(), run_id, key)
        return [Metric(key, v, s, t) for s, v, t in zip(steps, vals, stamps, strict=False)]

    def get_metric_series(self, run_id: str, key: str) -> tuple[array, array, array]:
        """One metric's history as (steps, values, timestamps) arrays: cheap for long series."""
        return series.read_series(self.read_db(), run_id, key)

    def metric_keys(self, run_id: str) -> list[str]:
        """Keys of every metric the run has."""
        rows = self.read_db().execute(
            "SELECT key FROM latest_metrics WHERE run_id = ? ORDER BY key", (run_id,)
        )
        return [r[0] for r in rows]

    def max_step(self, run_id: str, key: str) -> int | None:
        """The highest step stored for a metric, or None."""
        return series.max_step(self.read_db(), run_id, key)

    def get_params(self, run_id: str) -> dict[str, str]:
        """Every param of a run."""
        return dict(self.read_db().execute("SELECT key, value FROM params WHERE run_id = ?", (run_id,)))

    def child_run_ids(self, run_id: str) -> list[str]:
        """Ids of the runs nested directly under ``run_id``."""
        rows = self.read_db().execute(
            "SELECT run_id FROM runs WHERE parent_run_id = ? AND lifecycle = 'active' "
            "ORDER BY start_time",
            (run_id,),
        )
        return [r[0] for r in rows]

    def set_run_lifecycle(self, run_id: str, lifecycle: str) -> None:
        """Mark a run (and nothing else) deleted or active again."""
        if self.run_exists(run_id) is None:
            raise RunNotFound(run_id)
        self.read_db().execute("UPDATE runs SET lifecycle = ? WHERE run_id = ?", (lifecycle, run_id))

    # -- the writer's side -----------------------------------------------------------

    def _apply(self, batch: Sequence[tuple]) -> None:
        db = self._write_db
        if db is None:
            db = self._write_db = self._connect()
        groups: dict[str, list[tuple]] = {}
        for op in batch:
            groups.setdefault(op[0], []).append(op[1:])
        for attempt in range(200):
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                if attempt == 199:
                    raise
                time.sleep(0.05)
                continue
            break
        try:
            for kind, apply in _APPLY.items():  # fixed order: a run exists before its updates
                rows = groups.get(kind)
                if rows:
                    apply(db, rows)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


def _apply_runs(db: sqlite3.Connection, rows: list[tuple]) -> None:
    _new_runs.update(row[0] for row in rows)
    db.executemany(
        f"INSERT OR IGNORE INTO runs ({SqliteStore._RUN_COLS}) "
        "VALUES (?, ?, ?, ?, ?, NULL, ?, 'active', ?, ?, ?, ?)",
        rows,
    )


def _apply_run_updates(db: sqlite3.Connection, rows: list[tuple]) -> None:
    for run_id, fields in rows:
        cols = ", ".join(f"{name} = ?" for name in fields)
        db.execute(f"UPDATE runs SET {cols} WHERE run_id = ?", [*fields.values(), run_id])


def _apply_params(db: sqlite3.Connection, rows: list[tuple]) -> None:
    db.executemany("INSERT OR IGNORE INTO params VALUES (?, ?, ?)", rows)


def _apply_tags(db: sqlite3.Connection, rows: list[tuple]) -> None:
    if all(row[2] is not None for row in rows):
        db.executemany("INSERT OR REPLACE INTO tags VALUES (?, ?, ?)", rows)
        return
    for run_id, key, value in rows:
        if value is None:
            db.execute("DELETE FROM tags WHERE run_id = ? AND key = ?", (run_id, key))
        else:
            db.execute("INSERT OR REPLACE INTO tags VALUES (?, ?, ?)", (run_id, key, value))


def _apply_metrics(db: sqlite3.Connection, rows: list[tuple]) -> None:
    latest = series.append_points(db, rows, _new_runs)
    _new_runs.difference_update({row[0] for row in rows})
    db.executemany(
        "INSERT INTO latest_metrics (run_id, key, value, timestamp, step) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, "
        "timestamp = excluded.timestamp, step = excluded.step "
        "WHERE excluded.step > latest_metrics.step OR (excluded.step = latest_metrics.step "
        "AND excluded.timestamp >= latest_metrics.timestamp)",
        latest,
    )


def _apply_inputs(db: sqlite3.Connection, rows: list[tuple]) -> None:
    db.executemany("INSERT OR REPLACE INTO inputs VALUES (?, ?, ?, ?, ?, ?, ?)", rows)


def _apply_traces(db: sqlite3.Connection, rows: list[tuple]) -> None:
    """Whole traces from logwright.tracing; each op's ``to_rows()`` runs here, off the hot path.

    ``to_rows()`` returns (traces row, trace_tags rows, spans rows) in table column order.
    """
    traces, tags, spans = [], [], []
    for (payload,) in rows:
        trace, trace_tags, trace_spans = payload.to_rows()
        traces.append(trace)
        tags.extend(trace_tags)
        spans.extend(trace_spans)
    db.executemany(f"INSERT OR REPLACE INTO traces VALUES ({', '.join('?' * 13)})", traces)
    db.executemany("INSERT OR REPLACE INTO trace_tags VALUES (?, ?, ?)", tags)
    db.executemany(f"INSERT OR REPLACE INTO spans VALUES ({', '.join('?' * 13)})", spans)


def _apply_sql(db: sqlite3.Connection, rows: list[tuple]) -> None:
    """Generic operations: (sql, args) pairs, for records owned by other modules (traces)."""
    for sql, args in rows:
        if args and isinstance(args[0], (tuple, list)):
            db.executemany(sql, args)
        else:
            db.execute(sql, args)


_APPLY = {
    "run": _apply_runs,
    "run_update": _apply_run_updates,
    "param": _apply_params,
    "tag": _apply_tags,
    "metric": _apply_metrics,
    "input": _apply_inputs,
    "trace": _apply_traces,
    "sql": _apply_sql,
}


def _reset_after_fork() -> None:
    for store in list(_stores):
        store._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)

