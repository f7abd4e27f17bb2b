"""Tracing core: spans, trees, context propagation, generators, exceptions, storage."""

from __future__ import annotations

import asyncio
import threading
import traceback

import pytest

import logwright as lw
from logwright import tracing
from logwright.exceptions import TraceNotFound
from logwright.tracing import spans as spans_mod


@pytest.fixture(autouse=True)
def _fresh(tmp_store):
    tracing._reset_for_tests()
    yield
    tracing._reset_for_tests()


def _last():
    lw.flush()
    return lw.get_last_trace()


def _by_name(trace):
    return {s.name: s for s in trace.spans}


@lw.trace(kind="CHAIN")
def rag(question, k=2):
    docs = retrieve(question, k)
    return generate(question, docs)


@lw.trace(kind="RETRIEVER")
def retrieve(question, k):
    return [f"doc{i}" for i in range(k)]


@lw.trace(kind="LLM", attributes={"gen_ai.request.model": "fake-1"})
def generate(question, docs):
    span = lw.get_current_span()
    span.set_attributes({"gen_ai.usage.input_tokens": 7, "gen_ai.usage.output_tokens": 3})
    return {"answer": question.upper(), "docs": docs}


def test_nested_tree_is_stored_with_parents_kinds_io_and_tokens():
    assert rag("why?") == {"answer": "WHY?", "docs": ["doc0", "doc1"]}
    trace = _last()
    assert len(trace.info.trace_id) == 32 and trace.info.span_count == 3
    assert [s.name for s in trace.spans] == ["rag", "retrieve", "generate"]
    root, ret, gen = trace.spans
    assert root.parent_id is None and ret.parent_id == root.span_id and gen.parent_id == root.span_id
    assert len(root.span_id) == 16 and {s.trace_id for s in trace.spans} == {trace.trace_id}
    assert (root.kind, ret.kind, gen.kind) == ("CHAIN", "RETRIEVER", "LLM")
    assert gen.attributes["logwright.span.kind"] == "LLM"
    assert gen.attributes["gen_ai.request.model"] == "fake-1"
    assert root.inputs == {"question": "why?"} and ret.inputs == {"question": "why?", "k": 2}
    assert ret.outputs == ["doc0", "doc1"]
    assert trace.info.name == "rag" and trace.info.status == "OK"
    assert (trace.info.input_tokens, trace.info.output_tokens, trace.info.total_tokens) == (7, 3, 10)
    assert all(s.end_ns >= s.start_ns for s in trace.spans)
    assert trace.info.start_ns == root.start_ns and trace.info.end_ns == root.end_ns
    assert lw.get_trace(trace.trace_id) == trace


def test_token_totals_sum_over_spans_and_prefer_explicit_total():
    with lw.start_span("agent", kind="AGENT"):
        for n in (1, 2):
            with lw.start_span(f"llm{n}", kind="CHAT_MODEL") as span:
                span.set_attribute("gen_ai.usage.input_tokens", 10 * n)
                span.set_attribute("gen_ai.usage.output_tokens", n)
                span.set_attribute("logwright.usage.total_tokens", 100)
    info = _last().info
    assert (info.input_tokens, info.output_tokens, info.total_tokens) == (30, 3, 200)


def test_start_span_api_events_status_and_trace_tags():
    with lw.start_span("root", kind="CHAIN", attributes={"a": 1}, inputs={"q": "x"}) as root:
        assert lw.get_current_span() is root
        lw.update_current_trace(tags={"user": "ada", "n": 3}, name="renamed")
        with lw.start_span("child") as child:
            assert lw.get_current_span() is child and child.parent_id == root.span_id
            child.add_event("first_token", {"i": 1}, timestamp_ns=123)
            child.set_status("ERROR", "bad answer")
        assert lw.get_current_span() is root
        root.set_outputs("done")
    assert lw.get_current_span() is None
    trace = _last()
    assert trace.info.name == "renamed" and trace.info.tags == {"user": "ada", "n": "3"}
    got = _by_name(trace)
    assert got["root"].inputs == {"q": "x"} and got["root"].outputs == "done"
    assert got["root"].attributes["a"] == 1
    event = got["child"].events[0]
    assert (event.name, event.timestamp_ns, event.attributes) == ("first_token", 123, {"i": 1})
    assert (got["child"].status, got["child"].status_message) == ("ERROR", "bad answer")


