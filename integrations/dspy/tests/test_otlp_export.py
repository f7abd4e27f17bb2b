"""What an OTLP backend receives for DSPy programs: the LM call is the LLM span.

Every test exports to a real local OTLP/HTTP receiver and decodes the protobuf.
"""

from __future__ import annotations

import json

import dspy
from dspy.utils import DummyLM

import logwright

CLIENT, INTERNAL = 3, 1


def _exported(otlp_sink):
    logwright.flush()
    return otlp_sink.spans()


def test_chain_of_thought_lm_call_is_the_llm_span(lm, otlp_sink):
    logwright.set_experiment("dspy-project")
    dspy.ChainOfThought("question -> answer")(question="why?")
    spans = _exported(otlp_sink)
    kinds = {s["name"]: s["attributes"]["openinference.span.kind"] for s in spans}
    assert kinds == {"ChainOfThought": "CHAIN", "Predict": "CHAIN", "ChatAdapter.format": "CHAIN",
                     "DummyLM": "LLM", "ChatAdapter.parse": "CHAIN"}
    (llm,) = [s for s in spans if s["name"] == "DummyLM"]
    attrs = llm["attributes"]
    assert llm["kind"] == CLIENT and attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == attrs["llm.model_name"] == "dummy"
    assert attrs["llm.token_count.prompt"] == attrs["gen_ai.usage.input_tokens"] == 0
    assert attrs["llm.token_count.total"] == 0
    assert attrs["llm.input_messages.0.message.role"] == "system"
    assert "question" in attrs["llm.input_messages.1.message.content"]
    assert "[[ ## answer ## ]]" in attrs["llm.output_messages.0.message.content"]
    messages = json.loads(attrs["gen_ai.input.messages"])
    assert [m["role"] for m in messages] == ["system", "user"]
    assert json.loads(attrs["gen_ai.system_instructions"])[0]["type"] == "text"
    assert json.loads(attrs["gen_ai.output.messages"])[0]["finish_reason"] == "stop"
    assert json.loads(attrs["llm.invocation_parameters"])["temperature"] == 0.0
    assert all(s["resource"]["openinference.project.name"] == "dspy-project" for s in spans)
    (root,) = [s for s in spans if s["parent_id"] is None]
    assert root["name"] == "ChainOfThought" and json.loads(root["attributes"]["input.value"]) == {"question": "why?"}


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def test_react_agent_and_tool(otlp_sink):
    answers = [
        {"next_thought": "add them", "next_tool_name": "add", "next_tool_args": {"a": 2, "b": 3}},
        {"next_thought": "done", "next_tool_name": "finish", "next_tool_args": {}},
        {"reasoning": "it is 5", "answer": "5"},
    ]
    with dspy.context(lm=DummyLM(answers)):
        dspy.ReAct("question -> answer", tools=[add])(question="2+3?")
    spans = _exported(otlp_sink)
    (root,) = [s for s in spans if s["parent_id"] is None]
    assert root["attributes"]["openinference.span.kind"] == "AGENT"
    assert root["attributes"]["gen_ai.operation.name"] == "invoke_agent"
    assert root["attributes"]["gen_ai.agent.name"] == "ReAct"
    tool = next(s for s in spans if s["name"] == "add")
    attrs = tool["attributes"]
    assert tool["kind"] == INTERNAL and attrs["openinference.span.kind"] == "TOOL"
    assert attrs["gen_ai.tool.name"] == attrs["tool.name"] == "add"
    assert attrs["tool.description"] == "Add two integers."
    assert set(json.loads(attrs["tool.parameters"])) == {"a", "b"}
    assert json.loads(attrs["gen_ai.tool.call.arguments"]) == {"a": 2, "b": 3}
    assert attrs["gen_ai.tool.call.result"] == "5"
    llm_spans = [s for s in spans if s["attributes"]["openinference.span.kind"] == "LLM"]
    assert len(llm_spans) == 3 and all(s["kind"] == CLIENT for s in llm_spans)
