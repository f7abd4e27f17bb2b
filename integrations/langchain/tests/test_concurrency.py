"""Volume and concurrency: every call is one complete trace with the right parents."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool

import logwright

PROMPT = ChatPromptTemplate.from_messages([("human", "{question}")])
KINDS = ["CHAIN", "PROMPT", "CHAT_MODEL", "PARSER"]


def chain():
    return PROMPT | FakeListChatModel(responses=["answer"]) | StrOutputParser()


def check_all(traces, found, questions):
    """One complete 4-span trace per question, each holding its own question."""
    assert len(found) == len(questions)
    seen = []
    for trace in found:
        traces.check_complete(trace)
        assert [s.kind for s in trace.spans] == KINDS
        root = trace.spans[0]
        assert {s.parent_id for s in trace.spans[1:]} == {root.span_id}
        assert trace.spans[2].inputs == [{"role": "user", "content": root.inputs["question"]}]
        seen.append(root.inputs["question"])
    assert sorted(seen) == sorted(questions)


def test_thousand_back_to_back_invokes(traces):
    seq = chain()
    questions = [f"q{i}" for i in range(1000)]
    for q in questions:
        seq.invoke({"question": q})
    check_all(traces, traces.all(), questions)


def test_hundred_concurrent_ainvoke(traces):
    seq = chain()
    questions = [f"q{i}" for i in range(100)]

    async def go():
        return await asyncio.gather(*(seq.ainvoke({"question": q}) for q in questions))

    assert asyncio.run(go()) == ["answer"] * 100
    check_all(traces, traces.all(), questions)


def test_batch_and_abatch_one_trace_per_input(traces):
    seq = chain()
    questions = [f"b{i}" for i in range(20)]
    assert seq.batch([{"question": q} for q in questions], config={"max_concurrency": 4}) == ["answer"] * 20
    check_all(traces, traces.all(), questions)
    aquestions = [f"a{i}" for i in range(20)]
    asyncio.run(seq.abatch([{"question": q} for q in aquestions]))
    check_all(traces, traces.all(), questions + aquestions)
    assert logwright.get_current_span() is None


def test_user_threads(traces):
    seq = chain()
    questions = [f"t{i}" for i in range(40)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda q: seq.invoke({"question": q}), questions))
    check_all(traces, traces.all(), questions)


def test_nested_chain_inside_tool(traces):
    inner = chain()

    @tool
    def research(topic: str) -> str:
        """Ask the inner chain about a topic."""
        return inner.invoke({"question": topic})

    outer = RunnableLambda(lambda q: research.invoke({"topic": q}), name="agent_step")
    assert asyncio.run(outer.abatch(["x", "y", "z"])) == ["answer"] * 3
    found = traces.all()
    assert len(found) == 3
    for trace in found:
        traces.check_complete(trace)
        assert traces.tree(trace) == [
            ("CHAIN", "agent_step", None),
            ("TOOL", "research", "agent_step"),
            ("CHAIN", "RunnableSequence", "research"),
            ("PROMPT", "ChatPromptTemplate", "RunnableSequence"),
            ("CHAT_MODEL", "FakeListChatModel", "RunnableSequence"),
            ("PARSER", "StrOutputParser", "RunnableSequence"),
        ]


def test_concurrent_calls_inside_a_run_link_to_it(traces):
    seq = chain()
    with logwright.start_run() as run:
        seq.batch([{"question": f"r{i}"} for i in range(10)])
    found = traces.all()
    assert len(found) == 10 and {t.info.run_id for t in found} == {run.info.run_id}
