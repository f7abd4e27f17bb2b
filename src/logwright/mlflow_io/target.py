"""An MLflow tracking server written as a logwright store (the calls :class:`StoreCopier` makes of DST).

MLflow chooses its own run ids, so each exported run carries the ``logwright.run_id``
tag and this side finds runs by that tag (or by their own id, for a run that came from
this MLflow server): a second export writes nothing. Metric points are sent with
``log_batch`` 1,000 at a time; params and tags 100 at a time, and a value MLflow
refuses (too long) is skipped with one warning naming it.
"""

from __future__ import annotations

import logging
from array import array
from collections.abc import Mapping, Sequence
from typing import Any

from logwright.entities import Dataset, Experiment, Run
from logwright.mlflow_io import convert
from logwright.mlflow_io.source import MlflowArtifacts, client_for, logged_models, runs_of
from logwright.store.base import RunRecord

_logger = logging.getLogger(__name__)
_BATCH = 1000


class MlflowTarget:
    """An MLflow tracking server with the Store calls the copier makes of its destination.

    Args:
        uri: the MLflow tracking URI (``sqlite:///mlflow.db``, ``http://host:5000``, a folder, ...).
    """

    read_only = False
    artifact_root = ""

    def __init__(self, uri: str) -> None:
        from mlflow.tracing.client import TracingClient

        self.location = uri
        self.client = client_for(uri)
        self.tracing = TracingClient(self.client.tracking_uri)
        self._index: dict[str, list[Any]] | None = None  # logwright id -> [MLflow id, experiment id, status]
        self._metrics: list[Any] = []
        self._metrics_run: str | None = None
        self._logged: dict[str, dict[str, list[Any]]] = {}  # experiment id -> MLflow run id -> logged models

    # -- experiments ---------------------------------------------------------------------------

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment with this name, or None."""
        found = self.client.get_experiment_by_name(name)
        return None if found is None else convert.experiment(found)

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with this id."""
        return convert.experiment(self.client.get_experiment(experiment_id))

    def create_experiment(self, name: str, tags: Mapping[str, str] | None = None, description: str | None = None,
                          artifact_location: str | None = None) -> str:
        """Create an experiment (the description as ``mlflow.note.content``); returns its id."""
        all_tags = {**(tags or {}), **({convert.NOTE: description} if description else {})}
        return self.client.create_experiment(name, artifact_location, all_tags)

    def set_experiment_lifecycle(self, experiment_id: str, lifecycle: str) -> None:
        """Delete or restore an experiment."""
        if lifecycle == "deleted":
            self.client.delete_experiment(experiment_id)
        else:
            self.client.restore_experiment(experiment_id)

    # -- runs ----------------------------------------------------------------------------------

    def _runs(self) -> dict[str, list[Any]]:
        """Every run of the server by logwright id (read once: its own id, or its ``logwright.run_id``)."""
        if self._index is None:
            from mlflow.entities import ViewType

            self._index = {}
            for exp in self.client.search_experiments(view_type=ViewType.ALL, max_results=50_000):
                for r in runs_of(self.client, exp.experiment_id):
                    entry = [r.info.run_id, r.info.experiment_id, r.info.status]
                    self._index[r.info.run_id] = entry
                    self._index[convert.run_id_of(r)] = entry
        return self._index

    def _id(self, run_id: str) -> str:
        return self._runs()[run_id][0]

    def run_exists(self, run_id: str) -> tuple[str, str] | None:
        """(experiment id, status) of the MLflow run standing for logwright run ``run_id``, or None."""
        entry = self._runs().get(run_id)
        return None if entry is None else (entry[1], entry[2])

    def create_run(self, record: RunRecord, tags: Mapping[str, str] | None = None) -> None:
        """Create the MLflow run for a logwright run, its fields as MLflow's system tags."""
        parent = self._runs().get(record.parent_run_id or "", [record.parent_run_id])[0]
        all_tags = convert.run_tags(record, dict(tags or {}), parent)
        long = {k for k, v in all_tags.items() if len(v) > 8000}
        self._skipped(record.run_id, "tags", long)
        made = self.client.create_run(record.experiment_id, record.start_time,
                                      {k: v for k, v in all_tags.items() if k not in long}, record.run_name)
        self._runs()[record.run_id] = [made.info.run_id, record.experiment_id, "RUNNING"]
        if record.status != "RUNNING":
            self.update_run(record.run_id, {"status": record.status})

    def update_run(self, run_id: str, fields: Mapping[str, Any]) -> None:
        """Change a run's ``status``, ``end_time``, ``run_name`` or ``description``."""
        entry = self._runs()[run_id]
        if fields.get("run_name"):
            self.client.update_run(entry[0], name=fields["run_name"])
        if fields.get("description") is not None:
            self.client.set_tag(entry[0], convert.NOTE, fields["description"])
        status = fields.get("status") or entry[2]
        if fields.get("end_time") is not None:
            self.client.set_terminated(entry[0], status, fields["end_time"])
        elif "status" in fields:
            self.client.update_run(entry[0], status=status)
        entry[2] = status

    def get_run(self, run_id: str) -> Run:
        """The MLflow run standing for logwright run ``run_id``, as logwright's."""
        found = self.client.get_run(self._id(run_id))
        parent = found.data.tags.get(convert.PARENT)
        ours = {entry[0]: key for key, entry in self._runs().items() if key != entry[0]}
        return convert.run(found, ours.get(parent, parent) if parent else None)

    def set_run_lifecycle(self, run_id: str, lifecycle: str) -> None:
        """Delete or restore a run."""
        if lifecycle == "deleted":
            self.client.delete_run(self._id(run_id))
        else:
            self.client.restore_run(self._id(run_id))

    # -- params, tags, inputs, metrics ---------------------------------------------------------

    def _skipped(self, run_id: str, what: str, keys: Any) -> None:
        if keys:
            _logger.warning("logwright: MLflow refused %s %s of run %s (too long, or a param MLflow already "
                            "holds with another value); not exported", what, ", ".join(sorted(keys)), run_id)

    def _batch(self, run_id: str, what: str, items: list[Any]) -> None:
        """Send params or tags 100 at a time; an item MLflow refuses is skipped with a warning."""
        for i in range(0, len(items), 100):
            chunk = items[i:i + 100]
            try:
                self.client.log_batch(self._id(run_id), **{what: chunk})
            except Exception:  # noqa: BLE001 - MLflow's validation errors have no narrower common type
                refused = []
                for item in chunk:
                    try:
                        self.client.log_batch(self._id(run_id), **{what: [item]})
                    except Exception:  # noqa: BLE001 - as above
                        refused.append(item.key)
                self._skipped(run_id, what, refused)

    def log_params(self, run_id: str, params: Sequence[tuple[str, str]]) -> None:
        """Log params."""
        from mlflow.entities import Param

        self._batch(run_id, "params", [Param(k, v) for k, v in params])

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Set tags."""
        from mlflow.entities import RunTag

        self._batch(run_id, "tags", [RunTag(k, v) for k, v in tags.items()])

    def log_input(self, run_id: str, name: str, digest: str, context: str | None, shape: str | None,
                  schema: str | None, source: str | None) -> None:
        """Log a dataset input."""
        dataset = convert.mlflow_dataset(Dataset(name, digest, context, shape, schema, source))
        self.client.log_inputs(self._id(run_id), [dataset])

    def log_metric(self, run_id: str, key: str, value: float, timestamp: int, step: int | None) -> None:
        """Buffer one point (sent 1,000 at a time)."""
        from mlflow.entities import Metric

        if self._metrics_run != run_id:
            self._send_metrics()
            self._metrics_run = run_id
        self._metrics.append(Metric(key, value, timestamp, step or 0))
        if len(self._metrics) >= _BATCH:
            self._send_metrics()

    def _send_metrics(self) -> None:
        if self._metrics and self._metrics_run is not None:
            self.client.log_batch(self._id(self._metrics_run), metrics=self._metrics)
        self._metrics = []

    def get_metric_series(self, run_id: str, key: str) -> tuple[array, array, array]:
        """(steps, values, timestamps) of a metric, by step then time."""
        self._send_metrics()
        points = sorted(self.client.get_metric_history(self._id(run_id), key), key=lambda m: (m.step, m.timestamp))
        return (array("q", [m.step for m in points]), array("d", [m.value for m in points]),
                array("q", [m.timestamp for m in points]))

    def artifact_repo(self, experiment_id: str, run_id: str) -> MlflowArtifacts:
        """The run's artifacts (with its logged models' files, as an import shows them)."""
        self._send_metrics()
        if experiment_id not in self._logged:
            self._logged[experiment_id] = logged_models(self.client, experiment_id)
        mlflow_id = self._id(run_id)
        return MlflowArtifacts(self.client, mlflow_id, self._logged[experiment_id].get(mlflow_id))

    def flush(self, timeout: float | None = None) -> None:
        """Send the buffered metric points."""
        self._send_metrics()

    # -- traces --------------------------------------------------------------------------------

    def get_trace(self, trace_id: str) -> Any:
        """MLflow's info of trace ``tr-<trace_id>``, or None."""
        try:
            return self.tracing.get_trace_info("tr-" + trace_id)
        except Exception:  # noqa: BLE001 - MLflow raises its own error (or a REST one) for a missing trace
            return None

    def log_trace(self, trace: Any) -> None:
        """Write a copied trace (``trace.trace``, the entity) with its id, spans and run link."""
        from mlflow.entities.trace_data import TraceData

        run = self._runs().get(trace.trace.info.run_id or "")
        info, spans = convert.mlflow_trace(trace.trace, trace.experiment_id, run[0] if run else None)
        try:
            self.tracing.log_spans(trace.experiment_id, spans)
        except NotImplementedError:
            pass  # a store without span logging (the file store) keeps spans as an artifact, below
        returned = self.tracing.start_trace(info)
        if returned.tags.get("mlflow.trace.spansLocation") != "TRACKING_STORE":
            self.tracing._upload_trace_data(returned, TraceData(spans=spans))
