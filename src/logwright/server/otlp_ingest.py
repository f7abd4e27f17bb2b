"""OTLP/HTTP trace ingest: ``POST /v1/traces`` takes traces from any OpenTelemetry app.

The body is an ``ExportTraceServiceRequest`` as ``application/x-protobuf`` or in the
OTLP JSON encoding (``application/json``: lowerCamelCase keys, trace and span ids as
hex strings, enums as numbers), optionally ``Content-Encoding: gzip``. Spans are
grouped by trace id into logwright traces (:func:`records_from_otlp`, the inverse of
the export's conventions in :mod:`logwright.tracing.semconv_inverse`) and written
through the Store protocol (``store.log_trace``), one row per trace, exactly as
native traces: the UI, ``search_traces`` and the CLI show them the same way.

- **Several requests, one trace.** Spans of a trace id already stored (or written by
  an earlier request still in the writer's queue) are merged with it by span id and
  the trace is written again: a retried request stores nothing twice, and the trace's
  name, status, times and inputs/outputs follow its root span once that arrives.
- **Experiment**: the ``x-logwright-experiment`` header (an id or a name), else the
  attribute ``logwright.experiment_id`` (an existing id) on the root span or the
  resource, else the experiment of the run in ``logwright.run_id``, else
  ``logwright.experiment`` (a name), else ``openinference.project.name``, else
  ``Default``. Names that do not exist yet are created. A trace already stored keeps
  its experiment.
- **Run**: ``logwright.run_id`` links the trace to that run when it exists here.
- **Answers** (OTLP/HTTP): 200 with an ``ExportTraceServiceResponse`` in the request's
  encoding once the traces are durable (``partial_success.rejected_spans`` counts spans
  with invalid ids); 400 with a ``google.rpc.Status`` for an undecodable body or an
  unknown experiment id in the header; 413 for a body over :data:`MAX_BODY_BYTES`
  (compressed or not); 403 on a read-only server; 415 for another content type or
  encoding; 503 (retryable) when the store does not take the write in time.

Concurrent requests for the same trace id are merged correctly within one server
process; across ``--workers`` processes, two requests for one trace id arriving at
the same moment may keep only one request's spans (an exporter sends its requests
one after another, so this needs two apps sending spans of one distributed trace).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
import zlib
from collections.abc import Sequence
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from logwright.exceptions import LogwrightError
from logwright.tracing.ingest import IngestBatch, IngestTrace, records_from_otlp, stored_spans
from logwright.tracing.serialize import scrub

_logger = logging.getLogger(__name__)

__all__ = ["MAX_BODY_BYTES", "otlp_traces", "records_from_otlp", "decode_request"]

PROTOBUF, JSON = "application/x-protobuf", "application/json"
EXPERIMENT_HEADER = "x-logwright-experiment"
DEFAULT_EXPERIMENT = "Default"
#: the largest body taken, as sent and once decompressed (bytes)
MAX_BODY_BYTES = 64 * 1024 * 1024
FLUSH_TIMEOUT = 8.0  # under the OpenTelemetry SDK exporter's 10 s request timeout
_LOOKUP_CHUNK = 250  # trace ids per search (the filter language's length limit)
_INVALID_ARGUMENT, _PERMISSION_DENIED, _RESOURCE_EXHAUSTED, _UNAVAILABLE = 3, 7, 8, 14  # google.rpc.Code
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_ID_FIELDS = (("traceId", 16), ("spanId", 8), ("parentSpanId", 8),
              ("trace_id", 16), ("span_id", 8), ("parent_span_id", 8))


class _Refused(Exception):
    """A request answered with an error status (HTTP status, gRPC code, message)."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# -- decoding ---------------------------------------------------------------------------------


def _gunzip(body: bytes) -> bytes:
    out, rest = [], body
    size = 0
    while rest:
        unpacker = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            chunk = unpacker.decompress(rest, MAX_BODY_BYTES - size + 1)
        except zlib.error as exc:
            raise _Refused(400, _INVALID_ARGUMENT, f"the body is not valid gzip: {exc}") from None
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _Refused(413, _RESOURCE_EXHAUSTED, f"the decompressed body is over {MAX_BODY_BYTES} bytes")
        if not unpacker.eof:
            raise _Refused(400, _INVALID_ARGUMENT, "the gzip body is cut short")
        out.append(chunk)
        rest = unpacker.unused_data  # concatenated gzip members
    return b"".join(out)


