"""``LogwrightDSPyCallback``: DSPy's callback events become logwright spans.

DSPy gives every callback-wrapped call (module, LM, adapter format/parse, tool,
evaluation, compile) a ``call_id`` and keeps the caller's id in the context variable
``dspy.utils.callback_context.ACTIVE_CALL_ID``, which it also carries into the
worker threads of ``dspy.Parallel`` and ``Evaluate``. So the parent of a new span is
the span recorded for ``ACTIVE_CALL_ID`` (or the current logwright span, when that is
a deeper span of the same trace, e.g. a user's ``@trace`` function inside
``forward``); with no DSPy parent a module call starts a trace.

A call made inside an autologged ``Evaluate`` or optimizer ``compile`` hangs under a
:class:`Scope` instead: every example's top-level call is a trace of its own, linked
to the scope's run. The root span of an evaluated example is ended only once its
metric score is known, so the trace carries it (``dspy.evaluate.score``).
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from typing import Any

from dspy.utils.callback import BaseCallback
from dspy.utils.callback_context import ACTIVE_CALL_ID

from logwright.autolog import guard
from logwright.tracing import get_current_span, reset_current_span, set_current_span, start_detached_span
from logwright_dspy import _describe

_logger = logging.getLogger(__name__)

_NAME = "dspy"
_SKIP = "skip"  # a call inside an untraced scope: its children are not traced either

# call_id -> _Span, Scope or _SKIP; shared by every thread and task (single dict ops are atomic)
calls: dict[str, Any] = {}
current_scope: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("logwright_dspy_scope",
                                                                           default=None)


class Scope:
    """An autologged ``compile`` or ``Evaluate`` call: where the traces made inside it go.

    Attributes:
        run_id: the run the traces link to.
        kind: ``"compile"`` or ``"evaluate"``.
        trace: whether calls inside it are traced at all.
        pending: evaluated examples' root spans waiting for their score, by id of the prediction.
    """

    __slots__ = ("run_id", "kind", "trace", "pending", "lock", "client")

    def __init__(self, run_id: str, kind: str, trace: bool, client: Any = None) -> None:
        self.run_id = run_id
        self.kind = kind
        self.trace = trace
        self.client = client
        self.pending: dict[int, tuple[Any, Any, int]] = {}
        self.lock = threading.Lock()

    def defer(self, prediction: Any, span: Any) -> None:
        """Keep an example's root span open until :meth:`settle` gives it its score."""
        with self.lock:
            self.pending[id(prediction)] = (prediction, span, time.time_ns())

    def settle(self, prediction: Any, score: Any) -> str | None:
        """End the root span of the example that produced ``prediction``, with its score.

        Returns:
            The example's trace id, or None when it was not traced.
        """
        with self.lock:
            found = self.pending.pop(id(prediction), None)
        if found is None or found[0] is not prediction:
            return None
        _, span, end_ns = found
        if isinstance(score, (bool, int, float)):
            span.set_attribute("dspy.evaluate.score", float(score))
        else:
            span.set_attribute("dspy.evaluate.score", repr(score))
        span.end(end_ns=end_ns)
        return span.trace_id

    def close(self) -> None:
        """End every span still waiting (an evaluation that raised, a prediction not scored)."""
        with self.lock:
            left, self.pending = list(self.pending.values()), {}
        for _, span, end_ns in left:
            span.end(end_ns=end_ns)


class _Span:
    """A DSPy call being recorded: its span, and what was current before it."""

    __slots__ = ("span", "token", "prev", "scope", "instance", "inputs")

    def __init__(self, span: Any, scope: Scope | None) -> None:
        self.span = span
        self.scope = scope  # set on an evaluated example's root span: ended by Scope.settle
        self.token: Any = None
        self.prev: Any = None
        self.instance: Any = None
        self.inputs: Any = None


