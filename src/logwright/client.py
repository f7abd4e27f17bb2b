"""``Client``: every tracking operation by explicit experiment and run id.

The fluent functions (:mod:`logwright.fluent`) are thin over this class. Writes
are queued to the store's background writer and return at once; reads flush the
writer first, so a read always sees what this process logged before it.
"""

from __future__ import annotations

import json
import math
import os
import random
import tempfile
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from logwright import artifacts as _artifacts
from logwright import validation
from logwright.artifacts import ArtifactRepository
from logwright.entities import (
    Dataset,
    Experiment,
    FileInfo,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunStatus,
)
from logwright.exceptions import ExperimentNotFound, ParamConflict, RunNotFound, StoreError
from logwright.registry import RegistryClient
from logwright.store import get_store
from logwright.store.base import RunRecord, Store
from logwright.store.owner import current_owner

DEFAULT_EXPERIMENT = "Default"
_INT64 = 2**63

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


class RunList(list):
    """A list of :class:`Run` with ``token`` for the next page and ``to_pandas()``."""

    token: str | None = None

    def to_pandas(self) -> Any:
        """One row per run: info columns, ``params.*``, ``metrics.*``, ``tags.*`` (needs pandas)."""
        import pandas as pd

        rows = []
        for run in self:
            row: dict[str, Any] = {
                "run_id": run.info.run_id,
                "experiment_id": run.info.experiment_id,
                "run_name": run.info.run_name,
                "status": run.info.status,
                "start_time": pd.to_datetime(run.info.start_time, unit="ms"),
                "end_time": pd.to_datetime(run.info.end_time, unit="ms")
                if run.info.end_time
                else None,
                "parent_run_id": run.info.parent_run_id,
            }
            row.update({f"metrics.{k}": v for k, v in run.data.metrics.items()})
            row.update({f"params.{k}": v for k, v in run.data.params.items()})
            row.update({f"tags.{k}": v for k, v in run.data.tags.items()})
            rows.append(row)
        return pd.DataFrame(rows)


