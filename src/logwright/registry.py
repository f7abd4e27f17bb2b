"""The model registry: named models, numbered versions, aliases and ``models:/`` URIs.

A *registered model* (``churn-classifier``) holds *versions* 1, 2, ..., each pointing at
a model a run logged (``runs:/<run_id>/<name>``), with the model's flavour, signature
and source run. *Aliases* (``champion``) name one version each and move atomically.
``load_model`` takes ``models:/<name>/<version>``, ``models:/<name>@<alias>`` and
``models:/<name>/latest``::

    info = logwright.log_model(clf, "model", registered_model_name="churn-classifier")
    logwright.set_registered_model_alias("churn-classifier", "champion", info.registered_model_version)
    clf = logwright.load_model("models:/churn-classifier@champion")

The registry lives in the tracking store (SQLite or PostgreSQL), next to the runs.
Every function here has a twin method on :class:`~logwright.client.Client`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from logwright.entities import ModelVersion, RegisteredModel

if TYPE_CHECKING:
    from logwright.artifacts import ArtifactRepository
    from logwright.store.base import Store

MODELS_SCHEME = "models:/"


def parse_models_uri(uri: str) -> tuple[str, str, str]:
    """Split a ``models:/`` URI into (name, kind, ref): kind is ``version``, ``alias`` or ``latest``.

    Raises:
        ValueError: not a ``models:/<name>/<version>``, ``models:/<name>@<alias>`` or
            ``models:/<name>/latest`` URI.
    """
    rest = uri[len(MODELS_SCHEME):] if isinstance(uri, str) and uri.startswith(MODELS_SCHEME) else None
    usage = "use models:/<name>/<version>, models:/<name>@<alias> or models:/<name>/latest"
    if not rest:
        raise ValueError(f"{uri!r:.300} is not a models:/ URI; {usage}")
    if "/" in rest:
        name, _, ref = rest.partition("/")
        if ref == "latest":
            return name, "latest", ref
        if ref.isdigit() and int(ref) > 0:
            return name, "version", ref
    elif "@" in rest:
        name, _, alias = rest.partition("@")
        if name and alias:
            return name, "alias", alias
    raise ValueError(f"{uri!r:.300} is not a models:/ URI; {usage}")


def _split_runs_uri(model_uri: str) -> tuple[str, str]:
    rest = model_uri[len("runs:/"):].strip("/")
    run_id, _, path = rest.partition("/")
    if not run_id:
        raise ValueError(f"{model_uri!r:.300} names no run: use runs:/<run_id>/<model name>")
    return run_id, path or "model"


class RegistryClient:
    """The registry calls of :class:`~logwright.client.Client` (mixed into it)."""

    store: Store
    artifacts: Callable[[str], ArtifactRepository]  # Client's: a run's artifact repository

    def register_model(self, model_uri: str, name: str, tags: Mapping[str, Any] | None = None,
                       description: str | None = None) -> ModelVersion:
        """Register a logged model as a new version of ``name`` (created if needed).

        Args:
            model_uri: ``runs:/<run_id>/<model name>`` (what ``log_model`` returned), or a
                model folder or ``s3://`` URI holding MODEL.json.
            name: the registered model's name (no ``/`` or ``@``, at most 256 characters).
            tags: string labels of the new version.
            description: free text of the new version.

        Returns:
            The new version (1 for a new name, else the highest + 1) with the model's
            flavour and signature read from its MODEL.json.

        Raises:
            RunNotFound: the run does not exist.
            FileNotFoundError: there is no logged model at ``model_uri``.
            ValueError: an illegal name.
        """
        from logwright.models import METADATA_FILE, read_model_metadata
        from logwright.store.sqlite_registry import check_name

        check_name(name)
        run_id: str | None = None
        path: str | None = None
        if model_uri.startswith("runs:/"):
            run_id, path = _split_runs_uri(model_uri)
            repo = self.artifacts(run_id)
            try:
                with repo.open(f"{path}/{METADATA_FILE}") as fh:
                    meta = json.load(fh)
            except FileNotFoundError:
                raise FileNotFoundError(f"{model_uri!r} is not a logged model (no {METADATA_FILE} in "
                                        f"{repo.root}/{path})") from None
            model_uri = f"runs:/{run_id}/{path}"
        else:
            meta = read_model_metadata(model_uri)
        text_tags = {str(k): str(v) for k, v in (tags or {}).items()}
        return self.store.create_model_version(name, model_uri, run_id, path, meta.get("flavour"),
                                               meta.get("signature"), text_tags, description)

    def create_registered_model(self, name: str, tags: Mapping[str, Any] | None = None,
                                description: str | None = None) -> RegisteredModel:
        """Create a registered model with no versions yet (an existing one is returned unchanged)."""
        return self.store.create_registered_model(name, {str(k): str(v) for k, v in (tags or {}).items()},
                                                  description)

    def get_registered_model(self, name: str) -> RegisteredModel:
        """The registered model (tags, aliases, latest version); raises ModelNotFound."""
        return self.store.get_registered_model(name)

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        """One version of a registered model; raises ModelNotFound."""
        return self.store.get_model_version(name, version)

    def get_latest_model_version(self, name: str) -> ModelVersion:
        """The newest version of a registered model; raises ModelNotFound."""
        return self.store.get_latest_model_version(name)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version ``alias`` points at; raises ModelNotFound."""
        return self.store.get_model_version_by_alias(name, alias)

    def resolve_model_uri(self, uri: str) -> ModelVersion:
        """The version a ``models:/`` URI names (by number, alias or ``latest``); raises ModelNotFound."""
        name, kind, ref = parse_models_uri(uri)
        if kind == "version":
            return self.store.get_model_version(name, int(ref))
        if kind == "alias":
            return self.store.get_model_version_by_alias(name, ref)
        return self.store.get_latest_model_version(name)

    def search_registered_models(self, filter: str | None = None,  # noqa: A002
                                 max_results: int = 1000) -> list[RegisteredModel]:
        """Registered models matching ``filter`` (see :mod:`logwright.store.registry_filter`), by name."""
        return self.store.search_registered_models(filter, max_results)

    def search_model_versions(self, filter: str | None = None,  # noqa: A002
                              max_results: int = 1000) -> list[ModelVersion]:
        """Versions matching ``filter`` (``name = 'x' AND run_id = '...'``), newest first per model."""
        return self.store.search_model_versions(filter, max_results)

    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        """Point ``alias`` at ``version`` (moving it from another version atomically)."""
        self.store.set_registered_model_alias(name, alias, version)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Remove an alias; raises ModelNotFound when it does not exist."""
        self.store.delete_registered_model_alias(name, alias)

    def update_registered_model(self, name: str, description: str | None) -> None:
        """Set a registered model's description."""
        self.store.update_registered_model(name, description)

    def update_model_version(self, name: str, version: int | str, description: str | None) -> None:
        """Set a version's description."""
        self.store.update_model_version(name, version, description)

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        """Set a tag on a registered model (the value is stored as a string)."""
        self.store.set_registered_model_tag(name, str(key), str(value))

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Remove a tag from a registered model."""
        self.store.delete_registered_model_tag(name, key)

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: Any) -> None:
        """Set a tag on a version (the value is stored as a string)."""
        self.store.set_model_version_tag(name, version, str(key), str(value))

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        """Remove a tag from a version."""
        self.store.delete_model_version_tag(name, version, key)

    def delete_model_version(self, name: str, version: int | str) -> None:
        """Delete a version and its aliases (the run's model files stay)."""
        self.store.delete_model_version(name, version)

    def delete_registered_model(self, name: str) -> None:
        """Delete a registered model with all its versions and aliases (the runs' files stay)."""
        self.store.delete_registered_model(name)


def _client() -> Any:
    from logwright.fluent import _client as current

    return current()


def register_model(model_uri: str, name: str, tags: Mapping[str, Any] | None = None,
                   description: str | None = None) -> ModelVersion:
    """Register a logged model (``runs:/<run_id>/<name>``) as a new version of ``name``.

    See :meth:`RegistryClient.register_model`.
    """
    return _client().register_model(model_uri, name, tags, description)


def create_registered_model(name: str, tags: Mapping[str, Any] | None = None,
                            description: str | None = None) -> RegisteredModel:
    """Create a registered model with no versions yet (an existing one is returned unchanged)."""
    return _client().create_registered_model(name, tags, description)


def get_registered_model(name: str) -> RegisteredModel:
    """The registered model (tags, aliases, latest version); raises ModelNotFound."""
    return _client().get_registered_model(name)


def get_model_version(name: str, version: int | str) -> ModelVersion:
    """One version of a registered model; raises ModelNotFound."""
    return _client().get_model_version(name, version)


def get_latest_model_version(name: str) -> ModelVersion:
    """The newest version of a registered model; raises ModelNotFound."""
    return _client().get_latest_model_version(name)


def get_model_version_by_alias(name: str, alias: str) -> ModelVersion:
    """The version ``alias`` points at; raises ModelNotFound."""
    return _client().get_model_version_by_alias(name, alias)


def search_registered_models(filter: str | None = None, max_results: int = 1000) -> list[RegisteredModel]:  # noqa: A002
    """Registered models matching ``filter`` (``name LIKE 'churn%' AND tags.team = 'x'``), by name."""
    return _client().search_registered_models(filter, max_results)


def search_model_versions(filter: str | None = None, max_results: int = 1000) -> list[ModelVersion]:  # noqa: A002
    """Versions matching ``filter`` (``name = 'x'``, ``run_id = '...'``, ``version >= 2``, ``tags.k = 'v'``)."""
    return _client().search_model_versions(filter, max_results)


def set_registered_model_alias(name: str, alias: str, version: int | str) -> None:
    """Point ``alias`` at ``version`` (moving it from another version atomically)."""
    _client().set_registered_model_alias(name, alias, version)


def delete_registered_model_alias(name: str, alias: str) -> None:
    """Remove an alias; raises ModelNotFound when it does not exist."""
    _client().delete_registered_model_alias(name, alias)


def update_registered_model(name: str, description: str | None) -> None:
    """Set a registered model's description."""
    _client().update_registered_model(name, description)


def update_model_version(name: str, version: int | str, description: str | None) -> None:
    """Set a version's description."""
    _client().update_model_version(name, version, description)


def set_registered_model_tag(name: str, key: str, value: Any) -> None:
    """Set a tag on a registered model."""
    _client().set_registered_model_tag(name, key, value)


def delete_registered_model_tag(name: str, key: str) -> None:
    """Remove a tag from a registered model."""
    _client().delete_registered_model_tag(name, key)


def set_model_version_tag(name: str, version: int | str, key: str, value: Any) -> None:
    """Set a tag on a version."""
    _client().set_model_version_tag(name, version, key, value)


def delete_model_version_tag(name: str, version: int | str, key: str) -> None:
    """Remove a tag from a version."""
    _client().delete_model_version_tag(name, version, key)


def delete_model_version(name: str, version: int | str) -> None:
    """Delete a version and its aliases (the run's model files stay)."""
    _client().delete_model_version(name, version)


def delete_registered_model(name: str) -> None:
    """Delete a registered model with all its versions and aliases (the runs' files stay)."""
    _client().delete_registered_model(name)
