"""Traces in the store: the rows a finished trace becomes, and reading them back.

Writing: when a root span ends, :class:`~logwright.tracing.spans._TraceState` is
put on the writer as a ``"trace"`` operation and :func:`trace_rows` turns it into
rows in the writer thread. Reading: :func:`read_trace` and :func:`query_traces`
work on any :class:`~logwright.store.sqlite.SqliteStore`; :func:`get_trace`,
:func:`search_traces` and :func:`get_last_trace` use the current tracking URI.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from logwright import fluent
from logwright.entities import Span, SpanEvent, Trace, TraceInfo
from logwright.exceptions import ExperimentNotFound, TraceNotFound
from logwright.tracing.serialize import dumps, encode, loads

_logger = logging.getLogger(__name__)

INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
TOTAL_TOKENS = "logwright.usage.total_tokens"
SPAN_KIND = "logwright.span.kind"
_CHUNK = 500
_TRACE_COLS = (
    "t.trace_id, t.experiment_id, t.run_id, t.name, t.status, t.start_ns, t.end_ns, "
    "t.input_tokens, t.output_tokens, t.total_tokens, t.span_count"
)
_SPAN_COLS = (
    "trace_id, span_id, parent_id, name, kind, start_ns, end_ns, status, status_message, "
    "attributes, inputs, outputs, events"
)


# -- writing -----------------------------------------------------------------------------


_ENCODE = json.JSONEncoder(ensure_ascii=False).encode
_KIND_JSON: dict[str, str] = {}


def _json(value: Any, limit: int) -> str:
    try:
        text = _ENCODE(value)
    except (TypeError, ValueError):
        return dumps(value, limit)
    return text if len(text) <= limit else dumps(value, limit)


def _attributes_json(span: Any, limit: int) -> tuple[str, tuple[int | None, ...]]:
    """The attributes column (the span kind included) and the span's tokens."""
    if not span._attributes:
        text = _KIND_JSON.get(span.kind)
        if text is None:
            text = _KIND_JSON[span.kind] = _ENCODE({SPAN_KIND: span.kind})
        return text, (None, None, None)
    attrs = dict(span._attributes)
    attrs[SPAN_KIND] = span.kind
    return _json(attrs, limit), span_tokens(attrs)


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def span_tokens(attrs: dict[str, Any]) -> tuple[int | None, int | None, int | None]:
    """(input, output, total) tokens a span carries; total defaults to input + output."""
    tin, tout, total = _int(attrs.get(INPUT_TOKENS)), _int(attrs.get(OUTPUT_TOKENS)), _int(attrs.get(TOTAL_TOKENS))
    if total is None and (tin is not None or tout is not None):
        total = (tin or 0) + (tout or 0)
    return tin, tout, total


def _add(a: int | None, b: int | None) -> int | None:
    return a if b is None else b if a is None else a + b


def span_row(trace: Any, span: Any) -> tuple[tuple, tuple[int | None, ...]]:
    """One ``spans`` row for a live span, and its (input, output, total) tokens."""
    limit = trace.limit
    attrs, tokens = _attributes_json(span, limit)
    events = None
    if span._events:
        events = _json([{"name": n, "timestamp_ns": ts, "attributes": a} for n, ts, a in span._events], limit)
    row = (
        trace.trace_id, span.span_id, span.parent_id, span.name, span.kind, span.start_ns,
        span.end_ns, span.status, span.status_message, attrs,
        encode(span._inputs, limit), encode(span._outputs, limit), events,
    )
    return row, tokens


