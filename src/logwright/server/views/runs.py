"""Runs table of one experiment: chosen param/metric columns, sort, filter, pages.

Query parameters (all remembered in the URL): ``filter`` (the search language),
``order`` (one clause such as ``metrics.acc DESC``), ``m`` and ``p`` (repeated:
metric and param columns; ``cols=default`` picks a few), ``page`` and ``size``.
"""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request

from logwright.server.queries import RunsPage
from logwright.server.views import FILTER_ERRORS, experiment_of, filter_error, int_arg, list_arg, page_url

TEMPLATE = "runs.html"
_DEFAULT_METRICS = 5
_DEFAULT_PARAMS = 3


def _columns(request: Request, metric_keys: list[str], param_keys: list[str]) -> tuple[list[str], list[str]]:
    if "m" in request.query_params or "p" in request.query_params:
        return list_arg(request, "m"), list_arg(request, "p")
    user_metrics = [k for k in metric_keys if not k.startswith("system/")]
    return user_metrics[:_DEFAULT_METRICS], param_keys[:_DEFAULT_PARAMS]


def _sort_links(request: Request, order: str, columns: list[str]) -> dict[str, dict[str, str]]:
    links = {}
    for col in columns:
        direction = "DESC"
        current = None
        if order.startswith(col + " "):
            current = order.rsplit(" ", 1)[-1].upper()
            direction = "ASC" if current == "DESC" else "DESC"
        links[col] = {"url": page_url(request, order=f"{col} {direction}", page=None), "current": current or ""}
    return links


def data(request: Request) -> dict[str, Any]:
    """The page of runs plus everything the table's controls need.

    Returns:
        ``experiment``, ``runs`` (rows with ``children``), ``total``, ``page``, ``pages``,
        ``metric_columns``, ``param_columns``, ``all_metrics``, ``all_params``,
        ``filter``, ``filter_error`` (message and ``position``, or None) and ``order``.
    """
    client, experiment = experiment_of(request)
    exp_id = experiment.experiment_id
    all_metrics, all_params = client.store.column_keys(exp_id)
    metric_cols, param_cols = _columns(request, all_metrics, all_params)
    filter_string = request.query_params.get("filter", "").strip()
    order = request.query_params.get("order", "").strip()
    size = int_arg(request, "size", 100, 1, 1000)
    page = int_arg(request, "page", 1, 1)
    error = None
    try:
        result = client.store.runs_page(
            exp_id, filter_string, order, metric_cols, param_cols, (page - 1) * size, size
        )
    except FILTER_ERRORS as exc:
        error = filter_error(exc, filter_string)
        result = RunsPage([], 0, 0, size, False)
    pages = max(1, math.ceil(result.total / size))
    sortable = ["name", "status", "start_time", "duration"]
    sortable += [f"metrics.`{k}`" for k in metric_cols] + [f"params.`{k}`" for k in param_cols]
    return {
        "experiment": {"experiment_id": experiment.experiment_id, "name": experiment.name,
                       "description": experiment.description},
        "runs": result.rows,
        "total": result.total,
        "grouped": result.grouped,
        "page": page,
        "pages": pages,
        "size": size,
        "metric_columns": metric_cols,
        "param_columns": param_cols,
        "all_metrics": all_metrics,
        "all_params": all_params,
        "filter": filter_string,
        "filter_error": error,
        "order": order,
        "keep": [("m", k) for k in metric_cols] + [("p", k) for k in param_cols] + ([("order", order)] if order else []),
        "sort": _sort_links(request, order, sortable),
        "prev_url": page_url(request, page=str(page - 1)) if page > 1 else None,
        "next_url": page_url(request, page=str(page + 1)) if page < pages else None,
    }