def test_get_trace_unknown_raises():
    with pytest.raises(TraceNotFound):
        lw.get_trace("0" * 32)


def test_get_last_trace_none_before_any_trace():
    assert lw.get_last_trace() is None


def test_100_concurrent_asyncio_tasks_give_100_complete_traces():
    @lw.trace(kind="LLM")
    async def call(i):
        await asyncio.sleep(0.001 * (i % 3))
        return i

    @lw.trace(kind="CHAIN")
    async def handle(i):
        with lw.start_span("prep"):
            await asyncio.sleep(0)
        return await call(i) + await call(i)

    async def main():
        return await asyncio.gather(*(handle(i) for i in range(100)))

    assert asyncio.run(main()) == [2 * i for i in range(100)]
    lw.flush()
    traces = lw.search_traces(max_results=1000)
    assert len(traces) == 100
    for trace in traces:
        root, *children = trace.spans
        assert root.name == "handle" and len(children) == 3
        assert all(c.parent_id == root.span_id for c in children)
        i = root.inputs["i"]
        assert [c.inputs for c in children if c.name == "call"] == [{"i": i}, {"i": i}]


def test_thread_propagation_with_copy_context_and_executor():
    from concurrent.futures import ThreadPoolExecutor

    @lw.trace
    def work(x):
        return x * 2

    with lw.start_span("parent") as parent:
        with ThreadPoolExecutor(4) as pool:
            assert list(pool.map(tracing.copy_context(work), range(4))) == [0, 2, 4, 6]
        with tracing.ContextExecutor(2) as pool:
            assert pool.submit(work, 10).result() == 20
        thread = threading.Thread(target=tracing.copy_context(work), args=(5,))
        thread.start()
        thread.join()
    trace = _last()
    children = [s for s in trace.spans if s.name == "work"]
    assert len(children) == 6 and all(s.parent_id == parent.span_id for s in children)


def test_thread_without_context_starts_its_own_trace():
    seen = []

    @lw.trace
    def work():
        seen.append(lw.get_current_span())

    with lw.start_span("parent") as parent:
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
    lw.flush()
    assert seen[0].parent_id is None and seen[0].trace_id != parent.trace_id
    assert len(lw.search_traces()) == 2


