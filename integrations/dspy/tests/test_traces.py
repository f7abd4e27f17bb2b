"""Traces of DSPy programs: spans per module, LM call, adapter step and tool."""

from __future__ import annotations

import dspy
import pytest
from dspy.utils import DummyLM

import logwright

COT = ["ChainOfThought", "Predict", "ChatAdapter.format", "DummyLM", "ChatAdapter.parse"]


class TwoStep(dspy.Module):
    def __init__(self):
        super().__init__()
        self.draft = dspy.Predict("question -> answer")
        self.refine = dspy.ChainOfThought("question, draft -> answer")

    def forward(self, question):
        draft = self.draft(question=question).answer
        return self.refine(question=question, draft=draft)


def test_chain_of_thought_is_one_trace(lm, traces):
    cot = dspy.ChainOfThought("question -> answer")
    assert cot(question="why?").answer == "a"
    trace = traces.one()
    traces.check_complete(trace)
    assert [s.name for s in trace.spans] == COT
    assert [s.kind for s in trace.spans] == ["CHAIN", "CHAIN", "PARSER", "CHAT_MODEL", "PARSER"]
    root, predict, fmt, model, parse = trace.spans
    assert root.inputs == {"question": "why?"}
    assert root.outputs == {"reasoning": "think", "answer": "a"}
    assert predict.attributes["dspy.signature.input_fields"] == ["question"]
    assert predict.attributes["dspy.signature.output_fields"] == ["reasoning", "answer"]
    assert "produce the fields `answer`" in predict.attributes["dspy.signature.instructions"]
    assert model.attributes["gen_ai.request.model"] == "dummy"
    assert model.attributes["gen_ai.request.temperature"] == 0.0
    assert model.attributes["gen_ai.usage.input_tokens"] == 0
    assert model.attributes["dspy.lm.cache_hit"] is False
    assert model.inputs[0]["role"] == "system"
    assert "[[ ## answer ## ]]" in model.outputs[0]
    assert fmt.inputs == {"question": "why?"}
    assert parse.outputs == {"reasoning": "think", "answer": "a"}


def test_two_module_program(lm, traces):
    TwoStep()(question="q")
    trace = traces.one()
    traces.check_complete(trace)
    tree = traces.tree(trace)
    assert tree[0] == ("CHAIN", "TwoStep", None)
    modules = [(kind, name, parent) for kind, name, parent in tree if kind == "CHAIN"]
    assert modules == [("CHAIN", "TwoStep", None), ("CHAIN", "Predict", "TwoStep"),
                       ("CHAIN", "ChainOfThought", "TwoStep"), ("CHAIN", "Predict", "ChainOfThought")]
    assert sum(kind == "CHAT_MODEL" for kind, _, _ in tree) == 2


def test_call_kwargs_override_lm_defaults(lm, traces):
    dspy.Predict("question -> answer")(question="q", config={"temperature": 0.7})
    model = next(s for s in traces.one().spans if s.kind == "CHAT_MODEL")
    assert model.attributes["gen_ai.request.temperature"] == 0.7


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def test_react_with_python_tool(traces):
    answers = [
        {"next_thought": "add them", "next_tool_name": "add", "next_tool_args": {"a": 2, "b": 3}},
        {"next_thought": "done", "next_tool_name": "finish", "next_tool_args": {}},
        {"reasoning": "it is 5", "answer": "5"},
    ]
    with dspy.context(lm=DummyLM(answers)):
        result = dspy.ReAct("question -> answer", tools=[add])(question="2+3?")
    assert result.answer == "5"
    trace = traces.one()
    traces.check_complete(trace)
    root = trace.spans[0]
    assert (root.kind, root.name) == ("AGENT", "ReAct")
    tools = [s for s in trace.spans if s.kind == "TOOL"]
    assert [s.name for s in tools] == ["add", "finish"]
    assert tools[0].inputs == {"a": 2, "b": 3}
    assert tools[0].outputs == 5
    assert tools[0].attributes["gen_ai.tool.name"] == "add"
    assert tools[0].attributes["gen_ai.tool.description"] == "Add two integers."
    assert set(tools[0].attributes["logwright.tool.parameters"]) == {"a", "b"}


