"""What a LangChain call leaves behind: span trees, kinds, names, inputs, outputs, usage."""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatResult
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate
from langchain_core.runnables import RunnableLambda, RunnableParallel, RunnablePassthrough
from langchain_core.tools import tool
from langchain_core.vectorstores import InMemoryVectorStore

import logwright

PROMPT = ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "{question}")])
MESSAGES_IN = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of France?"}]


def chain(answer="Paris."):
    return PROMPT | FakeListChatModel(responses=[answer]) | StrOutputParser()


class ParamFakeChatModel(GenericFakeChatModel):
    """A fake model with the parameters a real provider reports, and llm_output usage too."""

    model_name: str = "fake-gpt"
    temperature: float = 0.2
    max_tokens: int = 64

    @property
    def _identifying_params(self):
        return {"model_name": self.model_name, "temperature": self.temperature,
                "max_tokens": self.max_tokens}

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        result = super()._generate(messages, stop, run_manager, **kwargs)
        usage = {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16}
        return ChatResult(generations=result.generations,
                          llm_output={"token_usage": usage, "model_name": self.model_name})


def usage_message(text="Paris."):
    return AIMessage(text, usage_metadata={"input_tokens": 11, "output_tokens": 5, "total_tokens": 16})


def test_lcel_sequence_is_one_trace(traces):
    assert chain().invoke({"question": "Capital of France?"}) == "Paris."
    trace = traces.one()
    traces.check_complete(trace)
    assert traces.tree(trace) == [
        ("CHAIN", "RunnableSequence", None),
        ("PROMPT", "ChatPromptTemplate", "RunnableSequence"),
        ("CHAT_MODEL", "FakeListChatModel", "RunnableSequence"),
        ("PARSER", "StrOutputParser", "RunnableSequence"),
    ]
    assert trace.info.name == "RunnableSequence" and trace.info.status == "OK"
    root = trace.spans[0]
    assert root.inputs == {"question": "Capital of France?"} and root.outputs == "Paris."
    assert traces.span(trace, "ChatPromptTemplate").outputs == MESSAGES_IN
    model = traces.span(trace, "FakeListChatModel")
    assert model.inputs == MESSAGES_IN
    assert model.outputs == {"role": "assistant", "content": "Paris."}
    assert traces.span(trace, "StrOutputParser").inputs == {"role": "assistant", "content": "Paris."}


def test_chat_model_attributes_and_usage_counted_once(traces):
    model = ParamFakeChatModel(messages=iter([usage_message()]))
    (PROMPT | model).invoke({"question": "Capital of France?"})
    trace = traces.one()
    span = traces.span(trace, "ParamFakeChatModel")
    attrs = span.attributes
    assert attrs["gen_ai.request.model"] == "fake-gpt"
    assert attrs["gen_ai.request.temperature"] == 0.2
    assert attrs["gen_ai.request.max_tokens"] == 64
    assert attrs["gen_ai.usage.input_tokens"] == 11 and attrs["gen_ai.usage.output_tokens"] == 5
    assert attrs["logwright.usage.total_tokens"] == 16
    # usage_metadata and llm_output both report the call: the trace counts it once
    assert (trace.info.input_tokens, trace.info.output_tokens, trace.info.total_tokens) == (11, 5, 16)
    assert [s.name for s in trace.spans if "gen_ai.usage.input_tokens" in s.attributes] == [span.name]


def test_usage_from_llm_output_only(traces):
    model = ParamFakeChatModel(messages=iter([AIMessage("Paris.")]))
    model.invoke("Capital of France?")
    trace = traces.one()
    assert (trace.info.input_tokens, trace.info.output_tokens, trace.info.total_tokens) == (11, 5, 16)


def test_run_name_tags_and_metadata(traces):
    chain().invoke({"question": "q"}, config={"run_name": "qa", "tags": ["prod"],
                                              "metadata": {"user": "ada"}})
    trace = traces.one()
    root = trace.spans[0]
    assert root.name == "qa" and trace.info.name == "qa"
    assert root.attributes["langchain.tags"] == ["prod"]
    assert root.attributes["langchain.metadata"] == {"user": "ada"}
    assert "prod" in traces.span(trace, "FakeListChatModel").attributes["langchain.tags"]


