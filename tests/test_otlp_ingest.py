"""OTLP/HTTP trace ingest (``POST /v1/traces``), over a real uvicorn server on 127.0.0.1.

Traces come from opentelemetry-sdk's own OTLPSpanExporter, from hand-written OTLP/JSON
bodies (plain and gzip) and from logwright's own OTLP exporter, and are read back
through the store and the UI's trace page.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: E402
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (  # noqa: E402
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor  # noqa: E402
from opentelemetry.trace import SpanKind, Status, StatusCode  # noqa: E402

import logwright as lw  # noqa: E402
from logwright import tracing  # noqa: E402
from logwright.client import Client  # noqa: E402
from logwright.server.app import create_app  # noqa: E402
from logwright.server.otlp_ingest import otlp_traces, records_from_otlp  # noqa: E402
from logwright.testing.serve import serve_app  # noqa: E402

PROTOBUF = {"Content-Type": "application/x-protobuf"}


@contextmanager
def serve(uri: str, app=None) -> Iterator[tuple[str, Client]]:
    """The UI app for store ``uri`` with the ingest route, on a free 127.0.0.1 port; yields (url, client)."""
    if app is None:
        app = create_app(uri)
        app.add_route("/v1/traces", otlp_traces, methods=["POST"])
    with serve_app(app) as url:
        yield url, app.state.client


@pytest.fixture
def ingest(tmp_store) -> Iterator[tuple[str, Client]]:
    with serve(tmp_store) as served:
        yield served


def _sdk_provider(url: str, batch: bool = False, **resource: str) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": "shop-assistant", **resource}))
    exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
    return provider


def _hex(number: int, width: int) -> str:
    return format(number, f"0{width}x")


def _tree(trace) -> list[tuple[str, str | None, str]]:
    names = {s.span_id: s.name for s in trace.spans}
    return [(s.name, names.get(s.parent_id), s.kind) for s in trace.spans]


def test_sdk_exporter_tree_lands_as_a_logwright_trace(ingest):
    url, client = ingest
    exp_id = client.create_experiment("shop")
    run = client.create_run(exp_id, run_name="agent-eval")
    client.flush()
    provider = _sdk_provider(url, batch=True, **{"logwright.experiment": "shop"})
    tracer = provider.get_tracer("shop.agent", "1.0")
    with tracer.start_as_current_span("answer", attributes={
            "openinference.span.kind": "AGENT", "logwright.run_id": run.info.run_id,
            "input.value": '{"question": "where is my order?"}', "input.mime_type": "application/json",
            "output.value": "It ships tomorrow.", "session.id": "s-42"}) as root:
        with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes={
                "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 30,
                "gen_ai.input.messages": json.dumps([
                    {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
                    {"role": "user", "parts": [{"type": "text", "content": "where is my order?"}]}]),
                "gen_ai.output.messages": json.dumps([
                    {"role": "assistant", "parts": [{"type": "text", "content": "It ships tomorrow."}],
                     "finish_reason": "stop"}])}):
            pass
        with tracer.start_as_current_span("lookup_order", attributes={
                "openinference.span.kind": "TOOL", "tool.name": "lookup_order",
                "input.value": '{"order": 7}', "input.mime_type": "application/json"}) as tool:
            tool.record_exception(KeyError("order 7"))
            tool.set_status(Status(StatusCode.ERROR, "KeyError: order 7"))
        with tracer.start_as_current_span("embed", kind=SpanKind.CLIENT, attributes={
                "openinference.span.kind": "EMBEDDING", "embedding.model_name": "text-embed-3",
                "llm.token_count.prompt": 9, "llm.token_count.total": 9}):
            pass
    provider.shutdown()  # flushes the batch: the exporter got its 200 (or logged why not)
    trace_id = _hex(root.get_span_context().trace_id, 32)

    trace = client.store.get_trace(trace_id)
    assert trace is not None, "the SDK's export did not land"
    assert _tree(trace) == [("answer", None, "AGENT"), ("chat gpt-4o-mini", "answer", "CHAT_MODEL"),
                            ("lookup_order", "answer", "TOOL"), ("embed", "answer", "EMBEDDING")]
    info = trace.info
    assert (info.name, info.status, info.experiment_id, info.run_id) == ("answer", "OK", exp_id, run.info.run_id)
    assert (info.input_tokens, info.output_tokens, info.total_tokens, info.span_count) == (129, 30, 159, 4)
    assert info.tags == {"service.name": "shop-assistant"}
    answer, chat, tool_span, embed = trace.spans
    assert answer.inputs == {"question": "where is my order?"} and answer.outputs == "It ships tomorrow."
    assert answer.attributes["session.id"] == "s-42"
    assert (answer.start_ns, answer.end_ns) == (root.start_time, root.end_time)
    assert chat.inputs == [{"role": "system", "content": "Be brief."},
                           {"role": "user", "content": "where is my order?"}]
    assert chat.outputs == [{"role": "assistant", "content": "It ships tomorrow."}]
    assert chat.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert chat.attributes["gen_ai.usage.input_tokens"] == 120 and chat.status == "OK"
    assert (tool_span.status, tool_span.status_message) == ("ERROR", "KeyError: order 7")
    assert tool_span.inputs == {"order": 7}
    (event,) = tool_span.events
    assert event.name == "exception" and event.attributes["exception.type"] == "KeyError"
    assert "order 7" in event.attributes["exception.message"]
    assert embed.attributes["gen_ai.usage.input_tokens"] == 9

    page = httpx.get(f"{url}/traces/{trace_id}")
    assert page.status_code == 200
    for name in ("answer", "chat gpt-4o-mini", "lookup_order", "embed", "KeyError: order 7"):
        assert name in page.text
    listed = httpx.get(f"{url}/api/experiments/{exp_id}/traces").json()
    assert trace_id in json.dumps(listed)


def _json_span(trace_id: str, span_id: str, parent: str, name: str, **attrs) -> dict:
    now = time.time_ns()
    attributes = []
    for key, value in attrs.items():
        typed = {"intValue": str(value)} if isinstance(value, int) else {"stringValue": value}
        attributes.append({"key": key.replace("__", "."), "value": typed})
    return {"traceId": trace_id, "spanId": span_id, "parentSpanId": parent, "name": name, "kind": 1,
            "startTimeUnixNano": str(now), "endTimeUnixNano": str(now + 5_000_000),
            "attributes": attributes, "status": {"code": 1}}


def _json_body(*spans: dict, **resource: str) -> dict:
    return {"resourceSpans": [{
        "resource": {"attributes": [{"key": k.replace("__", "."), "value": {"stringValue": v}}
                                    for k, v in resource.items()]},
        "scopeSpans": [{"scope": {"name": "hand-written"}, "spans": list(spans)}]}]}


def test_json_body_with_hex_ids_plain_and_gzip(ingest):
    url, client = ingest
    tid, root_id, child_id = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174", "eee19b7ec3c1b175"
    body = _json_body(
        _json_span(tid, root_id, "", "rag", openinference__span__kind="CHAIN", input__value="why?"),
        _json_span(tid, child_id, root_id, "retrieve", openinference__span__kind="RETRIEVER",
                   retrieval__documents__0__document__content="the sky scatters blue light",
                   retrieval__documents__0__document__id="doc-1"),
        service__name="rag-service", openinference__project__name="rag-project")
    answer = httpx.post(f"{url}/v1/traces", json=body)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json")
    assert answer.json() == {}
    trace = client.store.get_trace(tid)
    assert _tree(trace) == [("rag", None, "CHAIN"), ("retrieve", "rag", "RETRIEVER")]
    assert trace.spans[0].inputs == "why?"
    assert trace.spans[1].outputs == [{"content": "the sky scatters blue light", "id": "doc-1"}]
    assert client.get_experiment(trace.info.experiment_id).name == "rag-project"

    gz_tid = "6b8efff798038103d269b633813fc60c"
    gz_body = _json_body(_json_span(gz_tid, root_id, "", "zipped", gen_ai__operation__name="execute_tool"),
                         _json_span(gz_tid, "0000000000000000", "", "bad id"))
    answer = httpx.post(f"{url}/v1/traces", content=gzip.compress(json.dumps(gz_body).encode()),
                        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert answer.status_code == 200
    assert answer.json()["partialSuccess"]["rejectedSpans"] == "1"
    zipped = client.store.get_trace(gz_tid)
    assert [(s.name, s.kind) for s in zipped.spans] == [("zipped", "TOOL")]


def test_bad_bodies_and_types_are_refused_with_a_status(ingest):
    url, client = ingest
    bad = httpx.post(f"{url}/v1/traces", content=b"\xff\x00 not protobuf", headers=PROTOBUF)
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/x-protobuf"
    assert b"not an OTLP ExportTraceServiceRequest" in bad.content
    bad_json = httpx.post(f"{url}/v1/traces", content=b"{not json", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400 and bad_json.json()["code"] == 3
    wrong_shape = httpx.post(f"{url}/v1/traces", json={"resourceSpans": "nope"})
    assert wrong_shape.status_code == 400
    bad_gzip = httpx.post(f"{url}/v1/traces", content=b"not gzip",
                          headers={**PROTOBUF, "Content-Encoding": "gzip"})
    assert bad_gzip.status_code == 400 and b"gzip" in bad_gzip.content
    assert httpx.post(f"{url}/v1/traces", content=b"x", headers={"Content-Type": "text/plain"}).status_code == 415
    assert httpx.post(f"{url}/v1/traces", content=b"", headers={**PROTOBUF, "Content-Encoding": "br"}).status_code == 415
    unknown = httpx.post(f"{url}/v1/traces", content=b"", headers={**PROTOBUF, "x-logwright-experiment": "987654"})
    assert unknown.status_code == 400 and b"987654" in unknown.content
    empty = httpx.post(f"{url}/v1/traces", content=b"", headers=PROTOBUF)
    assert empty.status_code == 200 and ExportTraceServiceResponse.FromString(empty.content).ByteSize() == 0
    assert client.store.search_traces(None, None, None, None, 10, 0) == []


def _proto_request(body: dict) -> ExportTraceServiceRequest:
    from google.protobuf import json_format

    for span in body["resourceSpans"][0]["scopeSpans"][0]["spans"]:  # protobuf's JSON wants base64 ids
        for key in ("traceId", "spanId", "parentSpanId"):
            span[key] = __import__("base64").b64encode(bytes.fromhex(span[key])).decode()
    return json_format.ParseDict(body, ExportTraceServiceRequest())


def test_spans_of_one_trace_in_several_requests_are_merged_once_each(ingest):
    url, client = ingest
    tid, root_id, child_id = "7c8efff798038103d269b633813fc60c", "aaa19b7ec3c1b174", "aaa19b7ec3c1b175"
    child = _json_span(tid, child_id, root_id, "llm call", openinference__span__kind="LLM",
                       llm__token_count__prompt=7, llm__token_count__completion=3, llm__model_name="m-1",
                       llm__input_messages__0__message__role="user",
                       llm__input_messages__0__message__content="hello?",
                       llm__output_messages__0__message__role="assistant",
                       llm__output_messages__0__message__content="hi!")
    root = _json_span(tid, root_id, "", "chain", openinference__span__kind="CHAIN")
    first = _proto_request(_json_body(dict(child))).SerializeToString()
    assert httpx.post(f"{url}/v1/traces", content=first, headers=PROTOBUF).status_code == 200
    early = client.store.get_trace(tid)
    assert (early.info.name, early.info.span_count) == ("llm call", 1)  # the root has not arrived yet
    second = _proto_request(_json_body(dict(root))).SerializeToString()
    assert httpx.post(f"{url}/v1/traces", content=second, headers=PROTOBUF).status_code == 200
    assert httpx.post(f"{url}/v1/traces", content=first, headers=PROTOBUF).status_code == 200  # a retry
    trace = client.store.get_trace(tid)
    assert _tree(trace) == [("chain", None, "CHAIN"), ("llm call", "chain", "LLM")]
    assert (trace.info.name, trace.info.span_count) == ("chain", 2)
    assert (trace.info.input_tokens, trace.info.output_tokens, trace.info.total_tokens) == (7, 3, 10)
    assert trace.spans[1].attributes["gen_ai.request.model"] == "m-1"
    assert trace.spans[1].inputs == [{"role": "user", "content": "hello?"}]
    assert trace.spans[1].outputs == [{"role": "assistant", "content": "hi!"}]
    assert len(client.store.search_traces(None, None, None, None, 10, 0)) == 1


def test_header_chooses_the_experiment_and_records_from_otlp_is_pure(ingest):
    url, client = ingest
    tid = "8d8efff798038103d269b633813fc60c"
    request = _proto_request(_json_body(_json_span(tid, "bbb19b7ec3c1b174", "", "routed"),
                                        openinference__project__name="ignored-project"))
    (trace,) = records_from_otlp(request)
    assert (trace.trace_id, trace.hints) == (tid, {"project": "ignored-project"})
    answer = httpx.post(f"{url}/v1/traces", content=gzip.compress(request.SerializeToString()),
                        headers={**PROTOBUF, "Content-Encoding": "gzip", "x-logwright-experiment": "from-header"})
    assert answer.status_code == 200
    stored = client.store.get_trace(tid)
    assert client.get_experiment(stored.info.experiment_id).name == "from-header"
    assert client.get_experiment_by_name("ignored-project") is None


def _native_workload() -> str:
    lw.set_experiment("native-tour")
    with lw.start_run():
        with lw.start_span("agent", kind="AGENT", inputs={"q": "hi"}) as root:
            lw.update_current_trace(tags={"user": "ada", "session_id": "s-1"}, name="support chat")
            with lw.start_span("chat", kind="CHAT_MODEL", inputs=[{"role": "user", "content": "hi"}]) as chat:
                chat.set_attributes({"gen_ai.request.model": "gpt-x", "gen_ai.usage.input_tokens": 12,
                                     "gen_ai.usage.output_tokens": 5,
                                     "langchain.invocation_params": {"temperature": 0.2, "stop": ["\n"]}})
                chat.add_event("first_token", {"i": 0})
                chat.set_outputs({"role": "assistant", "content": "hello"})
            with lw.start_span("search", kind="RETRIEVER", inputs="hi") as retriever:
                retriever.set_outputs([{"page_content": "greeting", "metadata": {"id": "d1", "score": 0.5}}])
            with lw.start_span("parse", kind="PARSER", inputs="hello") as parser:
                parser.set_outputs({"answer": "hello"})
            try:
                with lw.start_span("tool", kind="TOOL", inputs={"x": 1}):
                    raise ValueError("tool failed")
            except ValueError:
                pass
            late = tracing.start_detached_span("stream", kind="LLM", parent=root, inputs="tell me more")
        late.set_attributes({"gen_ai.usage.input_tokens": 3, "gen_ai.usage.output_tokens": 4})
        late.end(outputs="more")  # after the root: exported on its own, merged into the ingested trace
    return root.trace_id


def test_native_trace_exported_by_logwright_reads_back_equal(tmp_store, tmp_path, monkeypatch):
    monkeypatch.setenv("LOGWRIGHT_OTLP_SPOOL", str(tmp_path / "spool"))
    with serve(str(tmp_path / "second-store")) as (url, second):
        tracing.configure(otlp_endpoint=url)
        try:
            trace_id = _native_workload()
            lw.flush()  # waits for the ingest endpoint's acknowledgement
        finally:
            tracing.configure(otlp_endpoint="")
        original = lw.get_trace(trace_id)
        copy = second.store.get_trace(trace_id)
        assert copy is not None, "the exported trace did not reach the second store"
        page = httpx.get(f"{url}/traces/{trace_id}")
    a, b = original.info, copy.info
    assert (b.name, b.status, b.span_count, b.tags) == (a.name, a.status, a.span_count, a.tags)
    assert (b.input_tokens, b.output_tokens, b.total_tokens) == (a.input_tokens, a.output_tokens, a.total_tokens)
    assert (b.start_ns, b.end_ns) == (a.start_ns, a.end_ns)
    assert second.get_experiment(b.experiment_id).name == "native-tour"
    assert b.run_id is None  # the run lives in the first store only
    assert _tree(copy) == _tree(original)
    for mine, theirs in zip(original.spans, copy.spans, strict=True):
        assert (theirs.span_id, theirs.parent_id, theirs.name, theirs.kind) == \
            (mine.span_id, mine.parent_id, mine.name, mine.kind)
        assert (theirs.inputs, theirs.outputs) == (mine.inputs, mine.outputs), mine.name
        assert (theirs.status, theirs.status_message) == (mine.status, mine.status_message)
        assert (theirs.start_ns, theirs.end_ns) == (mine.start_ns, mine.end_ns)
        assert theirs.attributes == mine.attributes, mine.name
        assert [e.name for e in theirs.events] == [e.name for e in mine.events]
    assert b.span_count == 6 and copy.spans[-1].name == "stream"
    assert page.status_code == 200 and "support chat" in page.text and "parse" in page.text


@pytest.mark.sqlite_only(reason="locks the SQLite file from another connection")
def test_a_locked_store_answers_503_and_the_retry_stores_the_trace_once(ingest, tmp_store, monkeypatch):
    import sqlite3

    from logwright.server import otlp_ingest

    url, client = ingest
    monkeypatch.setattr(otlp_ingest, "FLUSH_TIMEOUT", 1.0)
    tid, root_id = "9e8efff798038103d269b633813fc60c", "ccc19b7ec3c1b174"
    body = _proto_request(_json_body(_json_span(tid, root_id, "", "blocked"),
                                     _json_span(tid, "ccc19b7ec3c1b175", root_id, "child"))).SerializeToString()
    warm_up = _proto_request(_json_body(_json_span("9f8efff798038103d269b633813fc60c", root_id, "", "first")))
    assert httpx.post(f"{url}/v1/traces", content=warm_up.SerializeToString(), headers=PROTOBUF).status_code == 200
    locker = sqlite3.connect(f"{tmp_store}/logwright.db", timeout=0)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        answer = httpx.post(f"{url}/v1/traces", content=body, headers=PROTOBUF, timeout=30)
        assert answer.status_code == 503 and answer.headers["retry-after"]
    finally:
        locker.rollback()
        locker.close()
    assert httpx.post(f"{url}/v1/traces", content=body, headers=PROTOBUF, timeout=30).status_code == 200
    trace = client.store.get_trace(tid)
    assert [s.name for s in trace.spans] == ["blocked", "child"] and trace.info.span_count == 2


def test_exporting_into_the_server_of_the_same_store_changes_nothing(ingest, tmp_path, monkeypatch):
    url, client = ingest
    monkeypatch.setenv("LOGWRIGHT_OTLP_SPOOL", str(tmp_path / "spool"))
    tracing.configure(otlp_endpoint=url)
    try:
        trace_id = _native_workload()
        lw.flush()
    finally:
        tracing.configure(otlp_endpoint="")
    lw.flush()
    after = client.store.get_trace(trace_id)
    run = lw.last_active_run()
    assert (after.info.run_id, after.info.experiment_id) == (run.info.run_id, run.info.experiment_id)
    assert after.info.span_count == 6 and len(after.spans) == 6 and after.info.total_tokens == 24
    chat = next(s for s in after.spans if s.name == "chat")
    assert chat.attributes == {"gen_ai.request.model": "gpt-x", "gen_ai.usage.input_tokens": 12,
                               "gen_ai.usage.output_tokens": 5, "logwright.span.kind": "CHAT_MODEL",
                               "langchain.invocation_params": {"temperature": 0.2, "stop": ["\n"]}}
    assert len(client.store.search_traces(None, None, None, None, 10, 0)) == 1


def test_the_tracking_server_mounts_the_ingest_and_a_read_only_one_refuses_it(tmp_store):
    team = pytest.importorskip("logwright.server.team")
    with serve(tmp_store, team.create_server_app(tmp_store)) as (url, client):
        provider = _sdk_provider(url, **{"logwright.experiment": "served"})
        with provider.get_tracer("t").start_as_current_span("served span") as span:
            pass
        provider.shutdown()
        trace = client.store.get_trace(_hex(span.get_span_context().trace_id, 32))
        assert [s.name for s in trace.spans] == ["served span"]
    with serve(tmp_store, team.create_server_app(tmp_store, read_only=True)) as (url, client):
        refused = httpx.post(f"{url}/v1/traces", content=b"", headers=PROTOBUF)
        assert refused.status_code == 403
