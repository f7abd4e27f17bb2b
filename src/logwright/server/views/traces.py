"""Traces list of an experiment: name, status, latency, tokens, time, run; with a filter."""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request

from logwright.server.views import FILTER_ERRORS, experiment_of, filter_error, int_arg, page_url

TEMPLATE = "traces.html"


def data(request: Request) -> dict[str, Any]:
    """``traces`` (summaries), ``total``, ``page``/``pages``, ``filter`` and ``filter_error``."""
    client, experiment = experiment_of(request)
    exp_id = experiment.experiment_id
    filter_string = request.query_params.get("filter", "").strip()
    order = request.query_params.get("order", "").strip()
    size = int_arg(request, "size", 100, 1, 1000)
    page = int_arg(request, "page", 1, 1)
    error = None
    try:
        rows, total = client.store.traces_page(exp_id, filter_string, order, None, (page - 1) * size, size)
    except FILTER_ERRORS as exc:
        error = filter_error(exc, filter_string)
        rows, total = [], 0
    pages = max(1, math.ceil(total / size))
    return {
        "experiment": {"experiment_id": experiment.experiment_id, "name": experiment.name},
        "traces": rows,
        "total": total,
        "page": page,
        "pages": pages,
        "filter": filter_string,
        "filter_error": error,
        "order": order,
        "prev_url": page_url(request, page=str(page - 1)) if page > 1 else None,
        "next_url": page_url(request, page=str(page + 1)) if page < pages else None,
    }
