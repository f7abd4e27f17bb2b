"""Import ``skops.io`` without importing torch (or anything else under ``sklearn.externals``).

``skops.io`` computes its trusted types at import with ``sklearn.utils.all_estimators()``,
which walks every scikit-learn package with ``pkgutil.walk_packages``. That walk imports
each *package* it passes, including the ignored ones, so it imports
``sklearn.externals.array_api_compat.torch`` and, with it, torch (seconds, and more than
a thousand modules) in the middle of a user's first autologged fit.

:func:`skops_io` imports ``skops.io`` while ``all_estimators`` is replaced by
:func:`all_estimators`, which returns the same list (tested against scikit-learn's) but
descends only into the packages scikit-learn keeps, so ``externals`` and ``tests`` are
never imported. The original function is put back as soon as the import returns.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import sys
import threading
import warnings
from operator import itemgetter
from types import ModuleType
from typing import Any

_IGNORED = {"tests", "externals", "setup", "conftest", "experimental", "estimator_checks"}
_lock = threading.Lock()
_ready: list[bool] = []  # non-empty once skops.io is fully imported


def _kept(module_name: str) -> bool:
    """scikit-learn's own filter: no ignored part, nothing private."""
    return not (any(part in _IGNORED for part in module_name.split(".")) or "._" in module_name)


def _walk(package: ModuleType) -> list[ModuleType]:
    found = []
    for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        if not _kept(info.name):
            continue  # neither imported nor descended into
        module = importlib.import_module(info.name)
        found.append(module)
        if info.ispkg:
            found += _walk(module)
    return found


def all_estimators() -> list[tuple[str, type]]:
    """``sklearn.utils.all_estimators()`` (no filter) without importing ignored packages."""
    import sklearn
    from sklearn.base import BaseEstimator

    classes: set[tuple[str, type]] = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        for module in _walk(sklearn):
            classes.update((n, c) for n, c in inspect.getmembers(module, inspect.isclass) if not n.startswith("_"))
    estimators = {
        (n, c) for n, c in classes
        if issubclass(c, BaseEstimator) and n != "BaseEstimator" and not getattr(c, "__abstractmethods__", None)
    }
    return sorted(estimators, key=itemgetter(0))


def _replacement(original: Any) -> Any:
    def all_estimators_without_externals(type_filter: Any = None) -> list[tuple[str, type]]:
        if type_filter is not None:  # not what skops asks for: the real thing
            return original(type_filter)
        return all_estimators()

    return all_estimators_without_externals


def skops_io() -> ModuleType:
    """``skops.io``, imported (the first time) without importing torch."""
    module = sys.modules.get("skops.io")
    if module is not None and _ready:
        return module
    with _lock:
        if "skops.io" in sys.modules:  # imported by the user, or by another thread: wait for it to finish
            import skops.io

            _ready.append(True)
            return skops.io
        homes = [importlib.import_module("sklearn.utils")]
        if importlib.util.find_spec("sklearn.utils.discovery") is not None:
            homes.append(importlib.import_module("sklearn.utils.discovery"))
        holders = [m for m in homes if "all_estimators" in vars(m)]
        saved = [(m, vars(m)["all_estimators"]) for m in holders]
        try:
            for holder, original in saved:
                holder.all_estimators = _replacement(original)
            import skops.io
        finally:
            for holder, original in saved:
                holder.all_estimators = original
        _ready.append(True)
        return skops.io
