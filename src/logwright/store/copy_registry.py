"""The model registry's part of ``logwright store copy`` and ``logwright sync``.

Called by :class:`~logwright.store.copy.StoreCopier` once the runs are copied. Every
registered model of SRC (with ``-e/--experiment``: those with a version made from a run
of the copied experiments, and only those versions) goes to DST with its description and
tags; each version with its number, source (``runs:/<run_id>/<path>``: runs keep their
ids, so the source points at the copied run), flavour, signature, tags and description;
then the aliases, pointing at the same version numbers.

Idempotent: a version of DST with the same number and the same source is the same
version, and only what differs is written (descriptions and tags brought to SRC's,
aliases set or moved). Nothing is deleted from DST: tags and aliases only DST has stay.
When DST's model already holds another model under a number (someone registered there
too), SRC's version gets DST's next number, with a warning, and later copies find it by
its source. Registration times are not kept: DST's versions are dated by the copy.

Both stores must offer the registry calls of the Store protocol; a side that does not
(an MLflow server in ``logwright import mlflow``) is skipped.
"""

from __future__ import annotations

import logging
from typing import Any

from logwright.entities import ModelVersion, RegisteredModel
from logwright.exceptions import ModelNotFound

__all__ = ["copy_registry"]

_logger = logging.getLogger(__name__)
_ALL = 1_000_000
_READS = ("search_registered_models", "search_model_versions")
_WRITES = ("create_registered_model", "create_model_version", "set_registered_model_alias")


def _has_registry(src: Any, dst: Any) -> bool:
    return all(hasattr(src, n) for n in _READS) and all(hasattr(dst, n) for n in _READS + _WRITES)


def _versions(store: Any, name: str) -> list[ModelVersion]:
    quoted = name.replace("'", "''")
    found = store.search_model_versions(f"name = '{quoted}'", _ALL)
    return sorted((v for v in found if v.name == name), key=lambda v: v.version)


def _same_source(a: ModelVersion, b: ModelVersion) -> bool:
    return (a.source, a.run_id, a.artifact_path) == (b.source, b.run_id, b.artifact_path)


def _copied_run_ids(copier: Any) -> set[str] | None:
    """The runs the copier copies (None: every run, so every version goes)."""
    if copier.names is None:
        return None
    return {r.info.run_id for e in copier.experiments() for r in copier.runs(e.experiment_id)}


def copy_registry(copier: Any) -> None:
    """Copy SRC's registry into DST (see the module docstring), counting into ``copier.counts``.

    Args:
        copier: the :class:`~logwright.store.copy.StoreCopier` (its ``src``, ``dst``,
            ``names`` and ``counts``).
    """
    src, dst = copier.src, copier.dst
    if not _has_registry(src, dst):
        return
    runs = _copied_run_ids(copier)
    for model in src.search_registered_models(None, _ALL):
        versions = _versions(src, model.name)
        if runs is not None:
            versions = [v for v in versions if v.run_id in runs]
            if not versions:
                continue
        _RegisteredModelCopy(copier, model).copy(versions)


class _RegisteredModelCopy:
    """One registered model brought from SRC to DST."""

    def __init__(self, copier: Any, model: RegisteredModel) -> None:
        self.dst, self.counts, self.model = copier.dst, copier.counts, model

    def copy(self, versions: list[ModelVersion]) -> None:
        """The model's fields, the ``versions`` given, then the aliases that point at them."""
        have = self._model()
        held = {v.version: v for v in _versions(self.dst, self.model.name)}
        numbers: dict[int, int] = {}  # SRC version -> DST version
        pending = []
        for v in versions:  # first: the numbers DST holds with the same source
            same = held.get(v.version)
            if same is None or _same_source(same, v):
                numbers[v.version] = self._version(v, same)
            else:
                pending.append(v)
        for v in pending:  # then: SRC numbers DST gave another model to
            numbers[v.version] = self._displaced(v, held, set(numbers.values()))
        for alias, number in self.model.aliases.items():
            target = numbers.get(number)
            if target is not None and have.aliases.get(alias) != target:
                self.dst.set_registered_model_alias(self.model.name, alias, target)
                self.counts.registry_updates += 1

    def _model(self) -> RegisteredModel:
        """DST's registered model, created or brought to SRC's description and tags."""
        model, dst = self.model, self.dst
        try:
            have = dst.get_registered_model(model.name)
        except ModelNotFound:
            self.counts.registered_models += 1
            return dst.create_registered_model(model.name, model.tags, model.description)
        if model.description is not None and have.description != model.description:
            dst.update_registered_model(model.name, model.description)
            self.counts.registry_updates += 1
        for key, value in model.tags.items():
            if have.tags.get(key) != value:
                dst.set_registered_model_tag(model.name, key, value)
                self.counts.registry_updates += 1
        return have

    def _version(self, v: ModelVersion, have: ModelVersion | None, number: int | None = None) -> int:
        """Create version ``v`` in DST (as ``number``, default its own), or bring ``have`` to it."""
        dst = self.dst
        if have is None:
            made = dst.create_model_version(v.name, v.source, v.run_id, v.artifact_path, v.flavour, v.signature,
                                            v.tags, v.description, version=number or v.version)
            self.counts.model_versions += 1
            return made.version
        if v.description is not None and have.description != v.description:
            dst.update_model_version(v.name, have.version, v.description)
            self.counts.registry_updates += 1
        for key, value in v.tags.items():
            if have.tags.get(key) != value:
                dst.set_model_version_tag(v.name, have.version, key, value)
                self.counts.registry_updates += 1
        return have.version

    def _displaced(self, v: ModelVersion, held: dict[int, ModelVersion], claimed: set[int]) -> int:
        """Version ``v``, whose number DST holds for another model: found by its source, else made anew."""
        for number, have in sorted(held.items()):
            if number not in claimed and _same_source(have, v):
                return self._version(v, have)
        number = max([*held, *claimed, v.version]) + 1
        _logger.warning("logwright: version %d of registered model %r is another model in the destination; "
                        "copied as version %d", v.version, v.name, number)
        made = self._version(v, None, number)
        held[made] = self.dst.get_model_version(v.name, made)
        return made