def test_children_ending_concurrently_in_threads_are_all_recorded():
    with lw.start_span("root") as root:
        def child(i):
            with tracing.use_span(root), lw.start_span(f"c{i}"):
                pass

        threads = [threading.Thread(target=child, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert _last().info.span_count == 17


def test_generator_span_covers_iteration_records_items_and_does_not_leak_context():
    @lw.trace(kind="LLM")
    def stream(n):
        for i in range(n):
            with lw.start_span(f"chunk{i}"):
                pass
            yield f"tok{i}"

    with lw.start_span("outer") as outer:
        for _ in stream(3):
            assert lw.get_current_span() is outer
    trace = _last()
    got = _by_name(trace)
    assert got["stream"].parent_id == outer.span_id
    assert got["stream"].outputs == ["tok0", "tok1", "tok2"] and got["stream"].inputs == {"n": 3}
    assert all(got[f"chunk{i}"].parent_id == got["stream"].span_id for i in range(3))
    assert got["stream"].end_ns >= got["chunk2"].end_ns


def test_generator_send_return_value_early_close_and_error():
    @lw.trace
    def echo():
        received = yield "ready"
        while received is not None:
            received = yield received * 2
        return "finished"

    def drive():
        gen = echo()
        assert next(gen) == "ready"
        assert gen.send(2) == 4
        with pytest.raises(StopIteration) as stop:
            gen.send(None)
        return stop.value.value

    assert drive() == "finished"
    assert _last().spans[0].outputs == ["ready", 4]

    @lw.trace
    def count():
        yield from range(10)

    for i in count():
        if i == 1:
            break
    span = _last().spans[0]
    assert span.status == "OK" and span.outputs == [0, 1]

    @lw.trace
    def broken():
        yield 1
        raise KeyError("gone")

    with pytest.raises(KeyError):
        list(broken())
    span = _last().spans[0]
    assert span.status == "ERROR" and span.outputs == [1]


def test_generator_yielded_items_are_capped_with_marker():
    @lw.trace
    def many():
        yield from range(1500)

    assert sum(many()) == sum(range(1500))
    outputs = _last().spans[0].outputs
    assert len(outputs) == 1001 and outputs[:3] == [0, 1, 2]
    assert "truncated by logwright" in outputs[-1] and "1500" in outputs[-1]


def test_async_generator_span():
    @lw.trace(kind="LLM")
    async def astream(n):
        for i in range(n):
            await asyncio.sleep(0)
            with lw.start_span("inner"):
                pass
            yield i

    async def main():
        with lw.start_span("outer") as outer:
            items = []
            async for item in astream(3):
                assert lw.get_current_span() is outer
                items.append(item)
            return items

    assert asyncio.run(main()) == [0, 1, 2]
    got = _last()
    gen = next(s for s in got.spans if s.name == "astream")
    assert gen.outputs == [0, 1, 2]
    inner = [s for s in got.spans if s.name == "inner"]
    assert len(inner) == 3 and all(s.parent_id == gen.span_id for s in inner)


def test_async_function_and_async_generator_errors():
    @lw.trace
    async def fails():
        raise ValueError("async boom")

    @lw.trace
    async def agen():
        yield 1
        raise RuntimeError("agen boom")

    async def main():
        with pytest.raises(ValueError):
            await fails()
        with pytest.raises(RuntimeError):
            async for _ in agen():
                pass

    asyncio.run(main())
    lw.flush()
    statuses = {t.info.name: t.info.status for t in lw.search_traces()}
    assert statuses == {"fails": "ERROR", "agen": "ERROR"}


class _Boom(Exception):
    pass


def test_exception_recorded_and_reraised_untouched():
    err = _Boom("kaboom")

    @lw.trace
    def inner():
        raise err

    @lw.trace
    def outer():
        inner()

    with pytest.raises(_Boom) as info:
        outer()
    assert info.value is err
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert frames[-1] == "inner" and "outer" in frames
    trace = _last()
    for span in trace.spans:
        assert span.status == "ERROR" and span.status_message == "_Boom: kaboom"
        event = span.events[0]
        assert event.name == "exception"
        assert event.attributes["exception.type"] == "_Boom"
        assert event.attributes["exception.message"] == "kaboom"
        assert "raise err" in event.attributes["exception.stacktrace"]
    assert trace.info.status == "ERROR"


def test_start_span_records_exception_and_reraises():
    with pytest.raises(ZeroDivisionError):
        with lw.start_span("div"):
            1 / 0  # noqa: B018
    span = _last().spans[0]
    assert span.status == "ERROR" and span.events[0].attributes["exception.type"] == "ZeroDivisionError"


def test_methods_static_and_class_methods():
    class Bot:
        @lw.trace
        def answer(self, q):
            return q + "!"

        @lw.trace
        @staticmethod
        def static(x):
            return x

        @lw.trace
        @classmethod
        def klass(cls, y, *rest):
            return y

    assert Bot().answer("hi") == "hi!" and Bot.static(1) == 1 and Bot.klass(2, 3, 4) == 2
    lw.flush()
    inputs = {t.info.name: t.spans[0].inputs for t in lw.search_traces()}
    assert inputs == {"answer": {"q": "hi"}, "static": {"x": 1}, "klass": {"y": 2, "rest": [3, 4]}}


def test_span_never_ends_twice():
    with lw.start_span("root") as root:
        child = tracing.start_detached_span("child", parent=root)
        child.end(outputs=1, end_ns=child.start_ns + 10)
        child.end(outputs=2, end_ns=child.start_ns + 99)
        root.end()
    root.end()
    trace = _last()
    assert trace.info.span_count == 2
    got = _by_name(trace)
    assert got["child"].outputs == 1 and got["child"].end_ns == got["child"].start_ns + 10


def test_detached_spans_use_span_and_explicit_run():
    with lw.start_run() as run:
        run_id = run.info.run_id
    root = tracing.start_detached_span("chain", kind="CHAIN", run_id=run_id, inputs={"x": 1})
    assert lw.get_current_span() is None
    llm = tracing.start_detached_span("llm", kind="LLM", parent=root, start_ns=root.start_ns + 5)
    with tracing.use_span(llm):
        @lw.trace
        def tool():
            return 1

        tool()
    assert lw.get_current_span() is None
    llm.end(outputs="hi")
    root.end(outputs={"y": 2})
    trace = _last()
    assert trace.info.run_id == run_id
    got = _by_name(trace)
    assert got["tool"].parent_id == got["llm"].span_id and got["llm"].start_ns == root.start_ns + 5
    assert [t.trace_id for t in lw.search_traces(run=run_id)] == [trace.trace_id]


def test_trace_links_to_active_run():
    with lw.start_run() as run:
        rag("q")
    trace = _last()
    assert trace.info.run_id == run.info.run_id
    assert trace.info.experiment_id == run.info.experiment_id
    rag("outside")
    assert _last().info.run_id is None


def test_span_left_open_in_a_written_trace_is_closed_as_error_at_flush():
    with lw.start_span("root") as root:
        tracing.start_detached_span("forgotten", parent=root)
    lw.flush()  # the root ended: the forgotten child is closed as ERROR and written
    trace = lw.get_trace(root.trace_id)
    got = _by_name(trace)
    assert trace.info.span_count == 2
    assert (got["forgotten"].status, got["forgotten"].status_message) == ("ERROR", spans_mod.NOT_ENDED)


def test_open_root_is_not_closed_by_flush_but_is_at_exit():
    root = tracing.start_detached_span("root")
    lw.flush()
    assert lw.search_traces() == []
    spans_mod._close_all_at_exit()
    trace = lw.get_trace(root.trace_id)
    assert trace.info.status == "ERROR" and trace.spans[0].status_message == spans_mod.NOT_ENDED


def test_unclosed_spans_are_written_as_error_when_the_process_exits(tmp_path):
    import subprocess
    import sys

    script = (
        "import logwright as lw\n"
        "from logwright import tracing\n"
        f"lw.set_tracking_uri({str(tmp_path / 'exit-store')!r})\n"
        "root = tracing.start_detached_span('crashed', kind='CHAIN')\n"
        "tracing.start_detached_span('child', parent=root)\n"
        "print(root.trace_id)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    trace_id = out.stdout.strip()
    lw.set_tracking_uri(str(tmp_path / "exit-store"))
    trace = lw.get_trace(trace_id)
    assert trace.info.span_count == 2 and trace.info.status == "ERROR"
    assert {s.status_message for s in trace.spans} == {spans_mod.NOT_ENDED}


def test_span_ending_after_its_root_is_written_late():
    root = tracing.start_detached_span("root")
    late = tracing.start_detached_span("late", parent=root)
    root.end()
    late.set_attribute("gen_ai.usage.input_tokens", 4)
    late.end()
    lw.flush()
    trace = lw.get_trace(root.trace_id)
    assert trace.info.span_count == 2 and trace.info.input_tokens == 4
    assert _by_name(trace)["late"].status == "OK"


def test_search_traces_filters_order_and_limits():
    @lw.trace
    def rag_query(user):
        lw.update_current_trace(tags={"user": user})
        if user == "bad":
            raise RuntimeError("no")

    for user in ("ada", "bob", "bad"):
        try:
            rag_query(user)
        except RuntimeError:
            pass
    with lw.start_span("other"):
        pass
    lw.flush()
    assert len(lw.search_traces()) == 4
    assert [t.info.tags["user"] for t in lw.search_traces(filter="status = 'ERROR'")] == ["bad"]
    assert len(lw.search_traces(filter="name LIKE 'rag%'")) == 3
    assert [t.info.tags["user"] for t in lw.search_traces(filter="tags.user = 'bob'")] == ["bob"]
    assert len(lw.search_traces(filter="latency_ms >= 0 and name LIKE 'rag%' and status = 'OK'")) == 2
    assert len(lw.search_traces(filter="latency_ms > 100000")) == 0
    names = [t.info.name for t in lw.search_traces(order_by=["name ASC"])]
    assert names == sorted(names)
    assert len(lw.search_traces(max_results=2)) == 2
    assert len(lw.search_traces(experiment="Default")) == 4
    lw.set_experiment("other-exp")
    assert lw.search_traces() == []
    with pytest.raises(lw.InvalidFilter):
        lw.search_traces(experiment="Default", filter="status = ")
    with pytest.raises(lw.ExperimentNotFound):
        lw.search_traces(experiment="missing")


def test_traces_go_to_the_current_experiment():
    exp = lw.set_experiment("traced")
    rag("q")
    assert _last().info.experiment_id == exp.experiment_id


def test_sampling_ratio_zero_and_children_follow_root(monkeypatch):
    tracing.configure(sample_ratio=0.0)
    with lw.start_span("root") as root:
        assert not root.is_recording
        with lw.start_span("child") as child:
            assert not child.is_recording
        assert rag("x")["answer"] == "X"
    lw.flush()
    assert lw.search_traces() == [] and lw.get_last_trace() is None
    monkeypatch.setenv("LOGWRIGHT_TRACE_SAMPLE_RATIO", "0.5")
    tracing._reset_for_tests()
    for _ in range(200):
        rag("x")
    lw.flush()
    traces = lw.search_traces(max_results=1000)
    assert 40 < len(traces) < 160
    assert all(t.info.span_count == 3 for t in traces)


def test_disable_and_enable():
    tracing.disable()
    assert rag("x")["answer"] == "X"
    with lw.start_span("nothing") as span:
        span.set_attribute("a", 1)
        span.end()
    lw.flush()
    assert lw.search_traces() == []
    tracing.enable()
    rag("x")
    lw.flush()
    assert len(lw.search_traces()) == 1


def test_disabled_by_environment(monkeypatch):
    monkeypatch.setenv("LOGWRIGHT_TRACING_DISABLED", "1")
    tracing._reset_for_tests()
    rag("x")
    lw.flush()
    assert lw.search_traces() == []


def test_strict_mode_reraises_our_errors_and_non_strict_swallows_them(monkeypatch, caplog):
    from logwright.tracing import context, decorator

    def broken_freeze(value, limit=0, owned=False):
        raise RuntimeError("logwright bug")

    monkeypatch.setattr(decorator, "freeze", broken_freeze)
    with pytest.raises(RuntimeError, match="logwright bug"):
        rag("x")
    monkeypatch.setenv("LOGWRIGHT_STRICT", "0")
    context._warned.clear()
    assert rag("y") == {"answer": "Y", "docs": ["doc0", "doc1"]}
    assert "logwright bug" in caplog.text
    assert lw.get_current_span() is None


def test_flush_is_called_by_logwright_flush_and_import_is_lazy():
    import subprocess
    import sys

    code = (
        "import sys, logwright\n"
        "assert 'logwright.tracing' not in sys.modules\n"
        "logwright.trace\n"
        "bad = [m for m in ('numpy', 'opentelemetry', 'IPython', 'torch', 'pydantic') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_forked_child_does_not_rewrite_the_parents_open_trace():
    import os

    with lw.start_span("parent-root") as root:
        pid = os.fork()
        if pid == 0:  # the child exits through atexit, where open spans would be closed
            code = 0 if not spans_mod._open else 1
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    trace = _last()
    assert trace.trace_id == root.trace_id and trace.info.status == "OK"
