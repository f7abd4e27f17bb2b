"""The ``sklearn`` model flavour: any scikit-learn estimator, saved with skops or pickle.

What is written into the model folder (next to core's MODEL.json):

- ``model.skops`` when ``skops`` is installed (the default): skops' zip format, which
  loads without running arbitrary code (``skops.io`` is imported without torch, see
  ``_skops``, so saving in an autologged fit does not import torch). Loading trusts
  the types scikit-learn, NumPy and SciPy define; a model holding any other type (a
  user's function in a ``FunctionTransformer``, a third-party estimator in a
  Pipeline) is refused with the list of types, and ``load(path, trusted=[...])`` loads it.
- ``model.pkl`` with ``serialization="pickle"``, when skops is missing, or when skops
  cannot serialize the model (a warning says so). Unpickle only models you trust.

MODEL.json records ``serialization``, ``model_file``, ``model_class`` and the
scikit-learn version the model was saved with.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pickle
from importlib.metadata import PackageNotFoundError, version
from typing import Any

_logger = logging.getLogger(__name__)

SKOPS_FILE = "model.skops"
PICKLE_FILE = "model.pkl"
_TRUSTED_PACKAGES = ("sklearn", "numpy", "scipy", "builtins")
_versions: dict[str, str | None] = {}


def _version(dist: str) -> str | None:
    if dist not in _versions:
        try:
            _versions[dist] = version(dist)
        except PackageNotFoundError:
            _versions[dist] = None
    return _versions[dist]


def skops_available() -> bool:
    """True when skops can be imported (checked without importing it)."""
    return importlib.util.find_spec("skops") is not None


def _top(module: str) -> str:
    return module.split(".", 1)[0]


def _is_sklearn_model(model: Any) -> bool:
    """True for a scikit-learn estimator, or a subclass of one that no other flavour claims."""
    cls = type(model)
    if _top(cls.__module__) == "sklearn":
        return True
    tops = {_top(base.__module__) for base in cls.__mro__}
    if "sklearn" not in tops:
        return False
    from logwright.models import flavours

    others = {name for name in flavours() if name != SklearnFlavour.name}
    return not (tops & others)


class SklearnFlavour:
    """Save and load scikit-learn models (skops by default, pickle otherwise)."""

    name = "sklearn"

    def can_log(self, model: Any) -> bool:
        """True for scikit-learn estimators (checked on class modules, no import)."""
        return _is_sklearn_model(model)

    def save(self, model: Any, path: str, serialization: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """Write ``model.skops`` (or ``model.pkl``) into ``path``.

        Args:
            model: a scikit-learn estimator (fitted or not).
            path: the model folder.
            serialization: ``"skops"``, ``"pickle"`` or None (skops when installed).
            **kwargs: ``input_example``: predicted on for the signature's output.

        Returns:
            MODEL.json fields: framework and version, serialization, model file and class.
        """
        fmt = serialization or ("skops" if skops_available() else "pickle")
        if fmt not in ("skops", "pickle"):
            raise ValueError(f"serialization must be 'skops' or 'pickle', got {fmt!r}")
        if fmt == "skops":
            fmt = self._dump_skops(model, path)
        if fmt == "pickle":
            with open(os.path.join(path, PICKLE_FILE), "wb") as fh:
                pickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)
        meta: dict[str, Any] = {
            "framework": "scikit-learn",
            "framework_version": _version("scikit-learn"),
            "serialization": fmt,
            "model_file": SKOPS_FILE if fmt == "skops" else PICKLE_FILE,
            "model_class": f"{type(model).__module__}:{type(model).__qualname__}",
        }
        example = kwargs.get("input_example")
        if example is not None and hasattr(model, "predict"):
            try:
                meta["_example_output"] = model.predict(example)
            except Exception as exc:  # noqa: BLE001 - the signature just has no output then
                _logger.debug("logwright sklearn: predict on the input example failed: %r", exc)
        return meta

    def _dump_skops(self, model: Any, path: str) -> str:
        from logwright_sklearn._skops import skops_io

        target = os.path.join(path, SKOPS_FILE)
        try:
            skops_io().dump(model, target)
        except Exception as exc:  # noqa: BLE001 - an object skops cannot write: fall back to pickle
            if os.path.exists(target):
                os.remove(target)
            _logger.warning("logwright sklearn: skops could not save %s (%s); saved with pickle",
                            type(model).__qualname__, exc)
            return "pickle"
        return "skops"

    def load(self, path: str, meta: dict[str, Any], trusted: list[str] | None = None) -> Any:
        """Load the model saved in ``path``.

        Args:
            path: the model folder.
            meta: its MODEL.json record.
            trusted: extra type names (``"module.Class"``) skops may load.

        Raises:
            ValueError: a skops model holds types that are neither scikit-learn's, NumPy's
                nor SciPy's and are not in ``trusted``.
        """
        if meta.get("serialization") == "pickle":
            with open(os.path.join(path, meta.get("model_file") or PICKLE_FILE), "rb") as fh:
                return pickle.load(fh)  # noqa: S301 - documented: pickle loads only trusted models
        from logwright_sklearn._skops import skops_io

        sio = skops_io()
        file = os.path.join(path, meta.get("model_file") or SKOPS_FILE)
        untrusted = sio.get_untrusted_types(file=file)
        allowed = set(trusted or ())
        refused = [t for t in untrusted if t not in allowed and _top(t) not in _TRUSTED_PACKAGES]
        if refused:
            raise ValueError(
                f"the model at {path} holds types outside scikit-learn/NumPy/SciPy: {refused}; "
                "if you trust them, load with logwright_sklearn.flavour.SklearnFlavour().load("
                "path, meta, trusted=[...])"
            )
        return sio.load(file, trusted=untrusted)

    def requirements(self) -> list[str]:
        """Pinned requirements: scikit-learn, and skops when installed."""
        reqs = [f"scikit-learn=={_version('scikit-learn')}"]
        skops_version = _version("skops")
        if skops_version:
            reqs.append(f"skops=={skops_version}")
        return reqs
