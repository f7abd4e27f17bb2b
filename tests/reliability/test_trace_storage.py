"""Traces are stored whole, whatever they hold: poison values, late spans, old stores, bursts.

A finished trace is one row of ``traces`` with its spans in one column. These tests
check what a user reads back after ``flush()``: every good trace of a batch is intact
beside the poisoned ones, late spans show up, a store written before schema 3
reads back the same, and a tight loop of traces loses nothing.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import secrets
import sqlite3
import subprocess
import sys
import textwrap

import pytest

import logwright as lw
from logwright.entities import Span, SpanEvent, Trace, TraceInfo
from logwright.store import migrations, sqlite_traces
from logwright.tracing import records, spans

SURROGATE = "\udce9"  # a lone byte 0xE9 decoded with errors="surrogateescape"
HALF_EMOJI = "\ud83d"  # the first half of a streamed emoji
FIXED = "\ufffd"


class BadRepr:
    def __repr__(self):
        raise RuntimeError("no repr")

    def __str__(self):
        raise RuntimeError("no str")


class Opaque:
    __slots__ = ()

    def __repr__(self):
        return "<opaque>"


def _good(i):
    with lw.start_span(f"good-{i}", kind="CHAIN", inputs={"i": i}) as span:
        with lw.start_span("llm", kind="LLM") as llm:
            llm.set_attributes({"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 2})
            llm.set_outputs(f"answer {i}")
        span.set_outputs({"i": i, "ok": True})
        return span.trace_id


def _check_good(trace, i):
    assert trace.info.name == f"good-{i}" and trace.info.status == "OK"
    assert trace.info.span_count == 2 and [s.name for s in trace.spans] == [f"good-{i}", "llm"]
    assert trace.spans[0].inputs == {"i": i} and trace.spans[0].outputs == {"i": i, "ok": True}
    assert trace.spans[1].outputs == f"answer {i}"
    assert (trace.info.input_tokens, trace.info.output_tokens, trace.info.total_tokens) == (10, 2, 12)


def _poison_surrogates():
    bad = f"x{SURROGATE}{HALF_EMOJI}y"
    with lw.start_span(f"name{bad}", kind="TOOL", inputs={f"k{bad}": bad, "list": [bad]},
                       attributes={f"attr{bad}": bad}) as span:
        span.add_event(f"event{bad}", {"why": bad})
        lw.update_current_trace(tags={f"tag{bad}": bad}, name=f"trace{bad}")
        with lw.start_span("child") as child:
            child.set_outputs({"text": bad})
        span.set_outputs(bad)
        return span.trace_id


def _poison_names():
    ids = []
    for name in (None, 123, b"raw", BadRepr()):
        with lw.start_span(name, kind=None) as span:  # type: ignore[arg-type]
            ids.append(span.trace_id)
    return ids


def _poison_tokens():
    with lw.start_span("tokens") as span:
        for value in (2**63, 2**70, -5, 1.5, float("nan"), float("inf"), "abc", True, [1], None):
            with lw.start_span("llm") as llm:
                llm.set_attributes({"gen_ai.usage.input_tokens": value, "gen_ai.usage.output_tokens": value,
                                    "logwright.usage.total_tokens": value})
        with lw.start_span("llm") as llm:
            llm.set_attributes({"gen_ai.usage.input_tokens": 7, "gen_ai.usage.output_tokens": 1})
        return span.trace_id


def _poison_objects():
    with lw.start_span("objects", inputs={"obj": Opaque(), "bad": BadRepr(), "cycle": None}) as span:
        cycle: list = []
        cycle.append(cycle)
        span.set_attribute("bad", BadRepr())
        span.set_attribute(BadRepr(), "key whose str raises")
        span.add_event(BadRepr(), {"bad": BadRepr()})
        lw.update_current_trace(tags={"bad": BadRepr()})
        span.set_outputs([cycle, BadRepr(), Opaque(), {1, 2}, object])
        return span.trace_id


def test_poison_values_leave_every_other_trace_of_the_batch_intact(tmp_store, caplog):
    caplog.set_level(logging.WARNING)
    good, poison = [], {}
    for i in range(5):
        good.append(_good(i))
    poison["surrogates"] = _poison_surrogates()
    good.append(_good(5))
    names = _poison_names()
    poison["tokens"] = _poison_tokens()
    good.append(_good(6))
    poison["objects"] = _poison_objects()
    good.append(_good(7))
    lw.flush()

    for i, trace_id in enumerate(good):
        _check_good(lw.get_trace(trace_id), i)

    bad = f"x{FIXED}{FIXED}y"
    trace = lw.get_trace(poison["surrogates"])
    root, child = trace.spans
    assert trace.info.name == f"trace{bad}" and trace.info.tags == {f"tag{bad}": bad}
    assert root.name == f"name{bad}" and root.attributes[f"attr{bad}"] == bad
    assert root.inputs == {f"k{bad}": bad, "list": [bad]} and root.outputs == bad
    assert root.events[0].name == f"event{bad}" and root.events[0].attributes == {"why": bad}
    assert child.outputs == {"text": bad}
    assert sum("U+FFFD" in r.getMessage() for r in caplog.records) == 1

    stored_names = [lw.get_trace(t).spans[0].name for t in names]
    assert stored_names[:3] == ["<unnamed>", "123", "b'raw'"] and stored_names[3] == "<unnamed>"
    assert {lw.get_trace(t).spans[0].kind for t in names} == {"<unnamed>"}

    trace = lw.get_trace(poison["tokens"])
    assert trace.info.span_count == 12
    assert (trace.info.input_tokens, trace.info.output_tokens, trace.info.total_tokens) == (7, 1, 8)

    trace = lw.get_trace(poison["objects"])
    span = trace.spans[0]
    assert span.inputs == {"obj": "<opaque>", "bad": "<unprintable BadRepr>", "cycle": None}
    assert span.attributes["bad"] == "<unprintable BadRepr>"
    assert span.attributes["<unprintable BadRepr>"] == "key whose str raises"
    assert span.events[0].name == "<unprintable BadRepr>"
    assert trace.info.tags == {"bad": "<unprintable BadRepr>"}
    assert span.outputs[0] == ["<circular reference to list>"] and span.outputs[1:3] == ["<unprintable BadRepr>",
                                                                                          "<opaque>"]


def test_span_times_the_caller_gives_are_kept_in_range(tmp_store):
    root = lw.tracing.start_detached_span("timed", start_ns=2**70)
    child = lw.tracing.start_detached_span("child", parent=root, start_ns="yesterday")
    child.end(end_ns=1_700_000_000_000_000_000)
    root.end(end_ns=-(2**80))
    lw.flush()
    trace = lw.get_trace(root.trace_id)
    assert trace.info.start_ns == 2**63 - 1 and trace.info.end_ns > 0
    assert all(isinstance(s.start_ns, int) and 0 < s.start_ns < 2**63 for s in trace.spans)


def _capture(store):
    """The trace states the store is handed, instead of queueing them (one batch, applied by hand)."""
    states = []
    store.log_trace = states.append
    return states


@pytest.mark.sqlite_only(reason="makes SQLite itself refuse a row, through the file")
def test_a_row_the_database_refuses_keeps_its_index_columns_and_the_rest_of_the_batch(tmp_store, monkeypatch,
                                                                                      caplog):
    monkeypatch.setenv("LOGWRIGHT_STRICT", "0")  # strict mode raises what is reported
    caplog.set_level(logging.WARNING)
    store = lw.Client().store
    states = _capture(store)
    _good(0)
    with lw.start_span("huge", inputs={"text": secrets.token_hex(25_000)}) as span:  # does not compress
        span.set_outputs(secrets.token_hex(25_000))
        huge = span.trace_id
    _good(1)
    del store.log_trace
    db = sqlite3.connect(store.db_path, isolation_level=None)
    db.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 20_000)  # the huge trace's row no longer fits
    db.execute("BEGIN IMMEDIATE")
    sqlite_traces.apply_traces(db, [(s,) for s in states])
    db.execute("COMMIT")
    _check_good(store.get_trace(states[0].trace_id), 0)
    _check_good(store.get_trace(states[2].trace_id), 1)
    trace = store.get_trace(huge)
    assert trace.info.name == "huge" and trace.info.status == "OK" and trace.spans == ()
    assert "could not be stored" in trace.info.tags["logwright.error"]
    assert any("string or blob too big" in r.getMessage() for r in caplog.records)


def test_an_encoding_bug_stores_the_trace_row_with_an_error_tag(tmp_store, monkeypatch):
    monkeypatch.setenv("LOGWRIGHT_STRICT", "0")
    real = records.span_json

    def broken(span, limit, root=False):
        if span.name == "buggy":
            raise RuntimeError("an encoder bug")
        return real(span, limit, root)

    monkeypatch.setattr(records, "span_json", broken)
    monkeypatch.setattr(records, "_spans_at_once", lambda spans, root, limit: None)  # span by span
    first = _good(0)
    with lw.start_span("buggy", kind="AGENT") as span:
        buggy = span.trace_id
    last = _good(1)
    lw.flush()
    _check_good(lw.get_trace(first), 0)
    _check_good(lw.get_trace(last), 1)
    trace = lw.get_trace(buggy)
    assert trace.info.name == "buggy" and trace.info.status == "OK" and trace.spans == ()
    assert "RuntimeError: an encoder bug" in trace.info.tags["logwright.error"]


def test_late_spans_are_appended_with_span_count_and_tokens(tmp_store):
    from logwright.tracing import start_detached_span

    store = lw.Client().store
    root = start_detached_span("agent", kind="AGENT")
    with lw.tracing.use_span(root):
        with lw.start_span("llm", kind="LLM") as llm:
            llm.set_attributes({"gen_ai.usage.input_tokens": 5, "gen_ai.usage.output_tokens": 1})
    late = [start_detached_span(f"late-{i}", kind="TOOL", parent=root) for i in range(3)]
    root.end()
    store.flush()  # the store's flush: lw.flush() would close the open spans as not ended
    assert lw.get_trace(root.trace_id).info.span_count == 2
    late[0].set_attributes({"gen_ai.usage.input_tokens": 100})
    late[0].end(outputs={"n": 0})
    store.flush()
    for i, span in enumerate(late[1:], 1):  # two late spans in one writer batch
        span.set_attributes({"gen_ai.usage.output_tokens": 10 * i})
        span.end(outputs=f"out {i}")
    lw.flush()
    trace = lw.get_trace(root.trace_id)
    assert trace.info.span_count == 5 and trace.info.status == "OK"
    assert [s.name for s in trace.spans] == ["agent", "llm", "late-0", "late-1", "late-2"]
    assert {s.parent_id for s in trace.spans[1:]} == {root.span_id}
    assert trace.spans[2].outputs == {"n": 0} and trace.spans[4].outputs == "out 2"
    assert (trace.info.input_tokens, trace.info.output_tokens, trace.info.total_tokens) == (105, 31, 136)


def test_a_late_span_of_a_trace_not_yet_written_writes_the_trace_first(tmp_store):
    store = lw.Client().store
    root = lw.tracing.start_detached_span("root")
    child = lw.tracing.start_detached_span("child", parent=root)
    states = _capture(store)
    root.end()
    del store.log_trace
    child.end(outputs="late")  # queued while its trace's own write was lost on the way
    lw.flush()
    trace = lw.get_trace(root.trace_id)
    assert [s.name for s in trace.spans] == ["root", "child"] and trace.info.span_count == 2
    assert trace.spans[1].outputs == "late" and states[0].trace_id == root.trace_id


def _old_store(folder):
    """A store as logwright wrote it before schema 3: one ``spans`` row per span."""
    os.makedirs(folder)
    db = sqlite3.connect(os.path.join(folder, "logwright.db"), isolation_level=None)
    db.execute("CREATE TABLE _logwright_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
               "applied_at INTEGER NOT NULL)")
    for version, name, apply in migrations.MIGRATIONS[:2]:
        db.execute("BEGIN")
        apply(db)
        db.execute("INSERT INTO _logwright_migrations VALUES (?, ?, 0)", (version, name))
        db.execute("COMMIT")
    db.execute("INSERT INTO experiments (name, creation_time, last_update_time) VALUES ('old', 0, 0)")
    tid = "ab" * 16
    db.execute("INSERT INTO traces VALUES (?, 1, NULL, 'rag ✓', 'ERROR', 1000, 9000, 10, 3, 13, 3, ?, ?)",
               (tid, '{"q": "why ✓"}', '"answer"'))
    db.executemany("INSERT INTO trace_tags VALUES (?, ?, ?)", [(tid, "user", "ada"), (tid, "ü", "ö")])
    rows = [
        (tid, "0000000000000001", None, "rag ✓", "CHAIN", 1000, 9000, "ERROR", "ValueError: bad",
         '{"logwright.span.kind": "CHAIN"}', '{"q": "why ✓"}', '"answer"',
         '[{"name": "exception", "timestamp_ns": 8000, "attributes": {"exception.type": "ValueError"}}]'),
        (tid, "0000000000000002", "0000000000000001", "llm", "LLM", 2000, 5000, "OK", None,
         '{"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 3, "logwright.span.kind": "LLM"}',
         '[{"role": "user", "content": "why"}]', '{"text": "NaN ok", "x": NaN}', None),
        (tid, "0000000000000003", "0000000000000001", "tool", "TOOL", 3000, None, "ERROR", "span was not ended",
         '{"logwright.span.kind": "TOOL"}', "not json at all", None, None),
        ("cd" * 16, "0000000000000009", None, "orphan", "CHAIN", 1, 2, "OK", None, None, None, None, None),
    ]
    db.executemany("INSERT INTO spans VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.close()
    return tid


def test_a_store_written_before_schema_3_reads_back_the_same(tmp_path):
    folder = str(tmp_path / "old")
    tid = _old_store(folder)
    client = lw.Client(folder)
    trace = client.store.get_trace(tid)
    events = (SpanEvent("exception", 8000, {"exception.type": "ValueError"}),)
    expected = Trace(
        TraceInfo(tid, "1", None, "rag ✓", "ERROR", 1000, 9000, 10, 3, 13, 3, {"user": "ada", "ü": "ö"}),
        (
            Span(tid, "0000000000000001", None, "rag ✓", "CHAIN", 1000, 9000, "ERROR", "ValueError: bad",
                 {"logwright.span.kind": "CHAIN"}, {"q": "why ✓"}, "answer", events),
            Span(tid, "0000000000000002", "0000000000000001", "llm", "LLM", 2000, 5000, "OK", None,
                 {"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 3, "logwright.span.kind": "LLM"},
                 [{"role": "user", "content": "why"}], {"text": "NaN ok", "x": float("nan")}),
            Span(tid, "0000000000000003", "0000000000000001", "tool", "TOOL", 3000, None, "ERROR",
                 "span was not ended", {"logwright.span.kind": "TOOL"}, "not json at all", None),
        ),
    )
    assert repr(trace) == repr(expected)  # repr: NaN != NaN
    assert [t.trace_id for t in client.store.search_traces(["1"], filter_string="tags.user = 'ada'")] == [tid]
    db = sqlite3.connect(os.path.join(folder, "logwright.db"))
    assert db.execute("SELECT trace_id, name FROM spans").fetchall() == [("cd" * 16, "orphan")]  # kept
    assert db.execute("SELECT MAX(version) FROM _logwright_migrations").fetchone()[0] >= 3


def test_ten_thousand_traces_in_a_tight_loop_are_all_stored_after_flush(tmp_store):
    @lw.trace
    def leaf(x):
        return x + 1

    @lw.trace
    def root(x):
        return leaf(x)

    for i in range(10_000):
        root(i)
    lw.flush()
    store = lw.Client().store
    found = store.search_traces(None, max_results=20_000)
    assert len(found) == 10_000 and {t.info.span_count for t in found} == {2}
    assert sorted(t.spans[1].outputs for t in found) == list(range(1, 10_001))


def test_finished_traces_are_freed_without_the_garbage_collector(tmp_store):
    @lw.trace
    def leaf(x):
        return [x]

    @lw.trace
    def root(x):
        return leaf(x), leaf(x)

    root(0)
    lw.flush()
    gc.collect()
    gc.disable()
    try:
        for i in range(500):
            root(i)
        lw.flush()
        alive = sum(1 for o in gc.get_objects() if type(o) is spans.LiveSpan)
    finally:
        gc.enable()
    assert alive == 0


@pytest.mark.sqlite_only(reason="compares with the sizes stored in the SQLite file")
def test_the_size_estimate_follows_what_is_stored(tmp_store):
    store = lw.Client().store
    states = _capture(store)
    with lw.start_span("small"):
        pass
    with lw.start_span("big", inputs={"prompt": secrets.token_hex(2048)}) as span:
        span.set_outputs([secrets.token_hex(2048)])
    with lw.start_span("repetitive", inputs={"prompt": "p" * 4096}) as span:
        span.set_outputs(["o" * 4096])
    del store.log_trace
    for state in states:
        store.log_trace(state)
    lw.flush()
    small, big, repetitive = (s.approx_bytes for s in states)
    db = sqlite3.connect(store.db_path)
    stored = dict(db.execute("SELECT name, LENGTH(spans) + LENGTH(inputs) + LENGTH(outputs) FROM traces"))
    assert small < 1024 and 8192 < big and 8192 < repetitive  # the root's inputs and outputs as they are
    assert stored["big"] <= big < stored["big"] + 1024
    assert stored["repetitive"] <= repetitive < stored["repetitive"] + 1024


def test_traces_written_in_a_subprocess_are_durable_after_flush(tmp_path):
    script = textwrap.dedent(f"""
        import logwright as lw
        lw.set_tracking_uri({str(tmp_path / 'store')!r})

        @lw.trace
        def step(i):
            return {{"i": i, "text": "\\udce9"}}

        for i in range(2000):
            step(i)
        lw.flush()
        import os
        os._exit(0)  # no interpreter exit hooks: flush() alone made them durable
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    store = lw.Client(str(tmp_path / "store")).store
    found = store.search_traces(None, max_results=5000)
    assert len(found) == 2000
    assert json.dumps(found[0].spans[0].outputs, ensure_ascii=False).count("\ufffd") == 1


@pytest.mark.parametrize("value", [-1, 1.5, "10", True, 2**62])
def test_search_traces_refuses_bad_paging_with_invalid_filter(tmp_store, value):
    from logwright.exceptions import InvalidFilter

    store = lw.Client().store
    if value == 2**62:
        with pytest.raises(InvalidFilter):
            store.search_traces(None, offset=value)
        return
    with pytest.raises(InvalidFilter, match="max_results"):
        store.search_traces(None, max_results=value)
