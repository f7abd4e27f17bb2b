"""An MLflow tracking server read as a logwright store (the reads :class:`StoreCopier` makes of SRC).

Everything is read through MLflow's own client (``MlflowClient`` and its tracing
client), so any tracking URI MLflow reads works: an ``mlruns`` folder, ``sqlite:///``,
``postgresql://``, ``http(s)://`` servers. Runs and traces come back as logwright
entities (:mod:`logwright.mlflow_io.convert`); artifacts are listed and downloaded one
file at a time.
"""

from __future__ import annotations

import logging
import os
from array import array
from typing import Any

from logwright.entities import Experiment, FileInfo, Run, Trace
from logwright.mlflow_io import convert

_logger = logging.getLogger(__name__)
_PAGE = 1000
MODELS = "mlflow-models"  # where an MLflow 3 logged model's files go among its run's artifacts


def client_for(uri: str) -> Any:
    """An ``MlflowClient`` for ``uri`` (a plain folder is MLflow's file store, which MLflow 3 asks to opt into)."""
    from mlflow import MlflowClient

    if "://" not in uri and not uri.startswith("file:"):
        uri = "file://" + os.path.abspath(os.path.expanduser(uri))
    if uri.startswith("file:"):
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # "View run at ..." on each end
    return MlflowClient(tracking_uri=uri, registry_uri="")


def runs_of(client: Any, experiment_id: str) -> list[Any]:
    """Every MLflow run of an experiment, deleted ones included."""
    from mlflow.entities import ViewType

    out: list[Any] = []
    token = None
    while True:
        page = client.search_runs([experiment_id], run_view_type=ViewType.ALL, max_results=_PAGE,
                                  page_token=token)
        out += page
        token = page.token
        if not token:
            return out


def _files(listing: Any, prefix: str = "") -> list[FileInfo]:
    """Every file under a listing function's root (``listing(path)`` -> MLflow FileInfos), with ``prefix``."""
    out, todo = [], [None]
    while todo:
        for f in listing(todo.pop()):
            if f.is_dir:
                todo.append(f.path)
            else:
                out.append(FileInfo(prefix + f.path, False, f.file_size))
    return out


def logged_models(client: Any, experiment_id: str) -> dict[str, list[Any]]:
    """MLflow 3 logged models of an experiment by the MLflow run that logged them."""
    by_run: dict[str, list[Any]] = {}
    token = None
    while True:
        try:
            page = client.search_logged_models([experiment_id], max_results=_PAGE, page_token=token)
        except Exception:  # noqa: BLE001 - a server or store without logged models
            _logger.debug("no logged models read from experiment %s", experiment_id, exc_info=True)
            return by_run
        for model in page:
            if model.source_run_id:
                by_run.setdefault(model.source_run_id, []).append(model)
        token = page.token
        if not token:
            return by_run


def model_folders(models: list[Any]) -> dict[str, Any]:
    """``mlflow-models/<name>/`` (``<name>-<model id>`` where a run logged the name twice) -> logged model."""
    names = [m.name for m in models]
    return {f"{MODELS}/{m.name if names.count(m.name) == 1 else f'{m.name}-{m.model_id}'}/": m for m in models}


def _pages(search: Any) -> list[Any]:
    """Every result of an MLflow search taking a page token."""
    out: list[Any] = []
    token = None
    while True:
        page = search(token)
        out += page
        token = page.token
        if not token:
            return out


