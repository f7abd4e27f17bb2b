"""With autolog on, the user's own LangChain callbacks see exactly what they see without it.

What langchain-core's own test suite checks: ``astream_events`` gets every event of an
async LLM call, a user's tracer records every run, the handler never shows in the
``config["callbacks"]`` a runnable receives (nor in what ``merge_configs`` makes of it),
and the first trace does not open the store in the event loop's thread.
"""

from __future__ import annotations

import asyncio
import sys
import threading

from langchain_core.language_models.fake import FakeListLLM
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate
from langchain_core.runnables import RunnableLambda
from langchain_core.runnables.config import merge_configs
from langchain_core.tracers.run_collector import RunCollectorCallbackHandler
from logwright_langchain import LogwrightCallbackHandler

import logwright


def llm_chain():
    return PromptTemplate.from_template("Q: {q}") | FakeListLLM(responses=["forty-two"]) | StrOutputParser()


def chat_chain():
    prompt = ChatPromptTemplate.from_messages([("human", "{q}")])
    return prompt | GenericFakeChatModel(messages=iter([AIMessage("forty-two")])) | StrOutputParser()


async def _events(chain):
    return [(e["event"], e["name"]) async for e in chain.astream_events({"q": "answer?"}, version="v2")]


def test_astream_events_sees_every_event_of_an_async_llm_call(traces):
    for make in (llm_chain, chat_chain):
        logwright.autolog(disable=True)
        without = asyncio.run(_events(make()))
        logwright.autolog(only=["langchain"])
        with_autolog = asyncio.run(_events(make()))
        assert with_autolog == without
        assert {"on_llm_start", "on_chat_model_start"} & {event for event, _ in with_autolog}
    found = traces.all()
    assert [[s.kind for s in t.spans] for t in found] == [["CHAIN", "PROMPT", "LLM", "PARSER"],
                                                          ["CHAIN", "PROMPT", "CHAT_MODEL", "PARSER"]]


def test_a_users_tracer_records_every_async_run(traces):
    collector = RunCollectorCallbackHandler()
    assert asyncio.run(llm_chain().ainvoke({"q": "answer?"}, config={"callbacks": [collector]})) == "forty-two"
    (root,) = collector.traced_runs
    assert [(run.run_type, run.name) for run in root.child_runs] == [
        ("prompt", "PromptTemplate"), ("llm", "FakeListLLM"), ("parser", "StrOutputParser")]
    assert all(run.end_time is not None and run.error is None for run in root.child_runs)
    assert [s.kind for s in traces.one().spans] == ["CHAIN", "PROMPT", "LLM", "PARSER"]


def test_handler_is_not_in_the_config_user_code_sees(traces):
    seen = {}
    mine = RunCollectorCallbackHandler()

    def step(text, config):
        manager = config["callbacks"]
        seen["handlers"] = list(manager.handlers) + list(manager.inheritable_handlers)
        merged = merge_configs(config, {"callbacks": [RunCollectorCallbackHandler()]})["callbacks"]
        seen["merged"] = list(merged.handlers) + list(merged.inheritable_handlers)
        return text.upper()

    chain = llm_chain() | RunnableLambda(step, name="step")
    assert chain.invoke({"q": "answer?"}, config={"callbacks": [mine]}) == "FORTY-TWO"
    assert not any(isinstance(h, LogwrightCallbackHandler) for h in seen["handlers"] + seen["merged"])
    assert mine in seen["handlers"]
    tree = traces.tree(traces.one())
    assert ("CHAIN", "step", "RunnableSequence") in tree  # still traced, child of the chain


def test_first_trace_does_not_open_the_store_in_the_event_loop(tmp_path, traces):
    logwright.set_tracking_uri(tmp_path / "fresh")  # nothing opened yet: the first trace must do it
    events: list[tuple[str, threading.Thread]] = []
    watching = threading.Event()

    def audit(event, args):
        if watching.is_set() and event in ("sqlite3.connect", "open", "os.mkdir"):
            if not (event == "open" and str(args[0]).endswith((".py", ".pyc"))):  # LangChain's lazy imports
                events.append((event, threading.current_thread()))

    sys.addaudithook(audit)  # cannot be removed: it records only while ``watching`` is set

    async def first_call():
        return await chat_chain().ainvoke({"q": "answer?"})

    result = {}

    def serve():  # the event loop in a thread of its own, as in a server
        result["loop_thread"] = threading.current_thread()
        result["answer"] = asyncio.run(first_call())

    watching.set()
    loop = threading.Thread(target=serve)
    loop.start()
    loop.join()
    assert result["answer"] == "forty-two"
    logwright.flush()
    trace = logwright.get_last_trace()
    assert [s.kind for s in trace.spans] == ["CHAIN", "PROMPT", "CHAT_MODEL", "PARSER"]
    assert trace.info.experiment_id == logwright.Client().get_experiment_by_name("Default").experiment_id
    watching.clear()
    assert not [event for event, thread in events if thread is result["loop_thread"]]
    assert any(event == "sqlite3.connect" for event, _ in events)  # it was opened, on another thread
