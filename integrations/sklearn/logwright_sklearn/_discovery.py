"""Which scikit-learn methods to patch, found module by module as scikit-learn imports them.

``sklearn.utils.all_estimators()`` imports every scikit-learn module (2-3 s), so
instead each ``sklearn.*`` module is patched when it is imported (a post-import
hook; at once for those already imported). In a module, every class derived from
``BaseEstimator`` gets its own ``fit``/``fit_transform``/``fit_predict``/``partial_fit``
wrapped, and the class that defines its ``predict``-like methods and ``score``
(often a mixin such as ``ClassifierMixin``) gets those wrapped once. That covers
every estimator ``all_estimators()`` lists, meta-estimators included (a test checks).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator

from logwright.autolog import Patch
from logwright.lazylog import get_logger

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_logger = get_logger(__name__)

FIT_METHODS = ("fit", "fit_transform", "fit_predict", "partial_fit")
PREDICT_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function")
METRIC_SUFFIXES = ("_score", "_error", "_loss", "_corrcoef", "_deviance")


def sklearn_modules() -> list[str]:
    """Every ``sklearn.*`` module name, read from the package folder (nothing imported)."""
    import sklearn

    root = os.path.dirname(sklearn.__file__)
    names = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in ("tests", "__pycache__") and not d.startswith(".")]
        rel = os.path.relpath(folder, root)
        package = "sklearn" if rel == "." else "sklearn." + rel.replace(os.sep, ".")
        for file in files:
            if file.endswith(".py") and not file.startswith("conftest"):
                stem = file[:-3]
                names.append(package if stem == "__init__" else f"{package}.{stem}")
    return names


def _estimator_classes(module: Any, base: type) -> Iterator[type]:
    name = module.__name__
    for value in list(vars(module).values()):
        if isinstance(value, type) and value.__module__ == name and issubclass(value, base) \
                and "<" not in value.__qualname__:
            yield value


def _definer(cls: type, method: str) -> type | None:
    for klass in cls.__mro__:
        if method in klass.__dict__:
            return klass if klass.__module__.startswith("sklearn.") and "<" not in klass.__qualname__ else None
    return None


def module_patches(module: Any, wrappers: dict[str, Callable], seen: set[tuple[int, str]]) -> list[Patch]:
    """Patches for the estimators a module defines (``seen`` dedupes across modules)."""
    from sklearn.base import BaseEstimator

    patches = []
    for cls in _estimator_classes(module, BaseEstimator):
        targets = [(cls, m) for m in FIT_METHODS if m in cls.__dict__]
        targets += [(_definer(cls, m), m) for m in (*PREDICT_METHODS, "score")]
        for owner, method in targets:
            if owner is None or (id(owner), method) in seen:
                continue
            seen.add((id(owner), method))
            patches.append(Patch(owner.__module__, f"{owner.__qualname__}.{method}", wrappers[method]))
    return patches


def metric_patches(make_wrapper: Callable[[str], Callable], seen: set[tuple[int, str]]) -> list[Patch]:
    """Patches for ``sklearn.metrics`` scorers, in the modules that define them, then their aliases.

    Patching where a function is defined keeps it picklable: pickle finds it by its
    ``__module__`` and ``__qualname__``, which then name the proxy itself. The
    ``sklearn.metrics.<name>`` alias patch that follows gets that same proxy (the
    registry reuses a proxy for a re-exported original).
    """
    metrics = sys.modules["sklearn.metrics"]
    patches = []
    for name in getattr(metrics, "__all__", ()):
        fn = getattr(metrics, name, None)
        if not callable(fn) or isinstance(fn, type) or not name.endswith(METRIC_SUFFIXES):
            continue
        home = getattr(fn, "__module__", "") or ""
        if not home.startswith("sklearn.") or getattr(fn, "__qualname__", "") != name:
            continue
        if (id(fn), name) not in seen:
            seen.add((id(fn), name))
            wrapper = make_wrapper(name)
            patches += [Patch(home, name, wrapper), Patch(metrics.__name__, name, wrapper)]
    return patches
