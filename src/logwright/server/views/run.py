"""Run page: params, latest metrics, tags, context, charts, artifacts, models, children, traces."""

from __future__ import annotations

import json
import posixpath
from typing import Any

from starlette.requests import Request

from logwright.artifacts.base import read_head
from logwright.exceptions import RunNotFound
from logwright.models import METADATA_FILE
from logwright.server import charts
from logwright.server.views import client_of, not_found

TEMPLATE = "run.html"
_MODEL_SEARCH_DEPTH = 2
_MODEL_JSON_MAX = 4 * 1024 * 1024


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    elif isinstance(value, list):
        out[prefix] = ", ".join(str(v) for v in value)
    else:
        out[prefix] = value
    return out


def _model_dirs(repo: Any) -> list[str]:
    """Folders (up to two levels deep) of the run's artifacts that hold MODEL.json."""
    found = []
    stack = [("", 0)]
    while stack:
        rel, depth = stack.pop()
        try:
            entries = repo.list(rel)
        except (OSError, ValueError):  # unreadable folder: no model cards from it
            continue
        if any(not e.is_dir and posixpath.basename(e.path) == METADATA_FILE for e in entries):
            found.append(rel)
            continue
        if depth < _MODEL_SEARCH_DEPTH:
            stack += [(e.path, depth + 1) for e in entries if e.is_dir]
    return sorted(found)


def _read_metadata(repo: Any, rel: str) -> tuple[Any, str | None]:
    """The parsed MODEL.json of a model folder, or (None, why it cannot be shown)."""
    try:
        raw = read_head(repo, f"{rel}/{METADATA_FILE}", _MODEL_JSON_MAX + 1)
    except ValueError:
        return None, f"{METADATA_FILE} points outside the run's artifact folder"
    except OSError as exc:
        return None, f"cannot read {METADATA_FILE}: {exc.strerror or exc}"
    if len(raw) > _MODEL_JSON_MAX:
        return None, f"{METADATA_FILE} is over {_MODEL_JSON_MAX // 1024 // 1024} MB"
    try:
        meta = json.loads(raw.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return None, f"{METADATA_FILE} is not valid JSON"
    if not isinstance(meta, dict):
        return None, f"{METADATA_FILE} holds a JSON {type(meta).__name__}, not an object"
    return meta, None


def _text(value: Any) -> str | None:
    """A scalar shown as text; None for missing values and containers."""
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def _signature(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    return {"inputs": value.get("inputs"), "outputs": value.get("outputs")}


def _requirements(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, (str, int, float))]
    return []


def model_card(repo: Any, rel: str) -> dict[str, Any]:
    """What the run page shows of one model folder: every field it can read, each of the
    expected type (a malformed MODEL.json gives a card with ``error`` set, never an exception).

    Args:
        repo: the run's artifact repository (:mod:`logwright.artifacts`).
        rel: the model folder, relative to the run's artifacts.
    """
    meta, error = _read_metadata(repo, rel)
    meta = meta or {}
    return {
        "path": rel,
        "error": error,
        "flavour": _text(meta.get("flavour")),
        "python_version": _text(meta.get("python_version")),
        "framework_versions": {str(k): _text(v) for k, v in meta.items()
                               if str(k).endswith("_version") and _text(v) is not None},
        "signature": _signature(meta.get("signature")),
        "requirements": _requirements(meta.get("requirements")),
        "input_example": meta.get("input_example"),
        "created": _text(meta.get("created")),
    }


def models(repo: Any) -> list[dict[str, Any]]:
    """Model cards of the run: each folder (up to two levels deep) holding MODEL.json."""
    return [model_card(repo, rel) for rel in _model_dirs(repo)]


def _artifact_list(repo: Any) -> tuple[list[Any], str | None]:
    """The run's top-level artifacts, or ([], why not) when the folder cannot be listed."""
    try:
        return repo.list(), None
    except (OSError, ValueError) as exc:
        return [], f"cannot list the artifacts: {exc}"


def data(request: Request) -> dict[str, Any]:
    """Everything shown on the run page (chart data is fetched by the page from /api).

    ``charts`` is what the page's script draws: the run's id, start and status, whether
    an ``epoch`` metric was logged, and the chart ``sections`` (see
    :func:`logwright.server.charts.layout`); ``values`` holds the metrics that have a
    single point (shown as values, not charts).
    """
    client = client_of(request)
    run_id = request.path_params["run_id"]
    try:
        run = client.store.get_run(run_id)
    except RunNotFound:
        raise not_found(f"run {run_id!r}") from None
    keys = client.store.metric_keys(run_id)
    repo = client.artifacts(run_id)
    artifact_list, artifacts_error = _artifact_list(repo)
    children = client.store.run_rows(client.store.child_run_ids(run_id))
    traces, trace_total = client.store.traces_page(None, run_id=run_id, limit=50)
    experiment = client.store.get_experiment(run.info.experiment_id)
    parent = None
    if run.info.parent_run_id:
        found = client.store.run_rows([run.info.parent_run_id])
        parent = found[0] if found else None
    info = run.info
    counts = charts.point_counts(client.store, run_id, keys)
    layout = charts.layout(keys, counts)
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
        "charts": {"run_id": info.run_id, "start_time": info.start_time, "status": info.status,
                   "epoch": charts.EPOCH_KEY in counts, "sections": layout["sections"]},
        "values": {k: run.data.metrics.get(k) for k in layout["values"]},
        "metric_keys": [k for k in keys if not k.startswith("system/")],
        "system_keys": [k for k in keys if k.startswith("system/")],
        "tags": dict(sorted((k, v) for k, v in run.data.tags.items() if not k.startswith("logwright."))),
        "system_tags": dict(sorted((k, v) for k, v in run.data.tags.items() if k.startswith("logwright."))),
        "context": _flatten("", run.context, {}),
        "inputs": list(run.inputs),
        "artifacts": artifact_list,
        "artifacts_error": artifacts_error,
        "models": models(repo),
        "children": children,
        "traces": traces,
        "trace_total": trace_total,
    }
