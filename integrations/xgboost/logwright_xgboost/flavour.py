"""The ``xgboost`` model flavour: a Booster or an XGBoost sklearn wrapper, saved as UBJSON.

What is written into the model folder (next to core's MODEL.json):

- ``model.ubj``: XGBoost's own binary JSON format (``save_model``), readable by any
  XGBoost >= 1.6 in any language binding, with no pickle involved. For the sklearn
  wrappers (``XGBClassifier``, ``XGBRegressor``, ``XGBRanker``, ``XGBRF*``) XGBoost
  stores the wrapper's own attributes (classes, estimator type) in the same file.

MODEL.json records ``model_class``, the nearest ``xgboost`` class of the model
(``xgboost.core:Booster`` or e.g. ``xgboost.sklearn:XGBClassifier``; a user's
subclass is saved as its xgboost base class), so :meth:`XGBoostFlavour.load`
returns the same kind of object: a Booster for a Booster, a fitted wrapper for a
wrapper, predicting identically. Hyper-parameters that live only on the wrapper
(``n_estimators``, ``callbacks``...) are not restored: the trees are.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
from importlib.metadata import PackageNotFoundError, version
from typing import Any

_logger = logging.getLogger(__name__)

MODEL_FILE = "model.ubj"
_BOOSTER = ("xgboost.core", "Booster")


def _xgboost_base(model: Any) -> tuple[str, str] | None:
    """``(module, name)`` of the first class in the model's MRO that XGBoost defines."""
    for cls in type(model).__mro__:
        if (cls.__module__, cls.__name__) == _BOOSTER:
            return _BOOSTER
        if cls.__module__ == "xgboost.sklearn" and cls.__name__.startswith("XGB"):
            return cls.__module__, cls.__name__
    return None


@functools.cache
def _version(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


class XGBoostFlavour:
    """Save and load XGBoost models in XGBoost's native UBJSON format."""

    name = "xgboost"

    def can_log(self, model: Any) -> bool:
        """True for a Booster or an XGBoost sklearn wrapper (no XGBoost import needed)."""
        return _xgboost_base(model) is not None

    def save(self, model: Any, path: str, **kwargs: Any) -> dict[str, Any]:
        """Write ``model.ubj`` into ``path``.

        Args:
            model: a ``Booster`` or a fitted XGBoost sklearn wrapper.
            path: the model folder.
            **kwargs: ``input_example`` (optional): predicted on, for the signature.

        Returns:
            MODEL.json fields: framework, versions, serialization, model file and class.
        """
        base = _xgboost_base(model)
        if base is None:
            raise TypeError(f"not an XGBoost model: {type(model).__qualname__}")
        model.save_model(os.path.join(path, MODEL_FILE))
        meta: dict[str, Any] = {
            "framework": "xgboost",
            "framework_version": _version("xgboost"),
            "serialization": "ubjson",
            "model_file": MODEL_FILE,
            "model_class": f"{base[0]}:{base[1]}",
        }
        if base != _BOOSTER:
            meta["requirements"] = [*self.requirements(), *_pinned("scikit-learn")]
        example = kwargs.get("input_example")
        if example is not None:
            meta["_example_output"] = _predict(model, example, base == _BOOSTER)
        return meta

    def load(self, path: str, meta: dict[str, Any]) -> Any:
        """Load the model back as the class it was saved as (Booster or sklearn wrapper)."""
        module_name, _, class_name = meta.get("model_class", "xgboost.core:Booster").partition(":")
        if not module_name.startswith("xgboost."):
            raise ValueError(f"refusing to load a model class outside xgboost: {module_name}")
        cls = getattr(importlib.import_module(module_name), class_name)
        model = cls()
        model.load_model(os.path.join(path, meta.get("model_file", MODEL_FILE)))
        return model

    def requirements(self) -> list[str]:
        """The XGBoost pin of this environment."""
        return _pinned("xgboost")


def _pinned(dist: str) -> list[str]:
    installed = _version(dist)
    return [f"{dist}=={installed}"] if installed else [dist]


def _predict(model: Any, example: Any, is_booster: bool) -> Any:
    if not is_booster:
        return model.predict(example)
    import xgboost

    if not isinstance(example, xgboost.DMatrix):
        example = xgboost.DMatrix(example)
    return model.predict(example)
