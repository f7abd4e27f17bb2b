"""The module-level API: an active-run stack per thread/asyncio task, and ``log_*`` on it.

The stack lives in a context variable, so each thread and asyncio task has its
own; a thread started without a copied context falls back to the newest run
still active in the process, so worker threads log into the run that started
them. Runs left RUNNING at interpreter exit are ended: FINISHED, or FAILED when
the exit is an uncaught exception.
"""

from __future__ import annotations

import atexit
import contextvars
import functools
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from logwright import config
from logwright.client import Client
from logwright.entities import Dataset, Experiment, FileInfo, Metric, Run, RunStatus
from logwright.exceptions import ExperimentDeleted, RunDeleted
from logwright.fluent_search import search_experiments as search_experiments
from logwright.fluent_search import search_runs as search_runs

_logger = logging.getLogger(__name__)

_tracking_uri: str | None = None
_artifact_uri: str | None = None
_experiment_id: str | None = None
_clients: dict[tuple[str | None, str | None], Client] = {}
_stack: contextvars.ContextVar[tuple[ActiveRun, ...]] = contextvars.ContextVar(
    "logwright_active_runs", default=()
)
_process_runs: list[ActiveRun] = []  # every run started and not yet ended, oldest first
_lock = threading.RLock()  # re-entrant: the SIGTERM handler may run while it is held
_state: dict[str, Any] = {"announced": False, "exit_hooked": False, "sigterm_hooked": False, "crashed": None}
_SIGTERM_FLUSH_S = 10.0  # what a SIGTERM waits for the store (container runtimes kill ~30 s later)
# Called with a run just before it ends (end_run, a with block, interpreter exit), so an
# integration can flush what it buffers (logwright_torch's per-step losses). Must not raise.
_before_end: list[Callable[[ActiveRun], None]] = []


class ActiveRun:
    """A started run; a context manager that ends it (FAILED on exception, KILLED on Ctrl-C).

    Attributes:
        info: the run's :class:`~logwright.entities.RunInfo` at start.
        client: the :class:`Client` the run logs through.
    """

    def __init__(self, run: Run, client: Client, owned_by_autolog: bool = False) -> None:
        self._run = run
        self.client = client
        self.info = run.info
        self.owned_by_autolog = owned_by_autolog
        self.ended = False
        self.system_metrics: Any = None

    @property
    def data(self) -> Any:
        """What has been logged so far (read from the store)."""
        return self.client.get_run(self.info.run_id).data

    @property
    def run_id(self) -> str:
        """The run's id."""
        return self.info.run_id

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        if exc is not None:
            self.client.set_tags(
                self.info.run_id,
                {"logwright.error": f"{exc_type.__name__}: {exc}"[:8000]},
            )
        _end(self, status)

    def __repr__(self) -> str:
        return f"<ActiveRun {self.info.run_name!r} id={self.info.run_id}>"


# -- configuration ---------------------------------------------------------------------


def set_tracking_uri(uri: str | os.PathLike[str], artifact_uri: str | os.PathLike[str] | None = None) -> None:
    """Send everything that follows to ``uri``: a folder or ``sqlite:///path/file.db``.

    Args:
        uri: the tracking store.
        artifact_uri: where experiments created from now on keep their runs' files: a
            folder or ``s3://bucket/prefix`` (default: ``LOGWRIGHT_ARTIFACT_URI``, else the
            store's own ``artifacts`` folder). Each experiment records its location.
    """
    global _tracking_uri, _artifact_uri, _experiment_id
    _tracking_uri = os.fspath(uri)
    _artifact_uri = None if artifact_uri is None else os.fspath(artifact_uri)
    _experiment_id = None


def get_artifact_uri() -> str | None:
    """The artifact root of new experiments (None: each store's own ``artifacts`` folder)."""
    return _artifact_uri or config.text(config.ARTIFACT_URI)


def get_tracking_uri() -> str | None:
    """The tracking URI in use (None means the default ``./logwright-runs`` folder)."""
    return _tracking_uri or config.text(config.TRACKING_URI)


def _client() -> Client:
    key = (get_tracking_uri(), get_artifact_uri())
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = Client(*key)
    return client


