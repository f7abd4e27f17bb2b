"""Traces in the SQLite store: writing finished traces and late spans, reading them back.

Mixed into :class:`~logwright.store.sqlite.SqliteStore`.
"""

from __future__ import annotations


class TracesMixin:
    """``get_trace``, ``search_traces``, ``trace_ids_like``, ``trace_counts`` of the Store protocol."""
