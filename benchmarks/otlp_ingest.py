"""OTLP/HTTP trace ingest throughput: spans/s that ``POST /v1/traces`` makes durable.

Workload: ``--traces`` traces of ``--spans`` spans each (a CHAIN root with
``input.value``/``output.value``, then children alternating a GenAI chat-model call
with model, tokens and messages, a tool and a retriever with two documents), sent as
OTLP protobuf in requests of ``--batch`` spans (512: the OpenTelemetry SDK's
BatchSpanProcessor default) by ``--clients`` concurrent senders to a uvicorn server in
its own process, on a fresh SQLite store. A request is answered once its traces are
durable, so the wall time from the first request to the last answer is the ingest
time. Afterwards the store is read back: every trace and span must be there.

Figures:
  * ``spans_per_s``: spans / wall time (request building is not timed).
  * ``server_cpu_us_per_span``: the server process's CPU time (all its threads: HTTP,
    decoding, mapping, the store's writer) per span, from ``/proc``; steadier than wall
    time on a busy machine.
  * ``map_us_per_span``: CPU time in this process of ``records_from_otlp`` plus encoding
    each trace's record (what the server does per span besides HTTP and the database).

Usage:
    .venv/bin/python benchmarks/otlp_ingest.py [--traces 1000] [--spans 10] [--clients 1] [--gzip]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

_SERVER = """
import sys, uvicorn
from logwright.server.app import create_app
from logwright.server.otlp_ingest import otlp_traces
app = create_app(sys.argv[1])
app.add_route("/v1/traces", otlp_traces, methods=["POST"])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def _attr(span, key: str, value) -> None:
    kv = span.attributes.add()
    kv.key = key
    if isinstance(value, str):
        kv.value.string_value = value
    else:
        kv.value.int_value = value


def _add_trace(scope, start: int, spans: int) -> None:
    tid = random.getrandbits(128).to_bytes(16, "big")
    root_id = random.getrandbits(64).to_bytes(8, "big")
    question = "What does the warranty cover for a cracked screen?"
    for i in range(spans):
        span = scope.spans.add()
        span.trace_id, span.span_id = tid, root_id if i == 0 else random.getrandbits(64).to_bytes(8, "big")
        span.start_time_unix_nano, span.end_time_unix_nano = start + i * 1000, start + 10_000_000 - i * 1000
        span.status.code = 1
        if i == 0:
            span.name = "rag"
            _attr(span, "openinference.span.kind", "CHAIN")
            _attr(span, "input.value", json.dumps({"question": question}))
            _attr(span, "input.mime_type", "application/json")
            _attr(span, "output.value", "Cracked screens are covered for 12 months.")
            continue
        span.parent_span_id = root_id
        if i % 3 == 1:
            span.name, span.kind = "chat gpt-4o-mini", 3
            for key, value in (("gen_ai.operation.name", "chat"), ("gen_ai.provider.name", "openai"),
                               ("gen_ai.request.model", "gpt-4o-mini"), ("gen_ai.usage.input_tokens", 812),
                               ("gen_ai.usage.output_tokens", 64),
                               ("gen_ai.input.messages", json.dumps([
                                   {"role": "system", "parts": [{"type": "text", "content": "Answer briefly."}]},
                                   {"role": "user", "parts": [{"type": "text", "content": question}]}])),
                               ("gen_ai.output.messages", json.dumps([
                                   {"role": "assistant", "finish_reason": "stop", "parts": [
                                       {"type": "text", "content": "Covered for 12 months."}]}]))):
                _attr(span, key, value)
        elif i % 3 == 2:
            span.name = "lookup_policy"
            for key, value in (("openinference.span.kind", "TOOL"), ("tool.name", "lookup_policy"),
                               ("input.value", '{"product": "phone-x"}'), ("input.mime_type", "application/json"),
                               ("output.value", "12 months, screen included")):
                _attr(span, key, value)
        else:
            span.name = "retrieve"
            _attr(span, "openinference.span.kind", "RETRIEVER")
            _attr(span, "input.value", question)
            for d in range(2):
                _attr(span, f"retrieval.documents.{d}.document.content", f"Warranty section {d}: " + "x" * 200)
                _attr(span, f"retrieval.documents.{d}.document.id", f"doc-{d}")


def build_requests(traces: int, spans: int, batch: int) -> list[bytes]:
    """The workload as serialized ExportTraceServiceRequest bodies of about ``batch`` spans each."""
    random.seed(7)
    bodies, request, start = [], None, time.time_ns()
    per_request = max(1, batch // spans)
    for n in range(traces):
        if n % per_request == 0:
            if request is not None:
                bodies.append(request.SerializeToString())
            request = ExportTraceServiceRequest()
            resource = request.resource_spans.add()
            kv = resource.resource.attributes.add()
            kv.key, kv.value.string_value = "service.name", "bench-app"
            scope = resource.scope_spans.add()
            scope.scope.name = "bench"
        _add_trace(scope, start + n * 20_000_000, spans)
    bodies.append(request.SerializeToString())
    return bodies


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _send(url: str, bodies: list[bytes], zipped: bool, errors: list) -> None:
    headers = {"Content-Type": "application/x-protobuf"}
    if zipped:
        headers["Content-Encoding"] = "gzip"
    with httpx.Client(timeout=60) as client:
        for body in bodies:
            answer = client.post(url, content=body, headers=headers)
            if answer.status_code != 200:
                errors.append((answer.status_code, answer.content[:200]))


def _map_cost(bodies: list[bytes], spans: int) -> float:
    from logwright.tracing.ingest import records_from_otlp

    begin = time.process_time()
    for body in bodies:
        for trace in records_from_otlp(ExportTraceServiceRequest.FromString(body)):
            trace.to_record()
    return (time.process_time() - begin) / spans * 1e6


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    """Run the benchmark and print its figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--traces", type=int, default=1000)
    parser.add_argument("--spans", type=int, default=10)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--gzip", action="store_true")
    args = parser.parse_args()
    bodies = build_requests(args.traces, args.spans, args.batch)
    total = args.traces * args.spans
    sent = [gzip.compress(b, 1) for b in bodies] if args.gzip else bodies
    store = os.path.join(tempfile.mkdtemp(prefix="otlp-bench-"), "store")
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-c", _SERVER, store, str(port)])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while True:
            try:
                httpx.get(url + "/api/experiments", timeout=2)
                break
            except httpx.TransportError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        errors: list = []
        shares = [sent[i::args.clients] for i in range(args.clients)]
        threads = [threading.Thread(target=_send, args=(url + "/v1/traces", share, args.gzip, errors))
                   for share in shares]
        cpu = _cpu_seconds(server.pid)
        begin = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - begin
        cpu = _cpu_seconds(server.pid) - cpu
    finally:
        server.terminate()
        server.wait(30)
    from logwright.client import Client

    found = Client(store).store.search_traces(None, None, None, None, args.traces + 10, 0)
    print(json.dumps({
        "traces": args.traces, "spans_per_trace": args.spans, "requests": len(bodies), "clients": args.clients,
        "gzip": args.gzip, "request_mb": round(sum(map(len, sent)) / 2**20, 2), "wall_s": round(wall, 3),
        "spans_per_s": round(total / wall), "server_cpu_us_per_span": round(cpu / total * 1e6, 1),
        "errors": errors[:3],
        "stored_traces": len(found), "stored_spans": sum(t.info.span_count for t in found),
        "map_us_per_span": round(_map_cost(bodies, total), 2),
    }))


if __name__ == "__main__":
    main()
