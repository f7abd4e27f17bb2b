"""Reading runs from the SQLite store, and marking runs whose process died as KILLED.

Mixed into :class:`~logwright.store.sqlite.SqliteStore`. Before answering a search
or a ``get_run``, the store looks (at most every few seconds) at its RUNNING runs
and ends as KILLED those whose owner process is gone (see :mod:`logwright.store.owner`).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from array import array
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from logwright.entities import Dataset, Metric, Run, RunData, RunInfo
from logwright.exceptions import InvalidFilter, RunNotFound, StoreError
from logwright.store import owner, series
from logwright.store.common import read_errors, run_info

_CHUNK = 500
_REAP_EVERY_S = 5.0
_INFO_COLS = (
    "run_id, experiment_id, run_name, status, start_time, end_time, parent_run_id, "
    "lifecycle, user, source, description, context"
)
_F = TypeVar("_F", bound=Callable[..., Any])


def _read_error(store: Any, exc: Exception) -> Exception | None:
    if not isinstance(exc, sqlite3.Error):
        return None
    text = str(exc).lower()
    if "too many" in text or "too large" in text:
        return InvalidFilter(f"the query is too large or holds a number out of range ({exc})", "", 0)
    return StoreError(f"store {store.db_path!r}: {exc}")


reading = read_errors(_read_error)
"""Turn database failures of a read into StoreError (InvalidFilter for oversized filters)."""


class RunsMixin:
    """The run reads of the Store protocol over ``self.read_db()``."""

    db_path: str
    artifact_root: str
    read_only: bool
    _last_reap: float
    writer: Any
    read_db: Callable[[], sqlite3.Connection]
    _write_now: Callable[[str, Sequence[Any]], None]
    _refuse_writes: Callable[[], None]
    experiment_location: Callable[[str], str]

    def artifact_dir(self, experiment_id: str, run_id: str) -> str:
        """Where a run's artifacts live: ``<experiment's artifact location>/<run_id>``."""
        location = self.experiment_location(str(experiment_id))
        if "://" in location:
            return f"{location.rstrip('/')}/{run_id}"
        return os.path.join(location, run_id)

    def _info(self, row: tuple) -> RunInfo:
        return run_info(row, self.artifact_dir(row[1], row[0]))

    # -- crashed runs ------------------------------------------------------------------

    def reap_dead_runs(self, force: bool = False) -> list[str]:
        """End as KILLED every RUNNING run whose owner process is gone; returns their ids.

        Runs at most every few seconds unless ``force``. On a read-only store the runs
        are only reported, not changed.
        """
        now = time.monotonic()
        if not force and now - self._last_reap < _REAP_EVERY_S:
            return []
        self._last_reap = now
        rows = self.read_db().execute(
            "SELECT run_id, owner_host, owner_pid, owner_start, heartbeat FROM runs WHERE status = 'RUNNING'"
        ).fetchall()
        now_ms = int(time.time() * 1000)
        dead = [r for r in rows if owner.is_dead(r[1], r[2], r[3], r[4], now_ms)]
        if dead and not self.read_only:
            try:
                db = self.read_db()
                # It ended after its last heartbeat and after the last point it logged.
                db.executemany(
                    "UPDATE runs SET status = 'KILLED', end_time = MAX(COALESCE(?, start_time), "
                    "COALESCE((SELECT MAX(timestamp) FROM latest_metrics WHERE run_id = ?), 0)) "
                    "WHERE run_id = ? AND status = 'RUNNING'",
                    [(r[4], r[0], r[0]) for r in dead],
                )
            except sqlite3.Error:
                pass  # locked: the next reader tries again
        return [r[0] for r in dead]

    # -- runs --------------------------------------------------------------------------

    @reading
    def get_run(self, run_id: str) -> Run:
        """The run with every param, tag, latest metric and input; raises RunNotFound."""
        self.reap_dead_runs()
        runs = self._runs_by_ids([run_id])
        if not runs:
            raise RunNotFound(run_id)
        if runs[0].info.status == "RUNNING" and run_id in self.reap_dead_runs(force=True):
            runs = self._runs_by_ids([run_id])  # its process is gone: it reads KILLED at once
        return runs[0]

    @reading
    def run_exists(self, run_id: str) -> tuple[str, str] | None:
        """(experiment_id, status) of a run, or None when there is no such run."""
        if not isinstance(run_id, str):
            return None
        row = self.read_db().execute("SELECT experiment_id, status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
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
            for row in db.execute(f"SELECT {_INFO_COLS} FROM runs WHERE run_id IN ({marks})", chunk):
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

    @reading
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

        where, args = compile_run_filter(filter_string, artifact_root=self.artifact_root)
        order, order_args = compile_run_order_by(order_by)
        self.reap_dead_runs()
        sql = f"SELECT r.run_id FROM runs r WHERE ({where})"
        if experiment_ids is not None:
            ids = [int(e) for e in experiment_ids if str(e).isdigit() and len(str(e)) < 19]
            sql += f" AND r.experiment_id IN ({','.join('?' * len(ids))})"
            args = [*args, *ids]
        if view != "all":
            sql += " AND r.lifecycle = ?"
            args = [*args, view]
        sql += f" ORDER BY {order} LIMIT ? OFFSET ?"
        ids = [r[0] for r in self.read_db().execute(sql, [*args, *order_args, max_results, offset])]
        return self._runs_by_ids(ids)

    @reading
    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric, by step then time."""
        steps, vals, stamps = series.read_series(self.read_db(), run_id, key)
        return [Metric(key, v, t, s) for s, v, t in zip(steps, vals, stamps, strict=False)]

    @reading
    def get_metric_series(self, run_id: str, key: str) -> tuple[array, array, array]:
        """One metric's history as (steps, values, timestamps) arrays: cheap for long series."""
        return series.read_series(self.read_db(), run_id, key)

    @reading
    def metric_keys(self, run_id: str) -> list[str]:
        """Keys of every metric the run has."""
        rows = self.read_db().execute("SELECT key FROM latest_metrics WHERE run_id = ? ORDER BY key", (run_id,))
        return [r[0] for r in rows]

    @reading
    def get_metric_counts(self, run_id: str) -> dict[str, int]:
        """How many points each metric of the run has, by key (the chunk sizes summed; the arrays are not decoded)."""
        rows = self.read_db().execute("SELECT key, SUM(n) FROM metric_chunks WHERE run_id = ? GROUP BY key", (run_id,))
        return {key: int(n) for key, n in rows}

    @reading
    def max_step(self, run_id: str, key: str) -> int | None:
        """The highest step stored for a metric, or None."""
        row = self.read_db().execute(
            "SELECT step FROM latest_metrics WHERE run_id = ? AND key = ?", (run_id, key)
        ).fetchone()
        return None if row is None else row[0]

    @reading
    def get_params(self, run_id: str) -> dict[str, str]:
        """Every param of a run."""
        return dict(self.read_db().execute("SELECT key, value FROM params WHERE run_id = ?", (run_id,)))

    @reading
    def child_run_ids(self, run_id: str) -> list[str]:
        """Ids of the runs nested directly under ``run_id``."""
        rows = self.read_db().execute(
            "SELECT run_id FROM runs WHERE parent_run_id = ? AND lifecycle = 'active' ORDER BY start_time",
            (run_id,),
        )
        return [r[0] for r in rows]

    @reading
    def run_ids_like(self, prefix: str, limit: int = 2) -> list[str]:
        """Ids of runs (deleted ones too) that start with ``prefix``, sorted, at most ``limit``.

        ``%`` and ``_`` in ``prefix`` match only themselves; 2 tells a unique prefix from
        an ambiguous one.
        """
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self.read_db().execute(
            "SELECT run_id FROM runs WHERE run_id LIKE ? ESCAPE '\\' ORDER BY run_id LIMIT ?", (pattern, int(limit))
        )
        return [r[0] for r in rows]

    def set_run_lifecycle(self, run_id: str, lifecycle: str) -> None:
        """Mark a run (and nothing else) deleted or active again."""
        if self.run_exists(run_id) is None:
            raise RunNotFound(run_id)
        self._refuse_writes()
        self._write_now("UPDATE runs SET lifecycle = ? WHERE run_id = ?", (lifecycle, run_id))

