"""What maps to what between MLflow's entities and logwright's (pure functions, no I/O).

MLflow keeps a run's name, parent, description, user and source file as ``mlflow.*``
system tags; logwright keeps them as fields. Import moves those five tags onto the
fields and keeps every other tag as it is; export writes them back as MLflow expects.
``mlflow.run_id`` (on import, the MLflow run a run came from) and ``logwright.run_id``
(on export, the logwright run an MLflow run came from) are plain tags that make both
directions idempotent.

A trace's ``tr-<32 hex>`` id becomes logwright's 32-hex id (another MLflow id is
hashed; the original is kept as the ``mlflow.trace_id`` tag); MLflow's span types map
onto logwright's span kinds (another type becomes ``UNKNOWN`` and keeps
``mlflow.spanType`` as an attribute); MLflow's per-span ``mlflow.chat.tokenUsage``
becomes ``gen_ai.usage.input_tokens``/``output_tokens`` and back. Trace metadata and
tags become logwright trace tags; on export, tags named ``mlflow.*`` go back to the
metadata and the others to MLflow's trace tags.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

from logwright.entities import (
    Dataset,
    Experiment,
    ModelVersion,
    RegisteredModel,
    Run,
    RunData,
    RunInfo,
    Span,
    SpanEvent,
    SpanKind,
    Trace,
    TraceInfo,
)

RUN_NAME, PARENT, NOTE, USER, SOURCE = ("mlflow.runName", "mlflow.parentRunId", "mlflow.note.content",
                                        "mlflow.user", "mlflow.source.name")
MLFLOW_RUN_ID = "mlflow.run_id"
LOGWRIGHT_RUN_ID = "logwright.run_id"
CONTEXT = "logwright.context"
MLFLOW_TRACE_ID = "mlflow.trace_id"
DATA_CONTEXT = "mlflow.data.context"
_FIELD_TAGS = (RUN_NAME, PARENT, NOTE, USER, SOURCE, LOGWRIGHT_RUN_ID, CONTEXT)
_HEX32 = re.compile(r"^[0-9a-f]{32}$")

# Trace metadata and tags MLflow derives itself: not carried over.
_DERIVED = {"mlflow.traceInputs", "mlflow.traceOutputs", "mlflow.sourceRun", "mlflow.trace.sizeStats",
            "mlflow.trace.sizeBytes", "mlflow.trace.tokenUsage", "mlflow.trace.infoFinalized",
            "mlflow.trace_schema.version", "mlflow.traceName", "mlflow.artifactLocation",
            "mlflow.trace.spansLocation"}
_SPAN_TYPE, _INPUTS, _OUTPUTS = "mlflow.spanType", "mlflow.spanInputs", "mlflow.spanOutputs"
_REQUEST_ID, _CHAT_USAGE = "mlflow.traceRequestId", "mlflow.chat.tokenUsage"
_TOKENS = (("input_tokens", "gen_ai.usage.input_tokens"), ("output_tokens", "gen_ai.usage.output_tokens"),
           ("total_tokens", "logwright.usage.total_tokens"))
_KINDS = set(SpanKind.ALL)
_KIND = "logwright.span.kind"  # the kind as a stored span's attributes repeat it
_PREVIEW = 1000


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=True, default=str)


# -- MLflow -> logwright ------------------------------------------------------------------------


def run_id_of(mlflow_run: Any) -> str:
    """The logwright id of an MLflow run: its ``logwright.run_id`` tag when it came from logwright."""
    kept = mlflow_run.data.tags.get(LOGWRIGHT_RUN_ID, "")
    return kept if _HEX32.match(kept) else mlflow_run.info.run_id


def experiment(exp: Any) -> Experiment:
    """An MLflow experiment as logwright's (its ``mlflow.note.content`` tag as the description)."""
    tags = dict(exp.tags or {})
    return Experiment(exp.experiment_id, exp.name, exp.lifecycle_stage, tags.pop(NOTE, None), tags,
                      exp.creation_time or 0, exp.last_update_time or 0, exp.artifact_location or "")


def run(mlflow_run: Any, parent_id: str | None) -> Run:
    """An MLflow run as logwright's; ``parent_id`` is the parent's logwright id (or None)."""
    info, tags = mlflow_run.info, dict(mlflow_run.data.tags)
    context = tags.get(CONTEXT)
    data_tags = {k: v for k, v in tags.items() if k not in _FIELD_TAGS}
    data_tags.setdefault(MLFLOW_RUN_ID, info.run_id)
    inputs = mlflow_run.inputs.dataset_inputs if mlflow_run.inputs else []
    lw_info = RunInfo(run_id_of(mlflow_run), info.experiment_id, info.run_name or tags.get(RUN_NAME),
                      info.status, info.start_time or 0, info.end_time, parent_id, info.artifact_uri or "",
                      info.lifecycle_stage, info.user_id or tags.get(USER), tags.get(SOURCE), tags.get(NOTE))
    data = RunData(dict(mlflow_run.data.params), dict(mlflow_run.data.metrics), data_tags)
    return Run(lw_info, data, tuple(dataset(d) for d in inputs), _loads(context) if context else {})


