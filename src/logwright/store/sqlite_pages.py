"""The web UI's page queries over the SQLite store (runs table, column picker, trace lists).

Mixed into :class:`~logwright.store.sqlite.SqliteStore`; every query is parameterized
and reads through the store's per-thread read connection.
"""

from __future__ import annotations


class PagesMixin:
    """``runs_page``, ``column_keys``, ``run_rows``, ``traces_page`` of the Store protocol."""
