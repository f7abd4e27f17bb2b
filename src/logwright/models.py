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
import time
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from logwright.artifacts._fs import Folder

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
    registered_model_version: int | None = None


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


MAX_MODEL_NAME = 234
"""Longest model name: the run tag ``logwright.model.<name>`` must fit the 250-character key limit."""


def check_model_name(name: object) -> str:
    """Return ``name`` if it is a legal model name, else raise naming it.

    Legal: a relative path of ``/``-separated segments (``"model"``, ``"models/clf"``),
    at most 234 characters, each segment non-empty, not ``.`` or ``..`` and at most
    255 bytes, without control characters, lone surrogates, backslashes or the
    reserved ``.logwright-`` prefix.

    Raises:
        TypeError: ``name`` is not a string (None included).
        ValueError: ``name`` is not a legal model name; the message names it.
    """
    if not isinstance(name, str):
        raise TypeError(f"model name must be a string like 'model', got {type(name).__name__}: {name!r:.80}")
    bad = _model_name_problem(name)
    if bad:
        raise ValueError(f"model name {name!r:.300} is illegal: {bad}")
    return name


def _model_name_problem(name: str) -> str | None:
    if not name:
        return "it must not be empty"
    if len(name) > MAX_MODEL_NAME:
        return f"it is {len(name)} characters; the limit is {MAX_MODEL_NAME}"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "it contains a control character"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "it contains a lone surrogate (not valid Unicode)"
    if "\\" in name or ":" in name[:3]:
        return "use '/' to nest folders; '\\' and drive letters are not allowed"
    if name.startswith("/"):
        return "it must be a path relative to the run's artifact folder, not absolute"
    for seg in name.split("/"):
        if seg in ("", ".", ".."):
            return "it must be a relative path whose segments are not empty, '.' or '..'"
        if seg.startswith(".logwright-"):
            return "names starting with '.logwright-' are reserved"
        if len(seg.encode("utf-8")) > 255:
            return f"segment {seg[:20]!r}... is over 255 bytes"
    return None


def _is_model_folder(path: str) -> bool:
    """True for a folder a model may replace: a logged model (holds MODEL.json) or empty."""
    try:
        names = os.listdir(path)
    except OSError:
        return False
    if not names:
        return True
    meta = os.path.join(path, METADATA_FILE)
    return os.path.isfile(meta) and not os.path.islink(meta)


