"""Models: a flavour registry, ``log_model`` / ``load_model``, MODEL.json and signatures.

A flavour knows how to save and load one framework's models. Flavours register
in the entry-point group ``logwright.flavours`` (name -> object with ``name``,
``can_log(model)``, ``save(model, path, **kw) -> dict``, ``load(path, meta)`` and
``requirements() -> list[str]``), exactly as a third-party plugin would, so the
core never names a framework. A logged model is an artifact folder holding the
flavour's native files and ``MODEL.json``.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Protocol

_logger = logging.getLogger(__name__)

GROUP = "logwright.flavours"
METADATA_FILE = "MODEL.json"
_flavours: dict[str, Any] | None = None


class Flavour(Protocol):
    """What a model flavour provides (see module docstring)."""

    name: str

    def can_log(self, model: Any) -> bool: ...
    def save(self, model: Any, path: str, **kwargs: Any) -> dict[str, Any]: ...
    def load(self, path: str, meta: dict[str, Any]) -> Any: ...
    def requirements(self) -> list[str]: ...


@dataclass(frozen=True)
class ModelInfo:
    """Where a logged model lives and what it is."""

    model_uri: str
    run_id: str
    artifact_path: str
    flavour: str
    signature: dict[str, Any] | None
    metadata: dict[str, Any]


def flavours() -> dict[str, Any]:
    """Every registered flavour by name (entry points are loaded once, on first use)."""
    global _flavours
    if _flavours is None:
        found: dict[str, Any] = {}
        for ep in entry_points(group=GROUP):
            try:
                obj = ep.load()
                found[ep.name] = obj() if isinstance(obj, type) else obj
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the rest
                _logger.warning("logwright: model flavour %r failed to load: %s", ep.name, exc)
        _flavours = found
    return _flavours


def register_flavour(flavour: Any) -> None:
    """Register a flavour object at run time (tests, or code that is not packaged)."""
    flavours()[flavour.name] = flavour


def _pick(model: Any, flavour: str | None) -> Any:
    known = flavours()
    if flavour is not None:
        if flavour not in known:
            raise ValueError(f"unknown model flavour {flavour!r}; known: {sorted(known)}")
        return known[flavour]
    for candidate in known.values():
        if candidate.can_log(model):
            return candidate
    raise TypeError(
        f"no model flavour can log a {type(model).__module__}.{type(model).__qualname__}; "
        f"installed flavours: {sorted(known)}"
    )


def _columns_schema(data: Any) -> list[dict[str, Any]] | None:
    columns, dtypes = getattr(data, "columns", None), getattr(data, "dtypes", None)
    if columns is not None and dtypes is not None:
        return [{"name": str(c), "type": str(t)} for c, t in zip(columns, dtypes, strict=False)]
    return None


def infer_schema(data: Any) -> dict[str, Any] | None:
    """A JSON-able schema of an example input or output (DataFrame, array, tensor, dict, list)."""
    if data is None:
        return None
    cols = _columns_schema(data)
    if cols is not None:
        return {"type": "dataframe", "columns": cols}
    shape, dtype = getattr(data, "shape", None), getattr(data, "dtype", None)
    if shape is not None and dtype is not None:
        dims = [-1, *[int(s) for s in tuple(shape)[1:]]] if len(tuple(shape)) else []
        return {"type": "tensor", "dtype": str(dtype), "shape": dims}
    if isinstance(data, dict):
        return {"type": "dict", "fields": {str(k): infer_schema(v) or type(v).__name__ for k, v in data.items()}}
    if isinstance(data, (list, tuple)):
        inner = infer_schema(data[0]) if data else None
        return {"type": "list", "items": inner or (type(data[0]).__name__ if data else None)}
    return {"type": type(data).__name__}


def infer_signature(model_input: Any, model_output: Any = None) -> dict[str, Any]:
    """Signature record ``{"inputs": schema, "outputs": schema}`` from examples."""
    return {"inputs": infer_schema(model_input), "outputs": infer_schema(model_output)}


def _example_json(example: Any) -> Any:
    to_dict = getattr(example, "to_dict", None)
    if to_dict is not None and hasattr(example, "columns"):
        return {"columns": [str(c) for c in example.columns], "data": example.head(20).values.tolist()}
    tolist = getattr(example, "tolist", None)
    if tolist is not None:
        return tolist()[:20] if hasattr(example, "shape") and len(example.shape) else tolist()
    return example


def log_model(
    model: Any,
    name: str = "model",
    input_example: Any = None,
    signature: dict[str, Any] | None = None,
    flavour: str | None = None,
    run_id: str | None = None,
    **kwargs: Any,
) -> ModelInfo:
    """Save ``model`` with its flavour into the run's artifacts under ``name``.

    Writes the flavour's native files plus MODEL.json (flavour, framework and Python
    versions, signature, input example, requirements). The signature is inferred from
    ``input_example`` (and the flavour's prediction on it) when not given.

    Returns:
        ModelInfo whose ``model_uri`` (``runs:/<run_id>/<name>``) :func:`load_model` takes.
    """
    from logwright.fluent import _run_for_logging

    client, rid = _run_for_logging(run_id)
    chosen = _pick(model, flavour)
    repo = client.artifacts(rid)
    dest = repo.path(name)
    staging = tempfile.mkdtemp(prefix="logwright-model-")
    try:
        meta = chosen.save(model, staging, input_example=input_example, **kwargs) or {}
        if signature is None and input_example is not None:
            output = meta.pop("_example_output", None)
            signature = infer_signature(input_example, output)
        meta.pop("_example_output", None)
        if input_example is not None:
            with open(os.path.join(staging, "input_example.json"), "w") as fh:
                json.dump(_example_json(input_example), fh, default=str)
        from logwright import __version__

        record = {
            "flavour": chosen.name,
            "run_id": rid,
            "artifact_path": name,
            "created": int(time.time() * 1000),
            "python_version": platform.python_version(),
            "logwright_version": __version__,
            "signature": signature,
            "input_example": "input_example.json" if input_example is not None else None,
            "requirements": chosen.requirements(),
            **meta,
        }
        with open(os.path.join(staging, METADATA_FILE), "w") as fh:
            json.dump(record, fh, indent=2, default=str)
        if os.path.exists(dest):
            shutil.rmtree(dest)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.move(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    client.set_tags(rid, {f"logwright.model.{name}": chosen.name})
    return ModelInfo(f"runs:/{rid}/{name}", rid, name, chosen.name, signature, record)


def model_path(model_uri: str) -> str:
    """The local folder of a model URI (``runs:/<run_id>/<path>`` or a folder)."""
    if model_uri.startswith("runs:/"):
        from logwright.fluent import _client

        rest = model_uri[len("runs:/") :].strip("/")
        run_id, _, path = rest.partition("/")
        return _client().artifacts(run_id).path(path or "model")
    return os.path.abspath(model_uri)


def read_model_metadata(model_uri: str) -> dict[str, Any]:
    """The MODEL.json record of a logged model."""
    path = model_path(model_uri)
    meta_file = os.path.join(path, METADATA_FILE)
    if not os.path.isfile(meta_file):
        raise FileNotFoundError(f"{model_uri!r} is not a logged model (no {METADATA_FILE} in {path})")
    with open(meta_file) as fh:
        return json.load(fh)


def load_model(model_uri: str) -> Any:
    """Load a logged model back with its flavour (``runs:/<run_id>/<name>`` or a folder)."""
    meta = read_model_metadata(model_uri)
    name = meta["flavour"]
    known = flavours()
    if name not in known:
        raise ValueError(
            f"model {model_uri!r} was saved with flavour {name!r}, which is not installed here "
            f"(installed: {sorted(known)})"
        )
    return known[name].load(model_path(model_uri), meta)
