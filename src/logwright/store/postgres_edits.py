"""Edits of the PostgreSQL store that the UI and CLI make: an experiment's name and
description, and purging deleted runs for good.

Mixed into :class:`~logwright.store.postgres.PostgresStore`; the same semantics as
:mod:`logwright.store.sqlite_edits`, each call one transaction.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import psycopg

from logwright.exceptions import StoreError
from logwright.store.editing import EXPERIMENT_FIELDS, RUN_TABLES, experiment_changes
from logwright.store.queued import now_ms

_BATCH = 1000


class PostgresEditsMixin:
    """``update_experiment`` and ``purge_runs`` over the store's connection pool."""

    location: str
    _db: Callable[[], contextlib.AbstractContextManager[psycopg.Connection]]
    get_experiment: Callable[[str], Any]
    flush: Callable[..., None]

    @contextlib.contextmanager
    def _edit(self, what: str) -> Iterator[psycopg.Connection]:
        try:
            with self._db() as conn, conn.transaction():
                yield conn
        except psycopg.Error as exc:
            raise StoreError(f"cannot {what} in store {self.location}: {exc}") from exc

    def update_experiment(self, experiment_id: str, fields: Mapping[str, Any]) -> None:
        """Change an experiment's ``name`` and/or ``description`` (see :class:`~logwright.store.base.Store`)."""
        current = self.get_experiment(experiment_id)
        changes = experiment_changes(fields)
        exp_id = int(current.experiment_id)
        with self._edit(f"update experiment {experiment_id}") as conn:
            if "name" in changes:
                row = conn.execute("SELECT experiment_id FROM experiments WHERE name = %s AND experiment_id != %s",
                                   (changes["name"], exp_id)).fetchone()
                if row is not None:
                    raise ValueError(f"an experiment named {changes['name']!r} already exists (id {row[0]})")
            sets = ", ".join(f"{EXPERIMENT_FIELDS[k]} = %s" for k in changes)
            conn.execute(f"UPDATE experiments SET {sets}, last_update_time = %s WHERE experiment_id = %s",
                         (*changes.values(), now_ms(), exp_id))

    def purge_runs(self, run_ids: Sequence[str]) -> list[str]:
        """Delete deleted runs and everything logged to them (see :class:`~logwright.store.base.Store`)."""
        self.flush()  # nothing queued for these runs may land after they are gone
        purged: list[str] = []
        ids = list(dict.fromkeys(str(r) for r in run_ids))
        for start in range(0, len(ids), _BATCH):
            with self._edit("purge runs") as conn:
                found = [r[0] for r in conn.execute(
                    "SELECT run_id FROM runs WHERE lifecycle = 'deleted' AND run_id = ANY(%s) FOR UPDATE",
                    (ids[start : start + _BATCH],))]
                if not found:
                    continue
                conn.execute("UPDATE traces SET run_id = NULL WHERE run_id = ANY(%s)", (found,))
                for table in RUN_TABLES:
                    conn.execute(f"DELETE FROM {table} WHERE run_id = ANY(%s)", (found,))
            purged += found
        return purged
