"""One registered model: its aliases, tags and versions, each linked to its source run and that run's metrics."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from logwright.exceptions import ModelNotFound, RunNotFound
from logwright.server.views import client_of, not_found

TEMPLATE = "model.html"
_MAX_VERSIONS = 500


def _source_run(client: Any, run_id: str | None) -> dict[str, Any] | None:
    """The source run's name, status, experiment and latest metrics, or None when it is gone."""
    if not run_id:
        return None
    try:
        run = client.store.get_run(run_id)
    except RunNotFound:
        return None
    return {"run_id": run_id, "name": run.info.run_name, "status": run.info.status,
            "experiment_id": run.info.experiment_id, "lifecycle_stage": run.info.lifecycle_stage,
            "metrics": dict(sorted(run.data.metrics.items()))}


def data(request: Request) -> dict[str, Any]:
    """``model`` (name, description, tags, aliases, latest_version) and ``versions`` (newest first, with ``run``)."""
    client = client_of(request)
    name = request.path_params["name"]
    try:
        model = client.get_registered_model(name)
    except (ModelNotFound, ValueError):
        raise not_found(f"registered model {name!r}") from None
    quoted = name.replace("'", "''")
    versions = []
    for v in client.search_model_versions(f"name = '{quoted}'", max_results=_MAX_VERSIONS):
        versions.append({
            "version": v.version, "aliases": list(v.aliases), "flavour": v.flavour, "status": v.status,
            "source": v.source, "run_id": v.run_id, "artifact_path": v.artifact_path, "signature": v.signature,
            "tags": v.tags, "description": v.description, "creation_time": v.creation_time,
            "model_uri": v.model_uri, "run": _source_run(client, v.run_id),
        })
    return {
        "model": {"name": model.name, "description": model.description, "tags": model.tags,
                  "aliases": model.aliases, "latest_version": model.latest_version,
                  "creation_time": model.creation_time, "last_update_time": model.last_update_time},
        "versions": versions,
    }
