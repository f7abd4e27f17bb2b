"""``logwright store copy SRC DST``: copy a whole store into another, through the Store protocol.

Everything goes through :class:`~logwright.store.base.Store` reads and writes and the
artifact repositories (:mod:`logwright.artifacts`), so any pair of stores works:
SQLite to SQLite, a folder's artifacts to ``s3://``, and any other implementation of
the protocol.

What is copied: experiments (matched by name: an experiment of the same name in DST
receives SRC's runs; a new one gets DST's next id and ``--artifact-uri``'s location),
runs with their ids, names, status, start and end times, parents, users, sources,
descriptions, context and lifecycle, params, tags, dataset inputs, full metric
histories (steps, values including NaN and infinities, timestamps), traces with
their ids and spans, and every artifact file (a model's MODEL.json after its other
files).

Idempotent and resumable: each part is compared with what DST already holds and
only what is missing is written (a metric's points are appended after the prefix DST
has; an artifact file is copied when missing or of another size). A second copy
copies nothing; a copy stopped by Ctrl-C (or killed) is finished by running the same
command again.

The copier only uses the Store methods listed in :class:`StoreCopier`'s docstring, so
anything that offers them can stand on either side: ``logwright sync`` runs it between
two logwright stores, and ``logwright import mlflow`` / ``export mlflow``
(:mod:`logwright.mlflow_io`) run it with an MLflow tracking server on one side. A side
whose artifacts are not a folder or ``s3://`` offers ``artifact_repo(experiment_id,
run_id)``: an object with ``walk()``, ``download(path, folder)`` and ``log_file(local,
folder)``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import posixpath
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from logwright.artifacts import for_uri
from logwright.entities import Experiment, Run, Trace
from logwright.store.base import RunRecord, Store
from logwright.store.copy_registry import copy_registry

_logger = logging.getLogger(__name__)
_PAGE = 500
_MARKER = "MODEL.json"


@dataclass
class Counts:
    """What one copy wrote."""

    experiments: int = 0
    runs: int = 0
    updated_runs: int = 0
    params: int = 0
    tags: int = 0
    inputs: int = 0
    metric_points: int = 0
    traces: int = 0
    artifact_files: int = 0
    registered_models: int = 0
    model_versions: int = 0
    registry_updates: int = 0
    artifact_bytes: int = 0

    def total(self) -> int:
        """How many things were written (0: DST already held everything)."""
        return sum(getattr(self, f.name) for f in fields(self) if f.name != "artifact_bytes")

    def line(self, verb: str = "copied") -> str:
        """One line for the terminal, starting with ``verb``."""
        parts = [f"{getattr(self, f.name):,} {f.name.replace('_', ' ')}" for f in fields(self)
                 if f.name != "artifact_bytes"]
        return f"{verb} " + ", ".join(parts) + f" ({self.artifact_bytes:,} artifact bytes)"


class Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, total: int, enabled: bool | None = None) -> None:
        self.total, self.done = total, 0
        self.enabled = sys.stderr.isatty() if enabled is None else enabled

    def step(self, what: str) -> None:
        """One more run or trace done."""
        self.done += 1
        if self.enabled:
            width = 30
            filled = width * self.done // max(self.total, 1)
            sys.stderr.write(f"\r[{'#' * filled}{'-' * (width - filled)}] {self.done}/{self.total} {what[:40]:<40}")
            sys.stderr.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


class _TraceCopy:
    """A stored trace handed to ``Store.log_trace``: ``trace_id``, ``approx_bytes``, ``to_record()``.

    ``trace`` (the entity) and ``experiment_id`` (DST's) serve a destination that is not a
    logwright store.
    """

    def __init__(self, trace: Trace, experiment_id: str) -> None:
        self.trace_id = trace.trace_id
        self.trace, self.experiment_id = trace, experiment_id
        self._record = encode_trace(trace, experiment_id)
        self.approx_bytes = len(self._record.spans or b"") + len(self._record.inputs or "") + \
            len(self._record.outputs or "") + 200

    def to_record(self) -> Any:
        """The trace's record (see :mod:`logwright.tracing.records`)."""
        return self._record

    def late_record(self, span: Any) -> Any:
        """Never called: a copied trace has no spans still open."""
        raise RuntimeError("a copied trace has no late spans")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=True, separators=(",", ":"))