def _parent() -> tuple[Any, Scope | None]:
    """(parent span or None, scope or None); ``(_SKIP, None)`` when the call is not traced."""
    pid = ACTIVE_CALL_ID.get()
    entry = calls.get(pid) if pid is not None else None
    if entry is None:
        entry = current_scope.get()  # DSPy < 3.4 has no compile callback: the wrapper's scope
        if entry is None:
            current = get_current_span()
            return (current if current is not None and current.end_ns is None else None), None
    if entry is _SKIP:
        return _SKIP, None
    if type(entry) is Scope:
        return (None, entry) if entry.trace else (_SKIP, None)
    current = get_current_span()
    if (current is not None and current.trace_id == entry.span.trace_id and current.end_ns is None
            and current.is_recording):
        return current, None  # a user's span inside the DSPy call
    return entry.span, None


class LogwrightDSPyCallback(BaseCallback):
    """A DSPy callback that records modules, LM calls, adapters and tools as logwright spans.

    ``logwright.autolog()`` adds it to ``dspy.settings.callbacks`` (and keeps it there
    when ``dspy.configure(callbacks=...)`` replaces the list). Each call is a span:
    modules (CHAIN, ``Predict`` too; ``ReAct`` and other agents AGENT; retrievers
    RETRIEVER) with their signature, LM calls (CHAT_MODEL or LLM) with messages,
    outputs, model, request parameters, token usage and cache hits, adapter
    format/parse (PARSER) and tools (TOOL). Errors end the span as ERROR with an
    ``exception`` event.

    Args:
        config: the integration's :class:`~logwright.autolog.AutologConfig`; None makes the
            callback do nothing (autolog disabled).
    """

    def __init__(self, config: Any = None) -> None:
        self.config = config

    def __deepcopy__(self, memo: Any) -> LogwrightDSPyCallback:
        return self  # state is process-wide; a copy would only be a second, inert instance

    def __copy__(self) -> LogwrightDSPyCallback:
        return self

    def __reduce__(self) -> tuple[Any, tuple]:
        # dspy.settings.save() leaves us out (see the integration); a pickle made some
        # other way loads as an inert callback, never as a second recorder.
        return (LogwrightDSPyCallback, ())

    def _on(self) -> bool:
        cfg = self.config
        return cfg is not None and cfg.options.get("log_traces", True)

    def _start(self, call_id: str, name: str, kind: str, inputs: Any, attributes: Any,
               current: bool = False) -> _Span | None:
        if call_id in calls:  # another LogwrightDSPyCallback records this call already
            return None
        parent, scope = _parent()
        if parent is _SKIP:
            calls[call_id] = _SKIP
            return None
        run_id = scope.run_id if scope is not None else None
        span = start_detached_span(name, kind, parent, run_id=run_id, inputs=inputs, attributes=attributes)
        defer = scope if scope is not None and scope.kind == "evaluate" and parent is None else None
        entry = calls[call_id] = _Span(span, defer)
        if current and span.is_recording:
            entry.prev = get_current_span()
            entry.token = set_current_span(span)
        return entry

    def _end(self, call_id: str, outputs: Any, exception: BaseException | None) -> _Span | None:
        entry = calls.pop(call_id, None)
        if entry is None or type(entry) is not _Span:
            return None
        span = entry.span
        if entry.token is not None:
            reset_current_span(entry.token, entry.prev)
        if exception is not None:
            span.record_exception(exception)
            span.end(status="ERROR")
            return entry
        recorded = _describe.payload(outputs) if outputs is not None else None
        if entry.scope is not None:  # an evaluated example: ended once its score is known
            if recorded is not None:
                span.set_outputs(recorded)
            entry.scope.defer(outputs, span)
        else:
            span.end(recorded)
        return entry

    # -- modules ------------------------------------------------------------------

    @guard(_NAME)
    def on_module_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        """Start a module's span (and make it current, so ``@trace`` code inside nests)."""
        if self._on():
            kind, name, attrs = _describe.module_info(instance)
            self._start(call_id, name, kind, _describe.module_inputs(inputs), attrs, current=True)

    @guard(_NAME)
    def on_module_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None:
        """End the module's span with its prediction (or its error)."""
        self._end(call_id, outputs, exception)

    # -- language models ------------------------------------------------------------

    @guard(_NAME)
    def on_lm_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        """Start a CHAT_MODEL (or LLM) span: messages, model and request parameters."""
        if not self._on():
            return
        kind, attrs = _describe.lm_info(instance, inputs.get("kwargs"))
        messages = inputs.get("messages")
        span_inputs = messages if messages is not None else inputs.get("prompt")
        entry = self._start(call_id, type(instance).__name__, kind, span_inputs, attrs)
        if entry is not None:
            entry.instance, entry.inputs = instance, inputs

    @guard(_NAME)
    def on_lm_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None:
        """End the LM span with its outputs, token usage and cache hit (from the LM's history)."""
        entry = calls.get(call_id)
        if type(entry) is _Span and entry.instance is not None and exception is None:
            entry.span.set_attributes(_describe.lm_usage(entry.instance, entry.inputs))
            entry.instance = entry.inputs = None
        self._end(call_id, outputs, exception)

    # -- adapters -------------------------------------------------------------------

    @guard(_NAME)
    def on_adapter_format_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        """Start a PARSER span for turning inputs (and demos) into messages."""
        if self._on():
            entry = self._start(call_id, f"{type(instance).__name__}.format", "PARSER", inputs.get("inputs"), None)
            if entry is not None:
                entry.inputs = len(inputs.get("demos") or ())

    @guard(_NAME)
    def on_adapter_format_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None:
        """End it; the messages it made are the LM span's inputs, so only their count is kept."""
        entry = calls.get(call_id)
        if type(entry) is _Span:
            messages = len(outputs) if isinstance(outputs, list) else None
            entry.span.set_attributes(_describe.adapter_attributes(entry.inputs or 0, messages))
        self._end(call_id, None, exception)

    @guard(_NAME)
    def on_adapter_parse_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        """Start a PARSER span for turning the LM's completion into output fields."""
        if self._on():
            self._start(call_id, f"{type(instance).__name__}.parse", "PARSER", inputs.get("completion"), None)

    @guard(_NAME)
    def on_adapter_parse_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None:
        """End it with the parsed fields (or the parse error)."""
        self._end(call_id, outputs, exception)

    # -- tools ----------------------------------------------------------------------

    @guard(_NAME)
    def on_tool_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        """Start a TOOL span with the tool's arguments."""
        if self._on():
            args = inputs.get("kwargs", inputs)
            name = str(getattr(instance, "name", None) or type(instance).__name__)
            attrs: dict[str, Any] = {"gen_ai.tool.name": name}
            desc = getattr(instance, "desc", None)
            if desc:
                attrs["gen_ai.tool.description"] = str(desc)[:2000]
            schema = getattr(instance, "args", None)
            if isinstance(schema, dict) and schema:
                attrs["logwright.tool.parameters"] = schema
            self._start(call_id, name, "TOOL", args, attrs, current=True)

    @guard(_NAME)
    def on_tool_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None:
        """End the tool's span with its result."""
        self._end(call_id, outputs, exception)

    # -- evaluation and compile scopes -------------------------------------------

    @guard(_NAME)
    def on_evaluate_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        """Route the evaluation's calls to the scope of the autologged call around it."""
        self._enter_scope(call_id)

    @guard(_NAME)
    def on_evaluate_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None:
        """An evaluation inside a compile adds a ``candidate_score`` point to the compile's run."""
        entry = calls.pop(call_id, None)
        if type(entry) is Scope and entry.kind == "compile" and exception is None and entry.client:
            score = getattr(outputs, "score", None)
            if isinstance(score, (int, float)):
                entry.client.log_metric(entry.run_id, "candidate_score", float(score))

    @guard(_NAME)
    def on_compile_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        """Route the compile's calls to the scope of the autologged compile."""
        self._enter_scope(call_id)

    @guard(_NAME)
    def on_compile_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None:
        """Forget the compile's call id."""
        calls.pop(call_id, None)

    def _enter_scope(self, call_id: str) -> None:
        if self.config is None:
            return
        scope = current_scope.get()
        if scope is not None:
            calls[call_id] = scope
            return
        pid = ACTIVE_CALL_ID.get()
        parent = calls.get(pid) if pid is not None else None
        if parent is _SKIP or type(parent) is Scope:
            calls[call_id] = parent  # e.g. an Evaluate a compile runs in a worker thread
