"""Compare 2 to 20 runs: overlaid curves per metric, a param/metric diff table, and a
parallel-coordinates plot of params against a chosen metric (``?metric=``)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from logwright.exceptions import RunNotFound
from logwright.server import charts
from logwright.server.views import bad_request, client_of, list_arg, not_found

TEMPLATE = "compare.html"
MIN_RUNS, MAX_RUNS = 2, 20


def _diff_rows(runs: list[Any], attr: str) -> list[dict[str, Any]]:
    keys = sorted({k for r in runs for k in getattr(r.data, attr)})
    rows = []
    for key in keys:
        values = [getattr(r.data, attr).get(key) for r in runs]
        texts = {repr(v) for v in values}
        rows.append({"key": key, "values": values, "differs": len(texts) > 1})
    return rows


def _as_number(text: Any) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _parallel(runs: list[Any], params: list[dict[str, Any]], metric: str | None) -> dict[str, Any]:
    """Axes for plotly's parcoords: numeric params as numbers, the rest as categories."""
    axes = []
    for row in params:
        values = row["values"]
        numbers = [_as_number(v) for v in values]
        if all(n is not None for n in numbers):
            axes.append({"label": row["key"], "values": numbers})
        else:
            cats = sorted({str(v) for v in values})
            axes.append({"label": row["key"], "values": [cats.index(str(v)) for v in values], "ticktext": cats})
    if metric:
        values = [r.data.metrics.get(metric) for r in runs]
        axes.append({"label": metric, "values": values, "metric": True})
    return {"axes": axes, "run_names": [r.info.run_name or r.info.run_id[:8] for r in runs]}


def data(request: Request) -> dict[str, Any]:
    """``runs`` (id, name, status, start), ``params`` and ``metrics`` diff rows, ``metric_keys``,
    ``metric`` (the parallel-coordinates target), ``parallel`` (its axes), ``experiment``
    (of the first run) and ``charts``: sections of metrics overlaid across the runs, one
    chart per key, leaving out metrics with a single point in every run (they are in the
    diff table)."""
    client = client_of(request)
    run_ids = list_arg(request, "runs", split=True)
    if not MIN_RUNS <= len(run_ids) <= MAX_RUNS:
        raise bad_request(f"compare takes {MIN_RUNS} to {MAX_RUNS} runs, got {len(run_ids)}")
    runs = []
    for run_id in run_ids:
        try:
            runs.append(client.store.get_run(run_id))
        except RunNotFound:
            raise not_found(f"run {run_id!r}") from None
    params = _diff_rows(runs, "params")
    metrics = _diff_rows(runs, "metrics")
    user_keys = [m["key"] for m in metrics if not m["key"].startswith("system/")]
    metric = request.query_params.get("metric") or (user_keys[0] if user_keys else None)
    counts: dict[str, int] = {}
    for r in runs:
        for key, n in charts.point_counts(client.store, r.info.run_id, client.store.metric_keys(r.info.run_id)).items():
            counts[key] = max(n, counts.get(key, 0))
    experiment = client.store.get_experiment(runs[0].info.experiment_id)
    return {
        "experiment": {"experiment_id": experiment.experiment_id, "name": experiment.name},
        "runs": [
            {"run_id": r.info.run_id, "name": r.info.run_name, "status": r.info.status,
             "experiment_id": r.info.experiment_id, "start_time": r.info.start_time}
            for r in runs
        ],
        "charts": {"epoch": charts.EPOCH_KEY in counts,
                   "sections": charts.layout(sorted(counts), counts, overlay_stages=False)["sections"]},
        "params": params,
        "metrics": metrics,
        "metric_keys": user_keys,
        "metric": metric,
        "parallel": _parallel(runs, params, metric),
    }
