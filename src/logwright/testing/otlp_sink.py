"""A real OTLP/HTTP receiver for tests: decodes what the exporter sends with opentelemetry-proto.

``with OtlpSink() as sink:`` listens on 127.0.0.1 (``sink.url``); ``sink.mode`` is
``"accept"`` (HTTP 200), ``"503"`` (Service Unavailable) or, after
:meth:`OtlpSink.refuse`, nothing listens on the port (connection refused) until
:meth:`OtlpSink.accept`. Accepted requests are kept decoded; :meth:`spans` gives the
spans with their attributes as plain values.
"""

from __future__ import annotations

import gzip
import http.server
import threading
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


def value(any_value: Any) -> Any:
    """A protobuf ``AnyValue`` as a Python value (arrays as lists)."""
    which = any_value.WhichOneof("value")
    if which == "array_value":
        return [value(v) for v in any_value.array_value.values]
    return getattr(any_value, which) if which else None


def attributes(key_values: Any) -> dict[str, Any]:
    """Repeated ``KeyValue`` as a dict."""
    return {kv.key: value(kv.value) for kv in key_values}


class _Handler(http.server.BaseHTTPRequestHandler):
    sink: OtlpSink

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.sink.mode != "accept":
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.sink.refused += 1
            return
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        with self.sink.lock:
            self.sink.requests.append((self.path, request, len(body)))
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: Any) -> None:
        pass


class OtlpSink:
    """An OTLP/HTTP traces receiver on a local port (see the module docstring)."""

    def __init__(self, port: int = 0) -> None:
        self.mode = "accept"
        self.requests: list[tuple[str, ExportTraceServiceRequest, int]] = []
        self.refused = 0
        self.lock = threading.Lock()
        self.server: http.server.ThreadingHTTPServer | None = None
        self._serve(port)
        self.port = self.server.server_address[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{self.port}"

    def _serve(self, port: int) -> None:
        handler = type("Handler", (_Handler,), {"sink": self})
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def refuse(self) -> None:
        """Stop listening: connections are refused."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def accept(self) -> None:
        """Listen again on the same port and acknowledge requests."""
        self.mode = "accept"
        if self.server is None:
            self._serve(self.port)

    def __enter__(self) -> OtlpSink:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.refuse()

    def resource_spans(self) -> list[tuple[dict[str, Any], Any]]:
        """(resource attributes, span) for every span received, in arrival order."""
        with self.lock:
            requests = list(self.requests)
        out = []
        for _, request, _ in requests:
            for resource_spans in request.resource_spans:
                resource = attributes(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    out.extend((resource, span) for span in scope_spans.spans)
        return out

    def spans(self) -> list[dict[str, Any]]:
        """Every span received as a dict: name, ids (hex), kind, status, attributes, events, resource."""
        return [{
            "name": span.name, "trace_id": span.trace_id.hex(), "span_id": span.span_id.hex(),
            "parent_id": span.parent_span_id.hex() or None, "kind": span.kind,
            "status": span.status.code, "status_message": span.status.message,
            "attributes": attributes(span.attributes), "resource": resource,
            "events": [(e.name, attributes(e.attributes)) for e in span.events],
        } for resource, span in self.resource_spans()]

    def trace_ids(self) -> list[str]:
        """The trace id of every root span received (one entry per arrival)."""
        return [s["trace_id"] for s in self.spans() if s["parent_id"] is None]