class Client(RegistryClient):
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
        # run id -> experiment id of runs this process created or found: logging to them
        # needs no look-up, and their artifact folder is known before the writer commits.
        self._run_experiments: dict[str, str] = state.setdefault("run_experiments", {})

    # -- experiments -----------------------------------------------------------------

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

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with this id (raises ExperimentNotFound)."""
        return self.store.get_experiment(str(experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment with this name, or None."""
        return self.store.get_experiment_by_name(name)

    def search_experiments(self, view: str = "active", filter: str | None = None) -> list[Experiment]:  # noqa: A002
        """Experiments, optionally those whose name matches a LIKE pattern."""
        return self.store.search_experiments(view, filter)

    def delete_experiment(self, experiment_id: str) -> None:
        """Mark an experiment deleted (its runs stay readable by id)."""
        self.store.set_experiment_lifecycle(str(experiment_id), "deleted")

    def restore_experiment(self, experiment_id: str) -> None:
        """Undo :meth:`delete_experiment`."""
        self.store.set_experiment_lifecycle(str(experiment_id), "active")

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

    # -- runs ------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str | None = None,
        run_name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
        description: str | None = None,
        start_time: int | None = None,
    ) -> Run:
        """Start a RUNNING run with the process's run context captured (see :mod:`logwright.context`)."""
        from logwright.context import artifacts as context_artifacts
        from logwright.context import capture

        name = validation.name_value(run_name, "run_name") or _new_run_name()
        description = validation.name_value(description, "description")
        start = int(time.time() * 1000) if start_time is None else validation.timestamp_value("run", start_time)
        user_tags = {validation.check_key(k, "tag key"): validation.tag_value(k, v) for k, v in (tags or {}).items()}
        exp_id = self._experiment_id(experiment_id)
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
        shared = os.path.join(self.store.artifact_root, ".shared")
        for path, text in context_artifacts().items():  # context/git.diff of a dirty tree: one copy
            repo = _artifacts.for_uri(self.store.artifact_dir(exp_id, run_id))
            repo.write_shared(path, text.encode("utf-8"), shared)
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
        """Change a run's status, name or description."""
        fields: dict[str, Any] = {}
        if status is not None:
            if status not in RunStatus.ALL:
                raise ValueError(f"run status {status!r} is not one of {RunStatus.ALL}")
            fields["status"] = status
            if status == RunStatus.RUNNING:
                fields["end_time"] = None
        if name is not None:
            fields["run_name"] = validation.name_value(name, "run name")
        if description is not None:
            fields["description"] = validation.name_value(description, "description")
        if fields:
            self._check_run(run_id)
            self.store.update_run(run_id, fields)

    def delete_run(self, run_id: str) -> None:
        """Hide a run from searches (its data stays; :meth:`restore_run` brings it back)."""
        self.store.flush()
        self.store.set_run_lifecycle(run_id, "deleted")

    def restore_run(self, run_id: str) -> None:
        """Undo :meth:`delete_run`."""
        self.store.flush()
        self.store.set_run_lifecycle(run_id, "active")

    def search_runs(
        self,
        experiment_ids: str | Sequence[str] | None = None,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
        run_view_type: str = "active",
    ) -> RunList:
        """Runs matching ``filter_string`` (see README, "Search"), best first by ``order_by``.

        Args:
            experiment_ids: ids or names; None searches every experiment.
            filter_string: e.g. ``"metrics.acc > 0.9 and params.model = 'rf'"``.
            order_by: e.g. ``["metrics.acc DESC"]``.
            max_results: page size.
            page_token: the ``token`` of the previous page.
            run_view_type: ``active``, ``deleted`` or ``all``.

        Raises:
            InvalidFilter: the filter is malformed (the message points at the position).
        """
        self.store.flush()
        if isinstance(experiment_ids, (str, int)):
            experiment_ids = [experiment_ids]
        ids = None if experiment_ids is None else [self._experiment_id(e) for e in experiment_ids]
        from logwright.search import check_max_results, decode_page_token, encode_page_token

        max_results, offset = check_max_results(max_results), decode_page_token(page_token)
        runs = self.store.search_runs(ids, filter_string, order_by, max_results + 1, offset, run_view_type)
        out = RunList(runs[:max_results])
        if len(runs) > max_results:
            out.token = encode_page_token(offset + max_results)
        return out

    # -- params, metrics, tags -------------------------------------------------------

    def _check_run(self, run_id: str) -> str:
        """The run's experiment id; raises RunNotFound (cached for runs seen once)."""
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
        if self.store.read_only:
            raise StoreError(f"store {self.store.location!r} is read-only: run {run_id} can be read, not logged to")
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

    def log_metric(self, run_id: str, key: str, value: Any, step: int | None = None,
                   timestamp: int | None = None) -> None:
        """Append one point to a metric's history; ``step=None`` takes that key's next step."""
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
            self.log_metric(run_id, key, value, step, ts)

    def log_batch(self, run_id: str, metrics: Iterable[Metric] = (), params: Mapping[str, Any] | None = None,
                  tags: Mapping[str, Any] | None = None) -> None:
        """Log metric points, params and tags in one call (all checked before any is queued)."""
        self._check_run(run_id)
        metrics = list(metrics)
        for m in metrics:
            validation.check_key(m.key, "metric key")
            validation.metric_value(m.key, m.value)
        if params:
            self.log_params(run_id, params)
        if tags:
            self.set_tags(run_id, tags)
        for m in metrics:
            self.log_metric(run_id, m.key, m.value, m.step, m.timestamp)

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

    # -- artifacts -------------------------------------------------------------------

    def artifacts(self, run_id: str) -> ArtifactRepository:
        """The run's artifact repository (a local folder or an ``s3://`` prefix)."""
        return _artifacts.for_uri(self.store.artifact_dir(self._check_run(run_id), run_id))

    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None = None) -> str:
        """Copy a file (or a folder's contents) into the run; returns the artifact path."""
        repo = self.artifacts(run_id)
        if os.path.isdir(local_path):
            return repo.log_dir(local_path, artifact_path)
        return repo.log_file(local_path, artifact_path)

    def log_artifacts(self, run_id: str, local_dir: str, artifact_path: str | None = None) -> str:
        """Copy a folder's contents into the run."""
        return self.artifacts(run_id).log_dir(local_dir, artifact_path)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> str:
        """Write ``text`` (UTF-8) as an artifact file."""
        return self.artifacts(run_id).write_bytes(artifact_file, text.encode("utf-8"))

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> str:
        """Write a dict as JSON (or YAML for .yaml/.yml when PyYAML is installed)."""
        if artifact_file.endswith((".yaml", ".yml")):
            import yaml

            data = yaml.safe_dump(dictionary, sort_keys=False)
        else:
            data = json.dumps(dictionary, indent=2, default=_json_default, allow_nan=True)
        return self.log_text(run_id, data, artifact_file)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> str:
        """Save a matplotlib figure (any savefig format) or a plotly figure (.html/.png)."""
        repo = self.artifacts(run_id)
        if hasattr(figure, "savefig"):
            save = figure.savefig
        elif hasattr(figure, "write_html") and artifact_file.endswith(".html"):
            def save(path: str) -> None:
                figure.write_html(path, include_plotlyjs=True)
        elif hasattr(figure, "write_image"):
            save = figure.write_image
        else:
            raise TypeError(f"cannot save a {type(figure).__name__} as a figure")
        return repo.write_via(artifact_file, save)  # never through a link, renamed into place

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """Files and folders directly under ``path`` in the run's artifacts."""
        return self.artifacts(run_id).list(path)

    def download_artifacts(self, run_id: str, path: str = "", dst_path: str | None = None) -> str:
        """Copy an artifact out of the store; returns the local path."""
        dest = dst_path or tempfile.mkdtemp(prefix="logwright-")
        return self.artifacts(run_id).download(path, dest)

    def flush(self) -> None:
        """Make everything logged so far durable."""
        self.store.flush()


def _conflict(run_id: str, key: str, old: str, new: str) -> ParamConflict:
    return ParamConflict(
        f"param {key!r} was already logged as {old!r} in run {run_id}; "
        f"cannot change it to {new!r} (params are write-once)"
    )


def _json_default(obj: Any) -> Any:
    for attr in ("tolist", "item"):
        fn = getattr(obj, attr, None)
        if fn is not None:
            return fn()
    if isinstance(obj, float) and math.isnan(obj):
        return None
    return str(obj)
