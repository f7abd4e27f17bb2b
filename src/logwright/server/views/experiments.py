"""Experiments page: every active experiment with its run count and last activity."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from logwright.server import queries
from logwright.server.views import client_of, store_location

TEMPLATE = "experiments.html"


def data(request: Request) -> dict[str, Any]:
    """``experiments``: id, name, description, run_count, trace_count, last_activity (ms)."""
    client = client_of(request)
    return {"experiments": queries.experiments(client.store), "store": store_location(client)}
