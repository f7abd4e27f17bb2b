"""The UI's writes: rename, tag, describe, delete and restore runs and experiments.

Every write is a JSON route under ``/api/`` (``PATCH`` to change, ``POST`` to create,
delete or restore) that goes through :class:`~logwright.client.Client` and the Store
protocol, so it works the same on every backend and behind the tracking server's tokens.

A write is answered only when (:func:`check_write`):

- the app was not started read-only (``logwright ui --read-only``), the store is
  writable and the request's token (behind ``logwright server --auth``) is not a
  read-only one; otherwise 403 and the pages show no edit controls;
- it carries the ``X-Logwright-UI: 1`` header that the UI's script sets. Browsers let
  no other site send a custom header without a CORS preflight, which this app never
  grants, and an HTML form cannot send one: a page elsewhere cannot make the user's
  browser write (CSRF);
- its ``Origin`` (when the browser sends one) is this server's own origin, and its
  ``Sec-Fetch-Site`` (when sent) is ``same-origin``;
- its body is a JSON object of at most 1 MB (``Content-Type: application/json``).

The pages learn what they need to draw the controls (read-only, lifecycles, notes as
Markdown, deleted runs and experiments) from :class:`PageExtras`, which :func:`install`
hands every template as ``extras``.
"""

from __future__ import annotations

import json
import logging
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from logwright.client import Client
from logwright.exceptions import ExperimentNotFound, RunNotFound
from logwright.server import markdown
from logwright.server.views import JSON, client_of

__all__ = ["HEADER", "ROUTES", "PageExtras", "check_write", "experiment_state", "install", "is_read_only",
           "run_state"]

_logger = logging.getLogger(__name__)

HEADER = "X-Logwright-UI"
MAX_BODY = 1024 * 1024
DELETED_SHOWN = 200
_RUN_FIELDS = {"name", "description", "tags", "delete_tags"}
_EXPERIMENT_FIELDS = {"name", "description"}


def is_read_only(request: Request) -> bool:
    """True when the UI may not write: started with ``--read-only``, the store is read-only, or the
    request signed in with a read-only token (``logwright server --auth``)."""
    token = request.scope.get("logwright.token")
    return bool(getattr(request.app.state, "read_only", False) or client_of(request).store.read_only
                or getattr(token, "read_only", False))


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is not None:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False  # "null" (sandboxed frames, file: pages) and anything malformed
        if parts.netloc.lower() != (request.headers.get("host") or "").lower():
            return False
    return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")


def check_write(request: Request) -> None:
    """Refuse a write that is not allowed (403) or not from the UI's own pages (403)."""
    if is_read_only(request):
        raise HTTPException(403, "this UI is read-only (started with --read-only, or the store cannot be written)")
    if request.headers.get(HEADER) != "1":
        raise HTTPException(403, f"edits need the {HEADER}: 1 header the UI sends (cross-site requests are refused)")
    if not _same_origin(request):
        raise HTTPException(403, "cross-origin edit refused: the request does not come from this UI's own pages")


