"""The ASGI app behind ``logwright ui``: server-rendered pages, each with a JSON twin.

Every page view is a module in :mod:`logwright.server.views` with a ``data(request)``
function returning plain data and a ``TEMPLATE`` name; the app serves the data as
HTML at the page's path and as JSON under ``/api/``. The app only reads the store.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from logwright.client import Client
from logwright.server import formatting
from logwright.server.views import JSON, artifacts, compare, experiments, metrics, run, runs, trace, traces

_logger = logging.getLogger(__name__)

_HERE = os.path.dirname(os.path.abspath(__file__))
# No inline script may run: our own JS is in /static, page data travels in
# <script type="application/json"> blocks, which browsers never execute.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


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


def _html_endpoint(view: ModuleType) -> Callable[[Request], Response]:
    def endpoint(request: Request) -> Response:
        data = view.data(request)
        templates: Jinja2Templates = request.app.state.templates
        return templates.TemplateResponse(request, view.TEMPLATE, {"d": data}, headers={"Content-Security-Policy": CSP})

    return endpoint


def _json_endpoint(view: ModuleType) -> Callable[[Request], Response]:
    def endpoint(request: Request) -> Response:
        return JSON(view.data(request))

    return endpoint


def _plotly_js(request: Request) -> Response:
    import plotly

    path = os.path.join(os.path.dirname(plotly.__file__), "package_data", "plotly.min.js")
    return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})


def _error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
    if status == 500:
        _logger.exception("logwright ui: error serving %s", request.url.path, exc_info=exc)
    if request.url.path.startswith("/api/"):
        return JSON({"error": detail, "status": status}, status_code=status)
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request, "error.html", {"d": {"status": status, "detail": detail}}, status_code=status,
        headers={"Content-Security-Policy": CSP},
    )


_PAGES: list[tuple[str, ModuleType]] = [
    ("/", experiments),
    ("/experiments/{experiment_id}", runs),
    ("/experiments/{experiment_id}/traces", traces),
    ("/runs/{run_id}", run),
    ("/runs/{run_id}/artifacts", artifacts),
    ("/compare", compare),
    ("/traces/{trace_id}", trace),
]


def create_app(tracking_uri: str | None = None) -> Starlette:
    """The read-only web UI over the store at ``tracking_uri`` (None: the current one).

    Args:
        tracking_uri: a store folder or ``sqlite:///file.db``; None uses
            ``LOGWRIGHT_TRACKING_URI`` or ``./logwright-runs``.

    Returns:
        A Starlette app to serve with any ASGI server (``logwright ui`` uses uvicorn).
    """
    routes: list[Any] = []
    for path, view in _PAGES:
        api_path = "/api/experiments" if path == "/" else "/api" + path
        routes.append(Route(path, _html_endpoint(view), methods=["GET"]))
        routes.append(Route(api_path, _json_endpoint(view), methods=["GET"]))
    routes += [
        Route("/api/runs/{run_id}/metric", metrics.series, methods=["GET"]),
        Route("/api/series", metrics.multi_series, methods=["GET"]),
        Route("/runs/{run_id}/metric.csv", metrics.csv_download, methods=["GET"]),
        Route("/runs/{run_id}/artifact", artifacts.raw, methods=["GET"]),
        Route("/static/plotly.min.js", _plotly_js, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=os.path.join(_HERE, "static")), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _error, Exception: _error})
    app.state.client = Client(tracking_uri)
    app.state.templates = _templates()
    return app