def encode_trace(trace: Trace, experiment_id: str) -> Any:
    """The :class:`~logwright.tracing.records.TraceRecord` that stores ``trace`` again, in experiment
    ``experiment_id`` (every span as a full array, see :mod:`logwright.tracing.records`)."""
    from logwright.store.trace_blob import SPAN_KIND, pack
    from logwright.tracing.records import TraceRecord

    spans = []
    root = None
    for s in trace.spans:
        attrs = {k: v for k, v in s.attributes.items() if k != SPAN_KIND} or None
        events = [[e.name, e.timestamp_ns, e.attributes or None] for e in s.events] or None
        spans.append([s.span_id, s.parent_id, s.name, s.kind, s.start_ns, s.end_ns, s.status, s.status_message,
                      attrs, events, s.inputs, s.outputs])
        if root is None and s.parent_id is None:
            root = s
    info = trace.info
    blob = pack(_json(spans).encode("utf-8", "surrogatepass"))
    inputs = None if root is None or root.inputs is None else _json(root.inputs)
    outputs = None if root is None or root.outputs is None else _json(root.outputs)
    return TraceRecord(info.trace_id, int(experiment_id), info.run_id, info.name, info.status, info.start_ns,
                       info.end_ns, info.input_tokens, info.output_tokens, info.total_tokens, info.span_count,
                       inputs, outputs, blob, sorted(info.tags.items()))


