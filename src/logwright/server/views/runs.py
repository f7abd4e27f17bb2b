"""Runs table of one experiment: chosen param/metric columns, sort, filter, pages.

Query parameters (all remembered in the URL): ``filter`` (the search language),
``order`` (one clause such as ``metrics.acc DESC``), ``m`` and ``p`` (repeated:
metric and param columns), ``page`` and ``size``. Without ``m``/``p`` the columns are
chosen from what the runs on the page share (:func:`default_columns`), after the
metric the table is sorted by and those the filter names. The page's script remembers the columns and the sort
per experiment in the browser and asks for them again on the next visit;
``cols=default`` asks for the chosen defaults and makes it forget them.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request

from logwright.client import Client
from logwright.server.queries import RunRow, RunsPage
from logwright.server.views import FILTER_ERRORS, experiment_of, filter_error, int_arg, list_arg, page_url
from logwright.server.views.runs_export import export, parquet_available

__all__ = ["data", "default_columns", "export", "filter_metrics", "sorted_metric"]

TEMPLATE = "runs.html"
_MAX_METRICS, _MIN_METRICS = 4, 3
_MAX_PARAMS, _MIN_PARAMS = 2, 2
_CELL_BUDGET = 300_000  # rows x candidate keys read to choose the default columns


def sorted_metric(order: str) -> str | None:
    """The metric key of an order clause such as ``metrics.`val/loss` DESC``, else None."""
    head, _, direction = order.strip().rpartition(" ")
    if direction.upper() not in ("ASC", "DESC"):
        head = order.strip()
    for prefix in ("metrics.", "metric."):
        if head.startswith(prefix):
            key = head[len(prefix):].strip()
            if len(key) > 1 and key[0] == key[-1] and key[0] in "`\"'":
                key = key[1:-1]
            return key or None
    return None


_FILTER_METRIC = re.compile(r"\bmetrics?\.(`[^`]+`|\"[^\"]+\"|[\w./-]+)", re.IGNORECASE)


def filter_metrics(filter_string: str) -> list[str]:
    """The metric keys a filter names (``metrics.acc > 0.9 and metrics.`val/loss` < 1``)."""
    keys = [m.strip('`"') for m in _FILTER_METRIC.findall(filter_string)]
    return list(dict.fromkeys(k for k in keys if k))


def _coverage(rows: Sequence[RunRow], attr: str) -> Counter[str]:
    return Counter(k for r in rows for k in getattr(r, attr))


def _spread(rows: Sequence[RunRow], attr: str, key: str) -> tuple[int, float]:
    """(distinct values, their mean length) of a key over the rows that have it."""
    values = {str(getattr(r, attr)[key]) for r in rows if key in getattr(r, attr)}
    return len(values), sum(map(len, values)) / max(1, len(values))


def default_columns(top: Sequence[RunRow], shown: Sequence[RunRow], attr: str, most: int, least: int) -> list[str]:
    """The columns a table shows when the user has not picked any.

    Keys that at least half of the top-level rows have (system metrics excepted); among
    params, those whose value differs between runs come first (more distinct values,
    then shorter ones), and constant ones are only used to reach ``least``. Short of ``least``, keys of every row in view
    (nested runs included) are added, most common first.

    Args:
        top: the rows the user looks at: the top-level rows (nested runs folded), or
            the runs matching a filter.
        shown: every row on the page, nested runs included.
        attr: ``"metrics"`` or ``"params"``.
        most: at most this many columns.
        least: at least this many, where the rows have that many keys.

    Returns:
        The chosen keys, sorted.
    """
    usable = (lambda k: not k.startswith("system/")) if attr == "metrics" else (lambda k: True)
    common = _coverage(top, attr)
    ranked = sorted((k for k, n in common.items() if usable(k) and 2 * n >= len(top)), key=lambda k: (-common[k], k))
    if attr == "params":  # differing values first, then the concise ones (a narrow table)
        spread = {k: _spread(top, attr, k) for k in ranked}
        ranked.sort(key=lambda k: (-common[k], -spread[k][0], spread[k][1], k))
        varying = [k for k in ranked if spread[k][0] > 1]
        chosen = varying[:most] + [k for k in ranked if k not in varying][: max(0, least - len(varying))]
    else:
        chosen = ranked[:most]
    everywhere = _coverage(shown, attr)
    for key in sorted(everywhere, key=lambda k: (-everywhere[k], k)):
        if len(chosen) >= least:
            break
        if usable(key) and key not in chosen:
            chosen.append(key)
    return sorted(chosen)


def _candidates(client: Client, exp_id: str, filter_string: str, order: str, size: int, page: int,
                keys: tuple[list[str], list[str]]) -> tuple[list[str], list[str]]:
    """The keys whose values are read to choose columns, within the cell budget."""
    probe = client.store.runs_page(exp_id, filter_string, order, [], [], (page - 1) * size, size)
    rows = len(probe.rows) + sum(len(r.children) for r in probe.rows)
    most = max(20, _CELL_BUDGET // max(1, rows))
    return keys[0][:most], keys[1][:most]


def _fold(client: Client, exp_id: str, rows: list[RunRow], metric_keys: list[str],
          param_keys: list[str]) -> list[RunRow]:
    """Matching runs (a flat, filtered page) folded under their parents, in page order.

    A parent that does not match is fetched and shown as a context row (``context``)
    above its matching nested runs.
    """
    by_id = {r.run_id: r for r in rows}
    wanted = list(dict.fromkeys(r.parent_run_id for r in rows if r.parent_run_id and r.parent_run_id not in by_id))
    context: dict[str, RunRow] = {}
    if wanted:
        ids = ", ".join(f"'{i}'" for i in wanted if i.isalnum())
        found = client.store.runs_page(exp_id, f"attributes.run_id IN ({ids})", None, metric_keys, param_keys,
                                       0, len(wanted)) if ids else RunsPage([], 0, 0, 0, False)
        context = {r.run_id: r for r in found.rows}
    top: list[RunRow] = []
    for row in rows:
        parent = by_id.get(row.parent_run_id or "") or context.get(row.parent_run_id or "")
        if parent is None:
            top.append(row)
            continue
        if parent.run_id in context and not any(parent is t for t in top):
            top.append(parent)
        parent.children.append(row)
    for row in top:
        row.child_count = len(row.children)
    return top


def _as_dict(row: RunRow, metric_cols: list[str], param_cols: list[str], context: set[str]) -> dict[str, Any]:
    out = {f.name: getattr(row, f.name) for f in dataclasses.fields(row) if f.name != "children"}
    out["metrics"] = {k: row.metrics[k] for k in metric_cols if k in row.metrics}
    out["params"] = {k: row.params[k] for k in param_cols if k in row.params}
    out["context"] = row.run_id in context
    out["children"] = [_as_dict(c, metric_cols, param_cols, context) for c in row.children]
    return out


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


def _choose(request: Request, top: list[RunRow], shown: list[RunRow], order: str) -> tuple[list[str], list[str]]:
    explicit = "m" in request.query_params or "p" in request.query_params
    if explicit and request.query_params.get("cols") != "default":
        return list_arg(request, "m"), list_arg(request, "p")
    named = [k for k in [sorted_metric(order), *filter_metrics(request.query_params.get("filter", ""))] if k]
    metrics = default_columns(top, shown, "metrics", max(1, _MAX_METRICS - len(named)), _MIN_METRICS)
    metrics = list(dict.fromkeys([*named, *metrics]))
    return metrics, default_columns(top, shown, "params", _MAX_PARAMS, _MIN_PARAMS)


def _read(request: Request, client: Client, exp_id: str, keys: tuple[list[str], list[str]],
          filter_string: str, order: str, size: int, page: int) -> tuple[RunsPage, list[RunRow], list[RunRow]]:
    """The page with every candidate key filled, its top-level rows (folded) and all rows."""
    wanted = list_arg(request, "m"), list_arg(request, "p")
    metric_keys, param_keys = _candidates(client, exp_id, filter_string, order, size, page, keys)
    named = [k for k in [sorted_metric(order), *filter_metrics(filter_string)] if k]
    metric_keys = list(dict.fromkeys([*metric_keys, *wanted[0], *named]))
    param_keys = list(dict.fromkeys([*param_keys, *wanted[1]]))
    result = client.store.runs_page(exp_id, filter_string, order, metric_keys, param_keys, (page - 1) * size, size)
    top = result.rows if result.grouped else _fold(client, exp_id, result.rows, metric_keys, param_keys)
    shown = [*top, *(c for r in top for c in r.children)]
    return result, top, shown


def data(request: Request) -> dict[str, Any]:
    """The page of runs plus everything the table's controls need.

    Returns:
        ``experiment``, ``runs`` (rows with ``children``; a filtered page folds matching
        nested runs under their parent, shown with ``context`` true when the parent
        itself does not match), ``total``, ``page``, ``pages``, ``metric_columns``,
        ``param_columns``, ``all_metrics``/``all_params`` (the picker's keys) with
        ``coverage`` (rows on the page having each), ``filter``, ``filter_error``
        (message and ``position``, or None), ``order`` and ``export`` (the download
        links of this view).
    """
    client, experiment = experiment_of(request)
    exp_id = experiment.experiment_id
    all_metrics, all_params = client.store.column_keys(exp_id)
    filter_string = request.query_params.get("filter", "").strip()
    order = request.query_params.get("order", "").strip()
    size = int_arg(request, "size", 100, 1, 1000)
    page = int_arg(request, "page", 1, 1)
    error = None
    try:
        result, top, shown = _read(request, client, exp_id, (all_metrics, all_params), filter_string, order,
                                   size, page)
    except FILTER_ERRORS as exc:
        error = filter_error(exc, filter_string)
        result, top, shown = RunsPage([], 0, 0, size, False), [], []
    # the columns follow the runs the user is looking at: top-level rows, or a filter's matches
    metric_cols, param_cols = _choose(request, top if result.grouped else result.rows, shown, order)
    context = {r.run_id for r in top if r.run_id not in {m.run_id for m in result.rows}}
    pages = max(1, math.ceil(result.total / size))
    return {
        "experiment": {"experiment_id": experiment.experiment_id, "name": experiment.name,
                       "description": experiment.description},
        "runs": [_as_dict(r, metric_cols, param_cols, context) for r in top],
        "total": result.total,
        "grouped": result.grouped,
        "page": page,
        "pages": pages,
        "size": size,
        "metric_columns": metric_cols,
        "param_columns": param_cols,
        "all_metrics": all_metrics,
        "all_params": all_params,
        "coverage": {"metrics": dict(_coverage(shown, "metrics")), "params": dict(_coverage(shown, "params"))},
        "rows_in_view": len(shown),
        "filter": filter_string,
        "filter_error": error,
        "order": order,
        **_links(request, exp_id, (metric_cols, param_cols), filter_string, order, (page, pages)),
    }


def _links(request: Request, exp_id: str, cols: tuple[list[str], list[str]], filter_string: str, order: str,
           pages: tuple[int, int]) -> dict[str, Any]:
    """The page's links and hidden fields: ``keep``, ``export``, ``parquet``, ``sort``, ``prev_url``, ``next_url``."""
    metric_cols, param_cols = cols
    page, last = pages
    shown = [("m", k) for k in metric_cols] + [("p", k) for k in param_cols]
    explicit = shown
    if "m" not in request.query_params and "p" not in request.query_params:
        explicit = [("cols", "default")] if request.query_params.get("cols") == "default" else []
    ordered = [("order", order)] if order else []
    sortable = ["name", "status", "start_time", "duration"]
    sortable += [f"metrics.`{k}`" for k in metric_cols] + [f"params.`{k}`" for k in param_cols]
    return {
        "keep": explicit + ordered,
        "export": _export_links(exp_id, filter_string, shown + ordered),
        "parquet": parquet_available(),
        "sort": _sort_links(request, order, sortable),
        "prev_url": page_url(request, page=str(page - 1)) if page > 1 else None,
        "next_url": page_url(request, page=str(page + 1)) if page < last else None,
    }


def _export_links(exp_id: str, filter_string: str, keep: list[tuple[str, str]]) -> dict[str, str]:
    query = urlencode(([("filter", filter_string)] if filter_string else []) + keep)
    return {fmt: f"/experiments/{exp_id}/runs.{fmt}?{query}" for fmt in ("csv", "parquet")}
