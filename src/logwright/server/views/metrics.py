"""Metric data endpoints: downsampled chart series (one run or several) and full CSV."""

from __future__ import annotations

import csv
import io
import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from logwright.client import Client
from logwright.exceptions import RunNotFound
from logwright.server import series as _series
from logwright.server.formatting import fmt_number
from logwright.server.views import JSON, bad_request, client_of, list_arg, not_found

MAX_COMPARE_RUNS = 20


_STEP_MIN, _STEP_MAX = -(2**63), 2**63 - 1  # steps are int64
_MIN_POINTS, _MAX_POINTS = 10, 20000


def _window(request: Request) -> tuple[int | None, int | None]:
    """The ``start``/``end`` step window: finite numbers, clamped to the int64 step range (else 400)."""

    def one(name: str) -> int | None:
        raw = request.query_params.get(name)
        if raw in (None, ""):
            return None
        try:
            value = float(raw)
        except ValueError:
            raise bad_request(f"{name} must be a number, got {raw[:40]!r}") from None
        if not math.isfinite(value):
            raise bad_request(f"{name} must be a finite number, got {raw[:40]!r}")
        step = math.floor(value) if name == "start" else math.ceil(value)
        return max(_STEP_MIN, min(_STEP_MAX, step))

    return one("start"), one("end")


def _max_points(request: Request) -> int:
    """``max_points``: an integer from 10 to 20000 (default 2000), else 400."""
    raw = request.query_params.get("max_points")
    if raw in (None, ""):
        return _series.DEFAULT_MAX_POINTS
    try:
        value = int(raw) if len(raw) <= 20 else None
    except ValueError:
        value = None
    if value is None or not _MIN_POINTS <= value <= _MAX_POINTS:
        raise bad_request(f"max_points must be a whole number from {_MIN_POINTS} to {_MAX_POINTS}, got {raw[:40]!r}")
    return value


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
    points = _max_points(request)
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
    points = _max_points(request)
    curves = []
    for run_id in run_ids:
        data = _series.metric_series(client.store, run_id, key, points, start, end)
        curves.append({"run_id": run_id, **data})
    return JSON({"key": key, "curves": curves})


def _since(request: Request) -> tuple[int | None, dict[str, int]]:
    """``since_step`` (for every key) and ``since=KEY:STEP`` overrides (400 when not whole numbers)."""

    def step(raw: str, what: str) -> int:
        try:
            value = int(raw) if len(raw) <= 20 else None
        except ValueError:
            value = None
        if value is None:
            raise bad_request(f"{what} must be a whole number, got {raw[:40]!r}")
        return max(_STEP_MIN, min(_STEP_MAX, value))

    raw = request.query_params.get("since_step")
    default = None if raw in (None, "") else step(raw, "since_step")
    per_key = {}
    for pair in request.query_params.getlist("since"):
        key, sep, value = pair.rpartition(":")
        if not sep or not key:
            raise bad_request(f"since takes KEY:STEP, got {pair[:60]!r}")
        per_key[key] = step(value, f"the step of since={key[:40]!r}")
    return default, per_key


def updates(request: Request) -> Response:
    """``/api/runs/{run_id}/updates?since_step=N[&since=KEY:STEP ...]``: what a live page lacks.

    The run's status and times, its latest metric values, every metric key, and the
    points logged after ``since_step`` (or after the key's own ``since`` step; a key with
    neither comes whole), downsampled like the chart series. Keys with nothing new are
    left out of ``metrics``; ``done`` is true once the run is no longer RUNNING.
    """
    client = client_of(request)
    run_id = request.path_params["run_id"]
    try:
        run = client.store.get_run(run_id)
    except RunNotFound:
        raise not_found(f"run {run_id!r}") from None
    default, per_key = _since(request)
    keys = client.store.metric_keys(run_id)
    new = {}
    for key in keys:
        after = per_key.get(key, default)
        if after is not None:
            last = client.store.max_step(run_id, key)
            if last is None or last <= after or after >= _STEP_MAX:
                continue
        start = None if after is None else after + 1
        data = _series.metric_series(client.store, run_id, key, _series.DEFAULT_MAX_POINTS, start, None)
        if data["count"]:
            new[key] = data
    info = run.info
    return JSON({
        "run_id": run_id, "status": info.status, "done": info.status != "RUNNING",
        "start_time": info.start_time, "end_time": info.end_time,
        "duration_ms": (info.end_time - info.start_time) if info.end_time else None,
        "keys": keys, "latest": dict(sorted(run.data.metrics.items())), "metrics": new,
    })


def _csv_cell(value: float) -> str:
    return repr(value) if math.isfinite(value) else fmt_number(value)


def _csv_chunks(steps: Sequence[int], vals: Sequence[float], stamps: Sequence[int]) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["step", "value", "timestamp"])
    if not len(steps):
        yield buf.getvalue()
    for start in range(0, len(steps), 20000):
        end = start + 20000
        writer.writerows(zip(steps[start:end], map(_csv_cell, vals[start:end]), stamps[start:end], strict=True))
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()


def _safe_name(text: str) -> str:
    """``text`` reduced to ASCII letters, digits and ``-_.`` (a header-safe file name part)."""
    return "".join(c if (c.isascii() and c.isalnum()) or c in "-_." else "_" for c in text)


def csv_download(request: Request) -> Response:
    """``/runs/{run_id}/metric.csv?key=K[&start=S&end=E]``: the metric's points as step,value,timestamp."""
    client, run_id, key = _metric_of(request)
    start, end = _window(request)
    headers = {"Content-Disposition": f'attachment; filename="{_safe_name(run_id[:8])}-{_safe_name(key)}.csv"'}
    steps, vals, stamps = client.store.get_metric_series(run_id, key)
    lo = 0 if start is None else bisect_left(steps, start)
    hi = len(steps) if end is None else max(lo, bisect_right(steps, end))
    if (lo, hi) != (0, len(steps)):
        steps, vals, stamps = steps[lo:hi], vals[lo:hi], stamps[lo:hi]
    return StreamingResponse(_csv_chunks(steps, vals, stamps), media_type="text/csv", headers=headers)
