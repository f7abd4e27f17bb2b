"""One module per page. Each has ``TEMPLATE`` and ``data(request) -> dict``; the app
serves that data as HTML (through the template) and as JSON under ``/api/``.

A page whose data holds a ``filter_error`` (the filter or order clause was refused)
is served with status 400, the message shown beside the filter box."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from logwright.client import Client
from logwright.entities import Experiment
from logwright.exceptions import ExperimentNotFound, InvalidFilter
from logwright.server.formatting import jsonable


class JSON(JSONResponse):
    """JSON with NaN/inf spelled as strings and dataclasses as objects."""

    def render(self, content: Any) -> bytes:
        return json.dumps(jsonable(content), ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def client_of(request: Request) -> Client:
    """The Client the app reads through."""
    return request.app.state.client


def not_found(what: str) -> HTTPException:
    """A 404 naming what is missing."""
    return HTTPException(404, f"{what} not found")


def experiment_of(request: Request) -> tuple[Client, Experiment]:
    """The client and the experiment named by the ``experiment_id`` path parameter (404 if none)."""
    client = client_of(request)
    exp_id = request.path_params["experiment_id"]
    try:
        return client, client.store.get_experiment(exp_id)
    except (ExperimentNotFound, ValueError, OverflowError):
        raise not_found(f"experiment {exp_id!r}") from None


# What a search can raise for a filter it cannot run: InvalidFilter from the store; the
# rest only from a store that lets a parser or driver error through (answered the same).
FILTER_ERRORS = (InvalidFilter, OverflowError, RecursionError, ValueError)


def filter_error(exc: Exception, text: str) -> dict[str, Any]:
    """The ``filter_error`` a page shows: ``message``, ``position`` and ``text``."""
    if isinstance(exc, InvalidFilter):
        return {"message": str(exc).split("\n")[0], "position": exc.position, "text": exc.text}
    return {"message": f"the filter cannot be run ({type(exc).__name__})", "position": 0, "text": text}


def store_location(client: Client) -> str:
    """Where the client's store lives, for display."""
    store = client.store
    return str(getattr(store, "location", None) or getattr(store, "db_path", ""))


def bad_request(detail: str) -> HTTPException:
    """A 400 with a message for the user."""
    return HTTPException(400, detail)


def int_arg(request: Request, name: str, default: int, lo: int = 0, hi: int = 10**9) -> int:
    """An integer query parameter clamped to [lo, hi]; ``default`` when absent or malformed."""
    try:
        value = int(request.query_params.get(name, default))
    except ValueError:
        return default
    return max(lo, min(hi, value))


def list_arg(request: Request, name: str, split: bool = False) -> list[str]:
    """A repeated query parameter (``?m=a&m=b``), also comma-separated when ``split``."""
    out: list[str] = []
    for raw in request.query_params.getlist(name):
        out.extend(p for p in (raw.split(",") if split else [raw]) if p)
    return list(dict.fromkeys(out))


def page_url(request: Request, **changes: str | None) -> str:
    """This page's URL with some query parameters replaced (None removes one)."""
    items = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    items += [(k, v) for k, v in changes.items() if v is not None]
    return f"{request.url.path}?{urlencode(items)}"
