"""``LogwrightCallbackHandler``: LangChain runs become logwright spans.

Every LangChain run (chain, prompt, parser, chat model, LLM, tool, retriever) is one
span, keyed by LangChain's ``run_id`` and nested by its ``parent_run_id``; a run
without a parent starts a trace (under the current ``@logwright.trace`` span, if any,
and linked to the active run). Span state lives in one process-wide map, so any
number of handler instances, threads and asyncio tasks share it and a run is
recorded once even when two handlers see it.

While a chain, tool or retriever runs it is the current span, so ``@logwright.trace``
functions called inside it (a ``RunnableLambda``, a ``@tool``) nest under it.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackManager, BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.messages import BaseMessage
from langchain_core.prompt_values import PromptValue

from logwright import config
from logwright.autolog import guard
from logwright.tracing import start_detached_span
from logwright_langchain import _convert
from logwright_langchain._runs import Run, make_current, outer_span, restore_current, runs

_logger = logging.getLogger(__name__)

_NAME = "langchain"
_PROMPT_HINTS = ("PromptTemplate",)
_PLAIN = frozenset({str, int, float, bool, type(None), dict})
_ASYNC_LLM_START = getattr(AsyncCallbackManager.on_llm_start, "__code__", None)


def _key(run_id: Any) -> Any:
    """The ``runs`` key of a LangChain run id: its int (a UUID hashes in Python, an int in C)."""
    return run_id.int if type(run_id) is UUID else run_id


def _chain_kind(serialized: Any, name: str, run_type: Any) -> str:
    if run_type == "prompt":
        return "PROMPT"
    if run_type == "parser":
        return "PARSER"
    if name.endswith(("Agent", "AgentExecutor")) or name == "agent":
        return "AGENT"
    if serialized and any(hint in name for hint in _PROMPT_HINTS):
        return "PROMPT"
    return "CHAIN"


def _payload(value: Any) -> Any:
    """Chain inputs/outputs with messages, prompt values and documents made readable."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if isinstance(value, BaseMessage):
        return _convert.message(value)
    if isinstance(value, PromptValue):
        return [_convert.message(m) for m in value.to_messages()]
    if isinstance(value, Document):
        return _convert.documents([value])[0]
    if kind is list and value and isinstance(value[0], (Document, BaseMessage)):
        return [_payload(item) for item in value]
    return value


