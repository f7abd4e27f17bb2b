"""The ASGI app behind ``logwright ui``: server-rendered pages, each with a JSON twin.

Every page view is a module in :mod:`logwright.server.views` with a ``data(request)``
function returning plain data and a ``TEMPLATE`` name; the app serves the data as
HTML at the page's path and as JSON under ``/api/``. The app only reads the store.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Match, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from logwright.client import Client
from logwright.exceptions import (
    ExperimentNotFound,
    InvalidFilter,
    LogwrightError,
    ModelNotFound,
    RunNotFound,
    TraceNotFound,
)
from logwright.server import edits, formatting, registry_edits
from logwright.server.guard import CSP, Guard, HostPolicy, add_safety_headers
from logwright.server.views import (
    JSON,
    artifacts,
    compare,
    experiments,
    metrics,
    model,
    models,
    run,
    runs,
    trace,
    traces,
)

_logger = logging.getLogger(__name__)

_HERE = os.path.dirname(os.path.abspath(__file__))



def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.path.join(_HERE, "templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(formatting.FILTERS)
    return Jinja2Templates(env=env)


def _status(data: Any) -> int:
    """400 for a page whose filter or order clause was refused (shown on the page), else 200."""
    return 400 if isinstance(data, dict) and data.get("filter_error") else 200


def _html_endpoint(view: ModuleType) -> Callable[[Request], Response]:
    def endpoint(request: Request) -> Response:
        data = view.data(request)
        templates: Jinja2Templates = request.app.state.templates
        return templates.TemplateResponse(request, view.TEMPLATE, {"d": data}, status_code=_status(data),
                                          headers={"Content-Security-Policy": CSP})

    return endpoint


def _json_endpoint(view: ModuleType) -> Callable[[Request], Response]:
    def endpoint(request: Request) -> Response:
        data = view.data(request)
        status = _status(data)
        if status != 200:  # every 4xx answer of the API carries ``error`` and ``status``
            data = {**data, "error": data["filter_error"]["message"], "status": status}
        return JSON(data, status_code=status)

    return endpoint


def _plotly_js(request: Request) -> Response:
    import plotly

    path = os.path.join(os.path.dirname(plotly.__file__), "package_data", "plotly.min.js")
    return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})


def render_error(request: Request, status: int, detail: str) -> Response:
    """An error response: JSON ``{error, status}`` under ``/api/``, else the error page."""
    if request.url.path.startswith("/api/"):
        response: Response = JSON({"error": detail, "status": status}, status_code=status)
    else:
        templates: Jinja2Templates = request.app.state.templates
        response = templates.TemplateResponse(
            request, "error.html", {"d": {"status": status, "detail": detail}}, status_code=status,
        )
    add_safety_headers(response.headers)  # errors of the outermost layer skip the Guard
    return response


def _slash_redirect(request: Request) -> Response | None:
    """A relative redirect from ``/path/`` to ``/path`` when that is a page (never echoes Host)."""
    path = request.url.path
    if request.method not in ("GET", "HEAD") or path == "/" or not path.endswith("/"):
        return None
    target = path.rstrip("/")
    if not target or target.startswith(("//", "/\\")):
        return None
    scope = {**request.scope, "path": target}
    if not any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
        return None
    location = request.scope.get("root_path", "") + quote(target, safe="/:@!$&'()*+,;=-._~")
    query = request.scope.get("query_string", b"").decode("latin-1")
    return RedirectResponse(location + ("?" + query if query else ""), status_code=307)


def _status_of(exc: LogwrightError) -> int:
    if isinstance(exc, (RunNotFound, ExperimentNotFound, TraceNotFound, ModelNotFound)):
        return 404
    if isinstance(exc, InvalidFilter):
        return 400
    return 503  # StoreError: the store is unreadable, vanished or locked; not the request's fault


def _error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        status, detail = exc.status_code, str(exc.detail)
    elif isinstance(exc, LogwrightError):
        status, detail = _status_of(exc), str(exc).split("\n")[0]
        if status == 503:
            detail = f"the store cannot be read: {detail}"
    elif isinstance(exc, sqlite3.Error):  # a store that let a database error through
        status, detail = 503, f"the store cannot be read: {exc}"
    else:
        status, detail = 500, "internal error"
    if status == 404:
        redirect = _slash_redirect(request)
        if redirect is not None:
            return redirect
    if status >= 500:
        _logger.error("logwright ui: error serving %s", request.url.path, exc_info=exc)
    return render_error(request, status, detail)


_PAGES: list[tuple[str, ModuleType]] = [
    ("/", experiments),
    ("/experiments/{experiment_id}", runs),
    ("/experiments/{experiment_id}/traces", traces),
    ("/runs/{run_id}", run),
    ("/runs/{run_id}/artifacts", artifacts),
    ("/compare", compare),
    ("/traces/{trace_id}", trace),
    ("/models", models),
    ("/models/{name}", model),
]


def create_app(tracking_uri: str | None = None, allowed_hosts: Sequence[str] | None = None,
               read_only: bool = False) -> Starlette:
    """The read-only web UI over the store at ``tracking_uri`` (None: the current one).

    Args:
        tracking_uri: a store folder or ``sqlite:///file.db``; None uses
            ``LOGWRIGHT_TRACKING_URI`` or ``./logwright-runs``.
        allowed_hosts: Host header values the app answers besides ``localhost``,
            ``127.0.0.1`` and ``::1`` (any port): names or addresses, ``*.example.com``,
            ``0.0.0.0``/``::`` for any IP address, ``*`` for any host
            (see :class:`~logwright.server.guard.HostPolicy`). Other hosts get 400.
        read_only: refuse every edit (403) and show no edit controls (``logwright ui --read-only``).

    Returns:
        A Starlette app to serve with any ASGI server (``logwright ui`` uses uvicorn).

    Raises:
        ValueError: an ``allowed_hosts`` entry is not a host name, address or pattern.
    """
    routes: list[Any] = []
    for path, view in _PAGES:
        api_path = "/api/experiments" if path == "/" else "/api" + path
        routes.append(Route(path, _html_endpoint(view), methods=["GET"]))
        routes.append(Route(api_path, _json_endpoint(view), methods=["GET"]))
    routes += [
        Route("/api/runs/{run_id}/metric", metrics.series, methods=["GET"]),
        Route("/api/series", metrics.multi_series, methods=["GET"]),
        Route("/api/runs/{run_id}/updates", metrics.updates, methods=["GET"]),
        Route("/experiments/{experiment_id}/runs.{fmt}", runs.export, methods=["GET"]),
        Route("/favicon.ico", experiments.favicon, methods=["GET"]),
        Route("/runs/{run_id}/metric.csv", metrics.csv_download, methods=["GET"]),
        Route("/runs/{run_id}/artifact", artifacts.raw, methods=["GET"]),
        Route("/runs/{run_id}/artifact.html", artifacts.sandboxed_html, methods=["GET"]),
        Route("/static/plotly.min.js", _plotly_js, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=os.path.join(_HERE, "static")), name="static"),
    ]
    guard = Middleware(Guard, policy=HostPolicy(allowed_hosts), render_error=render_error)
    app = Starlette(routes=routes, middleware=[guard],
                    exception_handlers={HTTPException: _error, LogwrightError: _error, sqlite3.Error: _error,
                                        Exception: _error})
    app.router.redirect_slashes = False  # _slash_redirect answers with a relative Location instead
    app.state.client = Client(tracking_uri)
    app.state.templates = _templates()
    edits.install(app, read_only)
    registry_edits.install(app)
    return app