def _loads(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def dataset(dataset_input: Any) -> Dataset:
    """An MLflow dataset input as logwright's (profile as the shape, the context tag as the context)."""
    d = dataset_input.dataset
    context = next((t.value for t in dataset_input.tags or () if t.key == DATA_CONTEXT), None)
    source = _loads(d.source) if (d.source or "").startswith("{") else None
    if source is not None and set(source) <= {"uri"}:  # MLflow's {"uri": ...}: the URI itself
        source = source.get("uri") or None
    else:
        source = d.source or None
    return Dataset(d.name, d.digest, context, d.profile or None, d.schema or None, source)


def trace_id(mlflow_trace_id: str) -> str:
    """logwright's 32-hex id for an MLflow trace id (``tr-<hex>``; another id is hashed)."""
    bare = mlflow_trace_id.removeprefix("tr-").lower()
    return bare if _HEX32.match(bare) else hashlib.md5(mlflow_trace_id.encode()).hexdigest()


def trace(mlflow_trace: Any, run_id: str | None) -> Trace:
    """An MLflow trace as logwright's; ``run_id`` is its run's logwright id (or None)."""
    info = mlflow_trace.info
    tid = trace_id(info.trace_id)
    spans = tuple(span(tid, s) for s in mlflow_trace.data.spans)
    root = next((s for s in spans if s.parent_id is None), None)
    tags = {k: v for k, v in {**info.trace_metadata, **info.tags}.items() if k not in _DERIVED}
    tags.setdefault(MLFLOW_TRACE_ID, info.trace_id)
    usage = _loads(info.trace_metadata.get("mlflow.trace.tokenUsage") or "{}")
    start = root.start_ns if root else info.request_time * 1_000_000
    end = root.end_ns if root else (None if info.execution_duration is None
                                    else start + info.execution_duration * 1_000_000)
    state = getattr(info.state, "value", info.state)
    name = info.tags.get("mlflow.traceName") or (root.name if root else None)
    return Trace(TraceInfo(tid, info.experiment_id, run_id, name, "UNSET" if state == "STATE_UNSPECIFIED" else state,
                           start, end, usage.get("input_tokens"), usage.get("output_tokens"),
                           usage.get("total_tokens"), len(spans), tags), spans)


def span(tid: str, s: Any) -> Span:
    """An MLflow span as logwright's."""
    attrs = dict(s.attributes)
    for key in (_INPUTS, _OUTPUTS, _REQUEST_ID):
        attrs.pop(key, None)
    kind = attrs.pop(_SPAN_TYPE, None) or "UNKNOWN"
    if kind not in _KINDS:
        attrs[_SPAN_TYPE], kind = kind, "UNKNOWN"
    usage = attrs.pop(_CHAT_USAGE, None)
    if isinstance(usage, dict):
        attrs.update({ours: usage[theirs] for theirs, ours in _TOKENS if theirs in usage})
    status = s.status.status_code
    events = tuple(SpanEvent(e.name, e.timestamp, dict(e.attributes or {})) for e in s.events)
    return Span(tid, s.span_id, s.parent_id, s.name, kind, s.start_time_ns, s.end_time_ns,
                getattr(status, "value", status), s.status.description or None, attrs, s.inputs, s.outputs, events)


def registered_model(m: Any) -> RegisteredModel:
    """An MLflow registered model as logwright's (aliases -> version numbers)."""
    latest = [int(v.version) for v in m.latest_versions or ()]
    return RegisteredModel(m.name, m.description or None, dict(m.tags), {a: int(v) for a, v in m.aliases.items()},
                           max(latest) if latest else None, m.creation_timestamp or 0, m.last_updated_timestamp or 0)


def model_version(v: Any, run_id: str | None, artifact_path: str | None) -> ModelVersion:
    """An MLflow model version as logwright's, made from ``runs:/<run_id>/<artifact_path>`` when both are known."""
    source = f"runs:/{run_id}/{artifact_path}" if run_id and artifact_path else v.source
    return ModelVersion(v.name, int(v.version), source, run_id, artifact_path, None, None, tuple(v.aliases or ()),
                        dict(v.tags), v.description or None, "READY", v.creation_timestamp or 0,
                        v.last_updated_timestamp or 0)


# -- logwright -> MLflow ------------------------------------------------------------------------


def run_tags(record: Any, tags: dict[str, str] | None, parent: str | None) -> dict[str, str]:
    """The MLflow tags of a new run: its tags, the field tags and ``logwright.run_id``.

    Args:
        record: the run's :class:`~logwright.store.base.RunRecord`.
        tags: its tags.
        parent: the parent's MLflow run id, or None.
    """
    out = dict(tags or {})
    out[LOGWRIGHT_RUN_ID] = record.run_id
    for key, value in ((RUN_NAME, record.run_name), (PARENT, parent), (NOTE, record.description),
                       (USER, record.user), (SOURCE, record.source), (CONTEXT, record.context_json)):
        if value and len(value) <= 8000:  # MLflow's longest tag value
            out[key] = value
    return out


def mlflow_dataset(d: Dataset) -> Any:
    """A logwright dataset as MLflow's ``DatasetInput`` (source type from the source's URI)."""
    from mlflow.entities import Dataset as MlflowDataset
    from mlflow.entities import DatasetInput, InputTag

    source = d.source or "{}"
    if not source.startswith("{"):
        source = _json({"uri": source})
    uri = str(_loads(source).get("uri", ""))
    scheme = uri.split("://", 1)[0] if "://" in uri else "local"
    kind = ("http" if scheme in ("http", "https") else scheme) if uri else "code"
    tags = [InputTag(DATA_CONTEXT, d.context)] if d.context else []
    return DatasetInput(MlflowDataset(d.name, d.digest, kind, source, d.schema, d.shape), tags)


def _b64(hex_id: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_id)).decode()