def set_experiment(experiment_name: str | None = None, experiment_id: str | None = None, *,
                   name: str | None = None) -> Experiment:
    """Make an experiment the one new runs go to (MLflow's ``set_experiment``).

    Args:
        experiment_name: its name; created when missing.
        experiment_id: its id (must exist).
        name: the same as ``experiment_name``.

    Raises:
        ExperimentDeleted: the experiment is deleted (restore it first), as in MLflow.
        ExperimentNotFound: ``experiment_id`` does not exist.
    """
    global _experiment_id
    client = _client()
    name = experiment_name if experiment_name is not None else name
    if experiment_id is not None:
        exp = client.get_experiment(str(experiment_id))
    elif name is not None:
        found = client.get_experiment_by_name(name)
        exp = found if found is not None else client.get_experiment(client.create_experiment(name))
    else:
        raise ValueError("set_experiment needs an experiment_name or an experiment_id")
    if exp.lifecycle_stage == "deleted":
        raise ExperimentDeleted(exp.name)
    _experiment_id = exp.experiment_id
    return exp


def _current_experiment_id(client: Client) -> str:
    return _experiment_id or client.create_experiment(
        os.environ.get("LOGWRIGHT_EXPERIMENT_NAME") or "Default"
    )


# -- run lifecycle ---------------------------------------------------------------------


def active_run() -> ActiveRun | None:
    """The innermost run active in this thread or task (or the process's newest), or None."""
    stack = _stack.get()
    if stack:
        return stack[-1]
    return _process_runs[-1] if _process_runs else None


def last_active_run() -> ActiveRun | Run | None:
    """The run active now, else the run that ended last in this process (MLflow's twin).

    After an autologged call (``model.fit(X, y)``) this is the run that call made, so
    a script can print and reload its own run without searching the store.

    Returns:
        :func:`active_run` when a run is active; otherwise the :class:`Run` (read from
        the store, so with everything it logged) that this process ended last; None
        when this process has started no run.
    """
    active = active_run()
    if active is not None:
        return active
    last = _state.get("last_ended")
    return None if last is None else last.client.get_run(last.info.run_id)


def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
    log_system_metrics: bool | None = None,
    parent_run_id: str | None = None,
) -> ActiveRun:
    """Start a run (or resume ``run_id``) and make it active; use it as a context manager.

    Leaving the ``with`` block ends the run FINISHED, FAILED if an exception escaped
    (its type and message go in the ``logwright.error`` tag), KILLED on KeyboardInterrupt.

    Resuming (``run_id=``) sets the run RUNNING again and applies ``run_name``, ``tags``
    and ``description``, as MLflow does; the returned run reads RUNNING.

    Raises:
        RuntimeError: a run is already active and ``nested`` is False.
        RunNotFound: ``run_id`` does not exist.
        RunDeleted: ``run_id`` is deleted.
    """
    client = _client()
    stack = _stack.get()
    if stack and not nested and run_id is None:
        raise RuntimeError(
            f"run {stack[-1].info.run_id} is already active; end it with end_run() "
            "or start this one with nested=True"
        )
    parent = parent_run_id or (stack[-1].info.run_id if stack and nested else None)
    if run_id is not None:
        run = _resume(client, run_id, run_name, tags, description)
    else:
        exp = str(experiment_id) if experiment_id is not None else _current_experiment_id(client)
        run = client.create_run(exp, tags=tags, run_name=run_name, parent_run_id=parent, description=description)
    active = _push(ActiveRun(run, client))
    if log_system_metrics or (log_system_metrics is None and config.flag(config.SYSTEM_METRICS)):
        _start_system_metrics(active)
    return active


def _resume(client: Client, run_id: str, run_name: str | None, tags: Mapping[str, Any] | None,
            description: str | None) -> Run:
    run = client.get_run(run_id)
    if run.info.lifecycle_stage == "deleted":
        raise RunDeleted(run_id)
    client.update_run(run_id, status=RunStatus.RUNNING, name=run_name, description=description)
    if tags:
        client.set_tags(run_id, tags)
    info = replace(run.info, status=RunStatus.RUNNING, end_time=None,
                   run_name=run_name or run.info.run_name,
                   description=description if description is not None else run.info.description)
    return replace(run, info=info, data=replace(run.data, tags={**run.data.tags, **(tags or {})}))


def _start_system_metrics(active: ActiveRun) -> None:
    try:
        from logwright.context.system import SystemMetricsSampler
    except ImportError:
        _logger.warning("system metrics need logwright.context.system (not available)")
        return
    active.system_metrics = SystemMetricsSampler(active.client, active.info.run_id)
    active.system_metrics.start()


def _push(active: ActiveRun) -> ActiveRun:
    _stack.set((*_stack.get(), active))
    with _lock:
        _process_runs.append(active)
    if not _state["exit_hooked"]:
        _hook_exit()
    if not _state["sigterm_hooked"]:
        _hook_sigterm()
    return active


def end_run(status: str = RunStatus.FINISHED) -> None:
    """End the innermost active run with ``status``; its data is durable when this returns."""
    run = active_run()
    if run is not None:
        _end(run, status)


