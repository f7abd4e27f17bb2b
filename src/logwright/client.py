"""``Client``: every tracking operation by explicit experiment and run id.

The fluent functions (:mod:`logwright.fluent`) are thin over this class. Writes
are queued to the store's background writer and return at once; reads flush the
writer first, so a read always sees what this process logged before it.
"""

from __future__ import annotations

import base64
import json
import math
import os
import random
import tempfile
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from logwright import validation
from logwright.artifacts import LocalArtifacts
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
from logwright.exceptions import ExperimentNotFound, ParamConflict, RunNotFound
from logwright.store import get_store
from logwright.store.sqlite import SqliteStore

DEFAULT_EXPERIMENT = "Default"

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


class Client:
    """Tracking operations by explicit id, over one store.

    Args:
        tracking_uri: a folder, ``sqlite:///file.db``, or None for the current
            tracking URI (``LOGWRIGHT_TRACKING_URI`` or ``./logwright-runs``).
    """

    def __init__(self, tracking_uri: str | None = None) -> None:
        if tracking_uri is None:
            from logwright.fluent import get_tracking_uri

            tracking_uri = get_tracking_uri()
        self.tracking_uri = tracking_uri
        self.store: SqliteStore = get_store(tracking_uri)
        state = self.store.__dict__.setdefault("_logging_state", {})
        self._steps: dict[tuple[str, str], int] = state.setdefault("steps", {})
        self._params: dict[str, dict[str, str]] = state.setdefault("params", {})
        self._fresh: set[str] = state.setdefault("fresh", set())
        self._experiments: dict[str, str] = state.setdefault("experiments", {})
        # run id -> experiment id of runs this process created: their artifact folder is
        # known without waiting for the writer to commit the run.
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
            exp_id = self.store.create_experiment(name, dict(tags or {}), description)
            self._experiments[name] = exp_id
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

    def _experiment_id(self, experiment: str | None) -> str:
        if experiment is None:
            return self.create_experiment(DEFAULT_EXPERIMENT)
        experiment = str(experiment)
        if experiment.isdigit():
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

        exp_id = self._experiment_id(experiment_id)
        run_id = uuid.uuid4().hex
        name = run_name or _new_run_name()
        start = start_time or int(time.time() * 1000)
        context, system_tags = capture()
        all_tags = {**system_tags, **{k: validation.tag_value(k, v) for k, v in (tags or {}).items()}}
        for key in all_tags:
            validation.check_key(key, "tag key")
        user, source = system_tags.get("logwright.user"), system_tags.get("logwright.source.name")
        self._fresh.add(run_id)
        self._params[run_id] = {}
        self._run_experiments[run_id] = exp_id
        self.store.writer.put_many(
            [
                (
                    "run", run_id, int(exp_id), name, RunStatus.RUNNING, start, parent_run_id,
                    user, source, description, json.dumps(context, default=str),
                ),
                *(("tag", run_id, k, v) for k, v in all_tags.items()),
            ]
        )
        shared = os.path.join(self.store.artifact_root, ".shared")
        for path, text in context_artifacts().items():  # context/git.diff of a dirty tree: one copy
            LocalArtifacts(self.store.artifact_dir(exp_id, run_id)).write_shared(path, text.encode("utf-8"), shared)
        info = RunInfo(
            run_id, exp_id, name, RunStatus.RUNNING, start, None, parent_run_id,
            self.store.artifact_dir(exp_id, run_id), "active", user, source, description,
        )
        return Run(info, RunData({}, {}, all_tags), (), context)

    def get_run(self, run_id: str) -> Run:
        """The run with its params, tags and latest metrics (raises RunNotFound)."""
        self.store.flush()
        return self.store.get_run(run_id)

    def set_terminated(self, run_id: str, status: str = RunStatus.FINISHED, end_time: int | None = None) -> None:
        """End a run with ``status``; everything logged to it is durable on return."""
        if status not in RunStatus.ALL:
            raise ValueError(f"run status {status!r} is not one of {RunStatus.ALL}")
        fields = {"status": status, "end_time": end_time or int(time.time() * 1000)}
        self.store.writer.put(("run_update", run_id, fields))
        self.store.flush()

    def update_run(self, run_id: str, status: str | None = None, name: str | None = None,
                   description: str | None = None) -> None:
        """Change a run's status, name or description."""
        fields: dict[str, Any] = {}
        if status is not None:
            if status not in RunStatus.ALL:
                raise ValueError(f"run status {status!r} is not one of {RunStatus.ALL}")
            fields["status"] = status
        if name is not None:
            fields["run_name"] = name
        if description is not None:
            fields["description"] = description
        if fields:
            self.store.writer.put(("run_update", run_id, fields))

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
        offset = int(base64.urlsafe_b64decode(page_token.encode()).decode()) if page_token else 0
        runs = self.store.search_runs(ids, filter_string, order_by, max_results + 1, offset, run_view_type)
        out = RunList(runs[:max_results])
        if len(runs) > max_results:
            out.token = base64.urlsafe_b64encode(str(offset + max_results).encode()).decode()
        return out

    # -- params, metrics, tags -------------------------------------------------------

    def _known_params(self, run_id: str) -> dict[str, str]:
        known = self._params.get(run_id)
        if known is None:
            if self.store.run_exists(run_id) is None:
                raise RunNotFound(run_id)
            self.store.flush()
            known = self._params[run_id] = self.store.get_params(run_id)
        return known

    def log_param(self, run_id: str, key: str, value: Any) -> Any:
        """Log a write-once param: the same value again is a no-op, another raises ParamConflict."""
        self.log_params(run_id, {key: value})
        return value

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Log several params; checks them all before writing any."""
        known = self._known_params(run_id)
        fresh = []
        for key, value in params.items():
            validation.check_key(key, "param key")
            text = validation.param_value(key, value)
            old = known.get(key)
            if old is None:
                fresh.append((key, text))
            elif old != text:
                raise ParamConflict(
                    f"param {key!r} was already logged as {old!r} in run {run_id}; "
                    f"cannot change it to {text!r} (params are write-once)"
                )
        for key, text in fresh:
            known[key] = text
        self.store.writer.put_many([("param", run_id, k, v) for k, v in fresh])

    def _next_step(self, run_id: str, key: str) -> int:
        if run_id in self._fresh:
            return 0
        last = self.store.max_step(run_id, key)
        return 0 if last is None else last + 1

    def log_metric(self, run_id: str, key: str, value: Any, step: int | None = None,
                   timestamp: int | None = None) -> None:
        """Append one point to a metric's history; ``step=None`` takes that key's next step."""
        validation.check_key(key, "metric key")
        value = value if type(value) is float else validation.metric_value(key, value)
        slot = (run_id, key)
        if step is None:
            step = self._steps.get(slot)
            if step is None:
                step = self._next_step(run_id, key)
        elif type(step) is not int:
            step = int(step)
        if step >= self._steps.get(slot, 0):
            self._steps[slot] = step + 1
        self.store.writer.put(
            ("metric", run_id, key, value, timestamp or int(time.time() * 1000), step)
        )

    def log_metrics(self, run_id: str, metrics: Mapping[str, Any], step: int | None = None,
                    timestamp: int | None = None) -> None:
        """Log several metrics at one step (each key's next step when ``step`` is None)."""
        checked = {
            validation.check_key(k, "metric key"): validation.metric_value(k, v)
            for k, v in metrics.items()
        }
        ts = timestamp or int(time.time() * 1000)
        for key, value in checked.items():
            self.log_metric(run_id, key, value, step, ts)

    def log_batch(self, run_id: str, metrics: Iterable[Metric] = (), params: Mapping[str, Any] | None = None,
                  tags: Mapping[str, Any] | None = None) -> None:
        """Log metric points, params and tags in one call."""
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
        rows = [
            ("tag", run_id, validation.check_key(k, "tag key"), validation.tag_value(k, v))
            for k, v in tags.items()
        ]
        self.store.writer.put_many(rows)

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag."""
        self.store.writer.put(("tag", run_id, key, None))

    def log_input(self, run_id: str, dataset: Dataset | Any, name: str | None = None,
                  context: str | None = None, source: str | None = None) -> Dataset:
        """Record a dataset the run consumed; raw data is described by :func:`datasets.describe`."""
        if not isinstance(dataset, Dataset):
            from logwright.datasets import describe

            dataset = describe(dataset, name=name, source=source, context=context)
        d = dataset
        self.store.writer.put(("input", run_id, d.name, d.digest, d.context, d.shape, d.schema, d.source))
        return dataset

    # -- artifacts -------------------------------------------------------------------

    def artifacts(self, run_id: str) -> LocalArtifacts:
        """The run's artifact folder."""
        exp_id = self._run_experiments.get(run_id)
        if exp_id is not None:
            return LocalArtifacts(self.store.artifact_dir(exp_id, run_id))
        found = self.store.run_exists(run_id)
        if found is None:
            self.store.flush()
            found = self.store.run_exists(run_id)
            if found is None:
                raise RunNotFound(run_id)
        return LocalArtifacts(self.store.artifact_dir(found[0], run_id))

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
        full = repo.path(artifact_file)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        if hasattr(figure, "savefig"):
            figure.savefig(full)
        elif hasattr(figure, "write_html") and artifact_file.endswith(".html"):
            figure.write_html(full, include_plotlyjs=True)
        elif hasattr(figure, "write_image"):
            figure.write_image(full)
        else:
            raise TypeError(f"cannot save a {type(figure).__name__} as a figure")
        return validation.artifact_path(artifact_file)

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


def _json_default(obj: Any) -> Any:
    for attr in ("tolist", "item"):
        fn = getattr(obj, attr, None)
        if fn is not None:
            return fn()
    if isinstance(obj, float) and math.isnan(obj):
        return None
    return str(obj)