class LogwrightCallbackHandler(BaseCallbackHandler):
    """A LangChain callback handler that records every run as a logwright span.

    ``logwright.autolog()`` adds it to every LangChain call by itself; pass it
    explicitly (``chain.invoke(x, config={"callbacks": [LogwrightCallbackHandler()]})``)
    to trace chosen calls without autolog. It is never added twice.

    Logged per run: name (``run_name`` or LangChain's name), kind (CHAIN, PROMPT, PARSER,
    AGENT, CHAT_MODEL, LLM, TOOL, RETRIEVER), inputs and outputs (messages as role/content
    dicts, documents as page_content + metadata), tags and metadata as
    ``langchain.tags``/``langchain.metadata``, model name and invocation parameters as
    ``gen_ai.request.*``, token usage (``gen_ai.usage.*``) on the model's span, a
    ``first_token`` event when streaming, ``retry`` events, and errors as ERROR spans
    with an ``exception`` event.
    """

    @property
    def run_inline(self) -> bool:  # type: ignore[override]
        """True: async runs call it inline, in the task's own context (so a chain's span is current there).

        Except where langchain-core's ``AsyncCallbackManager.on_llm_start`` asks (0.3 to
        1.8 at least): with any inline handler there, it sends ``on_llm_start`` to the
        inline handlers only, hiding async LLM calls from every other handler
        (``astream_events``, a user's tracer). There it reads False, unless another
        handler is inline already; the event still reaches this handler, inline, through
        ``ahandle_event``.
        """
        frame = sys._getframe(1)
        if frame.f_code.co_name == "<listcomp>":  # the comprehension's own frame up to Python 3.11
            frame = frame.f_back
        if frame is None or frame.f_code is not _ASYNC_LLM_START:
            return True
        manager = frame.f_locals.get("self")
        return any(h is not self and getattr(h, "run_inline", False) for h in getattr(manager, "handlers", ()))

    @property
    def raise_error(self) -> bool:  # type: ignore[override]
        """Our own errors reach LangChain's caller only in strict mode (tests)."""
        return config.strict()

    def _start(self, run_id: UUID, parent_run_id: UUID | None, name: str, kind: str, inputs: Any,
               tags: list[str] | None, metadata: dict[str, Any] | None,
               attributes: dict[str, Any] | None = None, current: bool = False) -> None:
        key = _key(run_id)
        if key in runs:  # another handler instance records this run already
            return
        parent_run = runs.get(_key(parent_run_id)) if parent_run_id is not None else None
        if parent_run is not None:
            parent, outer = parent_run.span, parent_run.outer
        else:
            parent = outer = outer_span()
        span = start_detached_span(name, kind, parent, inputs=inputs, attributes=attributes)
        if tags:
            tags = [t for t in tags if not t.startswith("seq:step:")]  # position, shown by the tree
            if tags:
                span.set_attribute("langchain.tags", tags)
        if metadata:
            extra = {k: v for k, v in metadata.items() if not k.startswith(("ls_", "lc_"))}
            if extra:
                span.set_attribute("langchain.metadata", extra)
        run = runs[key] = Run(span, outer)
        if current and span.is_recording:
            make_current(run)

    def _end(self, run_id: UUID, outputs: Any, attributes: dict[str, Any] | None = None) -> None:
        run = runs.pop(_key(run_id), None)
        if run is None:
            return
        if attributes:
            run.span.set_attributes(attributes)
        run.span.end(outputs=outputs)
        restore_current(run)

    def _fail(self, run_id: UUID, error: BaseException) -> None:
        run = runs.pop(_key(run_id), None)
        if run is None:
            return
        run.span.record_exception(error)
        run.span.end(status="ERROR")
        restore_current(run)

    @guard(_NAME)
    def on_chain_start(self, serialized: dict[str, Any] | None, inputs: Any, *, run_id: UUID,
                       parent_run_id: UUID | None = None, tags: list[str] | None = None,
                       metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Start a CHAIN span (PROMPT, PARSER or AGENT for those runnables)."""
        name = _convert.run_name(serialized, kwargs, "chain")
        kind = _chain_kind(serialized, name, kwargs.get("run_type"))
        if kwargs.get("defers_inputs") or inputs == {"input": ""}:
            inputs = None  # a stream: the real inputs arrive with on_chain_end
        else:
            inputs = _payload(inputs)
        attrs = None
        if kind == "PROMPT":
            template = _convert.prompt_template(serialized)
            attrs = {"logwright.prompt.template": template} if template else None
        self._start(run_id, parent_run_id, name, kind, inputs, tags, metadata, attrs, current=True)

    @guard(_NAME)
    def on_chain_end(self, outputs: Any, *, run_id: UUID, inputs: Any = None, **kwargs: Any) -> None:
        """End the chain's span with its outputs (and, for streams, its gathered inputs)."""
        if inputs is not None:
            run = runs.get(_key(run_id))
            if run is not None:
                run.span.set_inputs(_payload(inputs))
        self._end(run_id, _payload(outputs))

    @guard(_NAME)
    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Mark the chain's span ERROR with an ``exception`` event."""
        self._fail(run_id, error)

    @guard(_NAME)
    def on_chat_model_start(self, serialized: dict[str, Any] | None, messages: list[list[Any]], *,
                            run_id: UUID, parent_run_id: UUID | None = None,
                            tags: list[str] | None = None, metadata: dict[str, Any] | None = None,
                            **kwargs: Any) -> None:
        """Start a CHAT_MODEL span with the input messages, model name and parameters."""
        self._model_start(serialized, _convert.messages(messages), "CHAT_MODEL", run_id,
                          parent_run_id, tags, metadata, kwargs)

    @guard(_NAME)
    def on_llm_start(self, serialized: dict[str, Any] | None, prompts: list[str], *, run_id: UUID,
                     parent_run_id: UUID | None = None, tags: list[str] | None = None,
                     metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Start an LLM span with the prompt text, model name and parameters."""
        inputs = prompts[0] if len(prompts) == 1 else list(prompts)
        self._model_start(serialized, inputs, "LLM", run_id, parent_run_id, tags, metadata, kwargs)

    def _model_start(self, serialized: Any, inputs: Any, kind: str, run_id: UUID,
                     parent_run_id: UUID | None, tags: Any, metadata: Any, kwargs: dict) -> None:
        params = kwargs.get("invocation_params")
        attrs = _convert.model_attributes(params, metadata)
        if params:
            attrs["langchain.invocation_params"] = params
        name = _convert.run_name(serialized, kwargs, kind.lower())
        self._start(run_id, parent_run_id, name, kind, inputs, tags, metadata, attrs)

    @guard(_NAME)
    def on_llm_new_token(self, token: str, *, run_id: UUID, **kwargs: Any) -> None:
        """Add the ``first_token`` event (time to first token) on a streamed model call."""
        run = runs.get(_key(run_id))
        if run is None or run.streamed:
            return
        run.streamed = True
        now = time.time_ns()
        ttft_ms = (now - run.span.start_ns) / 1e6
        run.span.add_event("first_token", {"time_to_first_token_ms": ttft_ms}, timestamp_ns=now)
        run.span.set_attribute("logwright.time_to_first_token_ms", ttft_ms)

    @guard(_NAME)
    def on_stream_event(self, event: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Protocol streaming (``stream_events(version="v3")``): the first event is the first token."""
        self.on_llm_new_token("", run_id=run_id)

    @guard(_NAME)
    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """End the model's span with its output message(s) and token usage (counted once)."""
        attrs: dict[str, Any] = {}
        counts = _convert.usage(response)
        if counts is not None:
            attrs.update(_convert.usage_attributes(counts))
        llm_output = getattr(response, "llm_output", None) or {}
        model = llm_output.get("model_name") or llm_output.get("model")
        if model:
            attrs["gen_ai.response.model"] = str(model)
        reasons = _convert.finish_reasons(response)
        if reasons:
            attrs["gen_ai.response.finish_reasons"] = reasons
        self._end(run_id, _convert.generations(response), attrs)

    @guard(_NAME)
    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Mark the model's span ERROR with an ``exception`` event."""
        self._fail(run_id, error)

    @guard(_NAME)
    def on_tool_start(self, serialized: dict[str, Any] | None, input_str: str, *, run_id: UUID,
                      parent_run_id: UUID | None = None, tags: list[str] | None = None,
                      metadata: dict[str, Any] | None = None, inputs: dict[str, Any] | None = None,
                      **kwargs: Any) -> None:
        """Start a TOOL span with the tool's arguments."""
        name = _convert.run_name(serialized, kwargs, "tool")
        attrs: dict[str, Any] = {"gen_ai.tool.name": name}
        description = (serialized or {}).get("description")
        if description:
            attrs["gen_ai.tool.description"] = description
        if kwargs.get("tool_call_id"):
            attrs["gen_ai.tool.call.id"] = kwargs["tool_call_id"]
        args = inputs if inputs is not None else input_str
        self._start(run_id, parent_run_id, name, "TOOL", args, tags, metadata, attrs, current=True)

    @guard(_NAME)
    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """End the tool's span with its result."""
        result = _convert.tool_output(output)
        call_id = result.get("tool_call_id") if type(result) is dict else None
        self._end(run_id, result, {"gen_ai.tool.call.id": call_id} if call_id else None)

    @guard(_NAME)
    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Mark the tool's span ERROR with an ``exception`` event."""
        self._fail(run_id, error)

    @guard(_NAME)
    def on_retriever_start(self, serialized: dict[str, Any] | None, query: str, *, run_id: UUID,
                           parent_run_id: UUID | None = None, tags: list[str] | None = None,
                           metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Start a RETRIEVER span with the query."""
        name = _convert.run_name(serialized, kwargs, "retriever")
        self._start(run_id, parent_run_id, name, "RETRIEVER", {"query": query}, tags, metadata,
                    current=True)

    @guard(_NAME)
    def on_retriever_end(self, documents: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """End the retriever's span with the documents (page_content and metadata)."""
        self._end(run_id, _convert.documents(documents))

    @guard(_NAME)
    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Mark the retriever's span ERROR with an ``exception`` event."""
        self._fail(run_id, error)

    @guard(_NAME)
    def on_retry(self, retry_state: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Add a ``retry`` event (attempt number and the error that caused it)."""
        run = runs.get(_key(run_id))
        if run is None:
            return
        outcome = getattr(retry_state, "outcome", None)
        error = outcome.exception() if outcome is not None and outcome.failed else None
        run.span.add_event("retry", {"attempt": getattr(retry_state, "attempt_number", None),
                                     "exception": repr(error) if error is not None else None})

    @guard(_NAME)
    def on_agent_action(self, action: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Mark the run's span AGENT and add an ``agent_action`` event (tool and input)."""
        run = runs.get(_key(run_id))
        if run is None:
            return
        run.span.kind = "AGENT"
        run.span.add_event("agent_action", {"tool": getattr(action, "tool", None),
                                            "tool_input": getattr(action, "tool_input", None)})

    @guard(_NAME)
    def on_agent_finish(self, finish: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Add an ``agent_finish`` event with the agent's return values."""
        run = runs.get(_key(run_id))
        if run is not None:
            run.span.kind = "AGENT"
            run.span.add_event("agent_finish", {"return_values": getattr(finish, "return_values", None)})

    @guard(_NAME)
    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Record ``dispatch_custom_event(name, data)`` as an event on the run's span."""
        run = runs.get(_key(run_id))
        if run is not None:
            run.span.add_event(str(name), {"data": data})
