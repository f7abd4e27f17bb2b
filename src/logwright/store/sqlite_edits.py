"""Edits of the SQLite store that the UI and CLI make: an experiment's name and
description, and purging deleted runs for good.

Mixed into :class:`~logwright.store.sqlite.SqliteStore`. Both are synchronous
calls: each is one ``BEGIN IMMEDIATE`` transaction on the caller's connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from logwright.store.editing import EXPERIMENT_FIELDS, RUN_TABLES, experiment_changes
from logwright.store.queued import now_ms

_BATCH = 500  # ids per statement, well under SQLite's variable limit


class SqliteEditsMixin:
    """``update_experiment`` and ``purge_runs`` over ``self.read_db()``."""

    db_path: str
    read_db: Callable[[], sqlite3.Connection]
    get_experiment: Callable[[str], Any]
    flush: Callable[..., None]
    _refuse_writes: Callable[[], None]

    @contextmanager
    def _transaction(self, what: str) -> Iterator[sqlite3.Connection]:
        from logwright.exceptions import StoreError

        db = self.read_db()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"cannot {what} in store {self.db_path!r}: {exc}") from exc

    def update_experiment(self, experiment_id: str, fields: Mapping[str, Any]) -> None:
        """Change an experiment's ``name`` and/or ``description`` (see :class:`~logwright.store.base.Store`)."""
        current = self.get_experiment(experiment_id)
        changes = experiment_changes(fields)
        self._refuse_writes()
        with self._transaction(f"update experiment {experiment_id}") as db:
            if "name" in changes:
                row = db.execute("SELECT experiment_id FROM experiments WHERE name = ? AND experiment_id != ?",
                                 (changes["name"], int(current.experiment_id))).fetchone()
                if row is not None:
                    raise ValueError(f"an experiment named {changes['name']!r} already exists (id {row[0]})")
            sets = ", ".join(f"{EXPERIMENT_FIELDS[k]} = ?" for k in changes)
            db.execute(f"UPDATE experiments SET {sets}, last_update_time = ? WHERE experiment_id = ?",
                       (*changes.values(), now_ms(), int(current.experiment_id)))

    def purge_runs(self, run_ids: Sequence[str]) -> list[str]:
        """Delete deleted runs and everything logged to them (see :class:`~logwright.store.base.Store`)."""
        self._refuse_writes()
        self.flush()  # nothing queued for these runs may land after they are gone
        purged: list[str] = []
        ids = list(dict.fromkeys(str(r) for r in run_ids))
        for start in range(0, len(ids), _BATCH):
            chunk = ids[start : start + _BATCH]
            marks = ", ".join("?" * len(chunk))
            with self._transaction("purge runs") as db:
                found = [r[0] for r in db.execute(
                    f"SELECT run_id FROM runs WHERE lifecycle = 'deleted' AND run_id IN ({marks})", chunk)]
                if not found:
                    continue
                marks = ", ".join("?" * len(found))
                db.execute(f"UPDATE traces SET run_id = NULL WHERE run_id IN ({marks})", found)
                for table in RUN_TABLES:
                    db.execute(f"DELETE FROM {table} WHERE run_id IN ({marks})", found)
            purged += found
        return purged
