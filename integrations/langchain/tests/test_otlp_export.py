"""What an OTLP backend receives for LangChain calls: OpenInference and GenAI attributes.

Every test exports to a real local OTLP/HTTP receiver and decodes the protobuf.
"""

from __future__ import annotations

import json

from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatResult
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_core.vectorstores import InMemoryVectorStore

import logwright

PROMPT = ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "{question}")])
CLIENT, INTERNAL = 3, 1


def _exported(otlp_sink):
    logwright.flush()
    return {span["name"]: span for span in otlp_sink.spans()}


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class UsageFakeChatModel(GenericFakeChatModel):
    """A fake chat model that reports a model name and provider usage, as real providers do."""

    model_name: str = "gpt-4o-mini"

    @property
    def _identifying_params(self):
        return {"model_name": self.model_name}

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        result = super()._generate(messages, stop, run_manager, **kwargs)
        usage = {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16}
        return ChatResult(generations=result.generations,
                          llm_output={"token_usage": usage, "model_name": self.model_name})


def test_chat_model_with_tools_and_the_tool_call(otlp_sink):
    call = {"name": "add", "args": {"a": 2, "b": 3}, "id": "call_1", "type": "tool_call"}
    model = UsageFakeChatModel(messages=iter([AIMessage("", tool_calls=[call])]))
    bound = model.bind(tools=[convert_to_openai_tool(add)], stop=["END"])
    run_tools = RunnableLambda(lambda msg: [add.invoke(c) for c in msg.tool_calls], name="run_tools")
    (PROMPT | bound | run_tools).invoke({"question": "2+3?"},
                                         config={"metadata": {"session_id": "s-9", "user_id": "ada"},
                                                 "tags": ["checkout"]})
    spans = _exported(otlp_sink)
    llm = spans["UsageFakeChatModel"]
    attrs = llm["attributes"]
    assert llm["kind"] == CLIENT and attrs["openinference.span.kind"] == "LLM"
    assert attrs["gen_ai.operation.name"] == "chat" and attrs["logwright.span.kind"] == "CHAT_MODEL"
    assert attrs["gen_ai.request.model"] == attrs["llm.model_name"] == "gpt-4o-mini"
    assert attrs["gen_ai.request.stop_sequences"] == ["END"]
    assert (attrs["llm.token_count.prompt"], attrs["llm.token_count.completion"],
            attrs["llm.token_count.total"]) == (11, 5, 16)
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (11, 5)
    assert attrs["llm.input_messages.0.message.role"] == "system"
    assert attrs["llm.input_messages.1.message.content"] == "2+3?"
    prefix = "llm.output_messages.0.message.tool_calls.0.tool_call"
    assert attrs[f"{prefix}.function.name"] == "add" and attrs[f"{prefix}.id"] == "call_1"
    assert json.loads(attrs[f"{prefix}.function.arguments"]) == {"a": 2, "b": 3}
    assert json.loads(attrs["gen_ai.input.messages"]) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": "2+3?"}]}]
    assert json.loads(attrs["gen_ai.system_instructions"]) == [{"type": "text", "content": "Be brief."}]
    (out,) = json.loads(attrs["gen_ai.output.messages"])
    assert out["role"] == "assistant" and out["finish_reason"] == "tool_call"
    assert out["parts"] == [{"type": "tool_call", "id": "call_1", "name": "add", "arguments": {"a": 2, "b": 3}}]
    schema = json.loads(attrs["llm.tools.0.tool.json_schema"])
    assert schema["function"]["name"] == "add"
    (definition,) = json.loads(attrs["gen_ai.tool.definitions"])
    assert definition["name"] == "add" and definition["parameters"]["required"] == ["a", "b"]
    assert "tools" not in json.loads(attrs["llm.invocation_parameters"])
    assert attrs["session.id"] == "s-9" and attrs["user.id"] == "ada" and attrs["tag.tags"] == ["checkout"]
    assert json.loads(attrs["metadata"]) == {"session_id": "s-9", "user_id": "ada"}

    tool_span = spans["add"]
    tool_attrs = tool_span["attributes"]
    assert tool_span["kind"] == INTERNAL and tool_attrs["openinference.span.kind"] == "TOOL"
    assert tool_attrs["gen_ai.operation.name"] == "execute_tool"
    assert tool_attrs["gen_ai.tool.name"] == tool_attrs["tool.name"] == "add"
    assert tool_attrs["tool.description"] == "Add two integers."
    assert tool_attrs["gen_ai.tool.call.id"] == "call_1"
    assert json.loads(tool_attrs["gen_ai.tool.call.arguments"]) == {"a": 2, "b": 3}
    assert json.loads(tool_attrs["gen_ai.tool.call.result"])["content"] == "5"

    prompt = spans["ChatPromptTemplate"]["attributes"]
    assert prompt["openinference.span.kind"] == "PROMPT"
    assert prompt["llm.prompt_template.template"] == "system: Be brief.\nuser: {question}"
    assert json.loads(prompt["llm.prompt_template.variables"]) == {"question": "2+3?"}
    root = spans["RunnableSequence"]
    assert root["parent_id"] is None and root["attributes"]["openinference.span.kind"] == "CHAIN"
    assert root["resource"]["openinference.project.name"] == "Default"


def test_retriever_documents(otlp_sink):
    store = InMemoryVectorStore(DeterministicFakeEmbedding(size=16))
    store.add_documents([Document("Paris is in France.", metadata={"src": "a"}, id="d1"),
                         Document("Rome is in Italy.", metadata={"src": "b"}, id="d2")])
    store.as_retriever(search_kwargs={"k": 2}).invoke("Paris")
    (span,) = _exported(otlp_sink).values()
    attrs = span["attributes"]
    assert attrs["openinference.span.kind"] == "RETRIEVER" and attrs["gen_ai.operation.name"] == "retrieval"
    docs = {attrs[f"retrieval.documents.{i}.document.id"]: i for i in range(2)}
    assert set(docs) == {"d1", "d2"}
    assert attrs[f"retrieval.documents.{docs['d1']}.document.content"] == "Paris is in France."
    assert json.loads(attrs[f"retrieval.documents.{docs['d2']}.document.metadata"]) == {"src": "b"}
    wire = json.loads(attrs["gen_ai.retrieval.documents"])
    assert {d["id"] for d in wire} == {"d1", "d2"}
    assert json.loads(attrs["input.value"]) == {"query": "Paris"}


def test_streamed_chain_with_parser(otlp_sink):
    seq = PROMPT | GenericFakeChatModel(messages=iter([AIMessage("Paris is nice")])) | StrOutputParser()
    assert "".join(seq.stream({"question": "Capital of France?"})) == "Paris is nice"
    spans = _exported(otlp_sink)
    model = spans["GenericFakeChatModel"]
    assert model["kind"] == CLIENT
    assert model["attributes"]["llm.output_messages.0.message.content"] == "Paris is nice"
    (out,) = json.loads(model["attributes"]["gen_ai.output.messages"])
    assert out["parts"] == [{"type": "text", "content": "Paris is nice"}]
    assert [name for name, _ in model["events"]] == ["first_token"]
    parser = spans["StrOutputParser"]["attributes"]
    assert parser["openinference.span.kind"] == "CHAIN" and parser["logwright.span.kind"] == "PARSER"
    assert spans["RunnableSequence"]["attributes"]["output.value"] == "Paris is nice"
    assert spans["RunnableSequence"]["attributes"]["output.mime_type"] == "text/plain"
