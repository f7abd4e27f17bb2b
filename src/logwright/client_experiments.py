"""The experiment half of :class:`~logwright.client.Client`: create, find, search, delete, restore."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from logwright import artifacts as _artifacts
from logwright import validation
from logwright.entities import Experiment, ViewType
from logwright.exceptions import ExperimentDeleted, ExperimentNotFound
from logwright.experiment_search import ExperimentList, select_experiments

__all__ = ["DEFAULT_EXPERIMENT", "ExperimentsMixin"]

DEFAULT_EXPERIMENT = "Default"
"""Where runs go when no experiment is set."""


class ExperimentsMixin:
    """Experiments by id or name (mixed into Client, which sets the caches in ``__init__``)."""

    store: Any
    artifact_uri: str | None
    _experiments: dict[str, str]
    _experiment_ids: set[str]
    _active_experiments: set[str]
    _run_experiments: dict[str, str]

    def create_experiment(
        self, name: str, tags: Mapping[str, Any] | None = None, description: str | None = None
    ) -> str:
        """Create an experiment, or return the id of the one that already has ``name``."""
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"experiment name must be a non-empty string, got {name!r}")
        exp_id = self._experiments.get(name)
        if exp_id is None:
            name = validation.clean_text(name, "experiment name")
            clean_tags = {validation.check_key(k, "experiment tag key"): validation.tag_value(k, v)
                          for k, v in (tags or {}).items()}
            location = _artifacts.experiment_location(self.artifact_uri, name) if self.artifact_uri else None
            exp_id = self.store.create_experiment(name, clean_tags, validation.name_value(description, "description"),
                                                  artifact_location=location)
            self._experiments[name] = exp_id
            self._experiment_ids.add(exp_id)
        return exp_id

    def _check_active(self, exp_id: str) -> None:
        """Raise ExperimentDeleted unless the experiment is active (looked up once per process)."""
        if exp_id not in self._active_experiments:
            if self.store.get_experiment(exp_id).lifecycle_stage == "deleted":
                raise ExperimentDeleted(exp_id)
            self._active_experiments.add(exp_id)

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with this id (raises ExperimentNotFound)."""
        return self.store.get_experiment(str(experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment with this name, or None."""
        return self.store.get_experiment_by_name(name)

    def search_experiments(
        self,
        view_type: int | str = ViewType.ACTIVE_ONLY,
        max_results: int | None = 1000,
        filter_string: str | None = None,
        order_by: Sequence[str] | str | None = None,
        page_token: str | None = None,
        *,
        view: int | str | None = None,
        filter: str | None = None,  # noqa: A002 - kept for callers of the first API
    ) -> ExperimentList:
        """Experiments, newest first, in MLflow's argument order (see :mod:`logwright.experiment_search`).

        Args:
            view_type: ``ViewType.ACTIVE_ONLY``/``DELETED_ONLY``/``ALL`` or ``"active"``/... .
            max_results: page size; None: every match.
            filter_string: e.g. ``"name LIKE 'churn%' and tags.team = 'ml'"``.
            order_by: e.g. ``["name ASC"]``; default ``creation_time DESC``.
            page_token: the ``token`` of the previous page.
            view: the same as ``view_type`` (the name the first logwright API used).
            filter: a LIKE pattern on the name (the first logwright API).

        Raises:
            InvalidFilter: the filter or order_by is malformed.
        """
        lifecycle = ViewType.to_view(view if view is not None else view_type)
        if max_results is not None:
            from logwright.search import check_max_results

            max_results = check_max_results(max_results)
        experiments = self.store.search_experiments(lifecycle, filter)
        return select_experiments(experiments, filter_string, order_by, max_results, page_token)

    def delete_experiment(self, experiment_id: str) -> None:
        """Mark an experiment deleted, and its runs with it (as MLflow; each stays readable by id)."""
        self.store.set_experiment_lifecycle(str(experiment_id), "deleted")
        self._active_experiments.discard(str(experiment_id))
        self._forget_runs_of(str(experiment_id))

    def restore_experiment(self, experiment_id: str) -> None:
        """Undo :meth:`delete_experiment`: the experiment and every run in it are active again."""
        self.store.set_experiment_lifecycle(str(experiment_id), "active")

    def _forget_runs_of(self, experiment_id: str) -> None:
        """Drop the cached look-ups of the experiment's runs, so logging to them checks again."""
        for run_id, exp_id in list(self._run_experiments.items()):
            if exp_id == experiment_id:
                self._run_experiments.pop(run_id, None)

    def update_experiment(self, experiment_id: str, name: str | None = None, description: str | None = None) -> None:
        """Rename an experiment and/or set its description ("" clears it); its runs and artifacts stay where they are.

        Raises:
            ExperimentNotFound: no such experiment.
            ValueError: the name is empty or another experiment has it.
        """
        fields: dict[str, Any] = {}
        if name is not None:
            fields["name"] = validation.clean_text(name, "experiment name")
        if description is not None:
            fields["description"] = validation.name_value(description, "description") or None
        old = self.store.get_experiment(str(experiment_id)).name
        self.store.update_experiment(str(experiment_id), fields)
        if "name" in fields:
            self._experiments.pop(old, None)  # the old name may now be created anew

    def _experiment_id(self, experiment: str | None) -> str:
        if experiment is None:
            return self.create_experiment(DEFAULT_EXPERIMENT)
        experiment = str(getattr(experiment, "experiment_id", experiment))
        if experiment.isdigit():
            if experiment not in self._experiment_ids:
                self.store.get_experiment(experiment)  # raises ExperimentNotFound
                self._experiment_ids.add(experiment)
            return experiment
        found = self.store.get_experiment_by_name(experiment)
        if found is None:
            raise ExperimentNotFound(experiment)
        return found.experiment_id
