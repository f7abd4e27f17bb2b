"""The autolog contract for LangChain, plus how the handler is installed and removed."""

from __future__ import annotations

import copy
import pickle

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda
from langchain_core.tracers import context as tracer_context
from logwright_langchain import _callback, _runs

import logwright
from logwright.testing.contract import check_contract


def chain():
    prompt = ChatPromptTemplate.from_messages([("human", "{question}")])
    return prompt | FakeListChatModel(responses=["answer"]) | StrOutputParser()


def fail(_):
    raise KeyError("user's own error")


def test_contract(tmp_store):
    check_contract(
        "langchain",
        exercise=lambda: chain().invoke({"question": "q"}),
        failing=lambda: (chain() | RunnableLambda(fail)).invoke({"question": "q"}),
        obj=chain,
        require_injected_hit=False,  # LangChain logs traces only, never through Client writes
    )


def test_disable_leaves_langchain_hooks_as_found():
    logwright.autolog(disable=True)
    before = list(tracer_context._configure_hooks)
    logwright.autolog(only=["langchain"])
    logwright.autolog(only=["langchain"])
    assert len(tracer_context._configure_hooks) == len(before) + 1
    logwright.autolog(disable=True)
    assert tracer_context._configure_hooks == before


def test_failure_in_our_code_changes_nothing(traces, monkeypatch):
    monkeypatch.delenv("LOGWRIGHT_STRICT")

    def broken(*args, **kwargs):
        raise RuntimeError("logwright bug")

    monkeypatch.setattr(_callback, "start_detached_span", broken)
    monkeypatch.setattr(_callback._convert, "generations", broken)
    with pytest.warns(RuntimeWarning, match="logwright langchain autolog hit an internal error"):
        assert chain().invoke({"question": "q"}) == "answer"
    boom = KeyError("mine")

    def raise_mine(_):
        raise boom

    with pytest.raises(KeyError) as info:
        (chain() | RunnableLambda(raise_mine)).invoke({"question": "q"})
    assert info.value is boom


def test_nested_invoke_logs_once(traces):
    inner = chain()
    outer = RunnableLambda(lambda q: inner.invoke({"question": q}), name="outer")
    outer.invoke("q")
    trace = traces.one()
    assert [s.kind for s in trace.spans] == ["CHAIN", "CHAIN", "PROMPT", "CHAT_MODEL", "PARSER"]


def test_chains_pickle_and_deepcopy_with_autolog_on():
    seq = chain()
    assert copy.deepcopy(seq).invoke({"question": "q"}) == "answer"
    assert pickle.loads(pickle.dumps(FakeListChatModel(responses=["a"]))).invoke("x").content == "a"


def test_no_state_left_behind(traces):
    chain().invoke({"question": "q"})
    chain().batch([{"question": "q"}] * 5)
    assert not _runs.runs and not _runs.current_runs
