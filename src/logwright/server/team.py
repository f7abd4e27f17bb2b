"""The tracking server app: the web UI, the REST API for HTTP clients, OTLP trace ingest.

``logwright server`` serves :func:`create_server_app`; ``logwright ui`` serves the
UI alone (:func:`logwright.server.app.create_app`). With several ``--workers`` uvicorn
imports :func:`app_from_env` in each worker process, configured by environment
variables the command sets.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.routing import Route

from logwright.server import api_artifacts, api_store
from logwright.server.app import create_app
from logwright.server.otlp_ingest import otlp_traces

ENV_STORE = "LOGWRIGHT_SERVER_STORE"
ENV_ARTIFACTS = "LOGWRIGHT_SERVER_ARTIFACTS"
ENV_AUTH = "LOGWRIGHT_SERVER_AUTH"
ENV_READ_ONLY = "LOGWRIGHT_SERVER_READ_ONLY"
ENV_HOSTS = "LOGWRIGHT_SERVER_ALLOWED_HOSTS"


def create_server_app(store_uri: str | None, artifact_uri: str | None = None, auth: bool = False,
                      read_only: bool = False, allowed_hosts: Sequence[str] | None = None) -> Starlette:
    """The tracking server over one store: UI, ``/api/v1`` for HTTP clients, ``/v1/traces``, ``/health``.

    Args:
        store_uri: the store the server owns (a folder, ``sqlite:///file.db``, ``postgresql://...``).
        artifact_uri: where new experiments keep their artifacts (a folder or
            ``s3://bucket/prefix``); None: the store's default.
        auth: require an API token (``Authorization: Bearer``, or the UI's cookie) on every
            request but ``/health``.
        read_only: refuse every write (403).
        allowed_hosts: Host header values to answer besides the loopback names (see
            :func:`logwright.server.app.create_app`); with ``auth`` any host is answered.

    Returns:
        A Starlette app to serve with uvicorn.
    """
    if artifact_uri:
        os.environ["LOGWRIGHT_ARTIFACT_URI"] = artifact_uri  # the store's default artifact root
    hosts = ["*"] if auth else list(allowed_hosts or [])
    app = create_app(store_uri, allowed_hosts=hosts, read_only=read_only)
    app.state.read_only = read_only
    app.state.auth = auth
    app.router.routes[0:0] = [*api_store.routes(), *api_artifacts.routes(),
                              Route("/v1/traces", otlp_traces, methods=["POST"])]
    if auth:
        from logwright.server.auth import TokenAuth

        app.add_middleware(TokenAuth, store=app.state.client.store, enabled=True)
    return app


def app_from_env() -> Starlette:
    """The app of one uvicorn worker, configured by ``logwright server`` through the environment."""
    hosts = [h for h in os.environ.get(ENV_HOSTS, "").split(",") if h]
    return create_server_app(os.environ.get(ENV_STORE) or None, os.environ.get(ENV_ARTIFACTS) or None,
                             auth=os.environ.get(ENV_AUTH) == "1", read_only=os.environ.get(ENV_READ_ONLY) == "1",
                             allowed_hosts=hosts)
