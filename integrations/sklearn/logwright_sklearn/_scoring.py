"""Which estimators the training metrics may call, and on how many rows.

Training metrics call ``predict``/``predict_proba``/``score`` on the training data
after the fit. For scikit-learn's own estimators that is side-effect free; a user's
estimator (or a scikit-learn meta-estimator holding one: a Pipeline step, a Stacking
member, a search's estimator, a user function as a param) may count calls, expect
routed metadata, or be slow. ``training_metrics``:

- ``"builtin"`` (default): call only when the estimator and everything it holds is
  scikit-learn's (class module ``sklearn.*``, but not its test helpers such as
  ``sklearn.utils._mocking`` or ``sklearn.tests.*``; function params from scikit-learn,
  NumPy, SciPy or the standard library);
- ``"all"``: call any estimator (the behaviour before issue 21);
- ``"none"``: no training metrics.

The rows scored are capped (``max_scored_rows``, 100,000 by default): above it every
k-th row is scored (an evenly spread sample, k = ceil(n / cap)), so a fit's overhead
stays bounded whatever the data size; the run's ``training_metrics_rows`` tag then
says ``"<scored> of <n>"``.
"""

from __future__ import annotations

import math
from typing import Any

POLICIES = ("builtin", "all", "none")
MAX_SCORED_ROWS = 100_000
_TRUSTED_FUNCTION_HOMES = ("sklearn", "numpy", "scipy", "builtins", "math", "operator", "functools")
_TEST_PARTS = frozenset({"tests", "_testing", "_mocking", "estimator_checks", "metadata_routing_common"})


def _top(module: Any) -> str:
    return str(module or "").split(".", 1)[0]


def _held(value: Any) -> list[Any]:
    """Estimators and callables inside a param value (lists/tuples/dicts walked)."""
    if isinstance(value, (list, tuple)):
        return [x for item in value for x in _held(item)]
    if isinstance(value, dict):
        return [x for item in value.values() for x in _held(item)]
    if hasattr(value, "get_params") and not isinstance(value, type) or callable(value):
        return [value]
    return []


def _sklearn_proper(module: str) -> bool:
    """A ``sklearn.*`` module that is not one of its test helpers (tests, _testing, _mocking, ...)."""
    return module.startswith("sklearn.") and not _TEST_PARTS.intersection(module.split("."))


def _own(obj: Any) -> bool:
    if hasattr(obj, "get_params") and not isinstance(obj, type):
        return _sklearn_proper(type(obj).__module__)
    if isinstance(obj, type):
        return _top(obj.__module__) in _TRUSTED_FUNCTION_HOMES
    obj = getattr(obj, "func", obj) if type(obj).__name__ == "partial" else obj  # functools.partial(f)
    home = getattr(obj, "__module__", None) or type(obj).__module__  # a function, or a callable object
    return _top(home) in _TRUSTED_FUNCTION_HOMES and not _TEST_PARTS.intersection(str(home).split("."))


def is_builtin(estimator: Any) -> bool:
    """True when ``estimator`` and every estimator or callable it holds is scikit-learn's own."""
    stack, seen = [estimator], set()
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if not _own(obj):
            return False
        if hasattr(obj, "get_params") and not isinstance(obj, type):
            try:
                params = obj.get_params(deep=False)
            except Exception:  # noqa: BLE001 - a broken get_params: do not call into it further
                return False
            for value in params.values():
                stack += _held(value)
    return True


def may_call(estimator: Any, policy: str) -> bool:
    """Whether the training metrics may call the estimator's methods under ``policy``."""
    if policy not in POLICIES:
        raise ValueError(f"training_metrics must be one of {POLICIES}, got {policy!r}")
    return policy == "all" or (policy == "builtin" and is_builtin(estimator))


def n_rows(data: Any) -> int | None:
    """Rows of an array, DataFrame, sparse matrix or list (None when unknown)."""
    shape = getattr(data, "shape", None)
    if shape is not None and len(shape):
        return int(shape[0])
    try:
        return len(data)
    except TypeError:
        return None


def stride(n: int | None, cap: int | None) -> int:
    """Every how many rows to score so that at most ``cap`` are (1 = all)."""
    if n is None or cap is None or n <= cap:
        return 1
    return math.ceil(n / max(1, int(cap)))


def take(data: Any, step: int) -> Any:
    """Every ``step``-th row of ``data`` (pandas, sparse in any format, arrays, lists)."""
    if data is None or step == 1:
        return data
    if hasattr(data, "iloc"):
        return data.iloc[::step]
    if hasattr(data, "tocsr") and hasattr(data, "nnz"):
        try:
            return data[::step]
        except Exception:  # noqa: BLE001 - DIA, COO in older scipy: no row slicing
            return data.tocsr()[::step]
    try:
        return data[::step]
    except Exception:  # noqa: BLE001 - not sliceable with a step: through NumPy
        import numpy as np

        return np.asarray(data)[::step]
