"""Hyperparameter searches (GridSearchCV, RandomizedSearchCV, the Halving variants).

The parent run's params are the search's own (``get_params(deep=False)``: ``cv``,
``scoring``, ``param_grid``/``param_distributions``, ...) with the searched estimator
described by ``estimator`` (its class name, a Pipeline's steps as ``name=Class``) and
``estimator_class`` (``module.Class``) instead of its repr and every untuned
``estimator__*`` param (as MLflow does). It also gets ``best_<param>`` params, ``best_cv_score`` and ``cv_results.csv``;
the best candidates (``max_tuning_runs``, None = all) become child runs with their
params and every ``mean_*``/``std_*``/``rank_*`` value of ``cv_results_``. Everything
comes from ``cv_results_`` in the calling process after the search returns, so joblib
workers (processes or threads) never log, and nothing they computed is lost.
"""

from __future__ import annotations

import csv
import io
import logging
from typing import Any

from logwright.autolog import log_params, param_text

_logger = logging.getLogger(__name__)

_CHILD_PREFIXES = ("mean_", "std_", "rank_")


def is_search(estimator: Any) -> bool:
    """True for scikit-learn's BaseSearchCV subclasses (checked by name: nothing imported)."""
    return any(c.__name__ == "BaseSearchCV" and c.__module__.startswith("sklearn.")
               for c in type(estimator).__mro__)


def _describe_estimator(est: Any) -> str:
    """``SVC``; ``Pipeline(scale=StandardScaler, clf=SVC)`` (nested steps described alike)."""
    steps = getattr(est, "steps", None)
    if isinstance(steps, list) and all(isinstance(s, tuple) and len(s) == 2 for s in steps):
        inner = ", ".join(f"{name}={_describe_estimator(step)}" for name, step in steps)
        return f"{type(est).__name__}({inner})"
    if isinstance(est, str):  # "passthrough", "drop"
        return est
    return type(est).__name__


def _describe_value(value: Any) -> Any:
    """A scipy frozen distribution as ``uniform(loc=0, scale=1)``; containers walked; rest as is."""
    dist = getattr(value, "dist", None)
    if dist is not None and hasattr(value, "rvs") and hasattr(value, "kwds"):
        args = [repr(a) for a in getattr(value, "args", ())] + [f"{k}={v!r}" for k, v in value.kwds.items()]
        return _Text(f"{getattr(dist, 'name', type(dist).__name__)}({', '.join(args)})")
    if isinstance(value, dict):
        return {k: _describe_value(v) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_describe_value(v) for v in value)
    return value


class _Text(str):
    """A string whose repr is itself (so a described distribution prints without quotes)."""

    def __repr__(self) -> str:
        return str(self)


def search_params(search: Any) -> dict[str, str]:
    """The search's own params; its estimator as ``estimator`` (short) and ``estimator_class``."""
    params = search.get_params(deep=False)
    out = {}
    for key, value in params.items():
        if key == "estimator" or hasattr(value, "get_params"):  # an estimator: no repr
            out[str(key)] = _describe_estimator(value)
            if key == "estimator":
                cls = type(value)
                out["estimator_class"] = f"{cls.__module__}.{cls.__qualname__}"
        else:
            out[str(key)] = param_text(_describe_value(value))
    return out


def _rank_key(results: dict[str, Any], refit: Any) -> str | None:
    for key in (f"rank_test_{refit}" if isinstance(refit, str) else None, "rank_test_score"):
        if key and key in results:
            return key
    ranks = sorted(k for k in results if k.startswith("rank_test_"))
    return ranks[0] if ranks else None


def _csv(results: dict[str, Any]) -> str:
    keys = list(results)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(keys)
    columns = [list(results[k]) for k in keys]
    for row in zip(*columns, strict=True):
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()


def _cell(value: Any) -> Any:
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    return value


def log_search(client: Any, run: Any, search: Any, max_runs: int | None) -> None:
    """Log the search's best params/score, ``cv_results.csv`` and the top candidates as child runs."""
    import numpy as np

    run_id = run.info.run_id
    best = getattr(search, "best_params_", None)
    if best:
        log_params(client, run_id, {f"best_{k}": param_text(v) for k, v in best.items()})
    best_score = getattr(search, "best_score_", None)
    if best_score is not None:
        client.log_metrics(run_id, {"best_cv_score": float(best_score)})
    results = getattr(search, "cv_results_", None)
    if not results:
        return
    client.log_text(run_id, _csv(results), "cv_results.csv")
    key = _rank_key(results, getattr(search, "refit", None))
    order = np.argsort(np.asarray(results[key]), kind="stable") if key else np.arange(len(results["params"]))
    chosen = order if max_runs is None else order[: max(0, int(max_runs))]
    numeric = [k for k in results if k.startswith(_CHILD_PREFIXES)]
    parent_name = run.info.run_name
    for i in chosen:
        _log_candidate(client, run, int(i), results, numeric, parent_name)


def _log_candidate(client: Any, run: Any, i: int, results: dict[str, Any], numeric: list[str],
                   parent_name: str) -> None:
    child = client.create_run(
        run.info.experiment_id,
        run_name=f"{parent_name}-candidate-{i}",
        tags={"logwright.autolog": "sklearn", "logwright.sklearn.candidate": str(i)},
        parent_run_id=run.info.run_id,
    )
    child_id = child.info.run_id
    log_params(client, child_id, {str(k): param_text(v) for k, v in results["params"][i].items()})
    metrics = {}
    for k in numeric:
        try:
            metrics[k] = float(results[k][i])
        except (TypeError, ValueError):
            continue
    client.log_metrics(child_id, metrics, step=0)
    client.set_terminated(child_id, "FINISHED", flush=False)