def test_parallel_lambda_and_branches(traces):
    upper = RunnableLambda(lambda x: x.upper(), name="upper")
    both = RunnableParallel(a=upper, b=RunnablePassthrough())
    assert both.invoke("hi") == {"a": "HI", "b": "hi"}
    trace = traces.one()
    tree = traces.tree(trace)
    assert tree[0] == ("CHAIN", "RunnableParallel<a,b>", None)
    assert sorted(tree[1:]) == [("CHAIN", "RunnablePassthrough", "RunnableParallel<a,b>"),
                                ("CHAIN", "upper", "RunnableParallel<a,b>")]
    assert trace.spans[0].outputs == {"a": "HI", "b": "hi"}


def test_llm_span(traces):
    llm = FakeListLLM(responses=["forty-two"])
    assert (PromptTemplate.from_template("Q: {q}") | llm).invoke({"q": "answer?"}) == "forty-two"
    trace = traces.one()
    span = traces.span(trace, "FakeListLLM")
    assert span.kind == "LLM" and span.inputs == "Q: answer?" and span.outputs == "forty-two"
    assert traces.span(trace, "PromptTemplate").kind == "PROMPT"


def test_tool_and_tool_calling_step(traces):
    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    call = {"name": "add", "args": {"a": 2, "b": 3}, "id": "call_1", "type": "tool_call"}
    model = GenericFakeChatModel(messages=iter([AIMessage("", tool_calls=[call])]))
    run_tools = RunnableLambda(lambda msg: [add.invoke(c) for c in msg.tool_calls], name="run_tools")
    results = (model | run_tools).invoke("add 2 and 3")
    assert results[0].content == "5"
    trace = traces.one()
    assert traces.tree(trace) == [("CHAIN", "RunnableSequence", None),
                                  ("CHAT_MODEL", "GenericFakeChatModel", "RunnableSequence"),
                                  ("CHAIN", "run_tools", "RunnableSequence"),
                                  ("TOOL", "add", "run_tools")]
    out = traces.span(trace, "GenericFakeChatModel").outputs
    assert out["tool_calls"] == [{"id": "call_1", "name": "add", "args": {"a": 2, "b": 3}}]
    span = traces.span(trace, "add")
    assert span.inputs == {"a": 2, "b": 3}
    assert span.outputs["content"] == "5" and span.outputs["tool_call_id"] == "call_1"
    assert span.attributes["gen_ai.tool.name"] == "add"
    assert span.attributes["gen_ai.tool.call.id"] == "call_1"


def test_retriever_documents(traces):
    store = InMemoryVectorStore(DeterministicFakeEmbedding(size=16))
    store.add_documents([Document("Paris is in France.", metadata={"src": "a"}),
                         Document("Rome is in Italy.", metadata={"src": "b"})])
    docs = store.as_retriever(search_kwargs={"k": 2}).invoke("Paris")
    assert len(docs) == 2
    trace = traces.one()
    span = trace.spans[0]
    assert span.kind == "RETRIEVER" and span.inputs == {"query": "Paris"}
    assert sorted(d["page_content"] for d in span.outputs) == ["Paris is in France.", "Rome is in Italy."]
    assert {d["metadata"]["src"] for d in span.outputs} == {"a", "b"}


def test_stream_span_covers_stream_and_parser_is_child_of_chain(traces):
    seq = PROMPT | GenericFakeChatModel(messages=iter([AIMessage("Paris is nice")])) | StrOutputParser()
    chunks = list(seq.stream({"question": "Capital of France?"}))
    assert chunks == ["Paris", " ", "is", " ", "nice"]
    trace = traces.one()
    traces.check_complete(trace)
    assert traces.tree(trace) == [
        ("CHAIN", "RunnableSequence", None),
        ("PROMPT", "ChatPromptTemplate", "RunnableSequence"),
        ("CHAT_MODEL", "GenericFakeChatModel", "RunnableSequence"),
        ("PARSER", "StrOutputParser", "RunnableSequence"),
    ]
    root = trace.spans[0]
    assert root.inputs == {"question": "Capital of France?"} and root.outputs == "Paris is nice"
    model = traces.span(trace, "GenericFakeChatModel")
    assert model.outputs["content"] == "Paris is nice"
    first = [e for e in model.events if e.name == "first_token"]
    assert len(first) == 1 and first[0].attributes["time_to_first_token_ms"] >= 0
    assert model.start_ns <= first[0].timestamp_ns <= model.end_ns <= root.end_ns


