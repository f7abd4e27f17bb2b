"""OTLP/HTTP export of finished traces (extra ``logwright[otel]``).

When ``LOGWRIGHT_OTLP_ENDPOINT`` is set or :func:`logwright.tracing.configure` is
given ``otlp_endpoint``, every trace is also sent, when its root span ends, to that
endpoint as OpenTelemetry spans (protobuf over HTTP) by a background thread:
same trace and span ids, parents, names, start/end times, status, events, and
attributes (the GenAI ``gen_ai.*`` ones as they are; inputs and outputs as JSON in
``input.value`` / ``output.value``). opentelemetry-sdk and its OTLP exporter are
imported only then. Spans that end after their root are not exported.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from logwright.tracing.serialize import encode

_logger = logging.getLogger(__name__)

_state: dict[str, Any] = {"exporter": None}


class _OtlpExporter:
    """A queue of finished traces and the daemon thread that sends them."""

    def __init__(self, endpoint: str) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource

        self.endpoint = endpoint
        self.exporter = OTLPSpanExporter(endpoint=endpoint)
        self.resource = Resource.create({"service.name": "logwright"})
        self._start()

    def _start(self) -> None:
        self.pid = os.getpid()
        self.queue: queue.Queue[Any] = queue.Queue()
        self.thread = threading.Thread(target=self._loop, name="logwright-otlp", daemon=True)
        self.thread.start()

    def submit(self, trace: Any) -> None:
        """Queue a finished trace (called when its root span ends)."""
        if self.pid != os.getpid():  # a forked child: the parent's thread did not come along
            self._start()
        self.queue.put(_Finished(trace))

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every queued trace was sent (or ``timeout`` passed)."""
        deadline = time.monotonic() + timeout
        with self.queue.all_tasks_done:
            while self.queue.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0:
                    _logger.warning("logwright: OTLP export to %s did not finish in time", self.endpoint)
                    return
                self.queue.all_tasks_done.wait(left)

    def shutdown(self) -> None:
        """Stop the thread after what is queued."""
        self.queue.put(None)

    def _loop(self) -> None:
        while True:
            trace = self.queue.get()
            try:
                if trace is None:
                    return
                batch = [trace]
                while not self.queue.empty() and len(batch) < 64:
                    nxt = self.queue.get_nowait()
                    self.queue.task_done()
                    if nxt is None:
                        self.queue.put(None)
                        break
                    batch.append(nxt)
                spans = [s for t in batch for s in to_otel_spans(t, self.resource)]
                result = self.exporter.export(spans)
                if getattr(result, "name", "") != "SUCCESS":
                    _logger.warning("logwright: OTLP export to %s failed (%s)", self.endpoint, result)
            except Exception as exc:  # noqa: BLE001 - keep exporting later traces
                _logger.warning("logwright: OTLP export to %s failed: %r", self.endpoint, exc)
            finally:
                self.queue.task_done()


class _Finished:
    """What export needs of a finished trace, taken when its root ends (the store's
    writer lets go of the trace's spans once it has encoded them)."""

    __slots__ = ("trace_id", "experiment_id", "run_id", "tags", "root", "spans", "limit")

    def __init__(self, trace: Any) -> None:
        self.trace_id = trace.trace_id
        self.experiment_id = trace.experiment_id
        self.run_id = trace.run_id
        self.tags = dict(trace.tags)
        self.root = trace.root
        self.spans = list(trace.spans)
        self.limit = trace.limit


def _endpoint(url: str) -> str:
    parts = urlsplit(url)
    if parts.path in ("", "/"):
        return url.rstrip("/") + "/v1/traces"
    return url


def configure(endpoint: str | None) -> None:
    """Start (or stop, for None) exporting finished traces to ``endpoint``."""
    from logwright.tracing.spans import _listeners

    old = _state["exporter"]
    if old is not None:
        if old.submit in _listeners:
            _listeners.remove(old.submit)
        old.flush(5.0)
        old.shutdown()
        _state["exporter"] = None
    if not endpoint:
        return
    try:
        exporter = _OtlpExporter(_endpoint(endpoint))
    except ImportError as exc:
        _logger.warning("OTLP export needs `pip install logwright[otel]` (%s); traces stay local", exc)
        return
    _state["exporter"] = exporter
    _listeners.append(exporter.submit)


def flush() -> None:
    """Wait for traces queued for export (a no-op when exporting is off)."""
    exporter = _state["exporter"]
    if exporter is not None and exporter.pid == os.getpid():
        exporter.flush()


def _attribute(value: Any) -> Any:
    if isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)) and value and len({type(v) for v in value}) == 1 \
            and isinstance(value[0], (str, bool, int, float)):
        return list(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _attributes(span: Any, limit: int) -> dict[str, Any]:
    attrs = {str(k): _attribute(v) for k, v in (span._attributes or {}).items() if v is not None}
    attrs["logwright.span.kind"] = span.kind
    attrs["openinference.span.kind"] = span.kind
    for key, value in (("input.value", span._inputs), ("output.value", span._outputs)):
        text = encode(value, limit)
        if text is not None:
            attrs[key] = text
            attrs[key.replace(".value", ".mime_type")] = "application/json"
    return attrs


def to_otel_spans(trace: Any, resource: Any) -> list[Any]:
    """OpenTelemetry ``ReadableSpan`` objects for a finished trace."""
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

    from logwright import __version__

    flags = TraceFlags(TraceFlags.SAMPLED)
    tid = int(trace.trace_id, 16)
    scope = InstrumentationScope("logwright", __version__)
    out = []
    for span in trace.spans:
        ctx = SpanContext(tid, int(span.span_id, 16), False, flags)
        parent = SpanContext(tid, int(span.parent_id, 16), False, flags) if span.parent_id else None
        attrs = _attributes(span, trace.limit)
        if span is trace.root:
            attrs.update({"logwright.experiment_id": str(trace.experiment_id)})
            if trace.run_id:
                attrs["logwright.run_id"] = trace.run_id
            attrs.update({f"logwright.trace.tag.{k}": v for k, v in trace.tags.items()})
        events = [
            Event(name, {k: _attribute(v) for k, v in (attributes or {}).items()}, ts)
            for name, ts, attributes in (span._events or ())
        ]
        code = StatusCode.ERROR if span.status == "ERROR" else StatusCode.OK
        out.append(ReadableSpan(
            name=span.name, context=ctx, parent=parent, resource=resource, attributes=attrs,
            events=events, kind=SpanKind.INTERNAL,
            status=Status(code, span.status_message if code is StatusCode.ERROR else None),
            start_time=span.start_ns, end_time=span.end_ns, instrumentation_scope=scope,
        ))
    return out
