"""OTLP/HTTP export, checked against a local receiver that decodes the protobuf."""

from __future__ import annotations

import gzip
import http.server
import json
import threading

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

import logwright as lw
from logwright import tracing


class _Receiver(http.server.BaseHTTPRequestHandler):
    requests: list[tuple[str, ExportTraceServiceRequest]] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.requests.append((self.path, request))
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver(tmp_store, tmp_path, monkeypatch):
    monkeypatch.setenv("LOGWRIGHT_OTLP_SPOOL", str(tmp_path / "spool"))
    _Receiver.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    tracing._reset_for_tests()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    tracing._reset_for_tests()
    server.shutdown()
    server.server_close()


def _value(any_value):
    return getattr(any_value, any_value.WhichOneof("value"))


def _exported_spans():
    out = {}
    for _, request in _Receiver.requests:
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    out[span.name] = span
    return out


def _run_workload():
    with lw.start_run() as run:
        with lw.start_span("agent", kind="AGENT", inputs={"q": "hi"}) as root:
            lw.update_current_trace(tags={"user": "ada"})
            with lw.start_span("chat", kind="CHAT_MODEL") as chat:
                chat.set_attributes({"gen_ai.request.model": "gpt-x", "gen_ai.usage.input_tokens": 12,
                                     "gen_ai.usage.output_tokens": 5})
                chat.add_event("first_token", {"i": 0})
                chat.set_outputs({"text": "hello"})
            try:
                with lw.start_span("tool", kind="TOOL"):
                    raise ValueError("tool failed")
            except ValueError:
                pass
    return run, root


def test_every_finished_trace_is_exported_with_ids_parents_names_and_attributes(receiver):
    tracing.configure(otlp_endpoint=receiver)
    run, root = _run_workload()
    lw.flush()
    assert {path for path, _ in _Receiver.requests} == {"/v1/traces"}
    spans = _exported_spans()
    assert set(spans) == {"agent", "chat", "tool"}
    agent, chat, tool = spans["agent"], spans["chat"], spans["tool"]
    assert agent.trace_id.hex() == root.trace_id and agent.span_id.hex() == root.span_id
    assert agent.parent_span_id == b"" and chat.parent_span_id == agent.span_id
    assert tool.parent_span_id == agent.span_id and chat.trace_id == agent.trace_id
    attrs = {a.key: _value(a.value) for a in chat.attributes}
    assert attrs["gen_ai.request.model"] == "gpt-x"
    assert attrs["gen_ai.usage.input_tokens"] == 12 and attrs["gen_ai.usage.output_tokens"] == 5
    assert attrs["logwright.span.kind"] == "CHAT_MODEL" and json.loads(attrs["output.value"]) == {"text": "hello"}
    root_attrs = {a.key: _value(a.value) for a in agent.attributes}
    assert root_attrs["logwright.run_id"] == run.info.run_id
    assert root_attrs["logwright.trace.tag.user"] == "ada" and json.loads(root_attrs["input.value"]) == {"q": "hi"}
    assert chat.events[0].name == "first_token"
    assert tool.status.code == 2 and "tool failed" in tool.status.message  # STATUS_CODE_ERROR
    assert tool.events[0].name == "exception"
    assert agent.start_time_unix_nano == root.start_ns and agent.end_time_unix_nano == root.end_ns
    local = lw.get_trace(root.trace_id)
    assert local.info.span_count == 3  # the local store still gets everything


def test_endpoint_from_environment_and_turning_export_off(receiver, monkeypatch):
    # The variable must be gone before tracing re-reads settings, or later tests would export.
    with monkeypatch.context() as env:
        env.setenv("LOGWRIGHT_OTLP_ENDPOINT", receiver + "/v1/traces")
        tracing._reset_for_tests()
        with lw.start_span("env"):
            pass
        lw.flush()
        assert set(_exported_spans()) == {"env"}
        tracing.configure(otlp_endpoint="")
        with lw.start_span("local-only"):
            pass
        lw.flush()
        assert set(_exported_spans()) == {"env"}
    tracing._reset_for_tests()