class StoreCopier:
    """Copies one store into another (see the module docstring).

    SRC is read with ``search_experiments``, ``search_runs``, ``metric_keys``,
    ``get_metric_series``, ``search_traces``, ``trace_counts`` and ``artifact_dir`` (or
    ``artifact_repo``); DST is read with ``get_experiment_by_name``, ``get_experiment``,
    ``run_exists``, ``get_run``, ``get_metric_series``, ``get_trace`` and written with
    ``create_experiment``, ``set_experiment_lifecycle``, ``create_run``, ``update_run``,
    ``set_tags``, ``log_params``, ``log_input``, ``log_metric``, ``log_trace``,
    ``set_run_lifecycle`` and ``flush``.

    Args:
        src: the store read from.
        dst: the store written to.
        artifact_uri: artifact root of experiments created in DST (None: DST's default).
        progress: the progress bar (None: none).
        experiments: names of the experiments to copy (None: all).
    """

    def __init__(self, src: Store, dst: Store, artifact_uri: str | None = None,
                 progress: Progress | None = None, experiments: Sequence[str] | None = None) -> None:
        self.src, self.dst, self.artifact_uri = src, dst, artifact_uri
        self.progress = progress
        self.names = set(experiments) if experiments else None
        self.counts = Counts()
        self._lifecycles: list[tuple[str, str]] = []  # (run id, lifecycle) to set once the runs are durable

    # -- plan ---------------------------------------------------------------------------

    def experiments(self) -> list[Experiment]:
        """Every experiment of SRC (or those named), deleted ones included, oldest first."""
        found = self.src.search_experiments("all")
        return found if self.names is None else [e for e in found if e.name in self.names]

    def runs(self, experiment_id: str) -> list[Run]:
        """Every run of an experiment of SRC (deleted ones included), parents first."""
        out: list[Run] = []
        while True:
            page = self.src.search_runs([experiment_id], None, None, _PAGE, len(out), "all")
            out += page
            if len(page) < _PAGE:
                break
        return parents_first(out)

    def copy(self) -> Counts:
        """Copy everything; returns what was written."""
        for exp in self.experiments():
            dst_id = self._experiment(exp)
            for run in self.runs(exp.experiment_id):
                self._run(run, dst_id)
                self._step(f"run {run.info.run_id[:12]}")
            self._traces(exp.experiment_id, dst_id)
            if exp.lifecycle_stage != "active" and \
                    self.dst.get_experiment(dst_id).lifecycle_stage != exp.lifecycle_stage:
                self.dst.set_experiment_lifecycle(dst_id, exp.lifecycle_stage)
        self.dst.flush()
        for run_id, lifecycle in self._lifecycles:
            self.dst.set_run_lifecycle(run_id, lifecycle)
        copy_registry(self)
        return self.counts

    def _step(self, what: str) -> None:
        if self.progress is not None:
            self.progress.step(what)

    # -- experiments and runs ------------------------------------------------------------

    def _experiment(self, exp: Experiment) -> str:
        found = self.dst.get_experiment_by_name(exp.name)
        if found is not None:
            return found.experiment_id
        location = None
        if self.artifact_uri:
            from logwright.artifacts import experiment_location

            location = experiment_location(self.artifact_uri, exp.name)
        self.counts.experiments += 1
        return self.dst.create_experiment(exp.name, exp.tags, exp.description, artifact_location=location)

    def _run(self, run: Run, dst_exp: str) -> None:
        info = run.info
        found = self.dst.run_exists(info.run_id)
        have: Run | None = None
        if found is None:
            context = _json(run.context) if run.context else None
            record = RunRecord(info.run_id, dst_exp, info.run_name, info.status, info.start_time,
                               info.parent_run_id, info.user, info.source, info.description, context, None)
            self.dst.create_run(record, run.data.tags)
            if info.end_time is not None:
                self.dst.update_run(info.run_id, {"end_time": info.end_time})
            self.counts.runs += 1
            self.counts.tags += len(run.data.tags)
        else:
            dst_exp = found[0]
            have = self.dst.get_run(info.run_id)
            self._update(run, have)
        if info.lifecycle_stage != (have.info.lifecycle_stage if have else "active"):
            self._lifecycles.append((info.run_id, info.lifecycle_stage))
        self._params(run, have)
        self._inputs(run, have)
        self._metrics(info.run_id, have is not None)
        self._artifacts(info, dst_exp)

    def _update(self, run: Run, have: Run) -> None:
        """Bring an existing DST run's fields and tags to SRC's."""
        src, dst = run.info, have.info
        changed = {k: getattr(src, a) for k, a in (("status", "status"), ("end_time", "end_time"),
                                                    ("run_name", "run_name"), ("description", "description"))
                   if getattr(src, a) != getattr(dst, a)}
        if changed:
            self.dst.update_run(src.run_id, changed)
            self.counts.updated_runs += 1
        tags = {k: v for k, v in run.data.tags.items() if have.data.tags.get(k) != v}
        if tags:
            self.dst.set_tags(src.run_id, tags)
            self.counts.tags += len(tags)

    def _params(self, run: Run, have: Run | None) -> None:
        held = have.data.params if have is not None else {}
        missing = []
        for key, value in run.data.params.items():
            if key not in held:
                missing.append((key, value))
            elif held[key] != value:
                _logger.warning("logwright: param %r of run %s is %r in the destination and %r in the "
                                "source; kept as it is (params are write-once)", key, run.info.run_id,
                                held[key], value)
        if missing:
            self.dst.log_params(run.info.run_id, missing)
            self.counts.params += len(missing)

    def _inputs(self, run: Run, have: Run | None) -> None:
        held = set(have.inputs) if have is not None else set()
        for d in run.inputs:
            if d not in held:
                self.dst.log_input(run.info.run_id, d.name, d.digest, d.context, d.shape, d.schema, d.source)
                self.counts.inputs += 1

    def _metrics(self, run_id: str, existed: bool) -> None:
        """Append each metric's points DST lacks (DST holds a prefix of SRC's ordered history)."""
        for key in self.src.metric_keys(run_id):
            steps, values, stamps = self.src.get_metric_series(run_id, key)
            start = 0
            if existed:
                h_steps, _, h_stamps = self.dst.get_metric_series(run_id, key)
                start = len(h_steps)
                if start > len(steps) or list(h_steps) != list(steps[:start]) or \
                        list(h_stamps) != list(stamps[:start]):
                    _logger.warning("logwright: metric %r of run %s differs between the stores; left as it is "
                                    "in the destination", key, run_id)
                    continue
            log = self.dst.log_metric
            for i in range(start, len(steps)):
                log(run_id, key, values[i], stamps[i], steps[i])
            self.counts.metric_points += len(steps) - start

    # -- artifacts and traces ------------------------------------------------------------

    def _artifacts(self, info: Any, dst_exp: str) -> None:
        """Copy the run's artifact files DST lacks (or holds with another size), MODEL.json files last."""
        src_repo = artifact_repo(self.src, info.experiment_id, info.run_id)
        dst_repo = artifact_repo(self.dst, dst_exp, info.run_id)
        files = src_repo.walk()
        if not files:
            return
        held = {f.path: f.file_size for f in dst_repo.walk()}
        todo = sorted((f for f in files if held.get(f.path) != f.file_size),
                      key=lambda f: (posixpath.basename(f.path) == _MARKER, f.path))
        with tempfile.TemporaryDirectory(prefix="logwright-copy-") as tmp:
            for f in todo:
                local = src_repo.download(f.path, tmp)
                try:
                    dst_repo.log_file(local, posixpath.dirname(f.path) or None)
                finally:
                    os.remove(local)
                self.counts.artifact_files += 1
                self.counts.artifact_bytes += f.file_size or 0

    def _traces(self, src_exp: str, dst_exp: str) -> None:
        seen: set[str] = set()
        offset = 0
        while True:
            page = self.src.search_traces([src_exp], max_results=_PAGE, offset=offset)
            offset += len(page)
            for trace in page:
                if trace.trace_id in seen:
                    continue
                seen.add(trace.trace_id)
                if self.dst.get_trace(trace.trace_id) is None:
                    self.dst.log_trace(_TraceCopy(trace, dst_exp))
                    self.counts.traces += 1
                self._step(f"trace {trace.trace_id[:12]}")
            if len(page) < _PAGE:
                return