def test_astream_and_astream_events(traces):
    async def go():
        seq = chain("Paris is nice")
        chunks = [c async for c in seq.astream({"question": "q"})]
        events = [e["event"] async for e in seq.astream_events({"question": "q"}, version="v2")]
        return chunks, events

    chunks, events = asyncio.run(go())
    assert "".join(chunks) == "Paris is nice" and "on_chain_end" in events
    found = traces.all()
    assert len(found) == 2
    for trace in found:
        traces.check_complete(trace)
        assert [s.kind for s in trace.spans] == ["CHAIN", "PROMPT", "CHAT_MODEL", "PARSER"]
        assert trace.spans[0].outputs == "Paris is nice"


def test_error_span_trace_error_and_same_exception(traces):
    boom = ValueError("no such city")

    def fail(_):
        raise boom

    seq = PROMPT | RunnableLambda(fail, name="lookup")
    with pytest.raises(ValueError) as info:
        seq.invoke({"question": "q"})
    assert info.value is boom
    trace = traces.one()
    assert trace.info.status == "ERROR"
    span = traces.span(trace, "lookup")
    assert span.status == "ERROR" and trace.spans[0].status == "ERROR"
    event = [e for e in span.events if e.name == "exception"][0]
    assert event.attributes["exception.type"] == "ValueError"
    assert event.attributes["exception.message"] == "no such city"


def test_fallbacks_and_retries_are_siblings(traces):
    def fail(_):
        raise RuntimeError("down")

    primary = RunnableLambda(fail, name="primary")
    backup = RunnableLambda(lambda x: "backup", name="backup")
    assert primary.with_fallbacks([backup]).invoke("x") == "backup"
    attempts = []

    def flaky(x):
        attempts.append(x)
        if len(attempts) < 3:
            raise RuntimeError("flaky")
        return "ok"

    retrying = RunnableLambda(flaky, name="flaky").with_retry(stop_after_attempt=3,
                                                              wait_exponential_jitter=False)
    assert retrying.invoke("x") == "ok"
    fallback, retry = traces.all()
    assert fallback.info.status == "OK"
    assert traces.tree(fallback)[1:] == [("CHAIN", "primary", fallback.spans[0].name),
                                         ("CHAIN", "backup", fallback.spans[0].name)]
    assert [s.status for s in fallback.spans[1:]] == ["ERROR", "OK"]
    flaky_spans = [s for s in retry.spans[1:] if s.name == "flaky"]
    assert len(flaky_spans) == 3
    assert {s.parent_id for s in flaky_spans} == {retry.spans[0].span_id}
    assert [s.status for s in sorted(flaky_spans, key=lambda s: s.start_ns)] == ["ERROR", "ERROR", "OK"]


def test_traces_link_to_active_run_and_nest_under_user_spans(traces):
    with logwright.start_run() as run:
        chain().invoke({"question": "q"})

    @logwright.trace
    def answer(question):
        return chain().invoke({"question": question})

    @logwright.trace(name="shout")
    def shout(text):
        return text.upper()

    answer("q")
    (chain() | RunnableLambda(shout, name="shouter")).invoke({"question": "q"})
    linked, nested, inner = traces.all()
    assert linked.info.run_id == run.info.run_id
    assert nested.spans[0].name == "answer"
    assert traces.tree(nested)[1] == ("CHAIN", "RunnableSequence", "answer")
    assert dict((n, p) for _, n, p in traces.tree(inner))["shout"] == "shouter"
    assert logwright.get_current_span() is None


def test_explicit_handler_without_autolog_and_never_doubled(traces):
    from logwright_langchain import LogwrightCallbackHandler

    handler = LogwrightCallbackHandler()
    chain().invoke({"question": "q"}, config={"callbacks": [handler]})
    assert len(traces.one().spans) == 4
    logwright.autolog(disable=True)
    chain().invoke({"question": "q"})
    assert len(traces.all()) == 1
    chain().invoke({"question": "q"}, config={"callbacks": [handler]})
    found = traces.all()
    assert len(found) == 2 and len(found[1].spans) == 4


def test_log_traces_false_records_nothing(traces):
    logwright.autolog(only=["langchain"], log_traces=False)
    chain().invoke({"question": "q"})
    assert traces.all() == []
    logwright.autolog(only=["langchain"], log_traces=True)
    chain().invoke({"question": "q"})
    assert len(traces.all()) == 1
