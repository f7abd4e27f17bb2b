"""Experiments page: every active experiment with its run count and last activity."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from logwright.server import queries
from logwright.server.views import client_of

TEMPLATE = "experiments.html"


def data(request: Request) -> dict[str, Any]:
    """``experiments``: id, name, description, run_count, trace_count, last_activity (ms)."""
    store = client_of(request).store
    return {"experiments": queries.experiments(store), "store": store.db_path}
