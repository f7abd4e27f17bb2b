"""The UI's registry writes: register a run's model, set, move and remove aliases, edit descriptions.

JSON routes under ``/api/`` in :mod:`logwright.server.edits`' pattern, under the same
rule (:func:`~logwright.server.edits.check_write`: 403 when the UI is read-only or the
token is a read-only one, the ``X-Logwright-UI`` header, same origin, a JSON object
body). Every write goes through :class:`~logwright.client.Client`'s registry calls and
so through the Store protocol, on every backend:

- ``POST /api/models``: ``run_id``, ``path`` (the model folder), ``name``, optional
  ``description``, ``tags`` and ``alias``; registers a new version (201).
- ``PATCH /api/models/{name}``: ``description``, ``aliases`` (``{alias: version}``, set
  or moved) and ``delete_aliases`` (a list).
- ``PATCH /api/models/{name}/versions/{version}``: ``description``.

The templates read what the controls show from :class:`RegistryExtras`, handed to
every template as ``registry``.
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from logwright.client import Client
from logwright.server.edits import _body, _text
from logwright.server.views import JSON, client_of
from logwright.store.sqlite_registry import check_name

__all__ = ["ROUTES", "RegistryExtras", "install", "model_state", "model_url", "patch_model", "patch_version",
           "register_model"]

_logger = logging.getLogger(__name__)

_REGISTER_FIELDS = {"run_id", "path", "name", "description", "tags", "alias"}
_MODEL_FIELDS = {"description", "aliases", "delete_aliases"}
_VERSION_FIELDS = {"description"}
NAMES_SHOWN = 500


def model_url(name: str) -> str:
    """The UI path of a registered model's page."""
    return "/models/" + quote(name, safe="")


def _version_json(v: Any) -> dict[str, Any]:
    return {"name": v.name, "version": v.version, "run_id": v.run_id, "artifact_path": v.artifact_path,
            "flavour": v.flavour, "aliases": list(v.aliases), "tags": v.tags, "description": v.description,
            "model_uri": f"models:/{v.name}/{v.version}", "url": model_url(v.name)}


def _tags(body: dict[str, Any]) -> dict[str, str]:
    tags = body.get("tags") or {}
    if not isinstance(tags, dict) or not all(isinstance(k, str) and k.strip() and isinstance(v, str)
                                             for k, v in tags.items()):
        raise HTTPException(400, "tags must be an object of strings with non-empty keys")
    return {k.strip(): v for k, v in tags.items()}


def _checked(value: Any, what: str) -> str:
    try:
        return check_name(value, what)
    except (TypeError, ValueError) as exc:
        raise HTTPException(400, str(exc)) from None


def _register(client: Client, body: dict[str, Any]) -> dict[str, Any]:
    run_id, path = _text(body, "run_id", required=True), _text(body, "path", required=True)
    name = _checked((_text(body, "name", required=True) or "").strip(), "registered model name")
    alias = (_text(body, "alias") or "").strip()
    if alias:
        _checked(alias, "alias")  # before the version exists: a bad alias registers nothing
    description, tags = _text(body, "description") or None, _tags(body)
    if client.store.run_exists(run_id or "") is None:
        raise HTTPException(404, f"run {run_id!r} not found")
    try:
        version = client.register_model(f"runs:/{run_id}/{(path or '').strip('/')}", name, tags, description)
    except FileNotFoundError:
        raise HTTPException(404, f"no logged model (MODEL.json) at {path!r} in run {run_id}") from None
    except (ValueError, TypeError) as exc:
        raise HTTPException(400, str(exc)) from None
    if alias:
        client.set_registered_model_alias(name, alias, version.version)
        version = client.get_model_version(name, version.version)
    return _version_json(version)