def parents_first(runs: list[Run]) -> list[Run]:
    """Runs by start time, each after its parent when both are listed (any depth)."""
    ordered = sorted(runs, key=lambda r: (r.info.start_time, r.info.run_id))
    listed = {r.info.run_id for r in ordered}
    children: dict[str, list[Run]] = {}
    roots = []
    for run in ordered:
        parent = run.info.parent_run_id
        if parent in listed and parent != run.info.run_id:
            children.setdefault(parent, []).append(run)
        else:
            roots.append(run)
    out: list[Run] = []
    seen: set[str] = set()
    todo = list(reversed(roots))
    while todo:
        run = todo.pop()
        if run.info.run_id not in seen:
            seen.add(run.info.run_id)
            out.append(run)
            todo.extend(reversed(children.get(run.info.run_id, [])))
    return out + [r for r in ordered if r.info.run_id not in seen]  # parent cycles


def artifact_repo(store: Any, experiment_id: str, run_id: str) -> Any:
    """A run's artifact repository: the store's own ``artifact_repo`` or the one its ``artifact_dir`` names."""
    own = getattr(store, "artifact_repo", None)
    if own is not None:
        return own(experiment_id, run_id)
    return for_uri(store.artifact_dir(experiment_id, run_id))


def count_work(src: Store, copier: StoreCopier) -> int:
    """Runs plus traces in SRC (the progress bar's length)."""
    exps = copier.experiments()
    traces = src.trace_counts()
    return sum(traces.get(e.experiment_id, 0) + len(copier.runs(e.experiment_id)) for e in exps)


def run_copy(copier: StoreCopier, progress: bool | None = None, counts: Counts | None = None) -> Counts:
    """Run ``copier`` with a progress bar on stderr, flushing DST at the end (after Ctrl-C too).

    Args:
        copier: the copier, between any two sides (see :class:`StoreCopier`).
        progress: draw the bar (None: when stderr is a terminal).
        counts: filled as the copy goes (what an interrupted copy had written).

    Returns:
        What was written (all zero when DST already held everything).
    """
    if counts is not None:
        copier.counts = counts
    bar = Progress(0, progress)
    if bar.enabled:
        bar.total = count_work(copier.src, copier)
        copier.progress = bar
    try:
        return copier.copy()
    finally:
        bar.close()
        copier.dst.flush(30)  # after Ctrl-C too: what was queued is kept, the next copy goes on from there


def copy_store(src_uri: str, dst_uri: str, artifact_uri: str | None = None, progress: bool | None = None,
               counts: Counts | None = None, experiments: Sequence[str] | None = None) -> Counts:
    """Copy the store at ``src_uri`` into the one at ``dst_uri`` (created when missing).

    Args:
        src_uri: the source tracking URI.
        dst_uri: the destination tracking URI.
        artifact_uri: artifact root of experiments created in DST (a folder or ``s3://``).
        progress: draw a progress bar on stderr (None: when stderr is a terminal).
        counts: filled as the copy goes (what an interrupted copy had written).
        experiments: names of the experiments to copy (None: all).

    Returns:
        What was written (all zero when DST already held everything).

    Raises:
        ValueError: SRC and DST are the same store.
    """
    from logwright.store import get_store

    src, dst = get_store(src_uri), get_store(dst_uri)
    if src is dst or src.location == dst.location:
        raise ValueError(f"source and destination are the same store ({src.location})")
    return run_copy(StoreCopier(src, dst, artifact_uri, experiments=experiments), progress, counts)


# -- command line --------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``logwright store copy`` and ``logwright sync`` (:mod:`logwright.store.copy_cli`)."""
    from logwright.store.copy_cli import register_commands

    register_commands(subparsers)
