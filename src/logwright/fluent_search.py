"""The module-level searches, ``search_runs`` and ``search_experiments``, in MLflow's shape.

Re-exported by :mod:`logwright.fluent` (and so by ``logwright``); they read through the
current tracking URI's :class:`~logwright.client.Client`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from logwright.entities import ViewType
from logwright.experiment_search import ExperimentList
from logwright.run_list import RunList

__all__ = ["search_experiments", "search_runs"]

_logger = logging.getLogger(__name__)
_FORMATS = ("list", "pandas")


def search_runs(
    experiment_ids: str | Sequence[str] | None = None,
    filter_string: str | None = None,
    run_view_type: int | str = ViewType.ACTIVE_ONLY,
    max_results: int | None = 1000,
    order_by: Sequence[str] | None = None,
    output_format: str = "list",
    search_all_experiments: bool = False,
    experiment_names: Sequence[str] | None = None,
    *,
    experiment: str | Sequence[str] | None = None,
    filter: str | None = None,  # noqa: A002 - the short name logwright has always taken
    page_token: str | None = None,
) -> Any:
    """Runs matching a filter, in MLflow's argument order (see README, "Search").

    Args:
        experiment_ids: ids or names; with ``experiment_names`` also None, the current
            experiment (every experiment with ``search_all_experiments=True``). An unknown
            id or name raises ExperimentNotFound.
        filter_string: e.g. ``"metrics.acc > 0.9 and params.model = 'rf'"``.
        run_view_type: ``ViewType.ACTIVE_ONLY``/``DELETED_ONLY``/``ALL`` or ``"active"``... .
        max_results: how many runs (any size; None: all of them).
        order_by: e.g. ``["metrics.acc DESC"]``; newest first by default.
        output_format: ``"list"`` (default: a :class:`RunList` with ``.token`` and
            ``.to_pandas()``) or ``"pandas"`` (a DataFrame, MLflow's default).
        search_all_experiments: search every active experiment when none is named.
        experiment_names: names, as MLflow: unknown names are skipped with a warning (all
            unknown: no runs).
        experiment: the same as ``experiment_ids`` (logwright's first name for it).
        filter: the same as ``filter_string``.
        page_token: the ``.token`` of the previous page.

    Raises:
        ValueError: both ids and names are given, or ``output_format`` is unknown.
    """
    from logwright import fluent

    if output_format not in _FORMATS:
        raise ValueError(f"output_format must be 'list' or 'pandas', not {output_format!r}")
    client = fluent._client()
    ids = experiment_ids if experiment_ids is not None else experiment
    if ids is not None and experiment_names is not None:
        raise ValueError("search_runs takes experiment_ids or experiment_names, not both")
    if experiment_names is not None:
        found = [client.get_experiment_by_name(n) for n in experiment_names]
        for name, exp in zip(experiment_names, found, strict=True):
            if exp is None:
                _logger.warning("search_runs: no experiment is named %r; it is skipped", name)
        ids = [e.experiment_id for e in found if e is not None]
    elif ids is None and search_all_experiments:
        ids = [e.experiment_id for e in client.search_experiments(ViewType.ACTIVE_ONLY, max_results=None)]
    elif ids is None:
        ids = fluent._current_experiment_id(client)
    if isinstance(ids, (list, tuple)) and not ids:
        runs = RunList()
    else:
        text = filter_string if filter_string is not None else filter
        runs = client._search_runs(client._search_ids(ids), text, run_view_type, max_results, order_by, page_token)
    return runs.to_pandas() if output_format == "pandas" else runs


def search_experiments(
    view_type: int | str = ViewType.ACTIVE_ONLY,
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: Sequence[str] | str | None = None,
    *,
    view: int | str | None = None,
    filter: str | None = None,  # noqa: A002 - kept for callers of the first API
) -> ExperimentList:
    """Experiments, newest first, filtered with MLflow's experiment filter language.

    Args:
        view_type: ``ViewType.ACTIVE_ONLY``/``DELETED_ONLY``/``ALL`` or ``"active"``... .
        max_results: how many (None: all).
        filter_string: e.g. ``"name LIKE 'churn%' and tags.team = 'ml'"`` (see
            :mod:`logwright.experiment_search`).
        order_by: e.g. ``["name"]``; default ``creation_time DESC``.
        view: the same as ``view_type``.
        filter: a LIKE pattern on the name (logwright's first API).

    Raises:
        InvalidFilter: the filter or order_by is malformed.
    """
    from logwright import fluent

    return fluent._client().search_experiments(view_type, max_results, filter_string, order_by,
                                               view=view, filter=filter)
