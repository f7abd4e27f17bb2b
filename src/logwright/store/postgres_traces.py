"""Traces in the PostgreSQL store: one ``traces`` row per trace, spans packed in one ``bytea``.

The layout is SQLite's (:mod:`logwright.store.sqlite_traces`, :mod:`logwright.store.trace_blob`).
The writer functions run inside the writer's transaction; a statement PostgreSQL refuses
because of one trace (a NUL character in a text, say) is retried row by row inside
savepoints, and a row still refused keeps only its index columns and a ``logwright.error``
tag, as in SQLite. Faults of the server itself propagate, and the writer retries them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import psycopg

from logwright.store.sqlite_traces import ERROR_TAG, _bare, _report
from logwright.store.trace_blob import append_spans, pack_record

_logger = logging.getLogger(__name__)

COLS = (
    "trace_id, experiment_id, run_id, name, status, start_ns, end_ns, input_tokens, "
    "output_tokens, total_tokens, span_count, inputs, outputs, spans"
)
_UPSERT = (
    f"INSERT INTO traces ({COLS}) VALUES ({', '.join(['%s'] * 14)}) ON CONFLICT (trace_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in COLS.split(", ")[1:])
)
_UPSERT_TAG = ("INSERT INTO trace_tags (trace_id, key, value) VALUES (%s, %s, %s) "
               "ON CONFLICT (trace_id, key) DO UPDATE SET value = EXCLUDED.value")
# What one row can make PostgreSQL or psycopg refuse (not a fault of the server or network).
_ROW_ERRORS = (psycopg.DataError, psycopg.IntegrityError, psycopg.ProgrammingError, OverflowError,
               ValueError, TypeError)
_MAX_ROWS = 1000


def apply_traces(cur: psycopg.Cursor, rows: Sequence[tuple]) -> None:
    """Write finished traces (``(state,)`` rows): one upserted row each, then their tags."""
    records = [pack_record(state.to_record()) for (state,) in rows]  # zlib here, in the writer
    tags = [(r.trace_id, k, v) for r in records if r.tags for k, v in r.tags]
    for start in range(0, len(records), _MAX_ROWS):
        piece = records[start:start + _MAX_ROWS]
        try:
            with cur.connection.transaction():
                cur.executemany(_UPSERT, [r[:14] for r in piece])
        except _ROW_ERRORS:  # one of these rows is refused: find it, keep the others
            for record in piece:
                _insert_one(cur, record)
    if tags:
        try:
            with cur.connection.transaction():
                cur.executemany(_UPSERT_TAG, tags)
        except _ROW_ERRORS:
            for row in tags:
                try:
                    with cur.connection.transaction():
                        cur.execute(_UPSERT_TAG, row)
                except _ROW_ERRORS as exc:
                    _report(exc, "storing a trace tag")


def _insert_one(cur: psycopg.Cursor, record: Any) -> None:
    try:
        with cur.connection.transaction():
            cur.execute(_UPSERT, record[:14])
    except _ROW_ERRORS as exc:
        try:
            with cur.connection.transaction():
                cur.execute(_UPSERT, _bare(record))
                note = f"the spans of this trace could not be stored: {type(exc).__name__}: {exc}"
                cur.execute(_UPSERT_TAG, (record.trace_id, ERROR_TAG, note[:2000]))
        except _ROW_ERRORS as again:
            _logger.warning("logwright could not store trace %r at all: %r", record.trace_id, again)
        _report(exc, "storing a trace")


def apply_late_spans(cur: psycopg.Cursor, rows: Sequence[tuple]) -> None:
    """Append spans that ended after their trace was written (``(state, span)`` rows)."""
    groups: dict[str, tuple[Any, list[bytes], list[tuple]]] = {}
    for state, span in rows:
        data, tokens = state.late_record(span)
        group = groups.setdefault(state.trace_id, (state, [], []))
        group[1].append(data)
        group[2].append(tokens)
    for trace_id, (state, spans, tokens) in groups.items():
        found = cur.execute("SELECT spans FROM traces WHERE trace_id = %s FOR UPDATE", (trace_id,)).fetchone()
        if found is None:
            apply_traces(cur, [(state,)])
            found = cur.execute("SELECT spans FROM traces WHERE trace_id = %s FOR UPDATE", (trace_id,)).fetchone()
            if found is None:
                continue
        _append(cur, trace_id, found[0], spans, tokens)


def _append(cur: psycopg.Cursor, trace_id: str, blob: Any, spans: list[bytes], tokens: list[tuple]) -> None:
    totals: list[int | None] = [None, None, None]
    for triple in tokens:
        for i, value in enumerate(triple):
            if value is not None:
                totals[i] = min(2**63 - 1, (totals[i] or 0) + value)
    grow = ", ".join(
        f"{col} = CASE WHEN %s::numeric IS NULL THEN {col} ELSE "
        f"LEAST(9223372036854775807, COALESCE({col}, 0)::numeric + %s::numeric)::bigint END"
        for col in ("input_tokens", "output_tokens", "total_tokens")
    )
    args = (append_spans(bytes(blob) if blob is not None else None, spans), len(spans),
            *(x for t in totals for x in (t, t)), trace_id)
    try:
        with cur.connection.transaction():
            cur.execute(f"UPDATE traces SET spans = %s, span_count = span_count + %s, {grow} WHERE trace_id = %s",
                        args)
    except _ROW_ERRORS as exc:
        _report(exc, "storing a late span")
