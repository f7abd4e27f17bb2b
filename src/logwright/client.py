"""``Client``: every tracking operation by explicit experiment and run id.

The fluent functions (:mod:`logwright.fluent`) are thin over this class. Writes
are queued to the store's background writer and return at once; reads flush the
writer first, so a read always sees what this process logged before it.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from logwright import artifacts as _artifacts
from logwright import validation
from logwright.client_artifacts import ArtifactsMixin
from logwright.client_experiments import DEFAULT_EXPERIMENT as DEFAULT_EXPERIMENT
from logwright.client_experiments import ExperimentsMixin
from logwright.entities import (
    Dataset,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from logwright.exceptions import (
    ParamConflict,
    RunDeleted,
    RunNotFound,
    StoreError,
)
from logwright.registry import RegistryClient
from logwright.run_list import RunList
from logwright.store import get_store
from logwright.store.base import RunRecord, Store
from logwright.store.owner import current_owner

_logger = logging.getLogger(__name__)

_INT64 = 2**63
MAX_RESULTS_PER_PAGE = 50_000
"""The largest ``max_results`` of ``Client.search_runs`` (MLflow's limit); None asks for every run."""

_ADJECTIVES = (
    "amber brave calm dapper eager fancy gentle happy icy jolly keen lucid merry "
    "nimble polite quick rustic sunny tidy vivid witty zesty bold crisp"
).split()
_NOUNS = (
    "otter falcon cedar comet heron lynx maple orca panda quartz raven salmon tiger "
    "willow yak badger cobra dingo ember fox gecko ibis koala"
).split()


def _new_run_name() -> str:
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randint(100, 999)}"


