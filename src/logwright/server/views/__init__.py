"""One module per page. Each has ``TEMPLATE`` and ``data(request) -> dict``; the app
serves that data as HTML (through the template) and as JSON under ``/api/``."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from logwright.client import Client
from logwright.entities import Experiment
from logwright.exceptions import ExperimentNotFound
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
    except (ExperimentNotFound, ValueError):
        raise not_found(f"experiment {exp_id!r}") from None


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