def mlflow_trace(t: Trace, experiment_id: str, run_id: str | None) -> tuple[Any, list[Any]]:
    """A logwright trace as MLflow's ``(TraceInfo, [Span])`` in ``experiment_id``, linked to ``run_id``."""
    from mlflow.entities import Span as MlflowSpan
    from mlflow.entities import TraceInfo as MlflowTraceInfo
    from mlflow.entities import TraceLocation, TraceState

    info = t.info
    mid = "tr-" + info.trace_id
    spans = [MlflowSpan.from_dict(_span_dict(mid, s)) for s in t.spans]
    root = next((s for s in t.spans if s.parent_id is None), None)
    metadata = {"mlflow.trace_schema.version": "3"}
    tags = {"mlflow.traceName": info.name} if info.name else {}
    for key, value in info.tags.items():
        (metadata if key.startswith("mlflow.") else tags)[key] = value
    if run_id:
        metadata["mlflow.sourceRun"] = run_id
    usage = {k: v for (k, _), v in zip(_TOKENS, (info.input_tokens, info.output_tokens, info.total_tokens),
                                       strict=True) if v is not None}
    if usage:
        metadata["mlflow.trace.tokenUsage"] = _json(usage)
    previews = [None if root is None or v is None else _json(v)[:_PREVIEW]
                for v in ((root.inputs, root.outputs) if root else (None, None))]
    state = "STATE_UNSPECIFIED" if info.status == "UNSET" else info.status
    duration = None if info.end_ns is None else (info.end_ns - info.start_ns) // 1_000_000
    return MlflowTraceInfo(mid, TraceLocation.from_experiment_id(experiment_id), info.start_ns // 1_000_000,
                           TraceState(state), previews[0], previews[1], execution_duration=duration,
                           trace_metadata=metadata, tags=tags), spans


def _span_dict(mid: str, s: Span) -> dict[str, Any]:
    attrs = {k: v for k, v in s.attributes.items() if k != _KIND}
    kind = attrs.pop(_SPAN_TYPE, None) or s.kind
    usage = {theirs: attrs.pop(ours) for theirs, ours in _TOKENS if ours in attrs}
    encoded = {k: _json(v) for k, v in attrs.items()}
    encoded[_REQUEST_ID], encoded[_SPAN_TYPE] = _json(mid), _json(kind)
    if usage:
        encoded[_CHAT_USAGE] = _json(usage)
    if s.inputs is not None:
        encoded[_INPUTS] = _json(s.inputs)
    if s.outputs is not None:
        encoded[_OUTPUTS] = _json(s.outputs)
    return {"trace_id": _b64(mid[3:]), "span_id": _b64(s.span_id),
            "parent_span_id": _b64(s.parent_id) if s.parent_id else "", "name": s.name,
            "start_time_unix_nano": s.start_ns, "end_time_unix_nano": s.end_ns,
            "events": [{"name": e.name, "time_unix_nano": e.timestamp_ns, "attributes": e.attributes}
                       for e in s.events],
            "status": {"code": f"STATUS_CODE_{s.status or 'UNSET'}", "message": s.status_message or ""},
            "attributes": encoded}
