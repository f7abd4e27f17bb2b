"""The records logwright stores, as frozen dataclasses shaped like MLflow's.

``Run`` keeps MLflow's ``run.info`` / ``run.data`` split so code ports over.
Times on runs are epoch milliseconds; span times are epoch nanoseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple


class RunStatus:
    """The states a run moves through (``SCHEDULED``: created to run later, as in MLflow)."""

    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"
    ALL = (RUNNING, SCHEDULED, FINISHED, FAILED, KILLED)


class ViewType:
    """Which lifecycle a search sees, as MLflow's ``ViewType`` (the strings work too).

    ``ACTIVE_ONLY`` (1), ``DELETED_ONLY`` (2), ``ALL`` (3); every ``view``/``view_type``/
    ``run_view_type`` argument also takes ``"active"``, ``"deleted"`` or ``"all"``.
    """

    ACTIVE_ONLY = 1
    DELETED_ONLY = 2
    ALL = 3

    @staticmethod
    def to_view(view: object) -> str:
        """``"active"``, ``"deleted"`` or ``"all"`` for a ViewType or one of those strings.

        Raises:
            ValueError: ``view`` is neither (the message names it).
        """
        names = {1: "active", 2: "deleted", 3: "all", "active_only": "active", "deleted_only": "deleted"}
        key = view.lower() if isinstance(view, str) else view
        if isinstance(key, bool) or key is None:
            key = None
        found = names.get(key, key if key in ("active", "deleted", "all") else None)  # type: ignore[arg-type]
        if found is None:
            raise ValueError(f"view type must be ViewType.ACTIVE_ONLY, DELETED_ONLY or ALL "
                             f"(or 'active', 'deleted', 'all'), not {view!r}")
        return found


class SpanKind:
    """What a span stands for (mirrors OpenInference span kinds)."""

    CHAIN = "CHAIN"
    LLM = "LLM"
    CHAT_MODEL = "CHAT_MODEL"
    TOOL = "TOOL"
    RETRIEVER = "RETRIEVER"
    EMBEDDING = "EMBEDDING"
    AGENT = "AGENT"
    PARSER = "PARSER"
    PROMPT = "PROMPT"
    UNKNOWN = "UNKNOWN"
    ALL = (CHAIN, LLM, CHAT_MODEL, TOOL, RETRIEVER, EMBEDDING, AGENT, PARSER, PROMPT, UNKNOWN)


@dataclass(frozen=True)
class Experiment:
    """A named group of runs and traces."""

    experiment_id: str
    name: str
    lifecycle_stage: str = "active"
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    creation_time: int = 0
    last_update_time: int = 0
    artifact_location: str = ""


class Metric(NamedTuple):
    """One point of a metric's history (a named tuple: reads build millions of them).

    The fields are in MLflow's order, ``Metric(key, value, timestamp, step)``, so
    ``log_batch`` code written for MLflow ports over unchanged.
    """

    key: str
    value: float
    timestamp: int
    step: int


@dataclass(frozen=True)
class Param:
    """A write-once hyperparameter, always stored as a string."""

    key: str
    value: str


@dataclass(frozen=True)
class RunTag:
    """A mutable string label on a run."""

    key: str
    value: str


@dataclass(frozen=True)
class Dataset:
    """A dataset a run consumed: identified by name and content digest."""

    name: str
    digest: str
    context: str | None = None
    shape: str | None = None
    schema: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class FileInfo:
    """An artifact file or folder, with its path relative to the run's artifact root."""

    path: str
    is_dir: bool
    file_size: int | None = None


@dataclass(frozen=True)
class RunInfo:
    """Identity and lifecycle of a run (MLflow's ``run.info``)."""

    run_id: str
    experiment_id: str
    run_name: str | None
    status: str
    start_time: int
    end_time: int | None
    parent_run_id: str | None
    artifact_uri: str
    lifecycle_stage: str = "active"
    user: str | None = None
    source: str | None = None
    description: str | None = None

    @property
    def run_uuid(self) -> str:
        """MLflow's old name for ``run_id``."""
        return self.run_id

    @property
    def user_id(self) -> str | None:
        """MLflow's name for ``user``."""
        return self.user


