"""OTLP export across collector outages: refused connections, HTTP 503, a killed process, exit."""

from __future__ import annotations

import collections
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import logwright as lw
from logwright import tracing
from logwright.testing.otlp_sink import OtlpSink
from logwright.tracing import export, spool


@pytest.fixture
def env(tmp_store, tmp_path, monkeypatch):
    spool_root = tmp_path / "spool"
    monkeypatch.setenv("LOGWRIGHT_OTLP_SPOOL", str(spool_root))
    monkeypatch.setenv("LOGWRIGHT_OTLP_MAX_BACKOFF", "0.2")
    tracing._reset_for_tests()
    yield spool_root
    tracing._reset_for_tests()


def _wait(condition, what, limit=30.0):
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def _traces(n, prefix):
    ids = []
    for i in range(n):
        with lw.start_span(f"{prefix}{i}", kind="CHAIN", inputs={"i": i}) as root:
            with lw.start_span("child", kind="TOOL"):
                pass
        ids.append(root.trace_id)
    return ids


def test_refused_then_503_then_accepted_every_trace_arrives_exactly_once(env, caplog):
    caplog.set_level(logging.WARNING, logger="logwright")
    sink = OtlpSink()
    try:
        sink.refuse()
        tracing.configure(otlp_endpoint=sink.url)
        exporter = export._state["exporter"]
        sent = _traces(300, "refused")
        _wait(lambda: spool.count(exporter.folder) > 0, "traces spooled during the outage")
        sink.accept()
        sink.mode = "503"
        sent += _traces(200, "unavailable")
        _wait(lambda: sink.refused > 0, "a 503 answer")
        sink.mode = "accept"
        lw.flush()
        arrived = collections.Counter(sink.trace_ids())
        assert set(arrived) == set(sent) and len(sent) == 500
        assert set(arrived.values()) == {1}
        assert all(len([s for s in sink.spans() if s["trace_id"] == t]) == 2 for t in sent[:5])
        assert spool.count(exporter.folder) == 0
        waiting = [r.getMessage() for r in caplog.records if "traces waiting for" in r.getMessage()]
        assert waiting and f"traces waiting for {sink.url}/v1/traces; collector unreachable since" in waiting[0]
    finally:
        sink.refuse()


_CHILD = textwrap.dedent("""
    import json, sys, time
    import logwright as lw
    from logwright.tracing import export
    lw.set_tracking_uri(sys.argv[1])
    ids = []
    for i in range(int(sys.argv[2])):
        with lw.start_span(f"t{i}") as root:
            pass
        ids.append(root.trace_id)
    exporter = export._state["exporter"]
    if sys.argv[3] == "wait-spooled":
        while exporter.outstanding:
            time.sleep(0.01)
        print(json.dumps(ids), flush=True)
        time.sleep(600)
    if sys.argv[3] == "send-spool":
        lw.flush()
    print(json.dumps(ids), flush=True)
""")


def _child(args, env_vars, tmp_path, **kwargs):
    env = {**os.environ, **env_vars}
    env.pop("LOGWRIGHT_STRICT", None)
    return subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path / "child-store"), *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def test_traces_of_a_process_killed_during_an_outage_are_sent_by_the_next_process(env, tmp_path):
    sink = OtlpSink()
    try:
        sink.refuse()
        vars_ = {"LOGWRIGHT_OTLP_ENDPOINT": sink.url, "LOGWRIGHT_OTLP_SPOOL": str(env)}
        first = _child(["40", "wait-spooled"], vars_, tmp_path)
        ids = json.loads(first.stdout.readline())
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert sink.trace_ids() == []
        sink.accept()
        second = _child(["3", "send-spool"], vars_, tmp_path)
        out, err = second.communicate(timeout=60)
        assert second.returncode == 0, err
        arrived = collections.Counter(sink.trace_ids())
        assert set(arrived) == set(ids) | set(json.loads(out)) and set(arrived.values()) == {1}
        assert spool.count(spool.spool_dir(sink.url + "/v1/traces")) == 0
    finally:
        sink.refuse()


def test_exit_waits_the_stated_bound_then_leaves_traces_in_the_spool(env, tmp_path):
    sink = OtlpSink()
    try:
        sink.refuse()
        vars_ = {"LOGWRIGHT_OTLP_ENDPOINT": sink.url, "LOGWRIGHT_OTLP_SPOOL": str(env),
                 "LOGWRIGHT_OTLP_EXIT_TIMEOUT": "1"}
        first = _child(["25", "exit"], vars_, tmp_path)
        out, err = first.communicate(timeout=60)
        assert first.returncode == 0, err
        assert "25 traces for" in err and "not acknowledged after 1 s; left in" in err
        folder = spool.spool_dir(sink.url + "/v1/traces")
        assert spool.count(folder) > 0
        sink.accept()
        tracing.configure(otlp_endpoint=sink.url)  # this process sends what the other one left
        lw.flush()
        arrived = collections.Counter(sink.trace_ids())
        assert set(arrived) == set(json.loads(out)) and set(arrived.values()) == {1}
    finally:
        sink.refuse()


def test_an_unwritable_spool_keeps_traces_in_memory_until_the_collector_is_back(env, tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the spool folder would go")
    monkeypatch.setenv("LOGWRIGHT_OTLP_SPOOL", str(blocker))
    tracing._reset_for_tests()
    sink = OtlpSink()
    try:
        sink.refuse()
        tracing.configure(otlp_endpoint=sink.url)
        exporter = export._state["exporter"]
        sent = _traces(30, "kept")
        _wait(lambda: exporter.down_since is not None and exporter.spool_failed, "a failed send and spool")
        assert "cannot spool traces" in caplog.text
        sink.accept()
        _wait(lambda: exporter.down_since is None, "the collector reachable again")
        lw.flush()
        arrived = collections.Counter(sink.trace_ids())
        assert set(arrived) == set(sent) and set(arrived.values()) == {1}
    finally:
        sink.refuse()
