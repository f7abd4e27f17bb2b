"""Experiments page: every active experiment with its run count and last activity."""

from __future__ import annotations

import os
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse

from logwright.server import queries
from logwright.server.views import client_of, store_location

TEMPLATE = "experiments.html"
_FAVICON = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "static", "favicon.svg")


def data(request: Request) -> dict[str, Any]:
    """``experiments``: id, name, description, run_count, trace_count, last_activity (ms;
    the latest of its runs' starts and ends and of its traces)."""
    client = client_of(request)
    return {"experiments": queries.experiments(client.store), "store": store_location(client)}


def favicon(request: Request) -> FileResponse:
    """``/favicon.ico``: the UI's icon (an SVG), for browsers that ask before reading the page."""
    return FileResponse(_FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})
