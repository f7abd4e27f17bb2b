"""Metric data endpoints: downsampled chart series (one run or several) and full CSV."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator, Sequence

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from logwright.client import Client
from logwright.server import series as _series
from logwright.server.formatting import fmt_number
from logwright.server.views import JSON, bad_request, client_of, int_arg, list_arg, not_found

MAX_COMPARE_RUNS = 20


def _window(request: Request) -> tuple[int | None, int | None]:
    def one(name: str) -> int | None:
        raw = request.query_params.get(name)
        if raw in (None, ""):
            return None
        try:
            return math.floor(float(raw)) if name == "start" else math.ceil(float(raw))
        except ValueError:
            raise bad_request(f"{name} must be a number, got {raw!r}") from None

    return one("start"), one("end")


def _metric_of(request: Request) -> tuple[Client, str, str]:
    """(client, run id, metric key) named by the request; 400 without a key, 404 for no run."""
    client = client_of(request)
    run_id = request.path_params["run_id"]
    key = request.query_params.get("key")
    if not key:
        raise bad_request("key is required")
    if client.store.run_exists(run_id) is None:
        raise not_found(f"run {run_id!r}")
    return client, run_id, key


def series(request: Request) -> Response:
    """``/api/runs/{run_id}/metric?key=K[&max_points=N&start=S&end=E]``: one chart curve."""
    client, run_id, key = _metric_of(request)
    start, end = _window(request)
    points = int_arg(request, "max_points", _series.DEFAULT_MAX_POINTS, 10, 20000)
    data = _series.metric_series(client.store, run_id, key, points, start, end)
    return JSON({"run_id": run_id, "key": key, **data})


def multi_series(request: Request) -> Response:
    """``/api/series?runs=a,b&key=K``: the same metric for up to 20 runs (compare charts)."""
    client = client_of(request)
    run_ids = list_arg(request, "runs", split=True)[:MAX_COMPARE_RUNS]
    key = request.query_params.get("key")
    if not key or not run_ids:
        raise bad_request("runs and key are required")
    start, end = _window(request)
    points = int_arg(request, "max_points", _series.DEFAULT_MAX_POINTS, 10, 20000)
    curves = []
    for run_id in run_ids:
        data = _series.metric_series(client.store, run_id, key, points, start, end)
        curves.append({"run_id": run_id, **data})
    return JSON({"key": key, "curves": curves})


def _csv_cell(value: float) -> str:
    return repr(value) if math.isfinite(value) else fmt_number(value)


def _csv_chunks(steps: Sequence[int], vals: Sequence[float], stamps: Sequence[int]) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["step", "value", "timestamp"])
    for start in range(0, len(steps), 20000):
        end = start + 20000
        writer.writerows(zip(steps[start:end], map(_csv_cell, vals[start:end]), stamps[start:end], strict=True))
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()


def csv_download(request: Request) -> Response:
    """``/runs/{run_id}/metric.csv?key=K``: every point of a metric as step,value,timestamp."""
    client, run_id, key = _metric_of(request)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
    headers = {"Content-Disposition": f'attachment; filename="{run_id[:8]}-{safe}.csv"'}
    steps, vals, stamps = client.store.get_metric_series(run_id, key)
    return StreamingResponse(_csv_chunks(steps, vals, stamps), media_type="text/csv", headers=headers)
