"""Traces in the SQLite store: writing finished traces and late spans, reading them back.

A trace is one row of ``traces``: the index columns the trace filter language
searches (ids, name, status, times, token totals, span count, the root span's
inputs and outputs as JSON text) and ``spans``, a BLOB holding every span of the
trace as one JSON array, zlib-compressed when that saves space (the layout is in
:mod:`logwright.store.trace_blob`); tags are rows of ``trace_tags``. A finished
trace is therefore one row write, whatever its size.

The writer functions :func:`apply_traces` and :func:`apply_late_spans` run inside
the writer's transaction. They never raise for what a trace holds: a trace whose
row the database refuses is stored without its spans, with a ``logwright.error``
tag saying why (reported once). They raise only for faults of the database
itself (locked, disk full), which the writer retries.

Mixed into :class:`~logwright.store.sqlite.SqliteStore`.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import zlib
from collections.abc import Callable, Iterator, Sequence
from itertools import chain
from typing import Any, TypeVar

from logwright.entities import Trace, TraceInfo
from logwright.exceptions import InvalidFilter
from logwright.store.sqlite_runs import reading
from logwright.store.trace_blob import append_spans, decode_spans, loads, pack_record, parents_first

_logger = logging.getLogger(__name__)

ERROR_TAG = "logwright.error"
_CHUNK = 500
_MAX_ROWS = 2048  # rows per INSERT statement
_MAX_BYTES = 512 * 1024  # bytes bound to one INSERT statement (its cached copy keeps them)
_COLS = (
    "trace_id, experiment_id, run_id, name, status, start_ns, end_ns, input_tokens, "
    "output_tokens, total_tokens, span_count, inputs, outputs, spans"
)
_SELECT = ", ".join(f"t.{c}" for c in _COLS.split(", "))
_INSERT = f"INSERT OR REPLACE INTO traces ({_COLS})"
_INSERT_TAG = "INSERT OR REPLACE INTO trace_tags (trace_id, key, value)"
# What binding one row can raise because of that row (a fault of the disk or lock is not here).
_ROW_ERRORS = (sqlite3.DataError, sqlite3.IntegrityError, sqlite3.InterfaceError,
               sqlite3.ProgrammingError, OverflowError, ValueError, TypeError)
_F = TypeVar("_F", bound=Callable[..., Any])


# -- writing (the writer thread, inside its transaction) --------------------------------


def _report(exc: BaseException, where: str) -> None:
    from logwright.tracing.context import report

    report(exc, where)


def _cut(text: Any) -> str | None:
    return None if text is None else str(text)[:1000]


def _num(value: Any) -> int | None:
    return value if type(value) is int and -(2**63) <= value < 2**63 else None


def _bare(record: Any) -> tuple:
    """The row of a trace the database refused: index columns only, names cut short."""
    return (_cut(record.trace_id), _num(record.experiment_id) or 0, _cut(record.run_id), _cut(record.name),
            _cut(record.status) or "ERROR", _num(record.start_ns) or 0, _num(record.end_ns), None, None, None,
            0, None, None, None)


@functools.lru_cache(maxsize=64)
def _insert_many(sql: str, width: int, rows: int) -> str:
    marks = f"({', '.join('?' * width)})"
    return f"{sql} VALUES {', '.join([marks] * rows)}"


def _max_rows(db: sqlite3.Connection, width: int) -> int:
    """The largest power of two of rows per INSERT, up to 2,048, within the bound-variable limit."""
    try:
        limit = db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    except (AttributeError, sqlite3.Error):  # Python < 3.11
        limit = 999
    rows = 1
    while rows * 2 <= min(_MAX_ROWS, limit // width):
        rows *= 2
    return rows


def _pieces(sizes: list[int], most: int) -> Iterator[tuple[int, int]]:
    """(start, end) of runs of a power-of-two length within ``_MAX_BYTES`` (one row at least).

    Few distinct lengths keep few prepared statements, and each cached statement
    holds on to the values last bound to it (up to ``_MAX_BYTES``).
    """
    i, count = 0, len(sizes)
    while i < count:
        n = most
        while n > count - i:
            n //= 2
        while n > 1 and sum(sizes[i:i + n]) > _MAX_BYTES:
            n //= 2
        yield i, i + n
        i += n


def apply_traces(db: sqlite3.Connection, rows: Sequence[tuple]) -> None:
    """Write finished traces: one ``traces`` row each (spans in one column) and their tags.

    Rows go in as multi-row INSERTs (up to 2,048 traces or 512 KiB each): a
    statement releases the GIL once, so a producer thread busy in Python does not
    stall the writer at every row. A statement the database refuses is retried row
    by row; a row it still refuses keeps only its index columns and a
    ``logwright.error`` tag.

    Args:
        db: the writer's connection, inside its transaction.
        rows: ``(state,)`` tuples; ``state.to_record()`` gives the trace's
            :class:`~logwright.tracing.records.TraceRecord` (its spans are packed here,
            :func:`logwright.store.trace_blob.pack`), and ``state.approx_bytes`` its size.
    """
    most = _max_rows(db, 14)
    tags: list[tuple[str, str, str]] = []
    for start in range(0, len(rows), _MAX_ROWS):
        chunk = rows[start:start + _MAX_ROWS]
        records = [pack_record(state.to_record()) for (state,) in chunk]
        for record in records:
            if record.tags:
                tags.extend((record.trace_id, k, v) for k, v in record.tags)
        for a, b in _pieces([state.approx_bytes for (state,) in chunk], most):
            piece = records[a:b]
            try:
                db.execute(_insert_many(_INSERT, 14, b - a), list(chain.from_iterable([r[:14] for r in piece])))
            except _ROW_ERRORS:  # one of these rows is refused: find it, keep the others
                for record in piece:
                    _insert_one(db, record)
    if tags:
        _insert_tags(db, tags)


def _insert_one(db: sqlite3.Connection, record: Any) -> None:
    try:
        db.execute(_insert_many(_INSERT, 14, 1), record[:14])
    except _ROW_ERRORS as exc:
        try:
            db.execute(_insert_many(_INSERT, 14, 1), _bare(record))
            note = f"the spans of this trace could not be stored: {type(exc).__name__}: {exc}"
            db.execute(_insert_many(_INSERT_TAG, 3, 1), (record.trace_id, ERROR_TAG, note[:2000]))
        except _ROW_ERRORS as again:
            _logger.warning("logwright could not store trace %r at all: %r", record.trace_id, again)
        _report(exc, "storing a trace")


def _insert_tags(db: sqlite3.Connection, tags: list[tuple[str, str, str]]) -> None:
    sizes = [64 + len(key) + len(value) for _, key, value in tags]
    for a, b in _pieces(sizes, _max_rows(db, 3)):
        piece = tags[a:b]
        try:
            db.execute(_insert_many(_INSERT_TAG, 3, len(piece)), [v for row in piece for v in row])
        except _ROW_ERRORS:
            for row in piece:
                try:
                    db.execute(_insert_many(_INSERT_TAG, 3, 1), row)
                except _ROW_ERRORS as exc:
                    _report(exc, "storing a trace tag")


def apply_late_spans(db: sqlite3.Connection, rows: Sequence[tuple]) -> None:
    """Append spans that ended after their trace was written to that trace's span array.

    Spans of one trace in the batch are appended together; the trace's span count
    and token totals grow with them. A trace whose row is missing is written first.

    Args:
        db: the writer's connection, inside its transaction.
        rows: ``(state, span)`` tuples; ``state.late_record(span)`` gives the
            span's UTF-8 JSON array and its (input, output, total) tokens.
    """
    groups: dict[str, tuple[Any, list[bytes], list[tuple]]] = {}
    for state, span in rows:
        data, tokens = state.late_record(span)
        group = groups.get(state.trace_id)
        if group is None:
            group = groups[state.trace_id] = (state, [], [])
        group[1].append(data)
        group[2].append(tokens)
    for trace_id, (state, spans, tokens) in groups.items():
        found = db.execute("SELECT spans FROM traces WHERE trace_id = ?", (trace_id,)).fetchone()
        if found is None:
            apply_traces(db, [(state,)])
            found = db.execute("SELECT spans FROM traces WHERE trace_id = ?", (trace_id,)).fetchone()
            if found is None:
                continue
        _append(db, trace_id, found[0], spans, tokens)


def _append(db: sqlite3.Connection, trace_id: str, blob: Any, spans: list[bytes], tokens: list[tuple]) -> None:
    totals = [None, None, None]
    for triple in tokens:
        for i, value in enumerate(triple):
            if value is not None:
                totals[i] = min(2**63 - 1, (totals[i] or 0) + value)
    args = (append_spans(blob, spans), len(spans), *(x for t in totals for x in (t, t)), trace_id)
    sql = (
        "UPDATE traces SET spans = ?, span_count = span_count + ?, "
        "input_tokens = CASE WHEN ? IS NULL THEN input_tokens ELSE MIN(9223372036854775807, "
        "COALESCE(input_tokens, 0) + ?) END, "
        "output_tokens = CASE WHEN ? IS NULL THEN output_tokens ELSE MIN(9223372036854775807, "
        "COALESCE(output_tokens, 0) + ?) END, "
        "total_tokens = CASE WHEN ? IS NULL THEN total_tokens ELSE MIN(9223372036854775807, "
        "COALESCE(total_tokens, 0) + ?) END WHERE trace_id = ?"
    )
    try:
        db.execute(sql, args)
    except _ROW_ERRORS as exc:
        _report(exc, "storing a late span")


# -- reading -----------------------------------------------------------------------------


def _trace(row: tuple, tags: dict[str, str]) -> Trace:
    info = TraceInfo(
        trace_id=row[0], experiment_id=str(row[1]), run_id=row[2], name=row[3], status=row[4],
        start_ns=row[5], end_ns=row[6], input_tokens=row[7], output_tokens=row[8], total_tokens=row[9],
        span_count=row[10], tags=tags,
    )
    try:
        spans = decode_spans(row[0], row[13], loads(row[11]), loads(row[12]))
    except (ValueError, TypeError, IndexError, zlib.error) as exc:
        _logger.warning("logwright could not read the spans of trace %s: %r", row[0], exc)
        spans = []
    return Trace(info, parents_first(spans))


class TracesMixin:
    """``get_trace`` and ``search_traces`` of the Store protocol, over ``self.read_db()``."""

    read_db: Callable[[], sqlite3.Connection]

    @reading
    def get_trace(self, trace_id: str) -> Trace | None:
        """The trace with this id, spans ordered parents first, or None.

        Args:
            trace_id: the 32-hex-character trace id.

        Returns:
            The :class:`~logwright.entities.Trace`, or None when there is no such trace.
        """
        row = self.read_db().execute(
            f"SELECT {_SELECT} FROM traces t WHERE t.trace_id = ?", (str(trace_id),)
        ).fetchone()
        return None if row is None else self._traces([row])[0]

    @reading
    def search_traces(self, experiment_ids: Sequence[str] | None = None, run_id: str | None = None,
                      filter_string: str | None = None, order_by: Sequence[str] | str | None = None,
                      max_results: int = 100, offset: int = 0) -> list[Trace]:
        """Traces matching the trace filter language, ordered and paged, with their spans.

        Args:
            experiment_ids: only traces of these experiments (None: every experiment).
            run_id: only traces linked to this run.
            filter_string: e.g. ``"status = 'ERROR' and latency_ms > 500 and tags.user = 'x'"``.
            order_by: clauses such as ``"latency_ms DESC"`` (default: newest first).
            max_results: at most this many traces (0 or more).
            offset: skip this many matching traces first.

        Returns:
            :class:`~logwright.entities.Trace` objects.

        Raises:
            InvalidFilter: the filter, an order_by clause or a paging number is malformed.
        """
        from logwright.search import compile_trace_filter, compile_trace_order_by

        limit, skip = _paging(max_results, offset)
        where, args = compile_trace_filter(filter_string)
        if isinstance(order_by, str):
            order_by = [order_by]
        order, order_args = compile_trace_order_by(order_by)
        sql = f"SELECT {_SELECT} FROM traces t WHERE ({where})"
        if experiment_ids is not None:
            ids = [int(e) for e in (str(e) for e in experiment_ids) if e.isdigit() and len(e) < 19]
            sql += f" AND t.experiment_id IN ({','.join('?' * len(ids))})"
            args = [*args, *ids]
        if run_id is not None:
            sql += " AND t.run_id = ?"
            args = [*args, str(run_id)]
        sql += f" ORDER BY {order} LIMIT ? OFFSET ?"
        rows = self.read_db().execute(sql, [*args, *order_args, limit, skip]).fetchall()
        return self._traces(rows)

    def _traces(self, rows: list[tuple]) -> list[Trace]:
        db = self.read_db()
        tags: dict[str, dict[str, str]] = {}
        ids = [r[0] for r in rows]
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for tid, key, value in db.execute(
                f"SELECT trace_id, key, value FROM trace_tags WHERE trace_id IN ({marks})", chunk
            ):
                tags.setdefault(tid, {})[key] = value
        return [_trace(r, tags.get(r[0], {})) for r in rows]


def _paging(max_results: Any, offset: Any) -> tuple[int, int]:
    numbers = []
    for name, value in (("max_results", max_results), ("offset", offset)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**62:
            text = f"{name}={value!r}"
            raise InvalidFilter(f"{name} must be a whole number, 0 or more", text, len(name) + 1)
        numbers.append(value)
    return numbers[0], numbers[1]
