"""What the store writes for a finished trace: one record, its spans packed in one JSON array.

A trace state becomes a :class:`TraceRecord` when its root span ends: the index
columns the trace filter language searches (ids, name, status, times, token
totals, span count, the root's inputs and outputs as JSON text), its tags, and
``spans``, one JSON array holding every span as UTF-8 bytes (the store's writer
thread packs it as every store keeps it, :func:`logwright.store.trace_blob.pack`:
zlib-compressed when that pays). Each span is an array::

    [span_id, parent_id, name, kind, start_ns, end_ns, status, status_message,
     attributes, events, inputs, outputs]

The root span's array stops after ``events``: its inputs and outputs are the
record's own ``inputs``/``outputs`` (stored once).

Encoding never fails on user data: lone surrogates become U+FFFD (one warning),
token counts outside 0..2**63-1 or not integers are dropped, times outside the
64-bit range are clamped; a value the C encoder refuses takes the safe path of
:func:`~logwright.tracing.serialize.dumps`.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any, NamedTuple

from logwright.tracing.context import report
from logwright.tracing.serialize import _ENCODE, Dumped, dumps, encode, scrub, utf8

_logger = logging.getLogger(__name__)

INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
TOTAL_TOKENS = "logwright.usage.total_tokens"
SPAN_KIND = "logwright.span.kind"
ERROR_TAG = "logwright.error"
MAX_INT = 2**63 - 1
_NO_TOKENS = (None, None, None)
_RAW = f"\x00logwright-json-{os.urandom(8).hex()}\x00"  # where JSON encoded at set time goes
_RAW_JSON = json.dumps(_RAW)


class TraceRecord(NamedTuple):
    """A finished trace as the store writes it (strings free of lone surrogates)."""

    trace_id: str
    experiment_id: int
    run_id: str | None
    name: str | None
    status: str
    start_ns: int
    end_ns: int | None
    input_tokens: int | None
    output_tokens: int | None
    total_tokens: int | None
    span_count: int
    inputs: str | None
    outputs: str | None
    spans: bytes | None
    tags: list[tuple[str, str]]


def token_count(value: Any) -> int | None:
    """A token count as an int in 0..2**63-1, or None for anything else (bool, negative, garbage)."""
    kind = type(value)
    if kind is int:
        return value if 0 <= value <= MAX_INT else None
    if kind is float:
        return int(value) if value.is_integer() and 0 <= value <= MAX_INT else None
    if kind is str and value.isdigit() and len(value) < 19:
        return int(value)
    return None


def span_tokens(attrs: dict[str, Any] | None) -> tuple[int | None, int | None, int | None]:
    """(input, output, total) tokens a span carries; total defaults to input + output."""
    if not attrs:
        return _NO_TOKENS
    tin, tout = token_count(attrs.get(INPUT_TOKENS)), token_count(attrs.get(OUTPUT_TOKENS))
    total = token_count(attrs.get(TOTAL_TOKENS))
    if total is None and (tin is not None or tout is not None):
        total = min(MAX_INT, (tin or 0) + (tout or 0))
    return tin, tout, total


def add_tokens(a: int | None, b: int | None) -> int | None:
    """a + b where None means "not reported", capped at 2**63-1."""
    return a if b is None else b if a is None else min(MAX_INT, a + b)


def nanoseconds(value: Any) -> int | None:
    """A time in epoch nanoseconds as an int in the 64-bit range, or None."""
    if type(value) is int and -MAX_INT <= value <= MAX_INT:
        return value
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return max(-MAX_INT, min(MAX_INT, number))


def caller_ns(value: Any) -> int:
    """A start, end or event time the caller gave, as 64-bit epoch nanoseconds (now when unusable)."""
    found = nanoseconds(value) if value else None
    return found if found is not None and found > 0 else time.time_ns()


def _json(value: Any, limit: int) -> str:
    try:
        text = _ENCODE(value)
    except (TypeError, ValueError, RecursionError):
        return dumps(value, limit)
    return text if len(text) <= limit else dumps(value, limit)


def _field(value: Any, limit: int) -> str:
    if value is None:
        return "null"
    if type(value) is Dumped:
        return value
    return encode(value, limit)  # type: ignore[return-value]


def span_json(span: Any, limit: int, root: bool = False) -> tuple[str, tuple[int | None, ...]]:
    """One span's JSON array (see the module docstring) and its (input, output, total) tokens.

    Args:
        span: a live span that has ended.
        limit: the per-field character cap.
        root: leave inputs and outputs out (the trace record holds them).

    Returns:
        The JSON text and the span's tokens.
    """
    inputs, outputs = span._inputs, span._outputs
    attrs = span._attributes or None
    if attrs is not None and SPAN_KIND in attrs:
        attrs = {k: v for k, v in attrs.items() if k != SPAN_KIND}
    tokens = span_tokens(attrs) if attrs and (INPUT_TOKENS in attrs or OUTPUT_TOKENS in attrs
                                              or TOTAL_TOKENS in attrs) else _NO_TOKENS
    events = span._events or None
    raw = type(inputs) is Dumped or type(outputs) is Dumped
    try:  # the common case in one C call; a span within the cap has every field within it
        if root:
            text = _ENCODE((span.span_id, span.parent_id, span.name, span.kind, span.start_ns, span.end_ns,
                            span.status, span.status_message, attrs, events))
        elif raw:  # JSON text encoded at set time is spliced in as it is
            text = _ENCODE((span.span_id, span.parent_id, span.name, span.kind, span.start_ns, span.end_ns,
                            span.status, span.status_message, attrs, events))
            if len(text) <= limit:
                return f"{text[:-1]},{_field(inputs, limit)},{_field(outputs, limit)}]", tokens
        else:
            text = _ENCODE((span.span_id, span.parent_id, span.name, span.kind, span.start_ns, span.end_ns,
                            span.status, span.status_message, attrs, events, inputs, outputs))
        if len(text) <= limit:
            return text, tokens
    except (TypeError, ValueError, RecursionError):
        pass
    return _span_json_safe(span, limit, root, attrs, events), tokens


def _span_json_safe(span: Any, limit: int, root: bool, attrs: Any, events: Any) -> str:
    """A span's array field by field: each capped, odd values through the safe encoder."""
    try:
        head = _ENCODE((span.span_id, span.parent_id, span.name, span.kind, span.start_ns,
                        span.end_ns, span.status, span.status_message))
    except (TypeError, ValueError, RecursionError):
        head = _ENCODE((str(span.span_id), span.parent_id and str(span.parent_id), str(span.name),
                        str(span.kind), nanoseconds(span.start_ns) or 0, nanoseconds(span.end_ns),
                        str(span.status), None if span.status_message is None else str(span.status_message)))
    attrs_text = "null" if not attrs else _json(attrs, limit)
    events_text = "null" if not events else _json(events, limit)
    if root:
        return f"{head[:-1]},{attrs_text},{events_text}]"
    return f"{head[:-1]},{attrs_text},{events_text},{_field(span._inputs, limit)},{_field(span._outputs, limit)}]"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return scrub(value if type(value) is str else str(value))