def _end(active: ActiveRun, status: str, wait: bool = True) -> None:
    if active.ended:
        return
    for callback in list(_before_end):
        callback(active)
    active.ended = True
    try:
        if active.system_metrics is not None:
            active.system_metrics.stop()
    finally:  # a Ctrl-C in here still ends the run and leaves no stale stack entry
        stack = _stack.get()
        if active in stack:
            _stack.set(tuple(r for r in stack if r is not active))
        with _lock:
            if active in _process_runs:
                _process_runs.remove(active)
            _state["last_ended"] = active
        active.client.set_terminated(active.info.run_id, status, flush=wait)


def _run_for_logging(run_id: str | None = None) -> tuple[Client, str]:
    if run_id is not None:
        return _client(), run_id
    run = active_run()
    if run is None:
        run = start_run()
        if not _state["announced"]:
            _state["announced"] = True
            _logger.warning(
                "logwright: no active run, started run %s (%s); end it with end_run()",
                run.info.run_id,
                run.info.run_name,
            )
    return run.client, run.info.run_id


# -- logging ---------------------------------------------------------------------------


def log_param(key: str, value: Any, run_id: str | None = None) -> Any:
    """Log a write-once param into the active run; returns ``value``."""
    client, rid = _run_for_logging(run_id)
    client.log_params(rid, {key: value})
    return value


def log_params(params: Mapping[str, Any], run_id: str | None = None) -> None:
    """Log several params into the active run."""
    client, rid = _run_for_logging(run_id)
    client.log_params(rid, params)


def log_metric(key: str, value: float, step: int | None = None, timestamp: int | None = None,
               run_id: str | None = None) -> None:
    """Append a metric point to the active run; ``step=None`` takes that key's next step."""
    stack = _stack.get()
    if stack and run_id is None:
        active = stack[-1]
        active.client.log_metric(active.info.run_id, key, value, timestamp, step)
        return
    client, rid = _run_for_logging(run_id)
    client.log_metric(rid, key, value, timestamp, step)


def log_metrics(metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None,
                run_id: str | None = None) -> None:
    """Log several metrics at one step into the active run."""
    client, rid = _run_for_logging(run_id)
    client.log_metrics(rid, metrics, step, timestamp)


def set_tag(key: str, value: Any, run_id: str | None = None) -> None:
    """Set a tag on the active run."""
    client, rid = _run_for_logging(run_id)
    client.set_tags(rid, {key: value})


def set_tags(tags: Mapping[str, Any], run_id: str | None = None) -> None:
    """Set several tags on the active run."""
    client, rid = _run_for_logging(run_id)
    client.set_tags(rid, tags)


def delete_tag(key: str, run_id: str | None = None) -> None:
    """Remove a tag from the active run."""
    client, rid = _run_for_logging(run_id)
    client.delete_tag(rid, key)


def log_artifact(local_path: str, artifact_path: str | None = None, run_id: str | None = None) -> str:
    """Copy a file into the active run's artifacts (under ``artifact_path``)."""
    client, rid = _run_for_logging(run_id)
    return client.log_artifact(rid, local_path, artifact_path)


def log_artifacts(local_dir: str, artifact_path: str | None = None, run_id: str | None = None) -> str:
    """Copy a folder's contents into the active run's artifacts."""
    client, rid = _run_for_logging(run_id)
    return client.log_artifacts(rid, local_dir, artifact_path)


def log_text(text: str, artifact_file: str, run_id: str | None = None) -> str:
    """Write ``text`` as an artifact file of the active run."""
    client, rid = _run_for_logging(run_id)
    return client.log_text(rid, text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str, run_id: str | None = None) -> str:
    """Write a dict as a JSON (or YAML) artifact of the active run."""
    client, rid = _run_for_logging(run_id)
    return client.log_dict(rid, dictionary, artifact_file)


def log_figure(figure: Any, artifact_file: str, run_id: str | None = None) -> str:
    """Save a matplotlib or plotly figure as an artifact of the active run."""
    client, rid = _run_for_logging(run_id)
    return client.log_figure(rid, figure, artifact_file)


def log_input(dataset: Dataset | Any, name: str | None = None, context: str | None = None,
              source: str | None = None, run_id: str | None = None) -> Dataset:
    """Record a dataset (name, digest, shape, schema, source) as an input of the active run."""
    client, rid = _run_for_logging(run_id)
    return client.log_input(rid, dataset, name=name, context=context, source=source)


# -- reading ---------------------------------------------------------------------------


def get_run(run_id: str) -> Run:
    """A run with its params, tags and latest metrics (raises RunNotFound)."""
    return _client().get_run(run_id)


def get_metric_history(run_id: str, key: str) -> list[Metric]:
    """Every point of one metric of a run, by step."""
    return _client().get_metric_history(run_id, key)