@dataclass(frozen=True)
class RunData:
    """What was logged into a run (MLflow's ``run.data``): latest metric values."""

    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    """A run: ``info``, ``data``, its dataset inputs and captured context."""

    info: RunInfo
    data: RunData
    inputs: tuple[Dataset, ...] = ()
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        """Shortcut for ``run.info.run_id``."""
        return self.info.run_id


@dataclass(frozen=True)
class SpanEvent:
    """A timestamped event inside a span (an exception, a first token, ...)."""

    name: str
    timestamp_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Span:
    """A finished (or crash-closed) span as stored."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: str
    start_ns: int
    end_ns: int | None
    status: str
    status_message: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    inputs: Any = None
    outputs: Any = None
    events: tuple[SpanEvent, ...] = ()

    @property
    def duration_ms(self) -> float | None:
        """Wall time of the span in milliseconds, None while it is open."""
        return None if self.end_ns is None else (self.end_ns - self.start_ns) / 1e6


@dataclass(frozen=True)
class TraceInfo:
    """The summary row of a trace."""

    trace_id: str
    experiment_id: str
    run_id: str | None
    name: str | None
    status: str
    start_ns: int
    end_ns: int | None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    span_count: int = 0
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def latency_ms(self) -> float | None:
        """Wall time of the whole trace in milliseconds."""
        return None if self.end_ns is None else (self.end_ns - self.start_ns) / 1e6


@dataclass(frozen=True)
class Trace:
    """A trace: its summary and its spans (parents before children)."""

    info: TraceInfo
    spans: tuple[Span, ...] = ()

    @property
    def trace_id(self) -> str:
        """Shortcut for ``trace.info.trace_id``."""
        return self.info.trace_id

    def __str__(self) -> str:
        """An indented tree of the spans: kind, name, duration, status and tokens."""
        from logwright.tracing.display import format_tree

        return format_tree(self)

    def _repr_html_(self) -> str:
        """Self-contained HTML for Jupyter: tree, timing bars, expandable inputs/outputs."""
        from logwright.tracing.display import render_html

        return render_html(self)


@dataclass(frozen=True)
class ModelVersion:
    """One version of a registered model: a logged model of a run, under a name.

    Attributes:
        name: the registered model's name.
        version: 1, 2, ... in order of registration.
        source: the model URI it was registered from (``runs:/<run_id>/<path>``).
        run_id: the run that logged the model (None for a model from elsewhere).
        artifact_path: the model's folder in that run's artifacts.
        flavour: the flavour that saved it (``sklearn``, ``pytorch``, ...).
        signature: its input/output signature record, or None.
        aliases: the aliases (``champion``, ...) that point at this version.
        tags: string labels.
        description: free text, or None.
        status: ``READY`` once registered.
        creation_time: epoch milliseconds.
        last_update_time: epoch milliseconds.
    """

    name: str
    version: int
    source: str
    run_id: str | None = None
    artifact_path: str | None = None
    flavour: str | None = None
    signature: dict[str, Any] | None = None
    aliases: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    status: str = "READY"
    creation_time: int = 0
    last_update_time: int = 0

    @property
    def model_uri(self) -> str:
        """``models:/<name>/<version>``, which :func:`logwright.load_model` takes."""
        return f"models:/{self.name}/{self.version}"


@dataclass(frozen=True)
class RegisteredModel:
    """A named model: its versions' latest number, aliases, tags and description.

    Attributes:
        name: unique name (``churn-classifier``).
        description: free text, or None.
        tags: string labels.
        aliases: alias -> version number.
        latest_version: the highest version number, or None when it has none.
        creation_time: epoch milliseconds.
        last_update_time: epoch milliseconds.
    """

    name: str
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    latest_version: int | None = None
    creation_time: int = 0
    last_update_time: int = 0
