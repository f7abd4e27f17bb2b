"""Live spans, the traces they belong to, and the ``with start_span(...)`` API.

A root span starts a trace: it gets a 16-byte hex id, the store of the current
tracking URI, the experiment of the active run (else the current experiment) and
a link to the active run. Spans of a trace collect in memory; when the root span
ends, the whole trace is encoded (one compact JSON array of its spans, see
:mod:`logwright.tracing.records`) and handed to the store as one write
(``store.log_trace``). A span that ends after its root goes on its own
(``store.log_late_span``) and is appended to its trace ("late"). Spans
still open when their trace was already written are closed as ERROR
("span was not ended") by :func:`flush_spans`; at interpreter exit every open span
is closed that way and its trace written.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import random
import threading
import time
import traceback
from typing import Any

from logwright import fluent
from logwright.tracing import destination
from logwright.tracing.attributes import FrozenAttributes, attribute_value
from logwright.tracing.context import SETTINGS, _current_span, _reset, report
from logwright.tracing.records import TraceRecord, caller_ns, fallback_record, late_span, trace_record
from logwright.tracing.serialize import _FAST, freeze, safe_str, span_name, to_jsonable, use_fast_encoder

_logger = logging.getLogger(__name__)

_ATOMS = (str, int, float, bool, type(None))
NOT_ENDED = "span was not ended"
_now = time.time_ns
_bits = random.getrandbits
_open: dict[str, _TraceState] = {}  # traces with spans not yet ended or not yet written
_last: list[_TraceState] = []
_listeners: list[Any] = []  # callables(state) run when a trace is handed over (export, display)
_late_listeners: list[Any] = []  # callables(state, span) run when a late span is handed over (export)
_exit_hook = {"registered": False, "atexit": False}
_run_experiments: dict[str, str] = {}


class _TraceState:
    """A trace being collected: ids, destination, its spans and tags.

    When the root span ends, the trace is encoded at once (the thread that ends the
    root pays ~2 us per span) into the compact record the store writes, handed to the
    store (``store.log_trace``), and its live spans are let go: what waits in the
    writer's queue is a few hundred bytes per span, freed by reference counting.
    """

    __slots__ = ("trace_id", "store", "experiment_id", "run_id", "root", "spans", "live", "tags",
                 "name", "lock", "written", "limit", "approx_bytes", "_record", "_late")

    def __init__(self, store: Any, experiment_id: str, run_id: str | None) -> None:
        self.trace_id = f"{_bits(128):032x}"
        self.store = store
        self.experiment_id = experiment_id
        self.run_id = run_id
        self.root: LiveSpan | None = None
        self.spans: list[LiveSpan] = []
        self.live: dict[str, LiveSpan] = {}
        self.tags: dict[str, str] = {}
        self.name: str | None = None
        self.lock = threading.Lock()
        self.written = False
        self.limit = SETTINGS.field_limit
        self.approx_bytes = 256
        self._record: TraceRecord | None = None
        self._late: dict[str, tuple[bytes, tuple]] | None = None

    def __repr__(self) -> str:
        return f"<trace {self.trace_id}>"

    def finish(self, span: LiveSpan) -> None:
        """Record an ended span; the root's end encodes the trace and hands it to the store."""
        with self.lock:
            late = self.written
            if not late:
                self.spans.append(span)
                if span is not self.root:
                    return
                self.written = True
        if self.store is None:  # its store is being opened off the event loop: hand over there
            destination.later(functools.partial(self._hand_over, span, late))
        else:
            self._hand_over(span, late)
        if not self.live:
            _open.pop(self.trace_id, None)

    def _hand_over(self, span: LiveSpan, late: bool) -> None:
        """Give the finished trace (or a late span) to the store and the listeners (export, display)."""
        if self.store is None:
            self.store, self.experiment_id, self.run_id = _destination(self.run_id)
        if late:
            encoded = late_span(self, span)
            if self._late is None:
                self._late = {}
            self._late[span.span_id] = encoded
            self.store.log_late_span(self, span)
            for listener in _late_listeners:
                listener(self, span)
        else:
            record = self.to_record()
            self.approx_bytes = 256 + len(record.spans or b"") + len(record.inputs or "") + len(record.outputs or "")
            self.store.log_trace(self)
            _last[:] = [self]
            for listener in _listeners:
                listener(self)
            self.spans = []  # encoded and handed over: the spans (and the cycles through them) can go
            self.root = None

    def to_record(self) -> TraceRecord:
        """The trace as the store writes it, encoded once when its root span ends.

        Never raises for what the trace holds; a trace that cannot be encoded (a bug)
        becomes its row with an error tag, reported once.
        """
        record = self._record
        if record is None:
            try:
                record = trace_record(self)
            except Exception as exc:  # noqa: BLE001 - the trace row is still worth keeping
                record = self._record = fallback_record(self, exc)
                report(exc, "encoding a trace")
            self._record = record
        return record

    def late_record(self, span: LiveSpan) -> tuple[bytes, tuple[int | None, int | None, int | None]]:
        """A span that ended after its trace was handed over: its UTF-8 JSON array and tokens."""
        found = self._late.get(span.span_id) if self._late else None
        return found if found is not None else late_span(self, span)