class MlflowArtifacts:
    """One MLflow run's artifacts, as the copier uses an artifact repository.

    Args:
        client: the ``MlflowClient``.
        run_id: the MLflow run.
        models: MLflow 3 logged models of the run (their files live outside the run's
            artifacts): shown under ``mlflow-models/<name>/``.
    """

    def __init__(self, client: Any, run_id: str, models: list[Any] | None = None) -> None:
        self.client, self.run_id = client, run_id
        self.models = model_folders(models or [])

    def walk(self) -> list[FileInfo]:
        """Every file of the run (and of its logged models), paths relative to its artifact root."""
        out = _files(lambda path: self.client.list_artifacts(self.run_id, path))
        for prefix, model in self.models.items():
            out += _files(lambda path, m=model: self.client.list_logged_model_artifacts(m.model_id, path), prefix)
        return sorted(out, key=lambda f: f.path)

    def download(self, path: str, folder: str) -> str:
        """Download one file into ``folder``; returns its local path."""
        for prefix, model in self.models.items():
            if path.startswith(prefix):
                from mlflow.artifacts import download_artifacts

                into = os.path.join(folder, os.path.dirname(path))
                os.makedirs(into, exist_ok=True)
                return download_artifacts(artifact_uri=f"{model.artifact_location.rstrip('/')}/{path[len(prefix):]}",
                                          dst_path=into)
        return self.client.download_artifacts(self.run_id, path, folder)

    def log_file(self, local: str, folder: str | None) -> None:
        """Upload one local file under ``folder`` of the run's artifacts."""
        self.client.log_artifact(self.run_id, local, folder)