def _experiment_id(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def trace_record(trace: Any) -> TraceRecord:
    """The record of a finished trace (made once, when its root span ends).

    Args:
        trace: a :class:`~logwright.tracing.spans._TraceState` whose root span has ended.

    Returns:
        The :class:`TraceRecord`; raises only on a bug (the caller falls back to
        :func:`fallback_record`).
    """
    root, limit = trace.root, trace.limit
    found = _spans_at_once(trace.spans, root, limit)
    if found is not None:
        blob, (tin, tout, total) = found
    else:
        tin = tout = total = None
        parts = []
        for span in trace.spans:
            text, (i, o, t) = span_json(span, limit, span is root)
            parts.append(text)
            if t is not None:
                tin, tout, total = add_tokens(tin, i), add_tokens(tout, o), add_tokens(total, t)
        blob = utf8(f"[{','.join(parts)}]")  # packed by the store's writer thread
        del parts
    return TraceRecord(
        trace.trace_id, _experiment_id(trace.experiment_id), trace.run_id,
        _text(trace.name or root.name), _text(root.status), nanoseconds(root.start_ns) or 0,
        nanoseconds(root.end_ns), tin, tout, total, len(trace.spans),
        _root_field(root._inputs, limit), _root_field(root._outputs, limit), blob,
        [(scrub(str(k)), scrub(str(v))) for k, v in list(trace.tags.items())] if trace.tags else [],
    )


def _spans_at_once(spans: list, root: Any, limit: int) -> tuple[bytes, tuple] | None:
    """The span array in one encoder call (JSON text encoded at set time spliced in), or None.

    None when a span needs the field-by-field path: the array is longer than the cap, a
    value the encoder refuses, a kind attribute to drop. The result equals joining
    :func:`span_json` of every span.
    """
    rows: list[tuple] = []
    raw: list[str] = []
    tin = tout = total = None
    for span in spans:
        attrs = span._attributes or None
        if attrs is not None:
            if SPAN_KIND in attrs:
                return None
            if INPUT_TOKENS in attrs or OUTPUT_TOKENS in attrs or TOTAL_TOKENS in attrs:
                i, o, t = span_tokens(attrs)
                if t is not None:
                    tin, tout, total = add_tokens(tin, i), add_tokens(tout, o), add_tokens(total, t)
        if span is root:
            rows.append((span.span_id, span.parent_id, span.name, span.kind, span.start_ns, span.end_ns,
                         span.status, span.status_message, attrs, span._events or None))
            continue
        inputs, outputs = span._inputs, span._outputs
        if type(inputs) is Dumped:
            raw.append(inputs)
            inputs = _RAW
        if type(outputs) is Dumped:
            raw.append(outputs)
            outputs = _RAW
        rows.append((span.span_id, span.parent_id, span.name, span.kind, span.start_ns, span.end_ns,
                     span.status, span.status_message, attrs, span._events or None, inputs, outputs))
    try:
        text = _ENCODE(rows)
    except (TypeError, ValueError, RecursionError):
        return None
    if len(text) > limit:
        return None
    if raw:
        pieces = text.split(_RAW_JSON)
        if len(pieces) != len(raw) + 1:
            return None
        text = "".join([piece for pair in zip(pieces, [*raw, ""], strict=True) for piece in pair])
    return utf8(text), (tin, tout, total)


def _root_field(value: Any, limit: int) -> str | None:
    return None if value is None else scrub(_field(value, limit))


def fallback_record(trace: Any, exc: BaseException) -> TraceRecord:
    """What can be stored of a trace whose encoding failed: its row and an error tag, no spans."""
    root = trace.root
    name = status = None
    start = end = None
    if root is not None:
        name, status = getattr(root, "name", None), getattr(root, "status", None)
        start, end = getattr(root, "start_ns", None), getattr(root, "end_ns", None)
    note = f"the spans of this trace could not be stored: {type(exc).__name__}: {exc}"
    return TraceRecord(
        str(trace.trace_id), _experiment_id(trace.experiment_id), _text(trace.run_id),
        _safe_text(trace.name or name), _safe_text(status) or "ERROR", nanoseconds(start) or 0,
        nanoseconds(end), None, None, None, 0, None, None, None, [(ERROR_TAG, scrub(note[:2000]))],
    )


def _safe_text(value: Any) -> str | None:
    try:
        return _text(value)
    except Exception:  # noqa: BLE001 - a name whose __str__ raises
        return "<unprintable>"


def late_span(trace: Any, span: Any) -> tuple[bytes, tuple[int | None, int | None, int | None]]:
    """A span that ended after its trace was written: its JSON array as UTF-8, and its tokens."""
    try:
        text, tokens = span_json(span, trace.limit)
    except Exception as exc:  # noqa: BLE001 - a bug: store the span's bare bones, report once
        text, tokens = _bare_span(span, exc), _NO_TOKENS
        report(exc, "encoding a late span")
    return utf8(text), tokens


def _bare_span(span: Any, exc: BaseException) -> str:
    note = f"this span could not be stored: {type(exc).__name__}"
    return _ENCODE([_safe_text(span.span_id), _safe_text(span.parent_id), _safe_text(span.name),
                    _safe_text(span.kind), nanoseconds(span.start_ns) or 0, nanoseconds(span.end_ns),
                    "ERROR", note, None, None, None, None])