class Client(ExperimentsMixin, RegistryClient, ArtifactsMixin):
    """Tracking operations by explicit id, over one store.

    Args:
        tracking_uri: a folder, ``sqlite:///file.db``, or None for the current
            tracking URI (``LOGWRIGHT_TRACKING_URI`` or ``./logwright-runs``).
        artifact_uri: the artifact root of experiments this client creates (a folder or
            ``s3://bucket/prefix``); None: the one given to ``set_tracking_uri`` when
            ``tracking_uri`` is None or that same URI, else ``LOGWRIGHT_ARTIFACT_URI``, else
            the store's own folder. Existing experiments keep the location recorded when
            they were created.
    """

    def __init__(self, tracking_uri: str | None = None, artifact_uri: str | None = None) -> None:
        from logwright import config
        from logwright.fluent import get_artifact_uri, get_tracking_uri

        current = get_tracking_uri()
        if tracking_uri is None or tracking_uri == current:
            tracking_uri = current
            artifact_uri = artifact_uri or get_artifact_uri()
        artifact_uri = artifact_uri or config.text(config.ARTIFACT_URI)
        self.artifact_uri = _artifacts.check_root(artifact_uri) if artifact_uri else None
        self.tracking_uri = tracking_uri
        self.store: Store = get_store(tracking_uri)
        state = self.store.__dict__.setdefault("_logging_state", {})
        # Params of runs this process created (write-once is checked here, at the call);
        # params of other runs are written at once so a conflict raises across processes.
        self._params: dict[str, dict[str, str]] = state.setdefault("params", {})
        self._experiments: dict[str, str] = state.setdefault("experiments", {})
        self._experiment_ids: set[str] = state.setdefault("experiment_ids", set())
        self._active_experiments: set[str] = state.setdefault("active_experiments", set())  # seen active
        # run id -> experiment id of runs this process created or found: logging to them
        # needs no look-up, and their artifact folder is known before the writer commits.
        self._run_experiments: dict[str, str] = state.setdefault("run_experiments", {})

    # -- runs ------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str | None = None,
        start_time: int | None = None,
        tags: Mapping[str, Any] | None = None,
        run_name: str | None = None,
        *,
        parent_run_id: str | None = None,
        description: str | None = None,
    ) -> Run:
        """Start a RUNNING run with the process's run context captured (see :mod:`logwright.context`).

        The positional order is MLflow's: ``create_run(experiment_id, start_time, tags, run_name)``.

        Args:
            experiment_id: an id or a name; None: the ``Default`` experiment.
            start_time: epoch milliseconds (0 is kept); None: now.
            tags: string labels.
            run_name: None picks a name such as ``brave-otter-123``.
            parent_run_id: nests the run under that one.
            description: free text.

        Raises:
            ExperimentNotFound: no such experiment.
            ExperimentDeleted: the experiment is deleted (as MLflow).
        """
        from logwright.context import artifacts as context_artifacts
        from logwright.context import capture

        name = validation.name_value(run_name, "run_name") or _new_run_name()
        description = validation.name_value(description, "description")
        start = int(time.time() * 1000) if start_time is None else validation.timestamp_value("run", start_time)
        user_tags = {validation.check_key(k, "tag key"): validation.tag_value(k, v) for k, v in (tags or {}).items()}
        exp_id = self._experiment_id(experiment_id)
        self._check_active(exp_id)
        if parent_run_id is not None:
            self._check_run(parent_run_id)
        run_id = uuid.uuid4().hex
        context, system_tags = capture()
        all_tags = {**{k: validation.tag_value(k, v) for k, v in system_tags.items()}, **user_tags}
        user, source = all_tags.get("logwright.user"), all_tags.get("logwright.source.name")
        self._params[run_id] = {}
        self._run_experiments[run_id] = exp_id
        context_json = validation.clean_text(json.dumps(context, default=str, ensure_ascii=False), "run context")
        record = RunRecord(run_id, exp_id, name, RunStatus.RUNNING, start, parent_run_id, user, source,
                           description, context_json, current_owner())
        self.store.create_run(record, all_tags)
        items = context_artifacts()  # context/git.diff of a dirty tree: one copy shared by runs
        if items:
            _write_context(_artifacts.for_uri(self.store.artifact_dir(exp_id, run_id)), items,
                           os.path.join(self.store.artifact_root, ".shared"))
        info = RunInfo(
            run_id, exp_id, name, RunStatus.RUNNING, start, None, parent_run_id,
            self.store.artifact_dir(exp_id, run_id), "active", user, source, description,
        )
        return Run(info, RunData({}, {}, all_tags), (), context)

    def get_run(self, run_id: str) -> Run:
        """The run with its params, tags and latest metrics (raises RunNotFound)."""
        self.store.flush()
        return self.store.get_run(run_id)

    def set_terminated(self, run_id: str, status: str = RunStatus.FINISHED, end_time: int | None = None,
                       *, flush: bool = True) -> None:
        """End a run with ``status``; everything logged to it is durable on return.

        Args:
            flush: False queues the end like any other write (many short child runs).
        """
        if status not in RunStatus.ALL:
            raise ValueError(f"run status {status!r} is not one of {RunStatus.ALL}")
        self._check_run(run_id)
        end = int(time.time() * 1000) if end_time is None else validation.timestamp_value("run", end_time)
        self.store.update_run(run_id, {"status": status, "end_time": end})
        if flush:
            self.store.flush()

    def update_run(self, run_id: str, status: str | None = None, name: str | None = None,
                   description: str | None = None) -> None:
        """Change a run's status, name or description (an empty ``name`` keeps the name, as MLflow)."""
        fields: dict[str, Any] = {}
        if status is not None:
            if status not in RunStatus.ALL:
                raise ValueError(f"run status {status!r} is not one of {RunStatus.ALL}")
            fields["status"] = status
            if status == RunStatus.RUNNING:
                fields["end_time"] = None
        if name is not None and name != "":
            fields["run_name"] = validation.name_value(name, "run name")
        if description is not None:
            fields["description"] = validation.name_value(description, "description")
        if fields:
            self._check_run(run_id)
            self.store.update_run(run_id, fields)

    def delete_run(self, run_id: str) -> None:
        """Hide a run from searches; logging to it raises RunDeleted until :meth:`restore_run`."""
        self.store.flush()
        self.store.set_run_lifecycle(run_id, "deleted")
        self._run_experiments.pop(run_id, None)

    def restore_run(self, run_id: str) -> None:
        """Undo :meth:`delete_run`."""
        self.store.flush()
        self.store.set_run_lifecycle(run_id, "active")

    def search_runs(
        self,
        experiment_ids: str | Sequence[str] | None = None,
        filter_string: str | None = None,
        run_view_type: int | str = ViewType.ACTIVE_ONLY,
        max_results: int | None = 1000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> RunList:
        """Runs matching ``filter_string`` (see README, "Search"), in MLflow's argument order.

        Args:
            experiment_ids: ids or names; None searches every experiment.
            filter_string: e.g. ``"metrics.acc > 0.9 and params.model = 'rf'"``.
            run_view_type: ``ViewType.ACTIVE_ONLY``/``DELETED_ONLY``/``ALL`` (or ``"active"``...).
            max_results: page size, at most ``MAX_RESULTS_PER_PAGE`` (50,000, as MLflow);
                None: every match on one page.
            order_by: e.g. ``["metrics.acc DESC"]``; newest first by default.
            page_token: the ``token`` of the previous page.

        Raises:
            InvalidFilter: the filter is malformed (the message points at the position).
            ExperimentNotFound: an experiment id or name does not exist.
            ValueError: ``max_results`` is not an int from 1 to 50,000 (or None).
        """
        from logwright.search import check_max_results

        if max_results is not None and check_max_results(max_results) > MAX_RESULTS_PER_PAGE:
            raise ValueError(f"max_results must be at most {MAX_RESULTS_PER_PAGE:,} per page (as MLflow's), "
                             f"not {int(max_results):,}; pass None for every run")
        return self._search_runs(self._search_ids(experiment_ids), filter_string, run_view_type,
                                 max_results, order_by, page_token)

    def _search_ids(self, experiment_ids: str | Sequence[str] | None) -> list[str] | None:
        if isinstance(experiment_ids, (str, int)):
            experiment_ids = [experiment_ids]
        return None if experiment_ids is None else [self._experiment_id(e) for e in experiment_ids]

    def _search_runs(self, ids: list[str] | None, filter_string: str | None, view_type: int | str,
                     max_results: int | None, order_by: Sequence[str] | None, page_token: str | None) -> RunList:
        """One page of runs of experiments ``ids`` (None: all); any page size, None for all."""
        from logwright.search import MAX_RESULTS, check_max_results, decode_page_token, encode_page_token

        view = ViewType.to_view(view_type)
        self.store.flush()
        limit = MAX_RESULTS if max_results is None else check_max_results(max_results)
        offset = decode_page_token(page_token)
        runs = self.store.search_runs(ids, filter_string, order_by, limit + 1, offset, view)
        out = RunList(runs[:limit])
        if len(runs) > limit:
            out.token = encode_page_token(offset + limit)
        return out

    # -- params, metrics, tags -------------------------------------------------------

    def _check_run(self, run_id: str, active: bool = True) -> str:
        """The run's experiment id; raises RunNotFound, or RunDeleted (cached for runs seen once).

        Args:
            run_id: the run.
            active: False lets a deleted run through (its artifacts can still be read).
        """
        exp_id = self._run_experiments.get(run_id) if type(run_id) is str else None
        if exp_id is not None:
            return exp_id
        if not isinstance(run_id, str):
            raise TypeError(f"run id must be a string, got {type(run_id).__name__}: {run_id!r:.80}")
        found = self.store.run_exists(run_id)
        if found is None:
            self.store.flush()
            found = self.store.run_exists(run_id)
            if found is None:
                raise RunNotFound(run_id)
        if self.store.read_only:  # its artifacts can be read (list, download, load_model), never logged to
            if active:
                raise StoreError(f"store {self.store.location!r} is read-only: run {run_id} can be read, not logged to")
            return found[0]
        if self.store.get_run(run_id).info.lifecycle_stage == "deleted":  # once per run and process
            if not active:
                return found[0]
            raise RunDeleted(run_id)
        self._run_experiments[run_id] = found[0]
        return found[0]

    def log_param(self, run_id: str, key: str, value: Any) -> Any:
        """Log a write-once param: the same value again is a no-op, another raises ParamConflict."""
        self.log_params(run_id, {key: value})
        return value

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Log several params; checks them all before writing any."""
        self._check_run(run_id)
        checked = {}
        for key, value in params.items():
            checked[validation.check_key(key, "param key")] = validation.param_value(key, value)
        known = self._params.get(run_id)
        if known is None:  # a run another process created: write now, so a conflict raises here
            conflicts = self.store.insert_params(run_id, list(checked.items()))
            if conflicts:
                key, old = next(iter(conflicts.items()))
                raise _conflict(run_id, key, old, checked[key])
            return
        fresh = []
        for key, text in checked.items():
            old = known.get(key)
            if old is None:
                fresh.append((key, text))
            elif old != text:
                raise _conflict(run_id, key, old, text)
        for key, text in fresh:
            known[key] = text
        self.store.log_params(run_id, fresh)

    def log_metric(self, run_id: str, key: str, value: Any, timestamp: int | None = None,
                   step: int | None = None) -> None:
        """Append one point to a metric's history, in MLflow's order (timestamp before step).

        Args:
            run_id: the run.
            key: the metric's name.
            value: a number (NaN and infinities are kept).
            timestamp: epoch milliseconds (0 is kept); None: now.
            step: None takes that key's next step.
        """
        if run_id not in self._run_experiments:
            self._check_run(run_id)
        key = validation.check_key(key, "metric key")
        value = value if type(value) is float else validation.metric_value(key, value)
        if step is not None and (type(step) is not int or not -_INT64 <= step < _INT64):
            step = validation.step_value(key, step)
        if timestamp is None:
            timestamp = int(time.time() * 1000)
        elif type(timestamp) is not int or not 0 <= timestamp < _INT64:
            timestamp = validation.timestamp_value(key, timestamp)
        self.store.log_metric(run_id, key, value, timestamp, step)

    def log_metrics(self, run_id: str, metrics: Mapping[str, Any], step: int | None = None,
                    timestamp: int | None = None) -> None:
        """Log several metrics at one step (each key's next step when ``step`` is None)."""
        self._check_run(run_id)
        checked = {
            validation.check_key(k, "metric key"): validation.metric_value(k, v)
            for k, v in metrics.items()
        }
        if step is not None:
            step = validation.step_value(next(iter(checked), "?"), step)
        ts = int(time.time() * 1000) if timestamp is None else validation.timestamp_value("metrics", timestamp)
        for key, value in checked.items():
            self.log_metric(run_id, key, value, ts, step)

    def log_batch(self, run_id: str, metrics: Iterable[Metric] = (),
                  params: Iterable[Param] | Mapping[str, Any] | None = None,
                  tags: Iterable[RunTag] | Mapping[str, Any] | None = None) -> None:
        """Log metric points, params and tags in one call (all checked before any is queued).

        Args:
            run_id: the run.
            metrics: :class:`Metric` points (``Metric(key, value, timestamp, step)``, as MLflow's).
            params: :class:`Param` entities (MLflow's form) or a mapping.
            tags: :class:`RunTag` entities (MLflow's form) or a mapping.
        """
        self._check_run(run_id)
        metrics = list(metrics)
        for m in metrics:
            validation.check_key(m.key, "metric key")
            validation.metric_value(m.key, m.value)
            validation.timestamp_value(m.key, m.timestamp)
            validation.step_value(m.key, m.step)
        params, tags = _as_mapping(params, "params"), _as_mapping(tags, "tags")
        if params:
            self.log_params(run_id, params)
        if tags:
            self.set_tags(run_id, tags)
        for m in metrics:
            self.log_metric(run_id, m.key, m.value, m.timestamp, m.step)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point logged for ``key``, ordered by step."""
        self.store.flush()
        if self.store.run_exists(run_id) is None:
            raise RunNotFound(run_id)
        return self.store.get_metric_history(run_id, key)

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        """Set (or overwrite) a tag."""
        self.set_tags(run_id, {key: value})

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        """Set several tags."""
        checked = {validation.check_key(k, "tag key"): validation.tag_value(k, v) for k, v in tags.items()}
        self._check_run(run_id)
        self.store.set_tags(run_id, checked)

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag."""
        key = validation.check_key(key, "tag key")
        self._check_run(run_id)
        self.store.delete_tag(run_id, key)

    def log_input(self, run_id: str, dataset: Dataset | Any, name: str | None = None,
                  context: str | None = None, source: str | None = None) -> Dataset:
        """Record a dataset the run consumed; raw data is described by :func:`datasets.describe`."""
        if not isinstance(dataset, Dataset):
            from logwright.datasets import describe

            dataset = describe(dataset, name=name, source=source, context=context)
        self._check_run(run_id)
        d = dataset
        text = [None if v is None else validation.clean_text(str(v), "dataset field")
                for v in (d.name, d.digest, d.context, d.shape, d.schema, d.source)]
        if not text[0] or not text[1]:
            raise ValueError(f"a dataset input needs a name and a digest, got {d.name!r} and {d.digest!r}")
        self.store.log_input(run_id, *text)
        return dataset

    def flush(self) -> None:
        """Make everything logged so far durable (the new runs' context files too)."""
        wait_for_context_files(60.0)
        self.store.flush()


def _as_mapping(items: Iterable[Any] | Mapping[str, Any] | None, what: str) -> dict[str, Any]:
    """``{key: value}`` from a mapping or from entities with ``.key`` and ``.value`` (Param, RunTag)."""
    if items is None:
        return {}
    if isinstance(items, Mapping):
        return dict(items)
    out = {}
    for item in items:
        if not hasattr(item, "key") or not hasattr(item, "value"):
            raise TypeError(f"log_batch {what} must be a mapping or {'Param' if what == 'params' else 'RunTag'} "
                            f"entities, not {type(item).__name__}: {item!r:.80}")
        out[item.key] = item.value
    return out


def _conflict(run_id: str, key: str, old: str, new: str) -> ParamConflict:
    return ParamConflict(
        f"param {key!r} was already logged as {old!r} in run {run_id}; "
        f"cannot change it to {new!r} (params are write-once)"
    )


def _write_context(repo: Any, items: dict[str, str], shared: str) -> None:
    """Store a new run's context files: at once in a folder; for a server or a bucket in a
    background thread, so ``start_run`` never waits on (or fails with) the network."""

    def write() -> None:
        try:
            for path, text in items.items():
                repo.write_shared(path, text.encode("utf-8"), shared)
        except Exception as exc:  # noqa: BLE001 - context files are a nicety: warn, never fail the run
            _logger.warning("logwright could not store the run's context files in %s: %s", repo.root, exc)

    if isinstance(repo, _artifacts.LocalArtifacts):
        write()
        return

    def write_and_forget() -> None:
        try:
            write()
        finally:
            _context_writes.discard(threading.current_thread())

    thread = threading.Thread(target=write_and_forget, name="logwright-context", daemon=True)
    _context_writes.add(thread)
    thread.start()


_context_writes: set[threading.Thread] = set()


def wait_for_context_files(timeout: float | None = None) -> None:
    """Wait until the context files of the runs started so far are stored (``flush`` calls it)."""
    for thread in list(_context_writes):
        thread.join(timeout)