async def register_model(request: Request) -> Response:
    """``POST /api/models``: register the model folder ``path`` of run ``run_id`` as a new version of ``name``."""
    body = await _body(request, _REGISTER_FIELDS)
    version = await run_in_threadpool(_register, client_of(request), body)
    return JSON({"version": version}, status_code=201)


def _edit_model(client: Client, name: str, body: dict[str, Any]) -> None:
    aliases, remove = body.get("aliases") or {}, body.get("delete_aliases") or []
    if not isinstance(aliases, dict) or not all(isinstance(v, (int, str)) for v in aliases.values()):
        raise HTTPException(400, "aliases must be an object of alias -> version")
    if not isinstance(remove, list) or not all(isinstance(a, str) for a in remove):
        raise HTTPException(400, "delete_aliases must be a list of aliases")
    client.get_registered_model(name)  # ModelNotFound: 404
    checked = {_checked(str(a).strip(), "alias"): v for a, v in aliases.items()}
    try:
        if "description" in body:
            client.update_registered_model(name, _text(body, "description") or None)
        for alias, version in checked.items():
            client.set_registered_model_alias(name, alias, version)
        for alias in remove:
            client.delete_registered_model_alias(name, alias)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


def model_state(client: Client, name: str) -> dict[str, Any]:
    """A registered model as the edit routes answer it: name, description, aliases, tags, latest version."""
    m = client.get_registered_model(name)
    return {"name": m.name, "description": m.description, "aliases": m.aliases, "tags": m.tags,
            "latest_version": m.latest_version, "url": model_url(m.name)}


async def patch_model(request: Request) -> Response:
    """``PATCH /api/models/{name}``: ``description``, ``aliases`` (set or move) and ``delete_aliases``."""
    body = await _body(request, _MODEL_FIELDS)
    client, name = client_of(request), request.path_params["name"]
    await run_in_threadpool(_edit_model, client, name, body)
    return JSON({"model": await run_in_threadpool(model_state, client, name)})


def _edit_version(client: Client, name: str, version: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        client.update_model_version(name, version, _text(body, "description") or None)
        return _version_json(client.get_model_version(name, version))
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


async def patch_version(request: Request) -> Response:
    """``PATCH /api/models/{name}/versions/{version}``: ``description``."""
    body = await _body(request, _VERSION_FIELDS)
    client, params = client_of(request), request.path_params
    version = await run_in_threadpool(_edit_version, client, params["name"], params["version"], body)
    return JSON({"version": version})


class RegistryExtras:
    """Handed to every template as ``registry``: what the Register form and the model page's controls show.

    Args:
        request: the page's request.
    """

    def __init__(self, request: Request) -> None:
        self._client = client_of(request)

    @cached_property
    def names(self) -> list[str]:
        """Registered model names, offered by the Register form (empty when the registry cannot be read)."""
        try:
            return [m.name for m in self._client.search_registered_models(max_results=NAMES_SHOWN)]
        except Exception:  # noqa: BLE001 - a page without suggestions beats a 500
            _logger.debug("logwright ui: registered model names unavailable", exc_info=True)
            return []

    def versions(self, run_id: str, path: str) -> list[dict[str, Any]]:
        """Versions registered from model folder ``path`` of run ``run_id``, each with its page's ``url``."""
        from logwright.server.views.previews import registered_versions

        return [{**v, "url": model_url(v["name"])} for v in registered_versions(self._client, run_id, path)]


def _registry_extras(request: Request) -> dict[str, Any]:
    return {"registry": RegistryExtras(request)}


ROUTES = [
    Route("/api/models", register_model, methods=["POST"]),
    Route("/api/models/{name}", patch_model, methods=["PATCH"]),
    Route("/api/models/{name}/versions/{version}", patch_version, methods=["PATCH"]),
]


def install(app: Starlette) -> None:
    """Add the registry write routes and the templates' ``registry`` to the UI app (after :func:`edits.install`)."""
    app.router.routes.extend(ROUTES)
    app.state.templates.context_processors.append(_registry_extras)