def test_user_spans_inside_forward_nest(lm, traces):
    @logwright.trace(name="helper")
    def helper(q):
        return dspy.Predict("question -> answer")(question=q).answer

    class Outer(dspy.Module):
        def forward(self, question):
            return dspy.Prediction(answer=helper(question))

    Outer()(question="q")
    tree = traces.tree(traces.one())
    assert [(name, parent) for _, name, parent in tree[:3]] == [
        ("Outer", None), ("helper", "Outer"), ("Predict", "helper")]


def test_program_inside_user_span(lm, traces):
    with logwright.start_span("request", kind="CHAIN"):
        dspy.Predict("question -> answer")(question="q")
    tree = traces.tree(traces.one())
    assert tree[:2] == [("CHAIN", "request", None), ("CHAIN", "Predict", "request")]


def test_error_ends_spans_as_error(traces):
    class Boom(dspy.Module):
        def forward(self, question):
            raise KeyError("mine")

    with pytest.raises(KeyError, match="mine"):
        Boom()(question="q")
    root = traces.one().spans[0]
    assert root.status == "ERROR"
    assert root.events[0].name == "exception"


def test_parse_failure_is_recorded(traces):
    with dspy.context(lm=DummyLM([{"other": "x"}] * 10)), pytest.raises(Exception):  # noqa: B017, PT011
        dspy.Predict("question -> answer")(question="q")
    trace = traces.one()
    traces.check_complete(trace)
    assert trace.spans[0].status == "ERROR"
    assert any(s.kind == "PARSER" and s.status == "ERROR" for s in trace.spans)


def test_log_traces_false_records_nothing(lm, traces):
    logwright.autolog(only=["dspy"], log_traces=False)
    dspy.ChainOfThought("question -> answer")(question="q")
    assert traces.all() == []


def test_configure_callbacks_keeps_ours(traces):
    from dspy.utils.callback import BaseCallback

    class Mine(BaseCallback):
        seen = 0

        def on_module_start(self, call_id, instance, inputs):
            Mine.seen += 1

    old, old_lm = list(dspy.settings.callbacks), dspy.settings.lm
    try:
        dspy.configure(callbacks=[Mine()], lm=DummyLM([{"answer": "a"}] * 5))
        dspy.Predict("question -> answer")(question="q")
    finally:
        dspy.settings.configure(callbacks=old, lm=old_lm)
    assert Mine.seen == 1
    assert len(traces.all()) == 1


def test_disable_removes_the_callback(traces):
    logwright.autolog(disable=True)
    assert not any(type(cb).__name__ == "LogwrightDSPyCallback" for cb in dspy.settings.callbacks)
    with dspy.context(lm=DummyLM([{"answer": "a"}] * 5)):
        dspy.Predict("question -> answer")(question="q")
    assert traces.all() == []
    logwright.autolog(only=["dspy"])
    logwright.autolog(only=["dspy"])
    assert sum(type(cb).__name__ == "LogwrightDSPyCallback" for cb in dspy.settings.callbacks) == 1


def test_callback_left_in_a_context_goes_inert(lm, traces):
    logwright.autolog(disable=True)  # the lm fixture's dspy.context still lists our callback
    dspy.Predict("question -> answer")(question="q")
    assert traces.all() == []


def test_retriever_span(traces):
    def rm(query, k=3, **kwargs):
        return [dspy.Prediction(long_text=f"passage {i} for {query}") for i in range(k)]

    with dspy.context(rm=rm):
        found = dspy.Retrieve(k=2)("paris")
    assert len(found.passages) == 2
    span = traces.one().spans[0]
    assert (span.kind, span.name) == ("RETRIEVER", "Retrieve")
    assert span.inputs == {"args": ["paris"]}
    assert span.outputs["passages"] == ["passage 0 for paris", "passage 1 for paris"]
