"""The Store protocol: every read and write the client, tracing, UI and CLI make.

A store keeps experiments, runs (params, tags, metric histories, inputs), traces and
artifact locations. ``SqliteStore`` (:mod:`logwright.store.sqlite`) is the embedded
implementation; a PostgreSQL store and the HTTP client store implement the same
protocol, so nothing above ``logwright.store`` writes SQL or builds writer operations.

Two kinds of method:

- **Queued writes** (``create_run``, ``update_run``, ``log_params``, ``set_tags``,
  ``delete_tag``, ``log_metric``, ``log_input``, ``log_trace``, ``log_late_span``)
  take values already validated and encoded by the caller (plain ``str``, ``int``,
  ``float`` and ``None``, strings free of lone surrogates), put one operation on the
  store's background writer and return in microseconds. They never raise for a
  storage fault: the writer retries transient faults and sets aside an operation the
  store refuses (``rejected.jsonl``), each with one warning. :meth:`Store.flush`
  makes everything queued before it durable.
- **Synchronous calls** (experiments, ``insert_params``, every read) touch the
  database at once and raise only :class:`~logwright.exceptions.LogwrightError`
  subclasses: ``RunNotFound``, ``ExperimentNotFound``, ``TraceNotFound``,
  ``InvalidFilter``, ``ParamConflict`` and ``StoreError`` for anything the store
  itself cannot do (corrupt, read-only, vanished, unreachable).
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from logwright.entities import Experiment, Metric, ModelVersion, RegisteredModel, Run, Trace


@dataclass(frozen=True)
class RunOwner:
    """The process that runs a run: a reader marks a RUNNING run KILLED once it is gone.

    Attributes:
        host: the machine's host name.
        pid: the process id on that host.
        start: a token that tells this process from a later one with the same pid
            (boot id and process start ticks on Linux), or None where unknown.
    """

    host: str
    pid: int
    start: str | None = None


@dataclass(frozen=True)
class RunRecord:
    """A new run, as the client hands it to :meth:`Store.create_run`."""

    run_id: str
    experiment_id: str
    run_name: str
    status: str
    start_time: int
    parent_run_id: str | None = None
    user: str | None = None
    source: str | None = None
    description: str | None = None
    context_json: str | None = None
    owner: RunOwner | None = None


@dataclass
class RunRow:
    """One row of the UI's runs table."""

    run_id: str
    name: str | None
    status: str
    start_time: int
    end_time: int | None
    source: str | None
    user: str | None
    parent_run_id: str | None
    metrics: dict[str, float | None] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    child_count: int = 0
    children: list[RunRow] = field(default_factory=list)


@dataclass
class RunsPage:
    """A page of the runs table and what it took to get it."""

    rows: list[RunRow]
    total: int
    offset: int
    limit: int
    grouped: bool


@dataclass(frozen=True)
class TokenInfo:
    """An API token of ``logwright server`` (its secret is never stored, only a hash of it).

    Attributes:
        token_id: a short random id (hex), shown in ``logwright server token list``.
        name: the unique name it was created with.
        read_only: True when it may only read.
        created: when it was created, epoch ms.
        last_used: when a request last presented it (kept to the minute), or None.
        revoked: when it was revoked, or None while it is valid.
    """

    token_id: str
    name: str
    read_only: bool
    created: int
    last_used: int | None = None
    revoked: int | None = None


