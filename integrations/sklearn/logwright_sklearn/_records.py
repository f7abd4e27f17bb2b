"""What an autologged fit writes: params, tags, training metrics, dataset, model, artifacts.

Every function takes the client and run id explicitly and is called from inside the
fit wrapper (so predictions made here are not tracked as post-training ones).
"""

from __future__ import annotations

import sys

from logwright.autolog import param_text
from logwright.lazylog import get_logger

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_logger = get_logger(__name__)

_SKIP_FRAMES = ("logwright", "wrapt", "sklearn", "joblib", "contextlib")


def flat_params(estimator: Any) -> dict[str, str]:
    """``get_params(deep=True)``: nested estimators' params are already ``step__param``.

    A search (GridSearchCV, ...) logs its own params only: see ``_search.search_params``.
    """
    from logwright_sklearn import _search

    if _search.is_search(estimator):
        return _search.search_params(estimator)
    try:
        params = estimator.get_params(deep=True)
    except TypeError:  # e.g. a class given where an instance belongs: the fit will say so itself
        params = estimator.get_params(deep=False)
    return {str(k): param_text(v) for k, v in params.items()}


def caller_name(obj: Any) -> str | None:
    """The name the user's code calls ``obj`` by, read from the first frame outside the libraries."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").startswith(_SKIP_FRAMES):
        frame = frame.f_back
    if frame is None or obj is None:
        return None
    for scope in (frame.f_locals, frame.f_globals):
        for name, value in scope.items():
            if value is obj and not name.startswith("_") and name.isidentifier():
                return name
    return None


def log_dataset(client: Any, run_id: str, X: Any, y: Any, name: str) -> None:
    """The training data as a run input: digest, shape, schema (targets folded into the digest)."""
    from logwright.datasets import describe

    client.log_input(run_id, describe(X, name=name, context="training", targets=y))


def final_estimator(estimator: Any) -> Any:
    """The estimator whose attributes describe the fitted model (Pipeline tail, best_estimator_)."""
    est = getattr(estimator, "best_estimator_", estimator)
    steps = getattr(est, "steps", None)
    if steps and isinstance(steps, list):
        return steps[-1][1]
    return est


def _feature_names(estimator: Any, n: int) -> list[str]:
    est = getattr(estimator, "best_estimator_", estimator)
    names = None
    if getattr(est, "steps", None) and len(est.steps) > 1:
        try:
            names = est[:-1].get_feature_names_out()
        except Exception:  # noqa: BLE001 - a step without feature names
            names = None
    if names is None:
        names = getattr(final_estimator(estimator), "feature_names_in_", None)
    if names is None or len(names) != n:
        return [f"x{i}" for i in range(n)]
    return [str(x) for x in names]


def importances(estimator: Any) -> dict[str, Any] | None:
    """Feature importances, or coefficients and intercepts, with feature names (None if neither)."""
    import numpy as np

    tail = final_estimator(estimator)
    values = getattr(tail, "feature_importances_", None)
    if values is not None:
        values = np.asarray(values, dtype=float)
        return {"kind": "feature_importances", "features": _feature_names(estimator, values.shape[-1]),
                "values": values.tolist()}
    coef = getattr(tail, "coef_", None)
    if coef is None or not hasattr(coef, "shape"):
        return None
    coef = coef.toarray() if hasattr(coef, "toarray") else np.asarray(coef, dtype=float)
    out: dict[str, Any] = {"kind": "coefficients", "features": _feature_names(estimator, coef.shape[-1]),
                           "coef": coef.tolist()}
    intercept = getattr(tail, "intercept_", None)
    if intercept is not None:
        out["intercept"] = np.asarray(intercept, dtype=float).tolist()
    classes = getattr(tail, "classes_", None)
    if isinstance(classes, np.ndarray) and classes.ndim == 1:
        out["classes"] = [c.item() if hasattr(c, "item") else c for c in classes]
    return out


def example_rows(X: Any, n: int = 5) -> Any:
    """The first ``n`` rows of X (dense) for an input example."""
    rows = X.iloc[:n] if hasattr(X, "iloc") else X[:n]
    return rows.toarray() if hasattr(rows, "toarray") else rows


def log_model(client: Any, run_id: str, model: Any, X: Any, y_pred: Any, cfg: Any) -> None:
    """Save ``model`` with the sklearn flavour; signature from X's schema and the predictions."""
    from logwright.models import infer_schema
    from logwright.models import log_model as _log_model

    signature = {"inputs": infer_schema(X), "outputs": infer_schema(y_pred)}
    example = example_rows(X) if cfg.get("log_input_examples") else None
    _log_model(model, "model", input_example=example, signature=signature, flavour="sklearn",
               run_id=run_id, client=client, serialization=cfg.get("serialization"))
