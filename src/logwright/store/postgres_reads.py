"""The reads of the PostgreSQL store: runs, metric histories, traces and the UI's pages.

Mixed into :class:`~logwright.store.postgres.PostgresStore`, which provides ``_all`` and
``_one`` (a query on a pooled connection). Filters compile with the search module's
``postgres`` dialect. Errors follow the Store protocol: a filter the server cannot run
(too deep, a number out of range) raises ``InvalidFilter``; any other failure ``StoreError``.
"""

from __future__ import annotations

import json
import re
import time
from array import array
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import psycopg

from logwright.entities import Dataset, Metric, Run, RunData, RunInfo, Trace
from logwright.exceptions import ExperimentNotFound, InvalidFilter, RunNotFound, StoreError
from logwright.search import (
    compile_run_filter,
    compile_run_order_by,
    compile_trace_filter,
    compile_trace_order_by,
)
from logwright.store import owner, series
from logwright.store.base import RunRow, RunsPage
from logwright.store.common import (
    attach_children,
    read_errors,
    run_info,
    runs_page_query,
    trace_page_query,
    trace_summary,
)
from logwright.store.postgres_traces import COLS as TRACE_COLS
from logwright.store.sqlite_traces import _paging, _trace

_REAP_EVERY_S = 5.0
_RECENT_RUNS_FOR_COLUMNS = 500
_MAX_CHILDREN = 200
_INFO_COLS = ('run_id, experiment_id, run_name, status, start_time, end_time, parent_run_id, '
              'lifecycle, "user", source, description, context')
_ROW_COLS = 'r.run_id, r.run_name, r.status, r.start_time, r.end_time, r.source, r."user", r.parent_run_id'
_SUMMARY_COLS = ("t.trace_id, t.experiment_id, t.run_id, t.name, t.status, t.start_ns, t.end_ns, "
                 "t.input_tokens, t.output_tokens, t.total_tokens, t.span_count")
_TRACE_SELECT = ", ".join(f"t.{c}" for c in TRACE_COLS.split(", "))
# SQLSTATE classes that mean "this query is too big or holds a number out of range": the filter's fault.
_FILTER_STATES = ("54", "22003", "22P02")
_LONG_NUMBER = re.compile(r"\d{19,}")
_F = TypeVar("_F", bound=Callable[..., Any])


def _read_error(store: Any, exc: Exception) -> Exception | None:
    if not isinstance(exc, psycopg.Error):
        return None
    state = getattr(exc, "sqlstate", None)
    if isinstance(exc, psycopg.DataError):
        if state is None and "NUL" in str(exc):  # refused before it was sent
            return InvalidFilter("PostgreSQL text cannot hold U+0000 (NUL): nothing stored contains it, "
                                 "so a value with it cannot be searched for", "", 0)
    elif (state or "").startswith(_FILTER_STATES):
        return InvalidFilter(f"the filter is too long, too complex or out of range ({exc})", "", 0)
    return StoreError(f"store {store.location}: {exc}")


reading = read_errors(_read_error)
"""Turn failures of a read into the protocol's errors (InvalidFilter for an unrunnable filter)."""


def _experiment_key(experiment_id: Any) -> int:
    text = str(experiment_id)
    if not text.isdigit() or len(text) > 18:
        raise ExperimentNotFound(experiment_id)
    return int(text)


def _ids(experiment_ids: Sequence[Any]) -> list[int]:
    return [int(e) for e in (str(e) for e in experiment_ids) if e.isdigit() and len(e) < 19]


