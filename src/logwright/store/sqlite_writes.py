"""How the SQLite store's writer applies each kind of operation, and what a failure means.

Operations are tuples built only by :class:`~logwright.store.sqlite.SqliteStore`'s
queued-write methods, with values already validated and encoded at the user's call:

``("run", run_id, experiment_id, name, status, start, parent, user, source, description,
context, owner_host, owner_pid, owner_start, heartbeat)``, ``("run_update", run_id, fields)``,
``("param", run_id, key, value)``, ``("tag", run_id, key, value or None)``,
``("metric", run_id, key, value, timestamp, step or None)``, ``("input", run_id, name,
digest, context, shape, schema, source)``, ``("trace", state)``, ``("late_span", state,
span)``, ``("heartbeat", time_ms, run_ids)``, ``("reap", run_id, end_time)``.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence

from logwright.store import series, sqlite_traces
from logwright.store.common import (
    group_ops,
    jsonable,
    number_steps,
    param_conflict,
    rejected_line,
    run_update_columns,
)
from logwright.store.writer import OP, TRANSIENT

_logger = logging.getLogger(__name__)

RUN_COLS = (
    "run_id, experiment_id, run_name, status, start_time, end_time, parent_run_id, "
    "lifecycle, user, source, description, context, owner_host, owner_pid, owner_start, heartbeat"
)
_TRANSIENT_WORDS = ("locked", "busy", "full", "disk i/o", "unable to open", "readonly", "read-only",
                    "no such table", "not a database", "malformed", "interrupted")
_warned: set[tuple[str, str]] = set()
_warn_lock = threading.Lock()


def classify(exc: BaseException) -> str:
    """Transient (retry the batch), op (split it and set the culprit aside) or fatal."""
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        return TRANSIENT if any(w in text for w in _TRANSIENT_WORDS) else OP
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(
        exc, (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.ProgrammingError, sqlite3.InterfaceError)
    ):
        return TRANSIENT  # corrupt page, I/O: a repaired or freed disk may let it through
    if isinstance(exc, OSError):
        return TRANSIENT
    if isinstance(exc, MemoryError):
        return TRANSIENT
    return OP


_jsonable = jsonable  # the PostgreSQL store's rejecter still reads it here


def make_rejecter(folder: str, describe: str) -> Callable[[tuple, BaseException], None]:
    """A ``reject`` callback appending each set-aside operation to ``<folder>/rejected.jsonl``."""
    path = os.path.join(folder, "rejected.jsonl")

    def reject(op: tuple, exc: BaseException) -> None:
        line = rejected_line(op, exc)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
        key = (op[0], type(exc).__name__)
        with _warn_lock:
            first = key not in _warned
            _warned.add(key)
        if first:
            _logger.warning(
                "logwright could not store a %s operation in %s (%s: %s); it was set aside in %s "
                "and everything else was written", op[0], describe, type(exc).__name__, exc, path,
            )

    return reject


def apply_batch(db: sqlite3.Connection, batch: Sequence[tuple], new_runs: set[str]) -> None:
    """Apply a batch in one ``BEGIN IMMEDIATE`` transaction (rolled back on any failure)."""
    groups = group_ops(batch)
    db.execute("BEGIN IMMEDIATE")
    try:
        for kind, apply in _APPLY.items():  # fixed order: a run exists before its updates
            rows = groups.pop(kind, None)
            if rows:
                if kind == "metric":
                    _apply_metrics(db, rows, new_runs)
                else:
                    apply(db, rows)
        if groups:
            raise ValueError(f"unknown writer operation {next(iter(groups))!r}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
        raise


def _apply_runs(db: sqlite3.Connection, rows: list[tuple]) -> None:
    db.executemany(
        f"INSERT OR IGNORE INTO runs ({RUN_COLS}) "
        "VALUES (?, ?, ?, ?, ?, NULL, ?, 'active', ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def _apply_run_updates(db: sqlite3.Connection, rows: list[tuple]) -> None:
    for run_id, fields in rows:
        cols = ", ".join(f"{name} = ?" for name in run_update_columns(fields))
        db.execute(f"UPDATE runs SET {cols} WHERE run_id = ?", [*fields.values(), run_id])


def _apply_params(db: sqlite3.Connection, rows: list[tuple]) -> None:
    conflicts = insert_params(db, rows)
    if conflicts:
        raise param_conflict(conflicts)


def insert_params(db: sqlite3.Connection, rows: Sequence[tuple]) -> list[tuple]:
    """Insert (run_id, key, value) rows; returns (run_id, key, value, stored) for conflicts."""
    db.executemany("INSERT OR IGNORE INTO params VALUES (?, ?, ?)", rows)
    conflicts = []
    for run_id, key, value in rows:
        stored = db.execute("SELECT value FROM params WHERE run_id = ? AND key = ?", (run_id, key)).fetchone()
        if stored is not None and stored[0] != value:
            conflicts.append((run_id, key, value, stored[0]))
    return conflicts


def _apply_tags(db: sqlite3.Connection, rows: list[tuple]) -> None:
    if all(row[2] is not None for row in rows):
        db.executemany("INSERT OR REPLACE INTO tags VALUES (?, ?, ?)", rows)
        return
    for run_id, key, value in rows:
        if value is None:
            db.execute("DELETE FROM tags WHERE run_id = ? AND key = ?", (run_id, key))
        else:
            db.execute("INSERT OR REPLACE INTO tags VALUES (?, ?, ?)", (run_id, key, value))


def _resolve_steps(db: sqlite3.Connection, rows: list[tuple]) -> list[tuple]:
    """Give each point logged without a step its key's next step, in queue order.

    The next step is one past the highest step stored or seen so far; the writer's
    transaction holds the database's write lock, so steps are unique across processes.
    """
    if all(row[4] is not None for row in rows):
        return rows

    def stored_next(slot: tuple[str, str]) -> int:
        found = db.execute("SELECT step FROM latest_metrics WHERE run_id = ? AND key = ?", slot).fetchone()
        return 0 if found is None else found[0] + 1

    return number_steps(rows, stored_next)


def _apply_metrics(db: sqlite3.Connection, rows: list[tuple], new_runs: set[str]) -> None:
    rows = _resolve_steps(db, rows)
    latest = series.append_points(db, rows, new_runs)
    new_runs.difference_update({row[0] for row in rows})
    db.executemany(
        "INSERT INTO latest_metrics (run_id, key, value, timestamp, step) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, "
        "timestamp = excluded.timestamp, step = excluded.step "
        "WHERE excluded.step > latest_metrics.step OR (excluded.step = latest_metrics.step "
        "AND (excluded.timestamp > latest_metrics.timestamp OR (excluded.timestamp = latest_metrics.timestamp "
        "AND COALESCE(excluded.value, 0) > COALESCE(latest_metrics.value, 0))))",  # NaN (NULL) counts as 0, as MLflow
        latest,
    )


def _apply_inputs(db: sqlite3.Connection, rows: list[tuple]) -> None:
    db.executemany("INSERT OR REPLACE INTO inputs VALUES (?, ?, ?, ?, ?, ?, ?)", rows)


def _apply_heartbeats(db: sqlite3.Connection, rows: list[tuple]) -> None:
    for now, run_ids in rows:
        db.executemany(
            "UPDATE runs SET heartbeat = ? WHERE run_id = ? AND status = 'RUNNING'",
            [(now, rid) for rid in run_ids],
        )


def _apply_reaps(db: sqlite3.Connection, rows: list[tuple]) -> None:
    db.executemany(
        "UPDATE runs SET status = 'KILLED', end_time = ? WHERE run_id = ? AND status = 'RUNNING'",
        [(end, rid) for rid, end in rows],
    )


def _apply_ingest_marks(db: sqlite3.Connection, rows: list[tuple]) -> None:
    """The last batch of each HTTP client applied (in the batch's own transaction: exactly once)."""
    db.executemany(
        "INSERT INTO ingest_marks VALUES (?, ?, ?) ON CONFLICT(client_id) DO UPDATE "
        "SET seq = MAX(seq, excluded.seq), updated = excluded.updated",
        [(client, seq, now) for client, seq, now in rows],
    )


def _metrics_placeholder(db: sqlite3.Connection, rows: list[tuple]) -> None:
    raise AssertionError("metrics are applied with the store's new-run set")


_APPLY: dict[str, Callable[[sqlite3.Connection, list[tuple]], None]] = {
    "run": _apply_runs,
    "run_update": _apply_run_updates,
    "param": _apply_params,
    "tag": _apply_tags,
    "metric": _metrics_placeholder,
    "input": _apply_inputs,
    "trace": lambda db, rows: sqlite_traces.apply_traces(db, rows),
    "late_span": lambda db, rows: sqlite_traces.apply_late_spans(db, rows),
    "heartbeat": _apply_heartbeats,
    "reap": _apply_reaps,
    "ingest_mark": _apply_ingest_marks,
}
