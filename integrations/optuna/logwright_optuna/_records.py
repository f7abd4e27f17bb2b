"""Optuna objects -> params, metrics, tags: pure functions, no logging side effects."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

STATE_STATUS = {"COMPLETE": "FINISHED", "PRUNED": "FINISHED", "FAIL": "FAILED"}  # else KILLED


def directions(study: Any) -> list[str]:
    """The study's directions, ``["minimize"]`` or one per objective."""
    return [d.name.lower() for d in study.directions]


def study_params(study: Any, n_trials: Any, timeout: Any, n_jobs: Any) -> dict[str, Any]:
    """What defines the search: study name, direction(s), sampler, pruner and the ``optimize`` budget."""
    found = directions(study)
    params: dict[str, Any] = {"study_name": study.study_name}
    if len(found) == 1:
        params["direction"] = found[0]
    else:
        params["directions"] = ",".join(found)
    params["sampler"] = type(study.sampler).__name__
    params["pruner"] = type(study.pruner).__name__
    params.update({"n_trials": n_trials, "timeout": timeout, "n_jobs": n_jobs})
    return params


def metric_names(study: Any, count: int) -> list[str]:
    """Metric keys for a trial's values: the study's ``metric_names``, else ``value`` / ``value_<i>``."""
    names = getattr(study, "metric_names", None)  # Study.metric_names: optuna >= 3.2
    if names and len(names) == count:
        return [str(n) for n in names]
    return ["value"] if count == 1 else [f"value_{i}" for i in range(count)]


def value_metrics(study: Any, values: Sequence[float] | None) -> dict[str, float]:
    """A trial's objective value(s) as metrics (none for a trial without values)."""
    if not values:
        return {}
    return {name: float(v) for name, v in zip(metric_names(study, len(values)), values, strict=True)}


def trial_tags(number: int, state: str, user_attrs: dict[str, Any]) -> dict[str, str]:
    """The trial's number, final state and user attrs (``optuna.user_attr.<key>``)."""
    tags = {"optuna.trial.number": str(number), "optuna.trial.state": state}
    tags.update({f"optuna.user_attr.{k}": str(v) for k, v in user_attrs.items()})
    return tags


def duration_s(start: Any, end: Any) -> float | None:
    """Seconds between two datetimes (None when either is unknown)."""
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def fail_reason(error: BaseException | None, returned: Any) -> str:
    """The ``logwright.error`` text of a failed trial: the objective's error, else what it returned."""
    if error is not None:
        return f"{type(error).__name__}: {error}"[:8000]
    return f"the objective returned {returned!r}, which Optuna does not accept as the trial's value(s)"[:8000]


def is_better(minimize: bool, value: float, best: float | None) -> bool:
    """Whether ``value`` beats ``best`` in this direction (NaN never does)."""
    if value != value:  # NaN
        return False
    return best is None or (value < best if minimize else value > best)


def best_tags(params: dict[str, Any], run_id: str | None) -> dict[str, str]:
    """The parent's ``best_params`` (JSON) and ``best_trial_run_id`` tags."""
    import json

    tags = {"best_params": json.dumps(params, default=str, sort_keys=True)}
    if run_id:
        tags["best_trial_run_id"] = run_id
    return tags