class ReadsMixin:
    """The read half of the Store protocol over PostgreSQL."""

    location: str
    artifact_root: str
    read_only: bool
    _last_reap: float
    _all: Callable[..., list[tuple]]
    _one: Callable[..., tuple | None]
    _execute: Callable[..., None]
    experiment_location: Callable[[str], str]

    def artifact_dir(self, experiment_id: str, run_id: str) -> str:
        """Where a run's artifacts live: ``<experiment's artifact location>/<run_id>``."""
        location = self.experiment_location(str(experiment_id))
        return f"{location.rstrip('/')}/{run_id}"

    def _info(self, row: tuple) -> RunInfo:
        return run_info(row, self.artifact_dir(row[1], row[0]))

    # -- crashed runs ------------------------------------------------------------------

    def reap_dead_runs(self, force: bool = False) -> list[str]:
        """End as KILLED every RUNNING run whose owner is gone (see :mod:`logwright.store.owner`)."""
        now = time.monotonic()
        if not force and now - self._last_reap < _REAP_EVERY_S:
            return []
        self._last_reap = now
        rows = self._all("SELECT run_id, owner_host, owner_pid, owner_start, heartbeat FROM runs "
                         "WHERE status = 'RUNNING'")
        now_ms = int(time.time() * 1000)
        dead = [r for r in rows if owner.is_dead(r[1], r[2], r[3], r[4], now_ms)]
        if dead and not self.read_only:
            for r in dead:  # it ended after its last heartbeat and after the last point it logged
                self._execute(
                    "UPDATE runs SET status = 'KILLED', end_time = GREATEST(COALESCE(%s, start_time), "
                    "COALESCE((SELECT MAX(timestamp) FROM latest_metrics WHERE run_id = %s), 0)) "
                    "WHERE run_id = %s AND status = 'RUNNING'",
                    (r[4], r[0], r[0]),
                )
        return [r[0] for r in dead]

    # -- runs --------------------------------------------------------------------------

    @reading
    def get_run(self, run_id: str) -> Run:
        """The run with every param, tag, latest metric and input; raises RunNotFound."""
        self.reap_dead_runs()
        runs = [] if "\x00" in str(run_id) else self._runs_by_ids([run_id])
        if not runs:
            raise RunNotFound(run_id)
        if runs[0].info.status == "RUNNING" and run_id in self.reap_dead_runs(force=True):
            runs = self._runs_by_ids([run_id])  # its process is gone: it reads KILLED at once
        return runs[0]

    @reading
    def run_exists(self, run_id: str) -> tuple[str, str] | None:
        """(experiment_id, status) of a run, or None when there is no such run."""
        if not isinstance(run_id, str) or "\x00" in run_id:
            return None
        row = self._one("SELECT experiment_id, status FROM runs WHERE run_id = %s", (run_id,))
        return None if row is None else (str(row[0]), row[1])

    def _runs_by_ids(self, run_ids: Sequence[str]) -> list[Run]:
        ids = list(run_ids)
        rows = {r[0]: r for r in self._all(f"SELECT {_INFO_COLS} FROM runs WHERE run_id = ANY(%s)", (ids,))}
        kv: dict[str, dict[str, dict[str, Any]]] = {}
        for table in ("params", "tags", "latest_metrics"):
            for rid, k, v in self._all(f"SELECT run_id, key, value FROM {table} WHERE run_id = ANY(%s)", (ids,)):
                kv.setdefault(table, {}).setdefault(rid, {})[k] = v
        inputs: dict[str, list[Dataset]] = {}
        for r in self._all("SELECT run_id, name, digest, context, shape, schema, source FROM inputs "
                           "WHERE run_id = ANY(%s)", (ids,)):
            inputs.setdefault(r[0], []).append(Dataset(*r[1:]))
        out = []
        for rid in ids:
            row = rows.get(rid)
            if row is None:
                continue
            data = RunData(*(kv.get(t, {}).get(rid, {}) for t in ("params", "latest_metrics", "tags")))
            context = json.loads(row[11]) if row[11] else {}
            out.append(Run(self._info(row), data, tuple(inputs.get(rid, ())), context))
        return out

    @reading
    def search_runs(self, experiment_ids: Sequence[str] | None, filter_string: str | None = None,
                    order_by: Sequence[str] | None = None, max_results: int = 1000, offset: int = 0,
                    view: str = "active") -> list[Run]:
        """Runs matching a filter (see :mod:`logwright.search`), ordered and paged."""
        where, args = compile_run_filter(filter_string, dialect="postgres", artifact_root=self.artifact_root)
        order, order_args = compile_run_order_by(order_by, dialect="postgres")
        self.reap_dead_runs()
        sql = f"SELECT r.run_id FROM runs r WHERE ({where})"
        if experiment_ids is not None:
            sql += " AND r.experiment_id = ANY(%s)"
            args = [*args, _ids(experiment_ids)]
        if view != "all":
            sql += " AND r.lifecycle = %s"
            args = [*args, view]
        sql += f" ORDER BY {order} LIMIT %s OFFSET %s"
        ids = [r[0] for r in self._all(sql, [*args, *order_args, max_results, offset])]
        return self._runs_by_ids(ids)

    @reading
    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric, by step then time."""
        steps, vals, stamps = self.get_metric_series(run_id, key)
        return [Metric(key, v, t, s) for s, v, t in zip(steps, vals, stamps, strict=False)]

    @reading
    def get_metric_series(self, run_id: str, key: str) -> tuple[array, array, array]:
        """One metric's history as (steps, values, timestamps) arrays, by step then time."""
        return series.decode_chunks(self.get_metric_blobs(run_id, key))

    @reading
    def get_metric_blobs(self, run_id: str, key: str) -> list[tuple[bytes, bytes, bytes]]:
        """A metric's stored chunks as (steps, values, timestamps) little-endian blobs, in write order."""
        rows = self._all("SELECT steps, vals, timestamps FROM metric_chunks WHERE run_id = %s AND key = %s "
                         "ORDER BY seq", (run_id, key), binary=True)  # raw bytes: no hex to decode
        return [(bytes(s), bytes(v), bytes(t)) for s, v, t in rows]

    @reading
    def metric_keys(self, run_id: str) -> list[str]:
        """Keys of every metric the run has."""
        return [r[0] for r in self._all("SELECT key FROM latest_metrics WHERE run_id = %s ORDER BY key", (run_id,))]

    @reading
    def get_metric_counts(self, run_id: str) -> dict[str, int]:
        """How many points each metric of the run has, by key (the chunk sizes summed; the arrays are not decoded)."""
        rows = self._all("SELECT key, SUM(n) FROM metric_chunks WHERE run_id = %s GROUP BY key", (run_id,))
        return {key: int(n) for key, n in rows}

    @reading
    def max_step(self, run_id: str, key: str) -> int | None:
        """The highest step stored for a metric, or None."""
        row = self._one("SELECT step FROM latest_metrics WHERE run_id = %s AND key = %s", (run_id, key))
        return None if row is None else row[0]

    @reading
    def get_params(self, run_id: str) -> dict[str, str]:
        """Every param of a run."""
        return dict(self._all("SELECT key, value FROM params WHERE run_id = %s", (run_id,)))

    @reading
    def child_run_ids(self, run_id: str) -> list[str]:
        """Ids of the active runs nested directly under ``run_id``, oldest first."""
        rows = self._all("SELECT run_id FROM runs WHERE parent_run_id = %s AND lifecycle = 'active' "
                         "ORDER BY start_time", (run_id,))
        return [r[0] for r in rows]

    # -- traces ------------------------------------------------------------------------

    @reading
    def get_trace(self, trace_id: str) -> Trace | None:
        """The trace with this id, spans ordered parents first, or None."""
        if "\x00" in str(trace_id):
            return None
        row = self._one(f"SELECT {_TRACE_SELECT} FROM traces t WHERE t.trace_id = %s", (str(trace_id),))
        return None if row is None else self._traces([row])[0]

    @reading
    def search_traces(self, experiment_ids: Sequence[str] | None = None, run_id: str | None = None,
                      filter_string: str | None = None, order_by: Sequence[str] | str | None = None,
                      max_results: int = 100, offset: int = 0) -> list[Trace]:
        """Traces matching the trace filter language, ordered and paged, with their spans."""
        limit, skip = _paging(max_results, offset)
        where, args = compile_trace_filter(filter_string, dialect="postgres")
        if isinstance(order_by, str):
            order_by = [order_by]
        order, order_args = compile_trace_order_by(order_by, dialect="postgres")
        sql = f"SELECT {_TRACE_SELECT} FROM traces t WHERE ({where})"
        if experiment_ids is not None:
            sql += " AND t.experiment_id = ANY(%s)"
            args = [*args, _ids(experiment_ids)]
        if run_id is not None:
            sql += " AND t.run_id = %s"
            args = [*args, str(run_id)]
        sql += f" ORDER BY {order} LIMIT %s OFFSET %s"
        return self._traces(self._all(sql, [*args, *order_args, limit, skip]))

    def _traces(self, rows: list[tuple]) -> list[Trace]:
        tags: dict[str, dict[str, str]] = {}
        ids = [r[0] for r in rows]
        for tid, key, value in self._all("SELECT trace_id, key, value FROM trace_tags WHERE trace_id = ANY(%s)",
                                         (ids,)):
            tags.setdefault(tid, {})[key] = value
        return [_trace(tuple(r[:13]) + (None if r[13] is None else bytes(r[13]),), tags.get(r[0], {}))
                for r in rows]

    @reading
    def trace_ids_like(self, prefix: str, limit: int = 2) -> list[str]:
        """Ids of traces that start with ``prefix`` (``%`` and ``_`` match only themselves)."""
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self._all("SELECT trace_id FROM traces WHERE trace_id LIKE %s ORDER BY trace_id LIMIT %s",
                         (pattern, int(limit)))
        return [r[0] for r in rows]

    @reading
    def trace_counts(self) -> dict[str, int]:
        """Per experiment id: how many traces it has."""
        return {str(e): n for e, n in self._all("SELECT experiment_id, COUNT(*) FROM traces GROUP BY experiment_id")}

    @reading
    def traces_page(self, experiment_id: str | None, filter_string: str | None = None,
                    order_by: str | None = None, run_id: str | None = None, offset: int = 0,
                    limit: int = 100) -> tuple[list[dict[str, Any]], int]:
        """A page of trace summaries (newest first by default) and the total that match."""
        cond, args, order, order_args = trace_page_query(filter_string, order_by, experiment_id, run_id,
                                                         _experiment_key, "postgres")
        total = self._one(f"SELECT COUNT(*) FROM traces t WHERE {cond}", args)[0]
        rows = self._all(f"SELECT {_SUMMARY_COLS} FROM traces t WHERE {cond} ORDER BY {order} LIMIT %s OFFSET %s",
                         [*args, *order_args, int(limit), int(offset)])
        return [trace_summary(r) for r in rows], total

    # -- the runs table --------------------------------------------------------------------

    @reading
    def column_keys(self, experiment_id: str) -> tuple[list[str], list[str]]:
        """Metric and param keys seen in the experiment's most recent runs (each sorted)."""
        recent = ("SELECT run_id FROM runs WHERE experiment_id = %s AND lifecycle = 'active' "
                  "ORDER BY start_time DESC LIMIT %s")
        args = (_experiment_key(experiment_id), _RECENT_RUNS_FOR_COLUMNS)
        out = [[r[0] for r in self._all(f"SELECT DISTINCT key FROM {table} WHERE run_id IN ({recent}) ORDER BY key",
                                        args)]
               for table in ("latest_metrics", "params")]
        return out[0], out[1]

    def _fill_values(self, rows: list[RunRow], metric_keys: Sequence[str], param_keys: Sequence[str]) -> None:
        by_id = {r.run_id: r for r in rows}
        for table, keys, attr in (("latest_metrics", metric_keys, "metrics"), ("params", param_keys, "params")):
            if not keys or not by_id:
                continue
            for rid, key, value in self._all(f"SELECT run_id, key, value FROM {table} "
                                             "WHERE run_id = ANY(%s) AND key = ANY(%s)", (list(by_id), list(keys))):
                getattr(by_id[rid], attr)[key] = value

    def _attach_children(self, parents: list[RunRow]) -> list[RunRow]:
        if not parents:
            return []
        ids = [p.run_id for p in parents]
        by_id = {p.run_id: p for p in parents}
        for pid, n in self._all("SELECT parent_run_id, COUNT(*) FROM runs WHERE parent_run_id = ANY(%s) "
                                "AND lifecycle = 'active' GROUP BY parent_run_id", (ids,)):
            by_id[pid].child_count = n
        rows = self._all(f"SELECT {_ROW_COLS} FROM runs r WHERE r.parent_run_id = ANY(%s) "
                         "AND r.lifecycle = 'active' ORDER BY r.start_time LIMIT %s", (ids, _MAX_CHILDREN * len(ids)))
        return attach_children(by_id, rows, _MAX_CHILDREN)

    @reading
    def runs_page(self, experiment_id: str, filter_string: str | None, order_by: str | None,
                  metric_keys: Sequence[str], param_keys: Sequence[str], offset: int = 0,
                  limit: int = 100) -> RunsPage:
        """One page of an experiment's runs with the chosen columns (children grouped when unfiltered)."""
        exp_key = _experiment_key(experiment_id)
        grouped = not (filter_string or "").strip()
        self.reap_dead_runs()  # a run whose process died shows KILLED, not RUNNING
        cond, args, order, order_args = runs_page_query(filter_string, order_by, exp_key, grouped, "postgres")
        total = self._one(f"SELECT COUNT(*) FROM runs r WHERE {cond}", args)[0]
        sql = f"SELECT {_ROW_COLS} FROM runs r WHERE {cond} ORDER BY {order} LIMIT %s OFFSET %s"
        rows = [RunRow(*row) for row in self._all(sql, [*args, *order_args, int(limit), int(offset)])]
        shown = list(rows)
        if grouped:
            shown += self._attach_children(rows)
        self._fill_values(shown, metric_keys, param_keys)
        return RunsPage(rows, total, offset, limit, grouped)

    @reading
    def run_rows(self, run_ids: Sequence[str]) -> list[RunRow]:
        """Runs-table rows for the given runs, in the given order (unknown ids are skipped)."""
        self.reap_dead_runs()
        found = {row[0]: RunRow(*row) for row in self._all(f"SELECT {_ROW_COLS} FROM runs r WHERE r.run_id = ANY(%s)",
                                                           (list(run_ids),))}
        return [found[r] for r in run_ids if r in found]

    @reading
    def run_ids_like(self, prefix: str, limit: int = 2) -> list[str]:
        """Ids of runs (deleted ones too) that start with ``prefix``, sorted, at most ``limit``."""
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self._all("SELECT run_id FROM runs WHERE run_id LIKE %s ORDER BY run_id LIMIT %s", (pattern, int(limit)))
        return [r[0] for r in rows]

    def set_run_lifecycle(self, run_id: str, lifecycle: str) -> None:
        """Mark a run (and nothing else) deleted or active again."""
        if self.run_exists(run_id) is None:
            raise RunNotFound(run_id)
        self._execute("UPDATE runs SET lifecycle = %s WHERE run_id = %s", (lifecycle, run_id))