async def _body(request: Request, allowed: set[str]) -> dict[str, Any]:
    """The request's JSON object, checked against the allowed fields (400 otherwise)."""
    check_write(request)
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise HTTPException(415, "send the edit as JSON (Content-Type: application/json)")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise HTTPException(413, f"the edit is over {MAX_BODY // 1024} KB")
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise HTTPException(400, "the request body is not JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "the request body must be a JSON object")
    unknown = set(body) - allowed
    if unknown:
        raise HTTPException(400, f"unknown field(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    return body


def _text(body: dict[str, Any], key: str, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise HTTPException(400, f"{key} is required")
        return None
    if not isinstance(value, str):
        raise HTTPException(400, f"{key} must be a string")
    if key == "name" and not value.strip():
        raise HTTPException(400, "a name must not be empty")
    return value.strip() if key == "name" else value


# -- state shown on the pages ------------------------------------------------------------


def run_state(client: Client, run_id: str) -> dict[str, Any]:
    """What the edit controls of a run show: name, notes (source and HTML), user tags, lifecycle."""
    run = client.get_run(run_id)
    info = run.info
    return {"run_id": info.run_id, "name": info.run_name, "experiment_id": info.experiment_id,
            "lifecycle": info.lifecycle_stage, "description": info.description or "",
            "description_html": markdown.render(info.description),
            "tags": {k: v for k, v in sorted(run.data.tags.items()) if not k.startswith("logwright.")}}


def experiment_state(client: Client, experiment_id: str) -> dict[str, Any]:
    """What the edit controls of an experiment show, with its deleted runs (newest first)."""
    exp = client.get_experiment(experiment_id)
    deleted = client.store.search_runs([exp.experiment_id], max_results=DELETED_SHOWN, view="deleted")
    return {"experiment_id": exp.experiment_id, "name": exp.name, "lifecycle": exp.lifecycle_stage,
            "description": exp.description or "", "description_html": markdown.render(exp.description),
            "deleted_runs": [{"run_id": r.info.run_id, "name": r.info.run_name, "status": r.info.status,
                              "start_time": r.info.start_time} for r in deleted]}


class PageExtras:
    """Handed to every template as ``extras``; each part is read only when a template uses it.

    Args:
        request: the page's request (its ``run_id`` or ``experiment_id`` path parameter).
    """

    def __init__(self, request: Request) -> None:
        self._request = request
        self._client = client_of(request)

    @cached_property
    def read_only(self) -> bool:
        """True when no edit control may be shown."""
        return is_read_only(self._request)

    @cached_property
    def run(self) -> dict[str, Any]:
        """:func:`run_state` of the page's run."""
        return run_state(self._client, self._request.path_params["run_id"])

    @cached_property
    def experiment(self) -> dict[str, Any]:
        """:func:`experiment_state` of the page's experiment."""
        return experiment_state(self._client, self._request.path_params["experiment_id"])

    @cached_property
    def deleted_experiments(self) -> list[Any]:
        """Deleted experiments, for the experiments page's Restore list."""
        return self._client.search_experiments(view="deleted")

    def load_snippet(self, run_id: str, path: str) -> str:
        """Python that loads the model at ``path`` of run ``run_id`` from this store."""
        from logwright.server.views.artifacts import load_snippet

        return load_snippet(self._client, run_id, path)


def _page_extras(request: Request) -> dict[str, Any]:
    return {"extras": PageExtras(request)}


# -- routes -------------------------------------------------------------------------------


def _edit_run(client: Client, run_id: str, body: dict[str, Any]) -> None:
    if client.get_run(run_id).info.lifecycle_stage == "deleted":
        raise HTTPException(409, "this run is deleted: restore it before editing it")
    name, description = _text(body, "name"), _text(body, "description")
    tags, remove = body.get("tags") or {}, body.get("delete_tags") or []
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise HTTPException(400, "tags must be an object of strings")
    if not isinstance(remove, list) or not all(isinstance(k, str) for k in remove):
        raise HTTPException(400, "delete_tags must be a list of tag keys")
    if any(str(k).startswith("logwright.") for k in [*tags, *remove]):
        raise HTTPException(400, "tags starting with 'logwright.' are the system's own")
    try:
        client.update_run(run_id, name=name, description=description)
        if tags:
            client.set_tags(run_id, tags)
        for key in remove:
            client.delete_tag(run_id, key)
    except (ValueError, TypeError) as exc:
        raise HTTPException(400, str(exc)) from None
    client.flush()


async def patch_run(request: Request) -> Response:
    """``PATCH /api/runs/{run_id}``: ``name``, ``description``, ``tags`` (set) and ``delete_tags``."""
    body = await _body(request, _RUN_FIELDS)
    client, run_id = client_of(request), request.path_params["run_id"]
    await run_in_threadpool(_edit_run, client, run_id, body)
    return JSON({"run": await run_in_threadpool(run_state, client, run_id)})


async def _run_lifecycle(request: Request, delete: bool) -> Response:
    await _body(request, set())
    client, run_id = client_of(request), request.path_params["run_id"]
    if client.store.run_exists(run_id) is None:
        raise RunNotFound(run_id)
    await run_in_threadpool(client.delete_run if delete else client.restore_run, run_id)
    return JSON({"run": await run_in_threadpool(run_state, client, run_id)})


async def delete_run(request: Request) -> Response:
    """``POST /api/runs/{run_id}/delete``: hide the run (``logwright gc`` purges it later)."""
    return await _run_lifecycle(request, delete=True)


async def restore_run(request: Request) -> Response:
    """``POST /api/runs/{run_id}/restore``."""
    return await _run_lifecycle(request, delete=False)


async def create_experiment(request: Request) -> Response:
    """``POST /api/experiments``: ``name`` and ``description``; 409 when the name is taken."""
    body = await _body(request, _EXPERIMENT_FIELDS)
    client = client_of(request)
    name, description = _text(body, "name", required=True), _text(body, "description")

    def create() -> str:
        found = client.get_experiment_by_name(name)
        if found is not None:
            raise HTTPException(409, f"an experiment named {name!r} already exists ({found.lifecycle_stage})")
        try:
            return client.create_experiment(name, description=description or None)
        except (ValueError, TypeError) as exc:
            raise HTTPException(400, str(exc)) from None

    exp_id = await run_in_threadpool(create)
    return JSON({"experiment": await run_in_threadpool(experiment_state, client, exp_id)}, status_code=201)


async def patch_experiment(request: Request) -> Response:
    """``PATCH /api/experiments/{experiment_id}``: ``name`` and/or ``description``; 409 for a taken name."""
    body = await _body(request, _EXPERIMENT_FIELDS)
    client, exp_id = client_of(request), request.path_params["experiment_id"]
    name, description = _text(body, "name"), _text(body, "description")

    def update() -> None:
        try:
            client.update_experiment(exp_id, name=name, description=description)
        except ExperimentNotFound:
            raise
        except ValueError as exc:
            raise HTTPException(409 if "already exists" in str(exc) else 400, str(exc)) from None

    await run_in_threadpool(update)
    return JSON({"experiment": await run_in_threadpool(experiment_state, client, exp_id)})


async def _experiment_lifecycle(request: Request, delete: bool) -> Response:
    await _body(request, set())
    client, exp_id = client_of(request), request.path_params["experiment_id"]
    await run_in_threadpool(client.get_experiment, exp_id)
    await run_in_threadpool(client.delete_experiment if delete else client.restore_experiment, exp_id)
    return JSON({"experiment": await run_in_threadpool(experiment_state, client, exp_id)})


async def delete_experiment(request: Request) -> Response:
    """``POST /api/experiments/{experiment_id}/delete``: hide the experiment and its runs."""
    return await _experiment_lifecycle(request, delete=True)


async def restore_experiment(request: Request) -> Response:
    """``POST /api/experiments/{experiment_id}/restore``."""
    return await _experiment_lifecycle(request, delete=False)


def deleted_runs(request: Request) -> Response:
    """``GET /api/experiments/{experiment_id}/deleted``: the experiment with its deleted runs."""
    try:
        return JSON({"experiment": experiment_state(client_of(request), request.path_params["experiment_id"])})
    except (ExperimentNotFound, ValueError):
        raise HTTPException(404, f"experiment {request.path_params['experiment_id']!r} not found") from None


ROUTES = [
    Route("/api/runs/{run_id}", patch_run, methods=["PATCH"]),
    Route("/api/runs/{run_id}/delete", delete_run, methods=["POST"]),
    Route("/api/runs/{run_id}/restore", restore_run, methods=["POST"]),
    Route("/api/experiments", create_experiment, methods=["POST"]),
    Route("/api/experiments/{experiment_id}", patch_experiment, methods=["PATCH"]),
    Route("/api/experiments/{experiment_id}/deleted", deleted_runs, methods=["GET"]),
    Route("/api/experiments/{experiment_id}/delete", delete_experiment, methods=["POST"]),
    Route("/api/experiments/{experiment_id}/restore", restore_experiment, methods=["POST"]),
]


def install(app: Starlette, read_only: bool = False) -> None:
    """Add the write routes and the templates' ``extras`` (and ``markdown`` filter) to the UI app.

    Args:
        app: the app :func:`~logwright.server.app.create_app` built.
        read_only: refuse every write (403) and show no edit controls.
    """
    app.state.read_only = bool(read_only)
    app.router.routes.extend(ROUTES)
    templates = app.state.templates
    templates.context_processors.append(_page_extras)
    templates.env.filters["markdown"] = markdown.render