def trace_rows(trace: Any) -> tuple[tuple, list[tuple], list[tuple]]:
    """The ``traces`` row, ``trace_tags`` rows and ``spans`` rows of a finished trace."""
    spans = []
    tin = tout = total = None
    for span in trace.spans:
        row, (i, o, t) = span_row(trace, span)
        spans.append(row)
        tin, tout, total = _add(tin, i), _add(tout, o), _add(total, t)
    root = trace.root
    limit = trace.limit
    row = (
        trace.trace_id, int(trace.experiment_id), trace.run_id, trace.name or root.name,
        root.status, root.start_ns, root.end_ns, tin, tout, total, len(spans),
        encode(root._inputs, limit), encode(root._outputs, limit),
    )
    tags = [(trace.trace_id, k, v) for k, v in trace.tags.items()]
    return row, tags, spans


def late_span_ops(trace: Any, span: Any) -> list[tuple]:
    """Writer operations for a span that ended after its trace was written."""
    row, (tin, tout, total) = span_row(trace, span)
    update = (
        "UPDATE traces SET span_count = span_count + 1, "
        "input_tokens = CASE WHEN ? IS NULL THEN input_tokens ELSE COALESCE(input_tokens, 0) + ? END, "
        "output_tokens = CASE WHEN ? IS NULL THEN output_tokens ELSE COALESCE(output_tokens, 0) + ? END, "
        "total_tokens = CASE WHEN ? IS NULL THEN total_tokens ELSE COALESCE(total_tokens, 0) + ? END "
        "WHERE trace_id = ?"
    )
    return [
        ("sql", f"INSERT OR REPLACE INTO spans ({_SPAN_COLS}) VALUES ({', '.join('?' * 13)})", row),
        ("sql", update, (tin, tin, tout, tout, total, total, trace.trace_id)),
    ]


# -- reading -----------------------------------------------------------------------------


def _span(row: tuple) -> Span:
    events = tuple(
        SpanEvent(e.get("name", ""), e.get("timestamp_ns", 0), e.get("attributes") or {})
        for e in (loads(row[12]) or ())
        if isinstance(e, dict)
    )
    attrs = loads(row[9])
    return Span(
        trace_id=row[0], span_id=row[1], parent_id=row[2], name=row[3], kind=row[4],
        start_ns=row[5], end_ns=row[6], status=row[7], status_message=row[8],
        attributes=attrs if isinstance(attrs, dict) else {}, inputs=loads(row[10]),
        outputs=loads(row[11]), events=events,
    )


def _parents_first(spans: list[Span]) -> tuple[Span, ...]:
    """Spans ordered depth-first from the roots, siblings by start time."""
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[Span]] = {}
    for span in sorted(spans, key=lambda s: (s.start_ns, s.span_id)):
        parent = span.parent_id if span.parent_id in ids else None
        children.setdefault(parent, []).append(span)
    out: list[Span] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        span = stack.pop()
        out.append(span)
        stack.extend(reversed(children.get(span.span_id, [])))
    return tuple(out)


def _load(store: Any, rows: list[tuple]) -> list[Trace]:
    db = store.read_db()
    ids = [r[0] for r in rows]
    tags: dict[str, dict[str, str]] = {}
    spans: dict[str, list[Span]] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        for tid, key, value in db.execute(
            f"SELECT trace_id, key, value FROM trace_tags WHERE trace_id IN ({marks})", chunk
        ):
            tags.setdefault(tid, {})[key] = value
        for row in db.execute(f"SELECT {_SPAN_COLS} FROM spans WHERE trace_id IN ({marks})", chunk):
            spans.setdefault(row[0], []).append(_span(row))
    out = []
    for r in rows:
        info = TraceInfo(
            trace_id=r[0], experiment_id=str(r[1]), run_id=r[2], name=r[3], status=r[4],
            start_ns=r[5], end_ns=r[6], input_tokens=r[7], output_tokens=r[8], total_tokens=r[9],
            span_count=r[10], tags=tags.get(r[0], {}),
        )
        out.append(Trace(info, _parents_first(spans.get(r[0], []))))
    return out


def read_trace(store: Any, trace_id: str) -> Trace | None:
    """The trace with this id in ``store``, or None."""
    row = store.read_db().execute(
        f"SELECT {_TRACE_COLS} FROM traces t WHERE t.trace_id = ?", (str(trace_id),)
    ).fetchone()
    return None if row is None else _load(store, [row])[0]


