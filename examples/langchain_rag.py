"""A small RAG pipeline with a tool-calling step, traced by ``logwright.autolog()``.

Runs offline: the chat models are langchain-core's fakes and the embeddings are
deterministic. Each ``invoke`` below becomes one trace (retriever, prompt, chat model,
parser, tool spans); the script prints them as trees and says where they are stored.

    python examples/langchain_rag.py
"""

from __future__ import annotations

import logwright


def build_rag():
    """retriever -> prompt -> fake chat model -> string parser."""
    from langchain_core.documents import Document
    from langchain_core.embeddings import DeterministicFakeEmbedding
    from langchain_core.language_models.fake_chat_models import FakeListChatModel
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnablePassthrough
    from langchain_core.vectorstores import InMemoryVectorStore

    store = InMemoryVectorStore(DeterministicFakeEmbedding(size=32))
    store.add_documents([
        Document("logwright stores runs and traces in a local SQLite file.", metadata={"src": "readme"}),
        Document("autolog() patches frameworks lazily, on import.", metadata={"src": "design"}),
        Document("Paris is the capital of France.", metadata={"src": "atlas"}),
    ])
    retriever = store.as_retriever(search_kwargs={"k": 2})
    prompt = ChatPromptTemplate.from_messages([
        ("system", "Answer from the context.\n\n{context}"),
        ("human", "{question}"),
    ])
    model = FakeListChatModel(responses=["logwright keeps everything in a local SQLite file."])

    def join(docs):
        return "\n".join(d.page_content for d in docs)

    return (
        {"context": retriever | join, "question": RunnablePassthrough()}
        | prompt
        | model
        | StrOutputParser()
    ).with_config(run_name="rag")


def build_agent_step():
    """A chat model that asks for a tool, and the step that runs the tool calls."""
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.runnables import RunnableLambda
    from langchain_core.tools import tool
    from langchain_core.utils.function_calling import convert_to_openai_tool

    @tool
    def multiply(a: int, b: int) -> int:
        """Multiply two integers."""
        return a * b

    class ToolCallingFakeChatModel(GenericFakeChatModel):
        def bind_tools(self, tools, **kwargs):
            return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    call = {"name": "multiply", "args": {"a": 6, "b": 7}, "id": "call_1", "type": "tool_call"}
    model = ToolCallingFakeChatModel(messages=iter([AIMessage("", tool_calls=[call])]))
    tools = {"multiply": multiply}

    def run_tools(message):
        return [tools[c["name"]].invoke(c).content for c in message.tool_calls]

    return (model.bind_tools([multiply]) | RunnableLambda(run_tools, name="run_tools")).with_config(
        run_name="agent_step"
    )


def main() -> None:
    logwright.set_experiment("langchain-rag")
    logwright.autolog(only=["langchain"])

    answer = build_rag().invoke("Where does logwright keep its data?")
    traces = [logwright.get_last_trace()]  # the trace this invoke made, read back from the store
    product = build_agent_step().invoke("What is 6 times 7?")
    traces.append(logwright.get_last_trace())
    print("answer:", answer)
    print("tool result:", product)

    for trace in traces:
        print(f"\ntrace {trace.info.trace_id} {trace.info.name} ({trace.info.status})")
        print(trace)
    where = logwright.get_tracking_uri() or "./logwright-runs"
    print(f"\nTraces stored in {where}; browse them with: logwright ui")


if __name__ == "__main__":
    main()
