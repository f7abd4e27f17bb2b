"""``/experiments/{id}/runs.csv`` and ``runs.parquet``: the runs table's view as a file.

Same query parameters as the runs table (``filter``, ``order``, ``m``, ``p``); every
matching run is written (nested runs too, one row each with its ``parent_run_id``),
not only one page. Without ``m``/``p``, every metric and param column of the
experiment's recent runs is written. Parquet needs pandas and pyarrow on the server;
without them the answer is a 501 page saying so.
"""

from __future__ import annotations

import csv
import datetime as _dt
import importlib.util
import io
import math
from collections.abc import Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from logwright.entities import Run
from logwright.server.views import (
    FILTER_ERRORS,
    bad_request,
    experiment_of,
    filter_error,
    list_arg,
    not_found,
)

MAX_RUNS = 100_000
_PAGE = 1000
_BASE = ["run_id", "name", "status", "start_time", "end_time", "duration_s", "parent_run_id", "user", "source"]
PARQUET_MISSING = ("Parquet export needs pandas and pyarrow installed where the UI runs "
                   "(pip install pandas pyarrow); CSV export works without them.")


def parquet_available() -> bool:
    """Whether pandas and pyarrow can be imported (checked without importing them)."""
    return all(importlib.util.find_spec(name) is not None for name in ("pandas", "pyarrow"))


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return _dt.datetime.fromtimestamp(ms / 1000, _dt.timezone.utc).isoformat(timespec="milliseconds")


def _record(run: Run, metrics: list[str], params: list[str]) -> dict[str, Any]:
    info = run.info
    out: dict[str, Any] = {
        "run_id": info.run_id, "name": info.run_name, "status": info.status,
        "start_time": info.start_time, "end_time": info.end_time,
        "duration_s": (info.end_time - info.start_time) / 1000 if info.end_time else None,
        "parent_run_id": info.parent_run_id, "user": info.user, "source": info.source,
    }
    out.update({f"metrics.{k}": run.data.metrics.get(k) for k in metrics})
    out.update({f"params.{k}": run.data.params.get(k) for k in params})
    return out


def _runs(request: Request) -> tuple[str, list[dict[str, Any]], list[str]]:
    """(experiment name, the view's rows as records, the column names); 400 for a bad filter."""
    client, experiment = experiment_of(request)
    filter_string = request.query_params.get("filter", "").strip() or None
    order = request.query_params.get("order", "").strip()
    if "m" in request.query_params or "p" in request.query_params:
        metrics, params = list_arg(request, "m"), list_arg(request, "p")
    else:
        metrics, params = client.store.column_keys(experiment.experiment_id)
    records: list[dict[str, Any]] = []
    try:
        while len(records) < MAX_RUNS:
            batch = client.store.search_runs([experiment.experiment_id], filter_string, [order] if order else None,
                                             max_results=_PAGE, offset=len(records))
            records += [_record(r, metrics, params) for r in batch]
            if len(batch) < _PAGE:
                break
    except FILTER_ERRORS as exc:
        raise bad_request(filter_error(exc, filter_string or "")["message"]) from None
    columns = _BASE + [f"metrics.{k}" for k in metrics] + [f"params.{k}" for k in params]
    return experiment.name, records[:MAX_RUNS], columns


def _cell(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _csv_chunks(records: list[dict[str, Any]], columns: list[str]) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for start in range(0, max(1, len(records)), _PAGE):
        for rec in records[start:start + _PAGE]:
            rec = {**rec, "start_time": _iso(rec["start_time"]), "end_time": _iso(rec["end_time"])}
            writer.writerow([_cell(rec.get(c)) for c in columns])
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()


def _parquet(records: list[dict[str, Any]], columns: list[str]) -> bytes:
    import pandas as pd

    frame = pd.DataFrame.from_records(records, columns=columns)
    for col in ("start_time", "end_time"):
        frame[col] = pd.to_datetime(frame[col], unit="ms", utc=True)
    out = io.BytesIO()
    frame.to_parquet(out, engine="pyarrow", index=False)
    return out.getvalue()


def _file_name(name: str, fmt: str) -> str:
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)[:80] or "runs"
    return f"{safe}-runs.{fmt}"


def export(request: Request) -> Response:
    """The current view of the runs table as CSV or Parquet (see the module docstring)."""
    fmt = request.path_params["fmt"]
    if fmt not in ("csv", "parquet"):
        raise not_found(f"export format {fmt!r}")
    if fmt == "parquet" and not parquet_available():
        templates = request.app.state.templates
        return templates.TemplateResponse(request, "error.html", {"d": {"status": 501, "detail": PARQUET_MISSING}},
                                          status_code=501)
    name, records, columns = _runs(request)
    headers = {"Content-Disposition": f'attachment; filename="{_file_name(name, fmt)}"'}
    if fmt == "csv":
        return StreamingResponse(_csv_chunks(records, columns), media_type="text/csv", headers=headers)
    return Response(_parquet(records, columns), media_type="application/vnd.apache.parquet", headers=headers)