def list_artifacts(run_id: str, path: str | None = None) -> list[FileInfo]:
    """Artifacts directly under ``path`` of a run."""
    return _client().list_artifacts(run_id, path)


def delete_run(run_id: str) -> None:
    """Hide a run from searches; :func:`restore_run` undoes it."""
    _client().delete_run(run_id)


def restore_run(run_id: str) -> None:
    """Bring back a deleted run."""
    _client().restore_run(run_id)


def flush() -> None:
    """Make everything logged so far (metrics, params, tags, spans) durable."""
    from logwright.store.writer import flush_all

    tracing = sys.modules.get("logwright.tracing")  # never import tracing just to flush
    flush_spans = getattr(tracing, "flush_spans", None)
    if flush_spans is not None:
        flush_spans()
    flush_all()
    from logwright.client import wait_for_context_files
    from logwright.store import open_stores

    wait_for_context_files(60.0)

    for store in open_stores():  # an http:// store also waits for the server's acknowledgement
        store.flush()


# -- interpreter exit ------------------------------------------------------------------


def _hook_exit() -> None:
    with _lock:
        if _state["exit_hooked"]:
            return
        _state["exit_hooked"] = True
    previous = sys.excepthook

    def _record_crash(exc_type: Any, exc: Any, tb: Any) -> None:
        killed = issubclass(exc_type, KeyboardInterrupt)
        _state["crashed"] = RunStatus.KILLED if killed else RunStatus.FAILED
        previous(exc_type, exc, tb)

    sys.excepthook = _record_crash
    atexit.register(_end_all_at_exit)


def _hook_sigterm() -> None:
    """On SIGTERM, end active runs KILLED and flush, then do what the signal did before.

    A handler the user or a framework installed is called after ours; when it
    returns (a graceful-shutdown flag, as Lightning's), the runs stay active and only
    the flush happens, so the program can go on logging. Only the main thread may
    install handlers; elsewhere, and where SIGTERM is ignored, nothing is installed.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        return  # tried again by the next run started in the main thread
    _state["sigterm_hooked"] = True
    try:
        previous = signal.getsignal(signal.SIGTERM)
        ours = isinstance(previous, functools.partial) and previous.func is _on_sigterm
        if previous is signal.SIG_IGN or ours:
            return
        signal.signal(signal.SIGTERM, functools.partial(_on_sigterm, previous))
    except (ValueError, OSError) as exc:  # embedded interpreters, odd platforms
        _logger.debug("logwright could not hook SIGTERM: %s", exc)


def _on_sigterm(previous: Any, signum: int, frame: Any) -> None:
    if callable(previous):
        _state["crashed"] = RunStatus.KILLED
        try:
            previous(signum, frame)
        except BaseException:
            _end_all(RunStatus.KILLED, "SIGTERM", _SIGTERM_FLUSH_S)
            raise
        _state["crashed"] = None
        _flush_quietly(_SIGTERM_FLUSH_S)
        return
    _end_all(RunStatus.KILLED, "SIGTERM", _SIGTERM_FLUSH_S)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)  # die of the signal, as without logwright


def _end_all(status: str, reason: str | None = None, timeout: float | None = None) -> None:
    """End every run still active in the process, then flush once (up to ``timeout`` s)."""
    with _lock:
        left = list(reversed(_process_runs))
    for run in left:
        try:
            if reason is not None:
                run.client.set_tags(run.info.run_id, {"logwright.error": reason})
            _end(run, status, wait=False)
        except Exception as exc:  # noqa: BLE001 - exit path: report, never raise
            _logger.warning("logwright could not end run %s: %s", run.info.run_id, exc)
    _flush_quietly(timeout)


def _flush_quietly(timeout: float | None) -> None:
    from logwright.store.writer import flush_all

    try:
        tracing = sys.modules.get("logwright.tracing")
        flush_spans = getattr(tracing, "flush_spans", None)
        if flush_spans is not None:
            flush_spans()
        flush_all(timeout)
    except Exception as exc:  # noqa: BLE001 - exit and signal paths: report, never raise
        _logger.warning("logwright could not write its last records: %s", exc)


def _end_all_at_exit() -> None:
    _end_all(_state["crashed"] or RunStatus.FINISHED)
    from logwright.store.writer import close_all

    close_all()


def _reset_for_tests() -> None:
    """Forget every active run and cached client (used by logwright.testing)."""
    global _tracking_uri, _artifact_uri, _experiment_id
    _stack.set(())
    with _lock:
        _process_runs.clear()
        _state.pop("last_ended", None)
    _tracking_uri = None
    _artifact_uri = None
    _experiment_id = None
    _clients.clear()
