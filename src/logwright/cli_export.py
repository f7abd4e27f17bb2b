"""``logwright runs export``: runs with their params, latest metrics and tags as CSV, Parquet or JSON.

One row per run: ``run_id``, ``experiment_id``, ``experiment``, ``run_name``, ``status``,
``start_time``, ``end_time``, ``parent_run_id``, then ``params.<key>``, ``metrics.<key>``
and ``tags.<key>`` columns (sorted; a run without the key leaves the cell empty). Times
are ISO 8601 UTC text in CSV, epoch milliseconds in JSON and UTC timestamps in Parquet.
Parquet needs ``pyarrow``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import io
import json
import math
import sys
from collections.abc import Sequence
from typing import Any

from logwright.cli_options import UsageError

__all__ = ["export_rows", "register"]

_INFO = ("run_id", "experiment_id", "experiment", "run_name", "status", "start_time", "end_time", "parent_run_id")


def export_rows(runs: Sequence[Any], names: dict[str, str]) -> tuple[list[str], list[dict[str, Any]]]:
    """(columns, rows) of runs: info columns, then sorted ``params.``, ``metrics.`` and ``tags.`` keys."""
    rows, params, metrics, tags = [], set(), set(), set()
    for run in runs:
        info = run.info
        row: dict[str, Any] = {"run_id": info.run_id, "experiment_id": info.experiment_id,
                               "experiment": names.get(info.experiment_id), "run_name": info.run_name,
                               "status": info.status, "start_time": info.start_time, "end_time": info.end_time,
                               "parent_run_id": info.parent_run_id}
        row.update({f"params.{k}": v for k, v in run.data.params.items()})
        row.update({f"metrics.{k}": v for k, v in run.data.metrics.items()})
        row.update({f"tags.{k}": v for k, v in run.data.tags.items()})
        params.update(run.data.params)
        metrics.update(run.data.metrics)
        tags.update(run.data.tags)
        rows.append(row)
    columns = [*_INFO, *(f"params.{k}" for k in sorted(params)), *(f"metrics.{k}" for k in sorted(metrics)),
               *(f"tags.{k}" for k in sorted(tags))]
    return columns, rows


def _iso(ms: int | None) -> str:
    if ms is None:
        return ""
    return _dt.datetime.fromtimestamp(ms / 1000, _dt.timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def _csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        cells = []
        for col in columns:
            value = row.get(col)
            if col in ("start_time", "end_time"):
                value = _iso(value)
            elif isinstance(value, float):
                value = repr(value) if math.isfinite(value) else ("NaN" if math.isnan(value) else
                                                                  ("Infinity" if value > 0 else "-Infinity"))
            cells.append("" if value is None else value)
        writer.writerow(cells)
    return out.getvalue()


def _json(columns: list[str], rows: list[dict[str, Any]]) -> str:
    from logwright.cli_options import _jsonable

    return json.dumps([_jsonable({c: row.get(c) for c in columns}) for row in rows], indent=2,
                      ensure_ascii=False) + "\n"


def _parquet(columns: list[str], rows: list[dict[str, Any]], path: str) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise UsageError("--format parquet needs pyarrow: pip install pyarrow") from None
    arrays = {}
    for col in columns:
        values = [row.get(col) for row in rows]
        if col in ("start_time", "end_time"):
            arrays[col] = pa.array(values, type=pa.timestamp("ms", tz="UTC"))
        elif col.startswith("metrics."):
            arrays[col] = pa.array(values, type=pa.float64())
        else:
            arrays[col] = pa.array(values, type=pa.string())
    pq.write_table(pa.table(arrays), path)


def cmd_runs_export(args: argparse.Namespace) -> int:
    """Write the runs matching the filter to ``--output`` (or standard output for CSV and JSON)."""
    from logwright.client import Client

    client = Client(args.store)
    runs = client.search_runs(experiment_ids=args.experiment, filter_string=args.filter,
                              order_by=args.order_by or None, max_results=args.max_results, run_view_type=args.view)
    names = {e.experiment_id: e.name for e in client.search_experiments(view="all")}
    columns, rows = export_rows(runs, names)
    if args.format == "parquet":
        if not args.output or args.output == "-":
            raise UsageError("--format parquet writes a binary file: give --output FILE")
        _parquet(columns, rows, args.output)
    else:
        text = _csv(columns, rows) if args.format == "csv" else _json(columns, rows)
        if args.output and args.output != "-":
            with open(args.output, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
        else:
            sys.stdout.write(text)
    if args.output and args.output != "-":
        print(f"wrote {len(rows)} run(s), {len(columns)} columns to {args.output}", file=sys.stderr)
    return 0


def register(runs: argparse._SubParsersAction) -> None:
    """Add ``runs export`` to the ``runs`` command's sub-commands."""
    p = runs.add_parser("export", help="runs with params, latest metrics and tags as CSV, Parquet or JSON")
    p.add_argument("-e", "--experiment", default=None, metavar="NAME_OR_ID",
                   help="only the runs of this experiment, by name or id (default: all)")
    p.add_argument("-f", "--filter", default=None, help="e.g. \"metrics.acc > 0.9 and params.model = 'rf'\"")
    p.add_argument("-o", "--order-by", action="append", default=None, metavar="CLAUSE",
                   help="e.g. 'metrics.acc DESC' (repeatable)")
    p.add_argument("-n", "--max-results", type=int, default=None, metavar="N", help="at most this many runs (default: all)")
    p.add_argument("--format", choices=("csv", "parquet", "json"), default="csv", help="default: csv")
    p.add_argument("--output", "-O", default=None, metavar="FILE", help="write here (default: standard output)")
    p.add_argument("--view", choices=("active", "deleted", "all"), default="active",
                   help="which runs by lifecycle (default: active)")
    p.set_defaults(func=cmd_runs_export)
