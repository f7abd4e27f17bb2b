"""Run page: params, latest metrics, tags, context, charts, artifacts, models, children, traces."""

from __future__ import annotations

import json
import os
from typing import Any

from starlette.requests import Request

from logwright.exceptions import RunNotFound
from logwright.models import METADATA_FILE
from logwright.server import queries
from logwright.server.views import client_of, not_found

TEMPLATE = "run.html"
_MODEL_SEARCH_DEPTH = 2


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    elif isinstance(value, list):
        out[prefix] = ", ".join(str(v) for v in value)
    else:
        out[prefix] = value
    return out


def _model_dirs(root: str) -> list[str]:
    found = []
    stack = [("", 0)]
    while stack:
        rel, depth = stack.pop()
        folder = os.path.join(root, rel)
        if not os.path.isdir(folder):
            continue
        if os.path.isfile(os.path.join(folder, METADATA_FILE)):
            found.append(rel)
            continue
        if depth < _MODEL_SEARCH_DEPTH:
            with os.scandir(folder) as entries:
                stack += [(os.path.join(rel, e.name), depth + 1) for e in entries if e.is_dir()]
    return sorted(found)


def models(artifact_root: str) -> list[dict[str, Any]]:
    """Model cards of the run: each folder (up to two levels deep) holding MODEL.json."""
    cards = []
    for rel in _model_dirs(artifact_root):
        try:
            with open(os.path.join(artifact_root, rel, METADATA_FILE)) as fh:
                meta = json.load(fh)
        except (OSError, ValueError):
            continue
        cards.append(
            {
                "path": rel,
                "flavour": meta.get("flavour"),
                "python_version": meta.get("python_version"),
                "framework_versions": {k: v for k, v in meta.items() if k.endswith("_version")},
                "signature": meta.get("signature"),
                "requirements": meta.get("requirements") or [],
                "input_example": meta.get("input_example"),
                "created": meta.get("created"),
            }
        )
    return cards


def data(request: Request) -> dict[str, Any]:
    """Everything shown on the run page (chart data is fetched by the page from /api)."""
    client = client_of(request)
    run_id = request.path_params["run_id"]
    try:
        run = client.store.get_run(run_id)
    except RunNotFound:
        raise not_found(f"run {run_id!r}") from None
    keys = client.store.metric_keys(run_id)
    repo = client.artifacts(run_id)
    children = queries.run_rows(client.store, client.store.child_run_ids(run_id))
    traces, trace_total = queries.traces_page(client.store, None, run_id=run_id, limit=50)
    experiment = client.store.get_experiment(run.info.experiment_id)
    parent = None
    if run.info.parent_run_id:
        found = queries.run_rows(client.store, [run.info.parent_run_id])
        parent = found[0] if found else None
    info = run.info
    return {
        "run": {
            "run_id": info.run_id, "name": info.run_name, "status": info.status,
            "start_time": info.start_time, "end_time": info.end_time,
            "duration_ms": (info.end_time - info.start_time) if info.end_time else None,
            "user": info.user, "source": info.source, "description": info.description,
            "experiment_id": info.experiment_id, "parent_run_id": info.parent_run_id,
        },
        "experiment": {"experiment_id": experiment.experiment_id, "name": experiment.name},
        "parent": parent,
        "params": dict(sorted(run.data.params.items())),
        "metrics": dict(sorted((k, v) for k, v in run.data.metrics.items() if not k.startswith("system/"))),
        "system_metrics": dict(sorted((k, v) for k, v in run.data.metrics.items() if k.startswith("system/"))),
        "metric_keys": [k for k in keys if not k.startswith("system/")],
        "system_keys": [k for k in keys if k.startswith("system/")],
        "tags": dict(sorted((k, v) for k, v in run.data.tags.items() if not k.startswith("logwright."))),
        "system_tags": dict(sorted((k, v) for k, v in run.data.tags.items() if k.startswith("logwright."))),
        "context": _flatten("", run.context, {}),
        "inputs": list(run.inputs),
        "artifacts": repo.list(),
        "models": models(repo.path()),
        "children": children,
        "traces": traces,
        "trace_total": trace_total,
    }
