"""Traces received over OTLP, as the store writes native ones.

:func:`records_from_otlp` turns an ``ExportTraceServiceRequest`` (any
opentelemetry-proto message of that shape; nothing is imported here) into one
:class:`IngestTrace` per OTLP trace id. An ``IngestTrace`` is shaped like the
tracing module's own trace state (``trace_id``, ``approx_bytes``, ``to_record()``,
``late_record(span)``), so ``store.log_trace`` writes it exactly as a native trace,
with :func:`logwright.tracing.records.trace_record`.

Spans of one trace may arrive in several requests (a long trace's children are
exported before its root ends; a span ending after its root comes on its own).
They are merged: :meth:`IngestTrace.merge` adds the spans of the trace already
stored, by span id (a span sent again replaces the earlier copy, so a retried
request stores nothing twice), and the merged trace is written again as one row.

Routing hints (experiment, run, trace name and tags) are read from the spans'
attributes, root first, then from the resource: see :data:`HINTS`.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

from logwright.tracing.context import SETTINGS
from logwright.tracing.records import TraceRecord, fallback_record, late_span, trace_record
from logwright.tracing.semconv_inverse import TRACE_TAG_PREFIX, span_fields

_logger = logging.getLogger(__name__)

#: hint name -> the attribute it is read from (span first, then resource).
HINTS = {"experiment_id": "logwright.experiment_id", "experiment": "logwright.experiment",
         "project": "openinference.project.name", "run_id": "logwright.run_id"}
_STATUS = {0: "OK", 1: "OK", 2: "ERROR"}  # Status.StatusCode: UNSET (ended: OK, as native spans), OK, ERROR
_ZERO_TRACE, _ZERO_SPAN = bytes(16), bytes(8)


class IngestSpan:
    """One received span, with the fields :mod:`logwright.tracing.records` encodes."""

    __slots__ = ("span_id", "parent_id", "name", "kind", "start_ns", "end_ns", "status", "status_message",
                 "_attributes", "_inputs", "_outputs", "_events")

    def __init__(self, span_id: str, parent_id: str | None, name: str, kind: str, start_ns: int,
                 end_ns: int | None, status: str, status_message: str | None) -> None:
        self.span_id, self.parent_id, self.name, self.kind = span_id, parent_id, name, kind
        self.start_ns, self.end_ns, self.status, self.status_message = start_ns, end_ns, status, status_message
        self._attributes: dict[str, Any] | None = None
        self._inputs: Any = None
        self._outputs: Any = None
        self._events: list[tuple] | None = None

    def __repr__(self) -> str:
        return f"<IngestSpan {self.name!r} kind={self.kind} span_id={self.span_id}>"


class IngestTrace:
    """The spans of one OTLP trace id, written through ``store.log_trace`` like a native trace.

    Attributes:
        trace_id: 32 lower-case hex characters.
        experiment_id: set by the receiver before writing.
        run_id: the run the trace links to, or None.
        name: the trace's name when it differs from its root span's (``logwright.trace.name``).
        tags: the trace's tags.
        hints: routing hints read from the spans and resource (:data:`HINTS`).
        spans: the spans, in arrival order (one per span id).
        index: span id -> position in ``spans`` (for the spans of one request).
    """

    __slots__ = ("trace_id", "experiment_id", "run_id", "name", "tags", "hints", "spans", "index", "limit",
                 "approx_bytes", "_record")

    def __init__(self, trace_id: str) -> None:
        self.trace_id = trace_id
        self.experiment_id: str | int = 0
        self.run_id: str | None = None
        self.name: str | None = None
        self.tags: dict[str, str] = {}
        self.hints: dict[str, str] = {}
        self.spans: list[IngestSpan] = []
        self.index: dict[str, int] = {}  # span id -> position in spans, while receiving
        self.limit = SETTINGS.field_limit
        self.approx_bytes = 256
        self._record: TraceRecord | None = None

    def __repr__(self) -> str:
        return f"<IngestTrace {self.trace_id} spans={len(self.spans)}>"

    @property
    def root(self) -> IngestSpan | None:
        """The span without a parent; else the earliest whose parent is not here (a remote parent)."""
        return root_of(self.spans)

    def to_record(self) -> TraceRecord:
        """The trace row the store writes (encoded once, as a native trace's)."""
        if self._record is None:
            try:
                record = trace_record(self)
            except Exception as exc:  # noqa: BLE001 - a bug: keep the row, say why the spans are missing
                _logger.warning("logwright: could not encode received trace %s: %r", self.trace_id, exc)
                record = fallback_record(self, exc)
            self._record = record
            self.approx_bytes = 256 + len(record.spans or b"") + len(record.inputs or "") + len(record.outputs or "")
        return self._record

    def late_record(self, span: IngestSpan) -> tuple[bytes, tuple[int | None, int | None, int | None]]:
        """One span's UTF-8 JSON array and tokens (for ``store.log_late_span``)."""
        return late_span(self, span)

    def merge(self, earlier: list[IngestSpan], name: str | None = None, tags: dict[str, str] | None = None) -> None:
        """Add spans received before (stored or pending); a span id sent again keeps the new copy.

        Args:
            earlier: the spans already received for this trace.
            name: the earlier trace's name, kept when it was not its root span's (a rename).
            tags: the stored trace's tags; this request's win on the same key.
        """
        earlier_root = root_of(earlier)
        renamed = name is not None and earlier_root is not None and earlier_root.name != name
        mine = {s.span_id for s in self.spans}
        self.spans = [s for s in earlier if s.span_id not in mine] + self.spans
        if self.name is None and renamed:
            self.name = name
        if tags:
            self.tags = {**tags, **self.tags}
        self._record = None


def root_of(spans: list[IngestSpan]) -> IngestSpan | None:
    """The span without a parent; else the earliest whose parent is not among ``spans``."""
    ids = set()
    for span in spans:
        if span.parent_id is None:
            return span
        ids.add(span.span_id)
    orphans = [s for s in spans if s.parent_id not in ids]
    return min(orphans or spans, key=lambda s: (s.start_ns, s.span_id), default=None)


def value_of(any_value: Any) -> Any:
    """An OTLP ``AnyValue`` as a plain value (arrays as lists, key-value lists as dicts, bytes as base64)."""
    which = any_value.WhichOneof("value")
    if which == "string_value":
        return any_value.string_value
    if which == "int_value":
        return any_value.int_value
    if which == "double_value":
        return any_value.double_value
    if which == "bool_value":
        return any_value.bool_value
    if which == "array_value":
        return [value_of(v) for v in any_value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: value_of(kv.value) for kv in any_value.kvlist_value.values}
    if which == "bytes_value":
        return base64.b64encode(any_value.bytes_value).decode("ascii")
    return None


def attributes_of(key_values: Any) -> dict[str, Any]:
    """Repeated ``KeyValue`` as a dict, empty values left out."""
    out = {}
    for kv in key_values:
        value = value_of(kv.value)
        if value is not None:
            out[kv.key] = value
    return out


class IngestBatch(list):
    """The traces of one request (a list of :class:`IngestTrace`), with what was refused.

    Attributes:
        rejected: spans that could not be taken (invalid ids).
        errors: why, a few examples.
    """

    rejected: int = 0
    errors: list[str]

    def refuse(self, why: str) -> None:
        """Count one rejected span, keeping the first few reasons."""
        self.rejected += 1
        if len(self.errors) < 5:
            self.errors.append(why)


def records_from_otlp(request: Any) -> IngestBatch:
    """The traces in an ``ExportTraceServiceRequest``, one :class:`IngestTrace` per trace id.

    Pure: reads the message, touches no store. Experiments and runs are not resolved
    here: each trace carries the ``hints`` its spans and resource gave.

    Args:
        request: a decoded ``opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest``.

    Returns:
        An :class:`IngestBatch`: the traces in order of first appearance, ``rejected``
        counting spans with an invalid trace or span id.
    """
    batch = IngestBatch()
    batch.errors = []
    traces: dict[bytes, IngestTrace] = {}
    for resource_spans in request.resource_spans:
        resource = attributes_of(resource_spans.resource.attributes)
        service = resource.get("service.name")
        for scope_spans in resource_spans.scope_spans:
            from_logwright = scope_spans.scope.name == "logwright"
            for span in scope_spans.spans:
                tid = span.trace_id
                if len(tid) != 16 or tid == _ZERO_TRACE or len(span.span_id) != 8 or span.span_id == _ZERO_SPAN:
                    batch.refuse(f"span {span.name!r}: invalid trace id or span id")
                    continue
                trace = traces.get(tid)
                if trace is None:
                    trace = traces[tid] = IngestTrace(tid.hex())
                    batch.append(trace)
                _add_span(trace, span, resource, service, from_logwright)
    return batch


def _add_span(trace: IngestTrace, span: Any, resource: dict[str, Any], service: Any, from_logwright: bool) -> None:
    attrs = attributes_of(span.attributes)
    parent = span.parent_span_id
    parent_id = parent.hex() if len(parent) == 8 and parent != _ZERO_SPAN else None
    is_root = parent_id is None
    _read_hints(trace, attrs, resource, is_root)
    if type(service) is str and service and service != "logwright":
        trace.tags.setdefault("service.name", service)
    name = span.name
    if is_root and type(attrs.get("logwright.span.name")) is str:
        trace.name = name  # logwright exported the renamed trace's name as the root's
        name = attrs["logwright.span.name"]
    tags = trace.tags if is_root else None
    kind, inputs, outputs, kept = span_fields(name, span.kind, attrs, from_logwright, tags)
    status = span.status
    out = IngestSpan(span.span_id.hex(), parent_id, name, kind, span.start_time_unix_nano,
                     span.end_time_unix_nano or None, _STATUS.get(status.code, "OK"), status.message or None)
    out._attributes = kept or None
    out._inputs, out._outputs = inputs, outputs
    if span.events:
        events = []
        for event in span.events:
            event_attrs = attributes_of(event.attributes)
            events.append((event.name, event.time_unix_nano, event_attrs))
        out._events = events
    found = trace.index.get(out.span_id)
    if found is None:
        trace.index[out.span_id] = len(trace.spans)
        trace.spans.append(out)
    else:  # the same span twice in one request: the later copy wins, as across requests
        trace.spans[found] = out


def _read_hints(trace: IngestTrace, attrs: dict[str, Any], resource: dict[str, Any], is_root: bool) -> None:
    hints = trace.hints
    for hint, key in HINTS.items():
        value = attrs.get(key)
        if value is not None and (is_root or hint not in hints):
            hints[hint] = str(value)
        elif hint not in hints and resource.get(key) is not None:
            hints[hint] = str(resource[key])
    if is_root:  # logwright's exporter puts the trace's tags on its root span
        for key, value in attrs.items():
            if key.startswith(TRACE_TAG_PREFIX):
                trace.tags[key[len(TRACE_TAG_PREFIX):]] = value if type(value) is str else str(value)


def stored_spans(trace: Any) -> list[IngestSpan]:
    """The spans of a stored :class:`~logwright.entities.Trace`, to merge new ones into."""
    out = []
    for span in trace.spans:
        copy = IngestSpan(span.span_id, span.parent_id, span.name, span.kind, span.start_ns, span.end_ns,
                          span.status, span.status_message)
        attrs = {k: v for k, v in span.attributes.items() if k != "logwright.span.kind"}
        copy._attributes = attrs or None
        copy._inputs, copy._outputs = span.inputs, span.outputs
        copy._events = [(e.name, e.timestamp_ns, e.attributes) for e in span.events] or None
        out.append(copy)
    return out
