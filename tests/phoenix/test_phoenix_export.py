"""What a user sees in a real Arize Phoenix fed by ``LOGWRIGHT_OTLP_ENDPOINT``.

LangChain and DSPy run under ``logwright.autolog()`` with fake models; the spans are read
back through Phoenix's REST API as Phoenix stored them (it parses JSON attribute values
and flattens them, e.g. ``tool.parameters.a``). Skips without a Phoenix venv
(``scripts/phoenix-check`` builds one); not collected without langchain-core and dspy.
"""

from __future__ import annotations

import json
import logging

import dspy
from dspy.utils import DummyLM
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatResult
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_core.vectorstores import InMemoryVectorStore

import logwright

_PROJECTS = "{ projects { edges { node { name traceCount tokenCountTotal sessions(first: 10) { edges { node { sessionId } } } } } } }"
PROMPT = ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "{question}")])


class UsageFakeChatModel(GenericFakeChatModel):
    """A fake chat model that reports a model name and token usage, as real providers do."""

    model_name: str = "gpt-4o-mini"

    @property
    def _identifying_params(self):
        return {"model_name": self.model_name}

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        result = super()._generate(messages, stop, run_manager, **kwargs)
        usage = {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16}
        return ChatResult(generations=result.generations,
                          llm_output={"token_usage": usage, "model_name": self.model_name})


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def _one(spans, name):
    (span,) = [s for s in spans if s["name"] == name]
    return span["attributes"]


def _run_langchain():
    logwright.set_experiment("phoenix-langchain")
    call = {"name": "add", "args": {"a": 2, "b": 3}, "id": "call_1", "type": "tool_call"}
    model = UsageFakeChatModel(messages=iter([AIMessage("", tool_calls=[call])]))
    bound = model.bind(tools=[convert_to_openai_tool(add)])
    run_tools = RunnableLambda(lambda msg: [add.invoke(c) for c in msg.tool_calls], name="run_tools")
    (PROMPT | bound | run_tools).invoke({"question": "2+3?"},
                                         config={"metadata": {"session_id": "s-9", "user_id": "ada"}})
    parsed = (PROMPT | FakeListChatModel(responses=["Paris."]) | StrOutputParser())
    assert parsed.invoke({"question": "Capital of France?"}) == "Paris."
    store = InMemoryVectorStore(DeterministicFakeEmbedding(size=16))
    store.add_documents([Document("Paris is in France.", metadata={"src": "a"}, id="d1"),
                         Document("Rome is in Italy.", metadata={"src": "b"}, id="d2")])
    store.as_retriever(search_kwargs={"k": 2}).invoke("Paris")


def test_langchain_model_calls_messages_tokens_documents_and_tools_in_phoenix(to_phoenix):
    _run_langchain()
    spans = to_phoenix.wait_for_spans("phoenix-langchain", 10)
    kinds = sorted((s["name"], s["span_kind"]) for s in spans)
    assert kinds == sorted([("RunnableSequence", "CHAIN"), ("ChatPromptTemplate", "PROMPT"),
                            ("UsageFakeChatModel", "LLM"), ("run_tools", "CHAIN"), ("add", "TOOL"),
                            ("RunnableSequence", "CHAIN"), ("ChatPromptTemplate", "PROMPT"),
                            ("FakeListChatModel", "LLM"), ("StrOutputParser", "CHAIN"),
                            ("VectorStoreRetriever", "RETRIEVER")])
    assert len({s["context"]["trace_id"] for s in spans}) == 3
    assert sum(s["parent_id"] is None for s in spans) == 3

    llm = _one(spans, "UsageFakeChatModel")
    assert llm["llm.model_name"] == "gpt-4o-mini"
    assert (llm["llm.token_count.prompt"], llm["llm.token_count.completion"], llm["llm.token_count.total"]) == (11, 5, 16)
    assert (llm["llm.input_messages.0.message.role"], llm["llm.input_messages.0.message.content"]) == ("system", "Be brief.")
    assert (llm["llm.input_messages.1.message.role"], llm["llm.input_messages.1.message.content"]) == ("user", "2+3?")
    call = "llm.output_messages.0.message.tool_calls.0.tool_call"
    assert llm["llm.output_messages.0.message.role"] == "assistant"
    assert llm[f"{call}.function.name"] == "add" and llm[f"{call}.id"] == "call_1"
    assert json.loads(llm[f"{call}.function.arguments"]) == {"a": 2, "b": 3}
    assert json.loads(llm["llm.tools.0.tool.json_schema"])["function"]["name"] == "add"
    assert llm["session.id"] == "s-9" and llm["user.id"] == "ada"

    plain = _one(spans, "FakeListChatModel")  # a fake that reports no model name and no usage
    assert plain["llm.output_messages.0.message.content"] == "Paris."
    assert "llm.model_name" not in plain and "llm.token_count.total" not in plain

    tool_span = _one(spans, "add")
    assert tool_span["tool.name"] == "add" and tool_span["tool.description"] == "Add two integers."
    # logwright sends no schema for a LangChain tool: Phoenix fills tool.parameters from the call's arguments.
    assert (tool_span["tool.parameters.a"], tool_span["tool.parameters.b"]) == (2, 3)
    assert json.loads(tool_span["output.value"])["content"] == "5"

    prompt = [s["attributes"] for s in spans if s["name"] == "ChatPromptTemplate"]
    assert {p["llm.prompt_template.template"] for p in prompt} == {"system: Be brief.\nuser: {question}"}
    assert {p["llm.prompt_template.variables.question"] for p in prompt} == {"2+3?", "Capital of France?"}

    (project,) = [p["node"] for p in to_phoenix.graphql(_PROJECTS)["projects"]["edges"]
                  if p["node"]["name"] == "phoenix-langchain"]
    assert (project["traceCount"], project["tokenCountTotal"]) == (3, 16)
    assert [s["node"]["sessionId"] for s in project["sessions"]["edges"]] == ["s-9"]

    docs = _one(spans, "VectorStoreRetriever")
    found = {docs[f"retrieval.documents.{i}.document.id"]: i for i in range(2)}
    assert set(found) == {"d1", "d2"}
    assert docs[f"retrieval.documents.{found['d1']}.document.content"] == "Paris is in France."
    assert docs[f"retrieval.documents.{found['d2']}.document.metadata.src"] == "b"