@runtime_checkable
class Store(Protocol):
    """What every tracking store provides (see the module docstring for the two kinds).

    Attributes:
        location: where the store lives, for messages (a file path or a URL).
        artifact_root: the root of the runs' artifact folders (a path or a URI).
        read_only: True when the store was opened for reading only; queued writes to
            it are refused at the call with ``StoreError``.
    """

    location: str
    artifact_root: str
    read_only: bool

    # -- lifecycle -------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> None:
        """Make every queued write durable; raises StoreError when the store vanished."""

    def pending(self) -> int:
        """How many queued operations are not yet durable."""

    # -- the tracking server's side of HTTP clients --------------------------------------

    def apply_remote(self, ops: Sequence[tuple], client_id: str, seq: int) -> None:
        """Queue a batch an HTTP client sent (writer operations checked by ``store.wire``) to commit
        with its sequence mark in one transaction, so a retried batch is applied once."""

    def last_ingested(self, client_id: str) -> int:
        """The sequence number of the last batch applied from an HTTP client (0: none)."""

    # -- experiments (synchronous) -----------------------------------------------------

    def create_experiment(self, name: str, tags: Mapping[str, str] | None = None,
                          description: str | None = None, artifact_location: str | None = None) -> str:
        """Create an experiment (artifacts under ``artifact_location`` when given), or return the id of the one with ``name``."""

    def experiment_location(self, experiment_id: str) -> str:
        """Where the experiment's run artifact folders live (a path or a URI)."""

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment; raises ExperimentNotFound."""

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment with this name, or None."""

    def search_experiments(self, view: str = "active", name_like: str | None = None) -> list[Experiment]:
        """Experiments by lifecycle (active, deleted, all), oldest first."""

    def experiment_stats(self) -> dict[str, tuple[int, int | None]]:
        """Per experiment id: (active run count, last activity in epoch ms)."""

    def set_experiment_lifecycle(self, experiment_id: str, lifecycle: str) -> None:
        """Mark an experiment active or deleted."""

    def update_experiment(self, experiment_id: str, fields: Mapping[str, Any]) -> None:
        """Set an experiment's ``name`` (renaming it) and/or ``description`` (None clears it), at once.

        Raises ExperimentNotFound; ValueError for another field, an empty name or a name
        another experiment has. The artifact location recorded at creation stays.
        """

    # -- runs: queued writes -----------------------------------------------------------

    def create_run(self, record: RunRecord, tags: Mapping[str, str] | None = None) -> None:
        """Queue a new run and its first tags."""

    def update_run(self, run_id: str, fields: Mapping[str, Any]) -> None:
        """Queue changes to ``status``, ``end_time``, ``run_name`` or ``description``."""

    def log_params(self, run_id: str, params: Sequence[tuple[str, str]]) -> None:
        """Queue write-once params (a conflicting stored value sets the op aside)."""

    def insert_params(self, run_id: str, params: Sequence[tuple[str, str]]) -> dict[str, str]:
        """Write params now; returns ``{key: stored value}`` for keys already holding another value."""

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Queue tags (overwriting)."""

    def delete_tag(self, run_id: str, key: str) -> None:
        """Queue the removal of a tag."""

    def log_metric(self, run_id: str, key: str, value: float, timestamp: int, step: int | None) -> None:
        """Queue one point; ``step=None`` takes that key's next step when it commits."""

    def log_input(self, run_id: str, name: str, digest: str, context: str | None, shape: str | None,
                  schema: str | None, source: str | None) -> None:
        """Queue a dataset input of a run."""

    def log_trace(self, trace: Any) -> None:
        """Queue a finished trace as one write.

        ``trace`` is a ``logwright.tracing`` trace state: it has ``trace_id``,
        ``approx_bytes`` (its encoded size, for back-pressure), ``to_record()`` (the
        encoded trace row, tags and packed spans) and ``late_record(span)``.
        """

    def log_late_span(self, trace: Any, span: Any) -> None:
        """Queue a span that ended after its trace was written."""

    # -- runs: reads -----------------------------------------------------------------

    def get_run(self, run_id: str) -> Run:
        """The run with params, tags, latest metrics and inputs; raises RunNotFound."""

    def run_exists(self, run_id: str) -> tuple[str, str] | None:
        """(experiment_id, status) of a run, or None."""

    def search_runs(self, experiment_ids: Sequence[str] | None, filter_string: str | None = None,
                    order_by: Sequence[str] | None = None, max_results: int = 1000, offset: int = 0,
                    view: str = "active") -> list[Run]:
        """Runs matching the filter language, ordered and paged; raises InvalidFilter."""

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of a metric, by step then time."""

    def get_metric_series(self, run_id: str, key: str) -> tuple[array, array, array]:
        """(steps, values, timestamps) arrays of a metric, by step then time."""

    def get_metric_blobs(self, run_id: str, key: str) -> list[tuple[bytes, bytes, bytes]]:
        """A metric's stored chunks as little-endian (int64 steps, float64 values, int64 ms) blobs."""

    def metric_keys(self, run_id: str) -> list[str]:
        """Keys of every metric the run has."""

    def get_metric_counts(self, run_id: str) -> dict[str, int]:
        """How many points each metric of the run has, by key (the UI's single values)."""

    def max_step(self, run_id: str, key: str) -> int | None:
        """The highest step stored for a metric, or None."""

    def get_params(self, run_id: str) -> dict[str, str]:
        """Every param of a run."""

    def child_run_ids(self, run_id: str) -> list[str]:
        """Active runs nested directly under ``run_id``, oldest first."""

    def run_ids_like(self, prefix: str, limit: int = 2) -> list[str]:
        """Ids of runs (deleted ones too) starting with ``prefix``, sorted, at most ``limit`` (the CLI's short ids)."""

    def set_run_lifecycle(self, run_id: str, lifecycle: str) -> None:
        """Mark a run deleted or active; raises RunNotFound."""

    def purge_runs(self, run_ids: Sequence[str]) -> list[str]:
        """Delete for good those of ``run_ids`` that are marked deleted, with their params, tags,
        metrics and inputs (their traces stay, unlinked); returns the ids purged. Artifacts are
        the caller's to remove (``artifact_dir`` before purging); queued writes are flushed first."""

    def artifact_dir(self, experiment_id: str, run_id: str) -> str:
        """Where a run's artifacts live."""

    # -- traces: reads ---------------------------------------------------------------

    def get_trace(self, trace_id: str) -> Trace | None:
        """The trace with its spans (parents first), or None."""

    def search_traces(self, experiment_ids: Sequence[str] | None = None, run_id: str | None = None,
                      filter_string: str | None = None, order_by: Sequence[str] | str | None = None,
                      max_results: int = 100, offset: int = 0) -> list[Trace]:
        """Traces matching the trace filter language; raises InvalidFilter."""

    def trace_ids_like(self, prefix: str, limit: int = 2) -> list[str]:
        """Ids of traces starting with ``prefix`` (for the CLI's short ids)."""

    def trace_counts(self) -> dict[str, int]:
        """Per experiment id: how many traces it has."""

    # -- the web UI's pages ------------------------------------------------------------

    def runs_page(self, experiment_id: str, filter_string: str | None, order_by: str | None,
                  metric_keys: Sequence[str], param_keys: Sequence[str], offset: int = 0,
                  limit: int = 100) -> RunsPage:
        """One page of an experiment's runs with the chosen columns; raises InvalidFilter."""

    def column_keys(self, experiment_id: str) -> tuple[list[str], list[str]]:
        """Metric and param keys seen in the experiment's recent runs."""

    def run_rows(self, run_ids: Sequence[str]) -> list[RunRow]:
        """Runs-table rows for the given runs, in order (unknown ids skipped)."""

    def traces_page(self, experiment_id: str | None, filter_string: str | None = None,
                    order_by: str | None = None, run_id: str | None = None, offset: int = 0,
                    limit: int = 100) -> tuple[list[dict[str, Any]], int]:
        """A page of trace summaries and the total matching; raises InvalidFilter."""

    # -- model registry (synchronous) ----------------------------------------------------
    # Registry writes touch the database at once (the caller needs the version number)
    # and raise ModelNotFound for a missing model, version or alias, ValueError for an
    # illegal name or alias, InvalidFilter for a bad search filter.

    def create_registered_model(self, name: str, tags: Mapping[str, str] | None = None,
                                description: str | None = None) -> RegisteredModel:
        """Create a registered model without versions, or return the existing one unchanged."""

    def create_model_version(self, name: str, source: str, run_id: str | None = None,
                             artifact_path: str | None = None, flavour: str | None = None,
                             signature: Mapping[str, Any] | None = None, tags: Mapping[str, str] | None = None,
                             description: str | None = None, version: int | None = None) -> ModelVersion:
        """Register version ``MAX + 1`` (distinct under concurrency), creating the model if needed.

        ``version`` asks for that number instead (copying a registry keeps its numbers);
        ValueError when the model already has it.
        """

    def get_registered_model(self, name: str) -> RegisteredModel:
        """The registered model with its tags, aliases and latest version number."""

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        """One version with its tags and aliases."""

    def get_latest_model_version(self, name: str) -> ModelVersion:
        """The version with the highest number."""

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version an alias points at."""

    def search_registered_models(self, filter_string: str | None = None,
                                 max_results: int = 1000) -> list[RegisteredModel]:
        """Registered models matching the registry filter language, by name."""

    def search_model_versions(self, filter_string: str | None = None, max_results: int = 1000) -> list[ModelVersion]:
        """Versions matching the registry filter language, by name then newest first."""

    def update_registered_model(self, name: str, description: str | None) -> None:
        """Set a registered model's description."""

    def update_model_version(self, name: str, version: int | str, description: str | None) -> None:
        """Set a version's description."""

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        """Set a tag on a registered model."""

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Remove a tag from a registered model."""

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: str) -> None:
        """Set a tag on a version."""

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        """Remove a tag from a version."""

    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        """Point an alias at a version (one atomic upsert: moving it never leaves it unset)."""

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Remove an alias."""

    def delete_model_version(self, name: str, version: int | str) -> None:
        """Delete a version, its tags and its aliases (the run's artifacts stay)."""

    def delete_registered_model(self, name: str) -> None:
        """Delete a registered model and everything under it."""

    # -- API tokens of `logwright server` (synchronous) ------------------------------------
    # Only a SHA-256 hash of each secret is stored. Names are unique, revoked tokens kept.

    def create_token(self, name: str, read_only: bool = False) -> tuple[TokenInfo, str]:
        """A new token and its secret (``lw_...``, returned this once); ValueError for a taken or illegal name."""

    def list_tokens(self) -> list[TokenInfo]:
        """Every token, revoked ones too, oldest first."""

    def revoke_token(self, name_or_id: str) -> TokenInfo:
        """Revoke a token by name or id (again: a no-op) and return it; ValueError when none matches."""

    def check_token(self, secret: str) -> TokenInfo | None:
        """The valid token with this secret, or None (unknown or revoked); notes its use, at most once a minute."""