def _save(chosen: Any, model: Any, staging: Folder, rid: str, name: str, input_example: Any,
          signature: dict[str, Any] | None, kwargs: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """Save the model and MODEL.json into ``staging``; returns (record, signature)."""
    meta = chosen.save(model, staging.path, input_example=input_example, **kwargs) or {}
    output = meta.pop("_example_output", None)
    if signature is None and input_example is not None:
        signature = infer_signature(input_example, output)
    if input_example is not None:
        example = json.dumps(_example_json(input_example), default=str).encode()
        staging.write_new("input_example.json", lambda fh: fh.write(example))
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
    text = json.dumps(record, indent=2, default=str).encode()
    staging.write_new(METADATA_FILE, lambda fh: fh.write(text))
    return record, signature


def _autolog_registered_name(client: Any, run_id: str) -> str | None:
    """``autolog(registered_model_name=)`` of the integration logging this model, or None.

    The integration is the one whose autologged call is running, else the one that
    started the run (its ``logwright.autolog`` tag: ``logwright_torch.loop``). Nothing is
    read unless some integration was given a registered model name.
    """
    import sys

    safety = sys.modules.get("logwright.autolog.safety")
    if safety is None:
        return None
    from logwright.autolog.registry import registry

    wanted = {name: inst.config.get("registered_model_name") for name, inst in list(registry.integrations.items())}
    wanted = {name: value for name, value in wanted.items() if value}
    if not wanted:
        return None
    integration = safety._inside.get() or client.get_run(run_id).data.tags.get("logwright.autolog")
    return wanted.get(integration)


def log_model(
    model: Any,
    name: str = "model",
    input_example: Any = None,
    signature: dict[str, Any] | None = None,
    flavour: str | None = None,
    run_id: str | None = None,
    registered_model_name: str | None = None,
    client: Any = None,
    **kwargs: Any,
) -> ModelInfo:
    """Save ``model`` with its flavour into the run's artifacts under ``name``.

    Writes the flavour's native files plus MODEL.json (flavour, framework and Python
    versions, signature, input example, requirements). The signature is inferred from
    ``input_example`` (and the flavour's prediction on it) when not given. With
    ``registered_model_name`` the model is also registered as a new version of that
    registered model (see :func:`logwright.register_model`). With ``client`` (a
    :class:`logwright.Client`, with ``run_id``) the model goes through that client's store,
    whatever the process-wide tracking URI is.

    The name is checked before anything is touched (:func:`check_model_name`). The
    model is saved into a hidden folder beside its destination and renamed into
    place only once complete, so a failing save leaves nothing behind. In object
    storage (``s3://``) it is saved locally, then uploaded with MODEL.json last; an
    upload that fails after retries deletes what it stored and raises
    ArtifactUploadError (the run gets no model tag). Logging a
    model again under the same name in the same run replaces the earlier model (the
    old folder is removed only after the new one is in place); a name held by other
    artifacts (a file, or a folder without MODEL.json) is refused with FileExistsError.

    Returns:
        ModelInfo whose ``model_uri`` (``runs:/<run_id>/<name>``) :func:`load_model` takes,
        and ``registered_model_version`` (the new version's number, or None).

    Raises:
        TypeError: ``name`` is not a string, or no flavour can log ``model``.
        ValueError: ``name`` is illegal, or escapes the run folder through a symbolic link.
        FileExistsError: ``name`` is taken by artifacts that are not a model.
        ArtifactUploadError: the model could not be uploaded to object storage.
    """
    from logwright.fluent import _run_for_logging

    name = check_model_name(name)
    chosen = _pick(model, flavour)
    if client is not None and run_id is None:
        raise ValueError("log_model(client=...) needs the run_id to log into")
    client, rid = (client, run_id) if client is not None else _run_for_logging(run_id)
    repo = client.artifacts(rid)
    with repo.staged_dir(name, _is_model_folder, marker=METADATA_FILE) as staging:
        record, signature = _save(chosen, model, staging, rid, name, input_example, signature, kwargs)
    client.set_tags(rid, {f"logwright.model.{name}": chosen.name})
    version = None
    registered_model_name = registered_model_name or _autolog_registered_name(client, rid)
    if registered_model_name is not None:
        version = client.register_model(f"runs:/{rid}/{name}", registered_model_name).version
    return ModelInfo(f"runs:/{rid}/{name}", rid, name, chosen.name, signature, record, version)


def _locate(model_uri: str) -> tuple[Any, str]:
    """(artifact repository, relative folder) of a model URI.

    ``runs:/<run_id>/<path>`` is a run's artifact folder (default ``model``);
    ``models:/<name>/<version>``, ``models:/<name>@<alias>`` and ``models:/<name>/latest``
    are the source of that registered model version; an ``s3://`` URI or a local
    folder is the model folder itself.
    """
    from logwright.artifacts import for_uri

    if model_uri.startswith("models:/"):
        from logwright.fluent import _client

        model_uri = _client().resolve_model_uri(model_uri).source
    if model_uri.startswith("runs:/"):
        from logwright.fluent import _client

        rest = model_uri[len("runs:/") :].strip("/")
        run_id, _, path = rest.partition("/")
        return _client().artifacts(run_id), path or "model"
    return for_uri(model_uri), ""


def model_path(model_uri: str) -> str:
    """A local folder holding the model (``runs:/<run_id>/<path>``, a folder or ``s3://`` URI).

    Models in object storage are downloaded to a fresh temporary folder.
    """
    repo, rel = _locate(model_uri)
    if repo.kind(rel) != "dir" or repo.kind(f"{rel}/{METADATA_FILE}".lstrip("/")) != "file":
        raise FileNotFoundError(f"{model_uri!r} is not a logged model (no {METADATA_FILE} in {repo.root}/{rel})")
    return repo.local_dir(rel)


def _read_metadata(model_uri: str, path: str) -> dict[str, Any]:
    meta_file = os.path.join(path, METADATA_FILE)
    if not os.path.isfile(meta_file):
        raise FileNotFoundError(f"{model_uri!r} is not a logged model (no {METADATA_FILE} in {path})")
    with open(meta_file) as fh:
        return json.load(fh)


def read_model_metadata(model_uri: str) -> dict[str, Any]:
    """The MODEL.json record of a logged model."""
    repo, rel = _locate(model_uri)
    meta_rel = f"{rel}/{METADATA_FILE}".lstrip("/")
    try:
        with repo.open(meta_rel) as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise FileNotFoundError(f"{model_uri!r} is not a logged model (no {METADATA_FILE} in "
                                f"{repo.root}/{rel})") from None


def load_model(model_uri: str) -> Any:
    """Load a logged model back with its flavour.

    ``model_uri``: ``runs:/<run_id>/<name>``, a registered version
    (``models:/<name>/<version>``, ``models:/<name>@<alias>``, ``models:/<name>/latest``),
    a folder or an ``s3://`` URI.

    A model in object storage is first downloaded to a temporary folder.
    """
    path = model_path(model_uri)
    meta = _read_metadata(model_uri, path)
    name = meta["flavour"]
    known = flavours()
    if name not in known:
        raise ValueError(
            f"model {model_uri!r} was saved with flavour {name!r}, which is not installed here "
            f"(installed: {sorted(known)})"
        )
    return known[name].load(path, meta)