class LiveSpan:
    """A span being recorded. Ends once: later calls to :meth:`end` do nothing.

    Attributes:
        trace_id: 32 hex characters, shared by every span of the trace.
        span_id: 16 hex characters.
        parent_id: the parent's ``span_id``, None for a root span.
        name: the span's name.
        kind: one of :class:`logwright.entities.SpanKind`.
    """

    __slots__ = ("trace_id", "span_id", "parent_id", "name", "kind", "start_ns", "end_ns", "status",
                 "status_message", "_attributes", "_inputs", "_outputs", "_events", "_trace")
    is_recording = True

    def __init__(self, trace: _TraceState, name: str, kind: str, parent_id: str | None,
                 start_ns: int) -> None:
        self.trace_id = trace.trace_id
        self.span_id = f"{_bits(64):016x}"
        self.parent_id = parent_id
        self.name = name
        self.kind = kind
        self.start_ns = start_ns
        self.end_ns: int | None = None
        self.status = "UNSET"
        self.status_message: str | None = None
        self._attributes: dict[str, Any] | None = None
        self._inputs: Any = None
        self._outputs: Any = None
        self._events: list[tuple] | None = None
        self._trace = trace

    def __repr__(self) -> str:
        return f"<LiveSpan {self.name!r} kind={self.kind} span_id={self.span_id} trace_id={self.trace_id}>"

    @property
    def attributes(self) -> dict[str, Any]:
        """A copy of the attributes set so far."""
        return dict(self._attributes or {})

    def set_inputs(self, inputs: Any) -> None:
        """Record the span's inputs (serialized safely; mutable objects are captured now)."""
        try:
            self._inputs = freeze(inputs, self._trace.limit)
        except Exception as exc:  # noqa: BLE001 - never raise into user code
            report(exc, "LiveSpan.set_inputs")

    def set_outputs(self, outputs: Any) -> None:
        """Record the span's outputs (serialized safely; mutable objects are captured now)."""
        try:
            self._outputs = freeze(outputs, self._trace.limit)
        except Exception as exc:  # noqa: BLE001
            report(exc, "LiveSpan.set_outputs")

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one attribute (OpenTelemetry GenAI names such as ``gen_ai.request.model``)."""
        try:
            attrs = self._attributes
            if attrs is None or type(attrs) is FrozenAttributes:  # shared: change a copy
                attrs = self._attributes = {} if attrs is None else dict(attrs)
            attrs[key if type(key) is str else safe_str(key)] = \
                value if type(value) in _ATOMS else attribute_value(value, self._trace.limit)
        except Exception as exc:  # noqa: BLE001
            report(exc, "LiveSpan.set_attribute")

    def set_attributes(self, attrs: dict[str, Any]) -> None:
        """Set several attributes."""
        try:
            mine = self._attributes
            if mine is None and type(attrs) is FrozenAttributes:
                self._attributes = attrs  # converted already: shared until a span changes it
                return
            if mine is None or type(mine) is FrozenAttributes:
                mine = self._attributes = {} if mine is None else dict(mine)
            limit = self._trace.limit
            for key, value in dict(attrs or {}).items():
                mine[key if type(key) is str else safe_str(key)] = \
                    value if type(value) in _ATOMS or type(attrs) is FrozenAttributes \
                    else attribute_value(value, limit)
        except Exception as exc:  # noqa: BLE001
            report(exc, "LiveSpan.set_attributes")

    def add_event(self, name: str, attributes: dict[str, Any] | None = None,
                  timestamp_ns: int | None = None) -> None:
        """Add a timestamped event (a first token, a retry, ...)."""
        try:
            events = self._events
            if events is None:
                events = self._events = []
            attrs = to_jsonable(dict(attributes), self._trace.limit) if attributes else {}
            events.append((safe_str(name), _now() if timestamp_ns is None else caller_ns(timestamp_ns), attrs))
        except Exception as exc:  # noqa: BLE001
            report(exc, "LiveSpan.add_event")

    def record_exception(self, exc: BaseException) -> None:
        """Add an ``exception`` event (type, message, stacktrace) and set the status to ERROR."""
        try:
            kind = type(exc).__qualname__
            message = _message(exc)
            stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            self.add_event("exception", {"exception.type": kind, "exception.message": message,
                                         "exception.stacktrace": stack})
            self.status = "ERROR"
            self.status_message = f"{kind}: {message}" if message else kind
        except Exception as err:  # noqa: BLE001
            report(err, "LiveSpan.record_exception")

    def set_status(self, status: str, message: str | None = None) -> None:
        """Set the status, ``"OK"`` or ``"ERROR"``, with an optional message."""
        status = str(status).upper()
        if status not in ("OK", "ERROR", "UNSET"):
            report(ValueError(f"span status must be OK or ERROR, got {status!r}"), "LiveSpan.set_status")
            return
        self.status = status
        if message is not None:
            self.status_message = str(message)

    def end(self, outputs: Any = None, status: str | None = None, end_ns: int | None = None) -> None:
        """End the span (a no-op when it has ended already) and record it in its trace.

        Args:
            outputs: the span's outputs, when not set already.
            status: ``"OK"`` or ``"ERROR"``; an unset status becomes OK.
            end_ns: the end time in epoch nanoseconds (now by default).
        """
        trace = self._trace
        if trace.live.pop(self.span_id, None) is None:
            return
        try:
            self.end_ns = _now() if end_ns is None else caller_ns(end_ns)
            if outputs is not None:
                self._outputs = freeze(outputs, trace.limit)
            if status is not None:
                self.set_status(status)
            if self.status == "UNSET":
                self.status = "OK"
            trace.finish(self)
        except Exception as exc:  # noqa: BLE001
            report(exc, "LiveSpan.end")


class _NonRecordingSpan(LiveSpan):
    """What tracing returns when it is disabled or the trace is not sampled: records nothing."""

    __slots__ = ()
    is_recording = False

    def __init__(self) -> None:  # noqa: D107 - nothing to record
        self.trace_id = ""
        self.span_id = ""
        self.parent_id = None
        self.name = ""
        self.kind = "UNKNOWN"
        self.start_ns = 0
        self.end_ns = None
        self.status = "UNSET"
        self.status_message = None
        self._attributes = None
        self._inputs = self._outputs = self._events = None

    def __repr__(self) -> str:
        return "<LiveSpan (not recording)>"

    def set_inputs(self, inputs: Any) -> None:  # noqa: D102
        pass

    def set_outputs(self, outputs: Any) -> None:  # noqa: D102
        pass

    def set_attribute(self, key: str, value: Any) -> None:  # noqa: D102
        pass

    def set_attributes(self, attrs: dict[str, Any]) -> None:  # noqa: D102
        pass

    def add_event(self, name: str, attributes: dict | None = None, timestamp_ns: int | None = None) -> None:  # noqa: D102
        pass

    def record_exception(self, exc: BaseException) -> None:  # noqa: D102
        pass

    def set_status(self, status: str, message: str | None = None) -> None:  # noqa: D102
        pass

    def end(self, outputs: Any = None, status: str | None = None, end_ns: int | None = None) -> None:  # noqa: D102
        pass


NON_RECORDING = _NonRecordingSpan()


def _message(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # noqa: BLE001 - an exception whose __str__ raises
        return "<unprintable message>"


def _new_trace(run_id: str | None) -> _TraceState | None:
    """A new trace, or None when tracing is disabled or the sampler drops it."""
    if not _exit_hook["registered"]:
        _register_exit()
    if _FAST[0] is None:
        use_fast_encoder()
    ratio = SETTINGS.sample_ratio
    if ratio < 1.0 and random.random() >= ratio:
        return None
    if run_id is None:
        run = fluent.active_run()
        if run is not None:
            return _TraceState(run.client.store, run.info.experiment_id, run.info.run_id)
    client = None
    if destination.in_event_loop():
        client = destination.ready_client(run_id, _run_experiments)
        if client is None:
            return _TraceState(None, None, run_id)  # the store opens on another thread (see destination)
    return _TraceState(*_destination(run_id, client))


def _destination(run_id: str | None, client: Any = None) -> tuple[Any, str, str | None]:
    """(store, experiment id, run id) of a trace not started inside a run: may open the store."""
    if client is None:
        client = fluent._client()
    experiment_id = _run_experiments.get(run_id) if run_id else None
    if run_id and experiment_id is None:
        found = client.store.run_exists(run_id)
        if found is not None:
            experiment_id = _run_experiments[run_id] = found[0]
    if experiment_id is None:
        experiment_id = fluent._current_experiment_id(client)
    return client.store, experiment_id, run_id


def start_detached_span(name: str, kind: str = "UNKNOWN", parent: LiveSpan | None = None,
                        run_id: str | None = None, inputs: Any = None,
                        attributes: dict[str, Any] | None = None,
                        start_ns: int | None = None) -> LiveSpan:
    """Start a span without making it current; end it with :meth:`LiveSpan.end`.

    For callback-style integrations (LangChain, DSPy) whose start and end arrive in
    separate calls. Wrap code in :func:`~logwright.tracing.use_span` to nest
    ``@trace`` spans under it.

    Args:
        name: the span's name.
        kind: a :class:`~logwright.entities.SpanKind` value.
        parent: the parent span; None starts a new trace.
        run_id: the run a new trace links to (default: the active run, if any).
        inputs: the span's inputs.
        attributes: initial attributes.
        start_ns: the start time in epoch nanoseconds (now by default).

    Returns:
        The live span; a non-recording span when tracing is disabled or the trace
        is not sampled.
    """
    if not SETTINGS.loaded:
        SETTINGS.load()
    if not SETTINGS.enabled:
        return NON_RECORDING
    try:
        if type(name) is not str:
            name = span_name(name)
        if type(kind) is not str:
            kind = span_name(kind)
        start_ns = _now() if start_ns is None else caller_ns(start_ns)
        if parent is None:
            trace = _new_trace(run_id)
            if trace is None:
                return NON_RECORDING
            span = LiveSpan(trace, name, kind, None, start_ns)
            trace.root = span
            _open[trace.trace_id] = trace
        elif not parent.is_recording:
            return parent
        else:
            trace = parent._trace
            span = LiveSpan(trace, name, kind, parent.span_id, start_ns)
        trace.live[span.span_id] = span
        if inputs is not None:
            span._inputs = freeze(inputs, trace.limit)
        if attributes:
            span.set_attributes(attributes)
        return span
    except Exception as exc:  # noqa: BLE001 - tracing never breaks the caller
        report(exc, "start_detached_span")
        return NON_RECORDING


class start_span:  # noqa: N801 - a context manager used like a function
    """Open a span as a context manager; it is current inside the block.

    ``with logwright.start_span("retrieve", kind="RETRIEVER") as span:`` starts a
    child of the current span (or a new trace) and ends it when the block exits; an
    exception escaping the block is recorded (status ERROR) and re-raised untouched.

    Args:
        name: the span's name.
        kind: a :class:`~logwright.entities.SpanKind` value.
        attributes: initial attributes.
        inputs: the span's inputs.
    """

    __slots__ = ("_name", "_kind", "_attributes", "_inputs", "_span", "_token", "_parent")

    def __init__(self, name: str, kind: str = "UNKNOWN", attributes: dict[str, Any] | None = None,
                 inputs: Any = None) -> None:
        self._name = name
        self._kind = kind
        self._attributes = attributes
        self._inputs = inputs

    def __enter__(self) -> LiveSpan:
        self._parent = parent = _current_span.get()
        span = self._span = start_detached_span(self._name, self._kind, parent, None, self._inputs,
                                                self._attributes)
        self._token = _current_span.set(span)
        return span

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        _reset(self._token, self._parent)
        span = self._span
        if exc is not None:
            span.record_exception(exc)
        span.end()


def update_current_trace(tags: dict[str, Any] | None = None, name: str | None = None) -> None:
    """Add tags to (or rename) the trace of the current span; a no-op outside any span.

    Args:
        tags: string tags, searchable as ``tags.<key>``.
        name: the trace's name (default: the root span's name).
    """
    span = _current_span.get()
    if span is None or not span.is_recording:
        return
    try:
        trace = span._trace
        if tags:
            trace.tags.update({safe_str(k): safe_str(v) for k, v in tags.items()})
        if name is not None:
            trace.name = safe_str(name)
    except Exception as exc:  # noqa: BLE001
        report(exc, "update_current_trace")


def flush_spans() -> None:
    """Hand finished traces over; close spans left open in already-written traces as ERROR.

    Called by :func:`logwright.flush`. Spans of traces whose root is still open are
    left alone.
    """
    destination.wait()
    for trace in list(_open.values()):
        if trace.written:
            _close_open(trace)
    destination.wait()
    from logwright.tracing import export

    export.flush()


def _close_open(trace: _TraceState) -> None:
    for span in sorted(trace.live.values(), key=lambda s: s.start_ns, reverse=True):
        span.set_status("ERROR", NOT_ENDED)
        span.end()


def _forget_after_fork() -> None:
    """A forked child owns none of its parent's open traces (the parent writes them)."""
    _open.clear()
    _last.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def _register_exit() -> None:
    """First trace of the process: hook interpreter exit, start OTLP export if configured."""
    _exit_hook["registered"] = True
    _ensure_exit_hook()
    if SETTINGS.otlp_endpoint:
        from logwright.tracing import export

        if export._state["exporter"] is None:
            export.configure(SETTINGS.otlp_endpoint)


def _ensure_exit_hook() -> None:
    """Register :func:`_close_all_at_exit` once (it also closes the OTLP exporter, last)."""
    if not _exit_hook["atexit"]:
        _exit_hook["atexit"] = True
        atexit.register(_close_all_at_exit)


def _close_all_at_exit() -> None:
    """Close every span still open as ERROR and write the traces (interpreter exit)."""
    from logwright.store.writer import flush_all

    destination.wait(10.0)
    for trace in list(_open.values()):
        try:
            _close_open(trace)
        except Exception as exc:  # noqa: BLE001 - exit path: report, never raise
            _logger.warning("logwright could not close trace %s at exit: %r", trace.trace_id, exc)
    destination.wait(10.0)
    try:
        flush_all()
    except Exception as exc:  # noqa: BLE001
        _logger.warning("logwright could not write its last traces: %r", exc)
    try:
        from logwright.tracing import export

        export.close_at_exit()
    except Exception as exc:  # noqa: BLE001
        _logger.warning("logwright could not export its last traces: %r", exc)
