"""Models page: every registered model with its latest version, aliases and description."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from logwright.server.views import FILTER_ERRORS, client_of, filter_error, store_location

TEMPLATE = "models.html"


def data(request: Request) -> dict[str, Any]:
    """``models`` (name, latest_version, aliases, tags, description, last_update_time), ``filter``, ``filter_error``."""
    client = client_of(request)
    filter_string = request.query_params.get("filter", "").strip()
    error = None
    try:
        found = client.search_registered_models(filter_string or None, max_results=1000)
    except FILTER_ERRORS as exc:
        error, found = filter_error(exc, filter_string), []
    models = [{"name": m.name, "latest_version": m.latest_version, "aliases": m.aliases, "tags": m.tags,
               "description": m.description, "creation_time": m.creation_time,
               "last_update_time": m.last_update_time} for m in found]
    return {"models": models, "filter": filter_string, "filter_error": error, "store": store_location(client)}