def _run_dspy():
    logwright.set_experiment("phoenix-dspy")
    with dspy.context(lm=DummyLM([{"reasoning": "think", "answer": "a"}])):
        dspy.ChainOfThought("question -> answer")(question="why?")
    answers = [{"next_thought": "multiply", "next_tool_name": "multiply", "next_tool_args": {"a": 2, "b": 3}},
               {"next_thought": "done", "next_tool_name": "finish", "next_tool_args": {}},
               {"reasoning": "it is 6", "answer": "6"}]
    with dspy.context(lm=DummyLM(answers)):
        dspy.ReAct("question -> answer", tools=[multiply])(question="2*3?")


def test_dspy_lm_calls_and_react_tool_in_phoenix(to_phoenix):
    _run_dspy()
    spans = to_phoenix.wait_for_spans("phoenix-dspy", 21)
    assert "UNKNOWN" not in {s["span_kind"] for s in spans}
    roots = sorted((s["name"], s["span_kind"]) for s in spans if s["parent_id"] is None)
    assert roots == [("ChainOfThought", "CHAIN"), ("ReAct", "AGENT")]
    llms = [s["attributes"] for s in spans if s["span_kind"] == "LLM"]
    assert sorted(s["name"] for s in spans if s["span_kind"] == "LLM") == ["DummyLM"] * 4
    for llm in llms:
        assert llm["llm.model_name"] == "dummy"
        # DummyLM reports zero usage; Phoenix shows the zeros it was sent.
        assert (llm["llm.token_count.prompt"], llm["llm.token_count.completion"], llm["llm.token_count.total"]) == (0, 0, 0)
        assert llm["llm.input_messages.0.message.role"] == "system"
        assert llm["llm.input_messages.1.message.role"] == "user"
        assert llm["llm.output_messages.0.message.role"] == "assistant"
        assert json.loads(llm["llm.invocation_parameters"])["temperature"] == 0.0
    assert any("[[ ## answer ## ]]\na" in llm["llm.output_messages.0.message.content"] for llm in llms)
    assert any("why?" in llm["llm.input_messages.1.message.content"] for llm in llms)

    tool_span = _one(spans, "multiply")
    assert tool_span["tool.name"] == "multiply" and tool_span["tool.description"] == "Multiply two integers."
    assert tool_span["tool.parameters.a.type"] == tool_span["tool.parameters.b.type"] == "integer"
    assert tool_span["output.value"] == "6"
    assert {s["name"] for s in spans if s["span_kind"] == "TOOL"} == {"multiply", "finish"}


def test_traces_logged_while_phoenix_is_down_arrive_once_it_is_back(to_phoenix, caplog):
    caplog.set_level(logging.WARNING, logger="logwright.tracing.export")
    logwright.set_experiment("phoenix-outage")
    to_phoenix.stop()
    for i in range(200):
        with logwright.start_span(f"t{i}", kind="CHAIN", inputs={"i": i}):
            with logwright.start_span("model", kind="LLM", inputs=[{"role": "user", "content": f"q{i}"}]) as llm:
                llm.set_attributes({"gen_ai.request.model": "m", "gen_ai.usage.input_tokens": i,
                                    "gen_ai.usage.output_tokens": 1})
                llm.set_outputs({"role": "assistant", "content": f"a{i}"})
    logwright.flush()  # waits at most 2 s while the collector is down; the traces stay queued
    assert any("collector unreachable since" in r.getMessage() for r in caplog.records)
    to_phoenix.start()
    spans = to_phoenix.wait_for_spans("phoenix-outage", 400, timeout=120)
    roots = [s for s in spans if s["parent_id"] is None]
    assert sorted(s["name"] for s in roots) == sorted(f"t{i}" for i in range(200))
    assert len(spans) == 400 and len({s["context"]["span_id"] for s in spans}) == 400
    models = {s["attributes"]["llm.input_messages.0.message.content"]: s["attributes"] for s in spans
              if s["name"] == "model"}
    assert len(models) == 200 and models["q7"]["llm.token_count.prompt"] == 7
    assert models["q7"]["llm.output_messages.0.message.content"] == "a7"
    assert any("reachable again" in r.getMessage() for r in caplog.records)