def _id_for_json(value: Any, size: int) -> Any:
    """An OTLP/JSON id (hex) as protobuf JSON's base64; an unusable id becomes empty (the span is refused)."""
    if not isinstance(value, str) or not value:
        return ""
    if len(value) == 2 * size:
        try:
            return base64.b64encode(bytes.fromhex(value)).decode("ascii")
        except ValueError:
            pass
    try:  # protobuf's own JSON mapping (base64), sent by some clients
        if len(base64.b64decode(value, validate=True)) == size:
            return value
    except (binascii.Error, ValueError):
        pass
    return ""


def _fix_ids(item: Any) -> None:
    if isinstance(item, dict):
        for key, size in _ID_FIELDS:
            if key in item:
                item[key] = _id_for_json(item[key], size)


def _items(parent: Any, *keys: str) -> list:
    if not isinstance(parent, dict):
        return []
    for key in keys:
        found = parent.get(key)
        if isinstance(found, list):
            return found
    return []


def _from_json(data: bytes) -> Any:
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _Refused(400, _INVALID_ARGUMENT, f"the body is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise _Refused(400, _INVALID_ARGUMENT, "the body is not an ExportTraceServiceRequest JSON object")
    if _SURROGATE_ESCAPE.search(data):  # half an emoji cut off by the sender: U+FFFD, as native spans
        doc = json.loads(scrub(json.dumps(doc, ensure_ascii=False)))
    for resource_spans in _items(doc, "resourceSpans", "resource_spans"):
        for scope_spans in _items(resource_spans, "scopeSpans", "scope_spans"):
            for span in _items(scope_spans, "spans"):
                _fix_ids(span)
                for link in _items(span, "links"):
                    _fix_ids(link)
    try:
        return json_format.ParseDict(doc, ExportTraceServiceRequest(), ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, AttributeError) as exc:
        raise _Refused(400, _INVALID_ARGUMENT, f"the body is not an OTLP ExportTraceServiceRequest: {exc}") from None


def decode_request(body: bytes, content_type: str, gzipped: bool = False) -> Any:
    """An ``ExportTraceServiceRequest`` from an OTLP/HTTP body.

    Args:
        body: the request body as received.
        content_type: :data:`PROTOBUF` or :data:`JSON`.
        gzipped: the body has ``Content-Encoding: gzip``.

    Returns:
        The decoded message.

    Raises:
        _Refused: the body cannot be decoded (400) or is too large once decompressed (413).
    """
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    data = _gunzip(body) if gzipped else body
    if content_type == JSON:
        return _from_json(data)
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise _Refused(400, _INVALID_ARGUMENT, f"the body is not an OTLP ExportTraceServiceRequest: {exc}") from None
    return request


# -- answers ----------------------------------------------------------------------------------


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte, number = number & 0x7F, number >> 7
        out.append(byte | (0x80 if number else 0))
        if not number:
            return bytes(out)


def _status_body(code: int, message: str, content_type: str) -> tuple[bytes, str]:
    """A ``google.rpc.Status`` (code, message) in the request's encoding."""
    if content_type == PROTOBUF:
        text = message.encode("utf-8", "replace")
        return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text, PROTOBUF
    return json.dumps({"code": code, "message": message}).encode(), JSON


def _error(status: int, code: int, message: str, content_type: str) -> Response:
    body, media = _status_body(code, message, content_type)
    headers = {"Retry-After": "5"} if status == 503 else None
    return Response(body, status_code=status, media_type=media, headers=headers)


def _success(batch: IngestBatch, content_type: str) -> Response:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    reply = ExportTraceServiceResponse()
    if batch.rejected:
        reply.partial_success.rejected_spans = batch.rejected
        reply.partial_success.error_message = "; ".join(batch.errors)
    if content_type == PROTOBUF:
        return Response(reply.SerializeToString(), media_type=PROTOBUF)
    from google.protobuf import json_format

    return Response(json.dumps(json_format.MessageToDict(reply)).encode(), media_type=JSON)


# -- writing ----------------------------------------------------------------------------------


class Receiver:
    """Writes received traces to one client's store; one per app (``app.state.otlp_receiver``).

    Holds what a merge needs: the traces this process queued whose write is not yet
    durable (so a request right behind another merges with its spans), and caches of
    experiment and run look-ups.

    Args:
        client: the app's :class:`~logwright.client.Client`.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.lock = threading.Lock()
        self.pending: dict[str, tuple[IngestTrace, int]] = {}  # trace id -> (queued trace, ticket)
        self._ticket = 0
        self._experiments: dict[str, str] = {}  # id -> name
        self._runs: dict[str, str | None] = {}

    def handle(self, body: bytes, content_type: str, gzipped: bool, header: str | None) -> IngestBatch:
        """Decode, map and durably write one request's traces.

        Raises:
            _Refused: the answer is an error (400, 413, 503).
        """
        batch = records_from_otlp(decode_request(body, content_type, gzipped))
        store = self.client.store
        try:
            chosen = self._header_experiment(header) if header else None
            if not batch:
                return batch
            for trace in batch:
                self._route(trace, chosen)
            with self.lock:
                self._merge(store, batch)
                for trace in batch:
                    trace.to_record()  # encoded here, so the writer's queue counts its real size
                    store.log_trace(trace)
                    self._ticket += 1
                    self.pending[trace.trace_id] = (trace, self._ticket)
                mark = self._ticket
            done = _flush(store)
        except LogwrightError as exc:
            raise _Refused(503, _UNAVAILABLE, f"the store did not take the traces: {exc}") from None
        if not done:  # still queued, and still merged into by the next request for the same trace
            raise _Refused(503, _UNAVAILABLE, "the store did not acknowledge the traces in time; retry")
        with self.lock:  # everything queued up to ``mark`` is durable now: later reads find it stored
            for trace_id in [t for t, (_, ticket) in self.pending.items() if ticket <= mark]:
                del self.pending[trace_id]
        return batch

    def _merge(self, store: Any, batch: Sequence[IngestTrace]) -> None:
        """Merge each trace with what this trace id already has (queued here, or stored)."""
        earlier: dict[str, Any] = {}
        lookup = [t.trace_id for t in batch if t.trace_id not in self.pending]
        for start in range(0, len(lookup), _LOOKUP_CHUNK):
            ids = lookup[start:start + _LOOKUP_CHUNK]
            found = store.search_traces(None, None, f"trace_id IN ({', '.join(repr(i) for i in ids)})",
                                        None, len(ids), 0)
            earlier.update((t.trace_id, t) for t in found)
        for trace in batch:
            queued = self.pending.get(trace.trace_id, (None,))[0]
            if queued is not None:
                trace.merge(list(queued.spans), queued.name, queued.tags)
                trace.experiment_id, trace.run_id = queued.experiment_id, trace.run_id or queued.run_id
                continue
            stored = earlier.get(trace.trace_id)
            if stored is not None:
                info = stored.info
                trace.merge(stored_spans(stored), info.name, dict(info.tags))
                trace.experiment_id, trace.run_id = info.experiment_id, trace.run_id or info.run_id

    def _route(self, trace: IngestTrace, chosen: str | None) -> None:
        """Set the trace's experiment and run from the header and its hints.

        An experiment id is taken only when its experiment has the name the hints give
        (if they give one): logwright's exporter sends its own store's id and name, and
        the same id here may be another experiment.
        """
        hints = trace.hints
        run_experiment = self._run(hints["run_id"]) if "run_id" in hints else None
        if run_experiment is not None:
            trace.run_id = hints["run_id"]
        name_hint = hints.get("experiment") or hints.get("project")
        experiment = chosen or self._existing_id(hints.get("experiment_id"), name_hint) or run_experiment
        for name in (hints.get("experiment"), hints.get("project"), DEFAULT_EXPERIMENT):
            if experiment is None and name:
                experiment = self._by_name(name)
        trace.experiment_id = experiment or "0"

    def _header_experiment(self, value: str) -> str:
        value = value.strip()
        found = self._existing_id(value) if value.isdigit() else self._by_name(value)
        if found is None:
            raise _Refused(400, _INVALID_ARGUMENT, f"{EXPERIMENT_HEADER}: no experiment {value!r}")
        return found

    def _existing_id(self, value: str | None, name: str | None = None) -> str | None:
        """``value`` when it is the id of an experiment here (named ``name``, when given)."""
        if not value or not value.isdigit() or len(value) > 18:
            return None
        known = self._experiments.get(value)
        if known is None:
            try:
                known = self._experiments[value] = self.client.get_experiment(value).name
            except LogwrightError:
                return None
        return value if name is None or name == known else None

    def _by_name(self, name: str) -> str | None:
        try:
            return self.client.create_experiment(name)
        except (ValueError, LogwrightError) as exc:
            _logger.warning("logwright: OTLP ingest cannot use experiment %r: %s", name[:200], exc)
            return None

    def _run(self, run_id: str) -> str | None:
        """The experiment of run ``run_id``, None when there is no such run here."""
        if run_id not in self._runs:
            if len(self._runs) > 10_000:
                self._runs.clear()
            found = self.client.store.run_exists(run_id) if len(run_id) <= 64 else None
            self._runs[run_id] = None if found is None else str(found[0])
        return self._runs[run_id]


def _flush(store: Any) -> bool:
    """Wait until the queued traces are durable; False when that took over :data:`FLUSH_TIMEOUT`.

    ``Store.flush`` says nothing of a timeout; a store's background writer does.
    """
    writer = getattr(store, "writer", None)
    if writer is not None and hasattr(writer, "flush"):
        return writer.flush(FLUSH_TIMEOUT) is not False
    return store.flush(FLUSH_TIMEOUT) is not False


def _receiver(request: Request) -> Receiver:
    state = request.app.state
    receiver = getattr(state, "otlp_receiver", None)
    if receiver is None:
        receiver = state.otlp_receiver = Receiver(state.client)
    return receiver


async def _body(request: Request) -> bytes | None:
    """The body, or None when it is over :data:`MAX_BODY_BYTES`."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY_BYTES:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def otlp_traces(request: Request) -> Response:
    """``POST /v1/traces``: OTLP/HTTP trace export, protobuf or JSON, optionally gzipped.

    Args:
        request: the Starlette request; ``request.app.state.client`` is the app's
            :class:`~logwright.client.Client`, whose store receives the traces.

    Returns:
        200 with an ``ExportTraceServiceResponse`` once the traces are durable; an
        error status with a ``google.rpc.Status`` body otherwise (see the module docstring).
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    answer_type = content_type if content_type in (PROTOBUF, JSON) else JSON
    if getattr(request.app.state, "read_only", False):
        return _error(403, _PERMISSION_DENIED, "this server is read-only: it takes no traces", answer_type)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if content_type not in (PROTOBUF, JSON):
        return _error(415, _INVALID_ARGUMENT, f"content type {content_type!r} is not supported: "
                      f"send {PROTOBUF} or {JSON}", answer_type)
    if encoding not in ("identity", "gzip", ""):
        return _error(415, _INVALID_ARGUMENT, f"content encoding {encoding!r} is not supported: send gzip or none",
                      answer_type)
    body = await _body(request)
    if body is None:
        return _error(413, _RESOURCE_EXHAUSTED, f"the body is over {MAX_BODY_BYTES} bytes", answer_type)
    receiver = _receiver(request)
    try:
        batch = await run_in_threadpool(receiver.handle, body, content_type, encoding == "gzip",
                                        request.headers.get(EXPERIMENT_HEADER))
    except _Refused as refused:
        if refused.status >= 500:
            _logger.warning("logwright: OTLP ingest answered %d: %s", refused.status, refused.message)
        return _error(refused.status, refused.code, refused.message, answer_type)
    return _success(batch, answer_type)