def query_traces(store: Any, experiment_ids: Sequence[str] | None = None, run_id: str | None = None,
                 filter_string: str | None = None, order_by: Sequence[str] | str | None = None,
                 max_results: int = 100, offset: int = 0) -> list[Trace]:
    """Traces of ``store`` matching the filter language, ordered and paged.

    Raises:
        InvalidFilter: the filter or an order_by clause is malformed.
    """
    from logwright.search import compile_trace_filter, compile_trace_order_by

    where, args = compile_trace_filter(filter_string)
    order, order_args = compile_trace_order_by(order_by)
    sql = f"SELECT {_TRACE_COLS} FROM traces t WHERE ({where})"
    if experiment_ids is not None:
        ids = [int(e) for e in experiment_ids]
        sql += f" AND t.experiment_id IN ({','.join('?' * len(ids))})"
        args = [*args, *ids]
    if run_id is not None:
        sql += " AND t.run_id = ?"
        args = [*args, run_id]
    sql += f" ORDER BY {order} LIMIT ? OFFSET ?"
    rows = store.read_db().execute(sql, [*args, *order_args, int(max_results), int(offset)]).fetchall()
    return _load(store, rows)


def get_trace(trace_id: str) -> Trace:
    """The trace with this id in the current store, spans ordered parents first.

    Args:
        trace_id: the 32-hex-character trace id.

    Returns:
        The :class:`~logwright.entities.Trace`.

    Raises:
        TraceNotFound: no such trace (after writing whatever was queued).
    """
    store = fluent._client().store
    found = read_trace(store, trace_id)
    if found is None:
        store.flush()
        found = read_trace(store, trace_id)
    if found is None:
        raise TraceNotFound(trace_id)
    return found


def _experiment_ids(client: Any, experiment: Any) -> list[str]:
    refs = experiment if isinstance(experiment, (list, tuple, set)) else [experiment]
    out = []
    for ref in refs:
        ref = getattr(ref, "experiment_id", ref)
        text = str(ref)
        if text.isdigit():
            out.append(text)
            continue
        found = client.store.get_experiment_by_name(text)
        if found is None:
            raise ExperimentNotFound(text)
        out.append(found.experiment_id)
    return out


def search_traces(experiment: Any = None, run: Any = None, filter: str | None = None,  # noqa: A002
                  order_by: Sequence[str] | str | None = None, max_results: int = 100) -> list[Trace]:
    """Traces matching a filter, newest first by default.

    A trace is visible once its root span has ended and the writer has flushed
    (:func:`logwright.flush` forces it).

    Args:
        experiment: an experiment name or id, or a list of them (default: the
            current experiment, unless ``run`` is given).
        run: a run id (or run) whose traces to return.
        filter: e.g. ``"status = 'ERROR' and name LIKE 'rag%' and latency_ms > 500
            and tags.user = 'x'"``.
        order_by: clauses such as ``"latency_ms DESC"``.
        max_results: at most this many traces.

    Returns:
        :class:`~logwright.entities.Trace` objects with their spans.

    Raises:
        InvalidFilter: the filter is malformed.
        ExperimentNotFound: an experiment name does not exist.
    """
    client = fluent._client()
    run_id = None if run is None else str(getattr(getattr(run, "info", run), "run_id", run))
    if experiment is not None:
        ids: list[str] | None = _experiment_ids(client, experiment)
    elif run_id is None:
        ids = [fluent._current_experiment_id(client)]
    else:
        ids = None
    return query_traces(client.store, ids, run_id, filter, order_by, max_results)


def get_last_trace() -> Trace | None:
    """The last trace whose root span ended in this process (written out first), or None."""
    from logwright.tracing.spans import _last

    if not _last:
        return None
    trace = _last[0]
    trace.store.flush()
    return read_trace(trace.store, trace.trace_id)