class MlflowSource:
    """A read-only view of an MLflow tracking server with the Store reads the copier makes.

    Args:
        uri: the MLflow tracking URI.
    """

    read_only = True

    def __init__(self, uri: str) -> None:
        from mlflow.tracing.client import TracingClient

        self.location = uri
        self.client = client_for(uri)
        self.tracing = TracingClient(self.client.tracking_uri)
        self._runs: dict[str, list[Run]] = {}  # experiment id -> runs
        self._mlflow_ids: dict[str, str] = {}  # logwright run id -> MLflow run id
        self._our_ids: dict[str, str] = {}  # MLflow run id -> logwright run id
        self._traces: dict[str, list[Any]] = {}  # experiment id -> MLflow trace infos
        self._keys: dict[str, list[str]] = {}  # logwright run id -> metric keys
        self._logged: dict[str, dict[str, list[Any]]] = {}  # experiment id -> MLflow run id -> logged models

    def search_experiments(self, view: str = "active", name_like: str | None = None) -> list[Experiment]:
        """Every experiment (``view`` ignored: the copier asks for all), oldest first."""
        from mlflow.entities import ViewType

        found = self.client.search_experiments(view_type=ViewType.ALL, max_results=50_000)
        exps = [convert.experiment(e) for e in found]
        return sorted(exps, key=lambda e: (e.creation_time, e.experiment_id))

    def search_runs(self, experiment_ids: Any, filter_string: Any = None, order_by: Any = None,
                    max_results: int = 1000, offset: int = 0, view: str = "all") -> list[Run]:
        """Runs of one experiment, paged by offset (all are read on the first page)."""
        (exp_id,) = experiment_ids
        if exp_id not in self._runs:
            self._runs[exp_id] = self._read_runs(exp_id)
        return self._runs[exp_id][offset:offset + max_results]

    def _read_runs(self, experiment_id: str) -> list[Run]:
        found = runs_of(self.client, experiment_id)
        for r in found:
            self._keys[self._remember(r)] = sorted(r.data.metrics)
        return [convert.run(r, self._our_id(r.data.tags.get(convert.PARENT))) for r in found]

    def _remember(self, mlflow_run: Any) -> str:
        ours = convert.run_id_of(mlflow_run)
        self._mlflow_ids[ours] = mlflow_run.info.run_id
        self._our_ids[mlflow_run.info.run_id] = ours
        return ours

    def _our_id(self, mlflow_id: str | None) -> str | None:
        """The logwright id of an MLflow run id (a run of another experiment is looked up)."""
        if not mlflow_id:
            return None
        if mlflow_id not in self._our_ids:
            try:
                self._remember(self.client.get_run(mlflow_id))
            except Exception:  # noqa: BLE001 - a parent or source run gone from MLflow: keep its id
                return mlflow_id
        return self._our_ids[mlflow_id]

    def metric_keys(self, run_id: str) -> list[str]:
        """Keys of every metric of a run."""
        return self._keys[run_id]

    def get_metric_series(self, run_id: str, key: str) -> tuple[array, array, array]:
        """(steps, values, timestamps) of a metric's whole history, by step then time."""
        points = self.client.get_metric_history(self._mlflow_ids[run_id], key)
        points = sorted(points, key=lambda m: (m.step, m.timestamp))
        return (array("q", [m.step for m in points]), array("d", [m.value for m in points]),
                array("q", [m.timestamp for m in points]))

    def artifact_repo(self, experiment_id: str, run_id: str) -> MlflowArtifacts:
        """The run's artifacts and its logged models' files, through MLflow's artifact repositories."""
        mlflow_id = self._mlflow_ids[run_id]
        return MlflowArtifacts(self.client, mlflow_id, self._models(experiment_id).get(mlflow_id))

    def _models(self, experiment_id: str) -> dict[str, list[Any]]:
        if experiment_id not in self._logged:
            self._logged[experiment_id] = logged_models(self.client, experiment_id)
        return self._logged[experiment_id]

    # -- the model registry (read by store/copy_registry.py) ---------------------------------------

    def search_registered_models(self, filter_string: str | None = None, max_results: int = 1000) -> list[Any]:
        """Every registered model of MLflow's registry (prompts left out), as logwright's."""
        found = _pages(lambda token: self.client.search_registered_models(None, 1000, page_token=token))
        return [convert.registered_model(m) for m in found if not getattr(m, "_is_prompt", lambda: False)()]

    def search_model_versions(self, filter_string: str | None = None, max_results: int = 1000) -> list[Any]:
        """Versions matching an MLflow registry filter (``name = '...'``), pointing at the imported runs."""
        found = _pages(lambda token: self.client.search_model_versions(filter_string, 10_000, page_token=token))
        return [self._version(v) for v in found]

    def _version(self, v: Any) -> Any:
        """A version whose source is a logged model or ``runs:/`` path, as ``runs:/<our run id>/<path>``."""
        path = None
        run = v.run_id
        source = v.source or ""
        model_id = v.model_id or (source[len("models:/"):].split("/")[0] if source.startswith("models:/m-") else None)
        if model_id:
            try:
                model = self.client.get_logged_model(model_id)
            except Exception:  # noqa: BLE001 - a version of a model gone from MLflow: keep its source
                model = None
            if model is not None and model.source_run_id:
                run = model.source_run_id
                folders = model_folders(self._models(model.experiment_id).get(run, []))
                path = next((p.rstrip("/") for p, m in folders.items() if m.model_id == model_id), None)
        elif source.startswith("runs:/") and source.count("/") >= 2:
            run, path = source[len("runs:/"):].split("/", 1)
        return convert.model_version(v, self._our_id(run), path)

    def _trace_infos(self, experiment_id: str) -> list[Any]:
        if experiment_id not in self._traces:
            out: list[Any] = []
            token = None
            while True:
                page = self.tracing.search_traces(locations=[experiment_id], max_results=500, page_token=token,
                                                  include_spans=False)
                out += [t.info for t in page]
                token = page.token
                if not token:
                    break
            self._traces[experiment_id] = sorted(out, key=lambda i: (i.request_time, i.trace_id))
        return self._traces[experiment_id]

    def trace_counts(self) -> dict[str, int]:
        """Per experiment id: how many traces it has."""
        return {e.experiment_id: len(self._trace_infos(e.experiment_id)) for e in self.search_experiments()}

    def search_traces(self, experiment_ids: Any = None, run_id: Any = None, filter_string: Any = None,
                      order_by: Any = None, max_results: int = 100, offset: int = 0) -> list[Trace]:
        """Traces of one experiment with their spans, paged by offset, oldest first."""
        (exp_id,) = experiment_ids
        out = []
        for info in self._trace_infos(exp_id)[offset:offset + max_results]:
            full = self.tracing.get_trace(info.trace_id)
            out.append(convert.trace(full, self._our_id(full.info.trace_metadata.get("mlflow.sourceRun"))))
        return out

    def flush(self, timeout: float | None = None) -> None:
        """Nothing to flush: this side is only read."""
