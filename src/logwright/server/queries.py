"""Read-only SQL the web UI needs beyond :class:`~logwright.store.sqlite.SqliteStore`.

Every query is parameterized and reads through the store's per-thread read
connection. The runs table reads only the rows of the page it shows, so its cost
does not grow with the number of runs beyond one ``COUNT`` and one ordered
index walk.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from logwright.search import (
    compile_run_filter,
    compile_run_order_by,
    compile_trace_filter,
    compile_trace_order_by,
)
from logwright.store.sqlite import SqliteStore

_logger = logging.getLogger(__name__)

_CHUNK = 500
_RECENT_RUNS_FOR_COLUMNS = 500
_MAX_CHILDREN = 200
_RUN_COLS = (
    "r.run_id, r.run_name, r.status, r.start_time, r.end_time, r.source, r.user, r.parent_run_id"
)


@dataclass
class RunRow:
    """One row of the runs table."""

    run_id: str
    name: str | None
    status: str
    start_time: int
    end_time: int | None
    source: str | None
    user: str | None
    parent_run_id: str | None
    metrics: dict[str, float | None] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    child_count: int = 0
    children: list[RunRow] = field(default_factory=list)


@dataclass
class RunsPage:
    """A page of the runs table and what it took to get it."""

    rows: list[RunRow]
    total: int
    offset: int
    limit: int
    grouped: bool


def _marks(items: Sequence[Any]) -> str:
    return ",".join("?" * len(items))


def experiments(store: SqliteStore) -> list[dict[str, Any]]:
    """Active experiments with run count, trace count and last activity (epoch ms)."""
    stats = store.experiment_stats()
    traces = dict(
        store.read_db().execute("SELECT experiment_id, COUNT(*) FROM traces GROUP BY experiment_id")
    )
    out = []
    for exp in store.search_experiments():
        count, last = stats.get(exp.experiment_id, (0, None))
        out.append(
            {
                "experiment_id": exp.experiment_id,
                "name": exp.name,
                "description": exp.description,
                "run_count": count,
                "trace_count": traces.get(int(exp.experiment_id), 0),
                "last_activity": last or exp.last_update_time,
            }
        )
    return out


def column_keys(store: SqliteStore, experiment_id: str) -> tuple[list[str], list[str]]:
    """Metric and param keys seen in the experiment's most recent runs (for the column picker)."""
    recent = (
        "SELECT run_id FROM runs WHERE experiment_id = ? AND lifecycle = 'active' "
        "ORDER BY start_time DESC LIMIT ?"
    )
    args = (int(experiment_id), _RECENT_RUNS_FOR_COLUMNS)
    db = store.read_db()
    metrics = [
        r[0]
        for r in db.execute(
            f"SELECT DISTINCT key FROM latest_metrics WHERE run_id IN ({recent}) ORDER BY key", args
        )
    ]
    params = [
        r[0]
        for r in db.execute(f"SELECT DISTINCT key FROM params WHERE run_id IN ({recent}) ORDER BY key", args)
    ]
    return metrics, params


def _fill_values(
    store: SqliteStore, rows: list[RunRow], metric_keys: Sequence[str], param_keys: Sequence[str]
) -> None:
    by_id = {r.run_id: r for r in rows}
    ids = list(by_id)
    db = store.read_db()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for table, keys, attr in (("latest_metrics", metric_keys, "metrics"), ("params", param_keys, "params")):
            if not keys:
                continue
            sql = (
                f"SELECT run_id, key, value FROM {table} "
                f"WHERE run_id IN ({_marks(chunk)}) AND key IN ({_marks(keys)})"
            )
            for rid, key, value in db.execute(sql, [*chunk, *keys]):
                getattr(by_id[rid], attr)[key] = float("nan") if value is None and attr == "metrics" else value


def _attach_children(store: SqliteStore, parents: list[RunRow]) -> list[RunRow]:
    if not parents:
        return []
    db = store.read_db()
    ids = [p.run_id for p in parents]
    by_id = {p.run_id: p for p in parents}
    counts = db.execute(
        f"SELECT parent_run_id, COUNT(*) FROM runs WHERE parent_run_id IN ({_marks(ids)}) "
        "AND lifecycle = 'active' GROUP BY parent_run_id",
        ids,
    )
    for pid, n in counts:
        by_id[pid].child_count = n
    children = []
    sql = (
        f"SELECT {_RUN_COLS} FROM runs r WHERE r.parent_run_id IN ({_marks(ids)}) "
        "AND r.lifecycle = 'active' ORDER BY r.start_time LIMIT ?"
    )
    for row in db.execute(sql, [*ids, _MAX_CHILDREN * len(ids)]):
        child = RunRow(*row)
        parent = by_id[child.parent_run_id]
        if len(parent.children) < _MAX_CHILDREN:
            parent.children.append(child)
            children.append(child)
    return children


