"""A finished trace as OTLP protobuf bytes (imported by the exporter's thread only).

Each trace becomes one ``ExportTraceServiceRequest`` holding one ``ResourceSpans``
(resource ``service.name=logwright`` and ``openinference.project.name`` = the
experiment's name, so each experiment is its own project in Phoenix) with the
trace's spans. Protobuf messages concatenate: the bytes of several such requests
joined are one valid request holding all their traces, which is how the exporter
batches without re-encoding.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from logwright.tracing.semconv import wire_attributes
from logwright.tracing.serialize import Dumped, encode

_logger = logging.getLogger(__name__)

_CUT = 2000  # characters an attribute keeps when a trace must shrink to fit one request
TRUNCATED = "logwright.export.truncated"
_READS_IO = frozenset({"LLM", "CHAT_MODEL", "EMBEDDING", "RETRIEVER", "TOOL", "PROMPT"})


def _set(target: AnyValue, value: Any) -> None:
    kind = type(value)
    if kind is str:
        target.string_value = value
    elif kind is bool:
        target.bool_value = value
    elif kind is int:
        if -2**63 <= value < 2**63:
            target.int_value = value
        else:
            target.string_value = str(value)
    elif kind is float:
        target.double_value = value
    elif kind in (list, tuple) and value and len({type(v) for v in value}) == 1 \
            and type(value[0]) in (str, bool, int, float):
        for item in value:
            _set(target.array_value.values.add(), item)
    else:
        target.string_value = json.dumps(value, ensure_ascii=False, default=str)


def _key_values(target: Any, attrs: dict[str, Any]) -> None:
    for key, value in attrs.items():
        if value is None:
            continue
        kv = target.add()
        kv.key = key
        _set(kv.value, value)


def decoded(value: Any) -> Any:
    """A span's inputs/outputs as plain values (a captured JSON string is parsed back)."""
    if type(value) is Dumped:
        try:
            return json.loads(value)
        except ValueError:  # cut at the field limit: no longer JSON
            return str(value)
    return value


def span_attributes(span: Any, limit: int, tags: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
    """(OTLP span kind, every attribute exported for ``span``): recorded, derived, input/output."""
    recorded = dict(span._attributes or {})
    if span.kind in _READS_IO:
        inputs, outputs = decoded(span._inputs), decoded(span._outputs)
    else:  # the mapping does not look into a chain's or parser's values: skip parsing them
        inputs = outputs = None
    kind, attrs = wire_attributes(span.kind, span.name, recorded, inputs, outputs, tags)
    attrs = {**recorded, **attrs, "logwright.span.kind": span.kind}
    for key, value in (("input", span._inputs), ("output", span._outputs)):
        if value is None:
            continue
        if type(value) is str and type(value) is not Dumped:
            attrs[f"{key}.value"], attrs[f"{key}.mime_type"] = value, "text/plain"
        else:
            text = value if type(value) is Dumped else encode(value, limit)
            if text is not None:
                attrs[f"{key}.value"], attrs[f"{key}.mime_type"] = str(text), "application/json"
    return kind, attrs


def _span(out: Any, trace: Any, span: Any, tid: bytes) -> None:
    is_root = span.parent_id is None or span is trace.root
    kind, attrs = span_attributes(span, trace.limit, trace.tags if is_root else None)
    if is_root:
        attrs["logwright.experiment_id"] = str(trace.experiment_id)
        if trace.run_id:
            attrs["logwright.run_id"] = trace.run_id
        if trace.name:
            attrs["logwright.trace.name"] = trace.name
            attrs["logwright.span.name"] = span.name
        for key, value in trace.tags.items():
            attrs[f"logwright.trace.tag.{key}"] = value
    if trace.late:
        attrs["logwright.span.late"] = True
    out.trace_id = tid
    out.span_id = bytes.fromhex(span.span_id)
    if span.parent_id:
        out.parent_span_id = bytes.fromhex(span.parent_id)
    out.name = trace.name if is_root and trace.name else span.name
    out.kind = kind
    out.start_time_unix_nano = max(0, span.start_ns or 0)
    out.end_time_unix_nano = max(0, span.end_ns or span.start_ns or 0)
    _key_values(out.attributes, attrs)
    for name, ts, event_attrs in span._events or ():
        event = out.events.add()
        event.name, event.time_unix_nano = str(name), max(0, ts or 0)
        _key_values(event.attributes, event_attrs or {})
    if span.status == "ERROR":
        out.status.code = Status.STATUS_CODE_ERROR
        if span.status_message:
            out.status.message = str(span.status_message)
    else:
        out.status.code = Status.STATUS_CODE_OK


def encode_trace(trace: Any, project: str, scope_version: str, max_bytes: int) -> bytes:
    """One trace as ``ExportTraceServiceRequest`` bytes of at most ``max_bytes``.

    A trace too big for one request is cut rather than lost: long attribute values are
    shortened first (ending in ``... [truncated by logwright for export]``), then spans
    past what fits are left out; the root then carries ``logwright.export.truncated``.

    Args:
        trace: the exporter's snapshot of a finished trace (or of one late span).
        project: the experiment's name (``openinference.project.name``).
        scope_version: logwright's version, for the instrumentation scope.
        max_bytes: the request size limit.
    """
    request = _request(trace, project, scope_version)
    data = request.SerializeToString()
    if len(data) <= max_bytes:
        return data
    spans = request.resource_spans[0].scope_spans[0].spans
    for span in spans:
        for kv in span.attributes:
            if kv.value.WhichOneof("value") == "string_value" and len(kv.value.string_value) > _CUT:
                text = kv.value.string_value
                kv.value.string_value = f"{text[:_CUT]}... [truncated by logwright for export: {len(text)} characters]"
    total = len(spans)
    while request.ByteSize() > max_bytes - 256 and len(spans) > 1:
        del spans[len(spans) // 2:]
    note = f"{len(spans)} of {total} spans exported; long attribute values cut to {_CUT} characters"
    kv = spans[0].attributes.add()
    kv.key, kv.value.string_value = TRUNCATED, note
    _logger.warning("logwright: trace %s is over the %d-byte OTLP request limit: %s",
                    trace.trace_id, max_bytes, note)
    return request.SerializeToString()


def _request(trace: Any, project: str, scope_version: str) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    _key_values(resource_spans.resource.attributes,
                {"service.name": "logwright", "openinference.project.name": project})
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name, scope_spans.scope.version = "logwright", scope_version
    tid = bytes.fromhex(trace.trace_id)
    root = trace.root
    ordered = trace.spans if root is None else [root, *(s for s in trace.spans if s is not root)]
    for span in ordered:  # the root first: a trace cut to fit keeps it
        _span(scope_spans.spans.add(), trace, span, tid)
    return request

