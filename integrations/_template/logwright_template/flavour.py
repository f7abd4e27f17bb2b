"""The ``template`` model flavour: save and load the framework's models (entry point ``logwright.flavours``).

Use the framework's own format where it has one (``save_model``/``load_model``, a state
dict, JSON); pickle only as the last resort, and record the framework version.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

MODEL_FILE = "model.pkl"


class TemplateFlavour:
    """Save and load template models."""

    name = "template"  # == the integration's name

    def can_log(self, model: Any) -> bool:
        """True for the framework's models (test the class without importing the framework)."""
        return type(model).__module__.split(".", 1)[0] == "template"

    def save(self, model: Any, path: str, **kwargs: Any) -> dict[str, Any]:
        """Write the model's files into ``path``; returns what MODEL.json records beside them."""
        with open(os.path.join(path, MODEL_FILE), "wb") as fh:
            pickle.dump(model, fh)
        return {"model_file": MODEL_FILE}

    def load(self, path: str, meta: dict[str, Any]) -> Any:
        """The model saved in ``path``."""
        with open(os.path.join(path, meta.get("model_file", MODEL_FILE)), "rb") as fh:
            return pickle.load(fh)

    def requirements(self) -> list[str]:
        """What loading needs (pip requirement strings)."""
        return []
