"""A model flavour for plain dicts, so registry and model tests need no ML framework."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator

from logwright.models import flavours, register_flavour


class DictFlavour:
    """Saves a dict as ``weights.json`` and loads it back; logs any ``dict`` given as a model."""

    name = "test-dict"

    def can_log(self, model: object) -> bool:
        """True for a dict."""
        return isinstance(model, dict)

    def save(self, model: dict, path: str, **kwargs: object) -> dict:
        """Write ``model`` to ``path/weights.json``; no extra MODEL.json fields."""
        with open(os.path.join(path, "weights.json"), "w") as fh:
            json.dump(model, fh)
        return {}

    def load(self, path: str, meta: dict) -> dict:
        """Read the dict back from ``path/weights.json``."""
        with open(os.path.join(path, "weights.json")) as fh:
            return json.load(fh)

    def requirements(self) -> list[str]:
        """None: a dict needs no packages."""
        return []


@contextlib.contextmanager
def dict_flavour() -> Iterator[DictFlavour]:
    """Register :class:`DictFlavour` for the block, then unregister it; yields it."""
    flavour = DictFlavour()
    register_flavour(flavour)
    try:
        yield flavour
    finally:
        flavours().pop(DictFlavour.name, None)
