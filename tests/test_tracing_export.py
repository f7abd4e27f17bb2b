"""OTLP/HTTP export, checked against a local receiver that decodes the protobuf."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

import logwright as lw
from logwright import tracing
from logwright.testing.otlp_sink import OtlpSink


@pytest.fixture
def sink(tmp_store, tmp_path, monkeypatch):
    monkeypatch.setenv("LOGWRIGHT_OTLP_SPOOL", str(tmp_path / "spool"))
    tracing._reset_for_tests()
    with OtlpSink() as receiver:
        yield receiver
        tracing._reset_for_tests()


def _by_name(sink):
    return {span["name"]: span for span in sink.spans()}


def _run_workload():
    lw.set_experiment("export-project")
    with lw.start_run() as run:
        with lw.start_span("agent", kind="AGENT", inputs={"q": "hi"}) as root:
            lw.update_current_trace(tags={"user": "ada", "session_id": "s-1"})
            with lw.start_span("chat", kind="CHAT_MODEL", inputs=[{"role": "user", "content": "hi"}]) as chat:
                chat.set_attributes({"gen_ai.request.model": "gpt-x", "gen_ai.usage.input_tokens": 12,
                                     "gen_ai.usage.output_tokens": 5})
                chat.add_event("first_token", {"i": 0})
                chat.set_outputs({"role": "assistant", "content": "hello"})
            try:
                with lw.start_span("tool", kind="TOOL"):
                    raise ValueError("tool failed")
            except ValueError:
                pass
    return run, root


def test_every_finished_trace_is_exported_with_ids_parents_names_and_attributes(sink):
    tracing.configure(otlp_endpoint=sink.url)
    run, root = _run_workload()
    lw.flush()
    assert {path for path, _, _ in sink.requests} == {"/v1/traces"}
    spans = _by_name(sink)
    assert set(spans) == {"agent", "chat", "tool"}
    agent, chat, tool = spans["agent"], spans["chat"], spans["tool"]
    assert agent["trace_id"] == root.trace_id and agent["span_id"] == root.span_id
    assert agent["parent_id"] is None and chat["parent_id"] == agent["span_id"]
    assert tool["parent_id"] == agent["span_id"] and chat["trace_id"] == agent["trace_id"]
    attrs = chat["attributes"]
    assert attrs["gen_ai.request.model"] == "gpt-x" and attrs["llm.model_name"] == "gpt-x"
    assert attrs["gen_ai.usage.input_tokens"] == 12 and attrs["llm.token_count.prompt"] == 12
    assert attrs["llm.token_count.completion"] == 5 and attrs["llm.token_count.total"] == 17
    assert attrs["logwright.span.kind"] == "CHAT_MODEL" and attrs["openinference.span.kind"] == "LLM"
    assert chat["kind"] == 3 and agent["kind"] == 1  # SPAN_KIND_CLIENT, SPAN_KIND_INTERNAL
    assert attrs["llm.output_messages.0.message.content"] == "hello"
    assert json.loads(attrs["output.value"]) == {"role": "assistant", "content": "hello"}
    root_attrs = agent["attributes"]
    assert root_attrs["logwright.run_id"] == run.info.run_id
    assert root_attrs["logwright.trace.tag.user"] == "ada" and json.loads(root_attrs["input.value"]) == {"q": "hi"}
    assert root_attrs["session.id"] == "s-1" and root_attrs["gen_ai.agent.name"] == "agent"
    assert agent["resource"]["openinference.project.name"] == "export-project"
    assert chat["events"][0][0] == "first_token"
    assert tool["status"] == 2 and "tool failed" in tool["status_message"]  # STATUS_CODE_ERROR
    assert tool["events"][0][0] == "exception"
    local = lw.get_trace(root.trace_id)
    assert local.info.span_count == 3  # the local store still gets everything


def test_trace_name_is_the_exported_root_name(sink):
    tracing.configure(otlp_endpoint=sink.url)
    with lw.start_span("step"):
        lw.update_current_trace(name="checkout flow")
    lw.flush()
    (root,) = sink.spans()
    assert root["name"] == "checkout flow"
    assert root["attributes"]["logwright.trace.name"] == "checkout flow"
    assert root["attributes"]["logwright.span.name"] == "step"


def test_late_span_is_exported_too(sink):
    tracing.configure(otlp_endpoint=sink.url)
    root = tracing.start_detached_span("root", kind="CHAIN")
    child = tracing.start_detached_span("slow", kind="TOOL", parent=root)
    root.end()  # the trace is handed over (and queued for export) without its child
    child.end(outputs="done")
    lw.flush()
    spans = _by_name(sink)
    assert spans["slow"]["parent_id"] == spans["root"]["span_id"]
    assert spans["slow"]["attributes"]["logwright.span.late"] is True
    assert spans["slow"]["attributes"]["gen_ai.tool.call.result"] == "done"


def test_endpoint_from_environment_and_turning_export_off(sink, monkeypatch):
    # The variable must be gone before tracing re-reads settings, or later tests would export.
    with monkeypatch.context() as env:
        env.setenv("LOGWRIGHT_OTLP_ENDPOINT", sink.url + "/v1/traces")
        tracing._reset_for_tests()
        with lw.start_span("env"):
            pass
        lw.flush()
        assert set(_by_name(sink)) == {"env"}
        tracing.configure(otlp_endpoint="")
        with lw.start_span("local-only"):
            pass
        lw.flush()
        assert set(_by_name(sink)) == {"env"}
    tracing._reset_for_tests()


def test_batches_fit_the_request_limit_and_an_oversized_trace_is_cut_not_lost(sink, monkeypatch):
    monkeypatch.setenv("LOGWRIGHT_OTLP_MAX_REQUEST_BYTES", "200000")
    tracing._reset_for_tests()
    tracing.configure(otlp_endpoint=sink.url)
    for i in range(40):
        with lw.start_span(f"t{i}", inputs={"text": "x" * 20_000}):
            pass
    with lw.start_span("huge") as huge:
        for j in range(60):
            with lw.start_span(f"part{j}", inputs={"text": "y" * 20_000}):
                pass
    lw.flush()
    assert max(size for _, _, size in sink.requests) <= 200_000
    roots = [s for s in sink.spans() if s["parent_id"] is None]
    assert sorted(s["name"] for s in roots) == sorted([f"t{i}" for i in range(40)] + ["huge"])
    (big,) = [s for s in roots if s["trace_id"] == huge.trace_id]
    note = big["attributes"]["logwright.export.truncated"]
    assert note.endswith("long attribute values cut to 2000 characters") and "of 61 spans" in note
    parts = [s for s in sink.spans() if s["trace_id"] == huge.trace_id and s["name"].startswith("part")]
    cut = [s["attributes"]["input.value"] for s in parts]
    assert len(parts) == 60 and all("... [truncated by logwright for export: " in v and len(v) < 2100 for v in cut)


_IMPORT_PROBE = textwrap.dedent("""
    import json, sys, threading
    seen = []

    class Probe:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "opentelemetry" or name.startswith("google.protobuf"):
                seen.append((name, threading.current_thread().name))
            return None

    sys.meta_path.insert(0, Probe())
    import logwright as lw
    lw.set_tracking_uri(sys.argv[1])
    with lw.start_span("first"):
        pass
    in_user_thread = [n for n, t in seen if t == threading.current_thread().name]
    lw.flush()
    print(json.dumps({"user": in_user_thread, "threads": sorted({t for _, t in seen})}))
""")


def test_first_root_span_imports_opentelemetry_only_in_the_exporter_thread(sink, tmp_path):
    env = {"LOGWRIGHT_OTLP_ENDPOINT": sink.url, "LOGWRIGHT_OTLP_SPOOL": str(tmp_path / "spool"),
           "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", _IMPORT_PROBE, str(tmp_path / "probe-store")],
                         capture_output=True, text=True, env=env, timeout=60)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["user"] == [], out.stderr
    assert found["threads"] == ["logwright-otlp-encode"]
    assert [s["name"] for s in sink.spans()] == ["first"]


def _traced_in_child(name):
    with lw.start_span(name):
        pass
    lw.flush()


def test_a_forked_child_exports_its_own_traces(sink):
    import multiprocessing

    tracing.configure(otlp_endpoint=sink.url)
    with lw.start_span("parent"):
        pass
    child = multiprocessing.get_context("fork").Process(target=_traced_in_child, args=("child",))
    child.start()
    child.join(60)
    lw.flush()
    assert child.exitcode == 0
    assert sorted(s["name"] for s in sink.spans()) == ["child", "parent"]