def runs_page(
    store: SqliteStore,
    experiment_id: str,
    filter_string: str | None,
    order_by: str | None,
    metric_keys: Sequence[str],
    param_keys: Sequence[str],
    offset: int = 0,
    limit: int = 100,
) -> RunsPage:
    """One page of an experiment's runs, with the chosen metric and param columns.

    Without a filter, top-level runs are paged and their children are attached to
    them (nested runs grouped under parents); with a filter, matching runs are
    listed flat.

    Raises:
        InvalidFilter: the filter or order clause is malformed.
    """
    where, args = compile_run_filter(filter_string)
    order, order_args = compile_run_order_by([order_by] if order_by else None)
    grouped = not (filter_string or "").strip()
    cond = f"({where}) AND r.experiment_id = ? AND r.lifecycle = 'active'"
    args = [*args, int(experiment_id)]
    if grouped:
        cond += " AND r.parent_run_id IS NULL"
    db = store.read_db()
    total = db.execute(f"SELECT COUNT(*) FROM runs r WHERE {cond}", args).fetchone()[0]
    sql = f"SELECT {_RUN_COLS} FROM runs r WHERE {cond} ORDER BY {order} LIMIT ? OFFSET ?"
    rows = [RunRow(*row) for row in db.execute(sql, [*args, *order_args, limit, offset])]
    shown = list(rows)
    if grouped:
        shown += _attach_children(store, rows)
    _fill_values(store, shown, metric_keys, param_keys)
    return RunsPage(rows, total, offset, limit, grouped)


def run_rows(store: SqliteStore, run_ids: Sequence[str]) -> list[RunRow]:
    """Table rows for the given runs, in the given order (missing ids are skipped)."""
    db = store.read_db()
    found: dict[str, RunRow] = {}
    for start in range(0, len(run_ids), _CHUNK):
        chunk = list(run_ids[start : start + _CHUNK])
        for row in db.execute(f"SELECT {_RUN_COLS} FROM runs r WHERE r.run_id IN ({_marks(chunk)})", chunk):
            found[row[0]] = RunRow(*row)
    return [found[r] for r in run_ids if r in found]


def _trace_summary(row: tuple, tags: dict[str, str] | None = None) -> dict[str, Any]:
    start, end = row[5], row[6]
    return {
        "trace_id": row[0],
        "experiment_id": str(row[1]),
        "run_id": row[2],
        "name": row[3],
        "status": row[4],
        "start_ns": start,
        "end_ns": end,
        "latency_ms": None if end is None else (end - start) / 1e6,
        "input_tokens": row[7],
        "output_tokens": row[8],
        "total_tokens": row[9],
        "span_count": row[10],
        "tags": tags or {},
    }


_TRACE_COLS = (
    "t.trace_id, t.experiment_id, t.run_id, t.name, t.status, t.start_ns, t.end_ns, "
    "t.input_tokens, t.output_tokens, t.total_tokens, t.span_count"
)


def traces_page(
    store: SqliteStore,
    experiment_id: str | None,
    filter_string: str | None = None,
    order_by: str | None = None,
    run_id: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[dict[str, Any]], int]:
    """A page of trace summaries (newest first by default) and the total that match.

    Raises:
        InvalidFilter: the filter or order clause is malformed.
    """
    where, args = compile_trace_filter(filter_string)
    order, order_args = compile_trace_order_by([order_by] if order_by else None)
    cond = f"({where})"
    if experiment_id is not None:
        cond += " AND t.experiment_id = ?"
        args = [*args, int(experiment_id)]
    if run_id is not None:
        cond += " AND t.run_id = ?"
        args = [*args, run_id]
    db = store.read_db()
    total = db.execute(f"SELECT COUNT(*) FROM traces t WHERE {cond}", args).fetchone()[0]
    rows = db.execute(
        f"SELECT {_TRACE_COLS} FROM traces t WHERE {cond} ORDER BY {order} LIMIT ? OFFSET ?",
        [*args, *order_args, limit, offset],
    ).fetchall()
    return [_trace_summary(r) for r in rows], total


def get_trace(store: SqliteStore, trace_id: str) -> dict[str, Any] | None:
    """A trace summary with its tags and ``spans`` (dicts, parents before children), or None."""
    from logwright.tracing.storage import read_trace

    trace = read_trace(store, trace_id)
    if trace is None:
        return None
    info = trace.info
    row = (info.trace_id, info.experiment_id, info.run_id, info.name, info.status, info.start_ns,
           info.end_ns, info.input_tokens, info.output_tokens, info.total_tokens, info.span_count)
    spans = [{f.name: getattr(s, f.name) for f in dataclasses.fields(s)} for s in trace.spans]
    return {**_trace_summary(row, dict(info.tags)), "spans": spans}
