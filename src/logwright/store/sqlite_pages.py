"""The web UI's page queries over the SQLite store (runs table, column picker, trace lists).

Mixed into :class:`~logwright.store.sqlite.SqliteStore`; every query is parameterized
and reads through the store's per-thread read connection. The runs table reads only
the rows of the page it shows, so its cost does not grow with the number of runs
beyond one ``COUNT`` and one ordered index walk.

Errors follow the Store protocol: a filter or order clause that cannot be run (too
deep, too long, a number SQLite cannot hold) raises
:class:`~logwright.exceptions.InvalidFilter`; any other database failure raises
:class:`~logwright.exceptions.StoreError`.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from logwright.exceptions import ExperimentNotFound, InvalidFilter, LogwrightError, StoreError
from logwright.store.base import RunRow, RunsPage
from logwright.store.common import attach_children, runs_page_query, trace_page_query, trace_summary

_CHUNK = 500
_RECENT_RUNS_FOR_COLUMNS = 500
_MAX_CHILDREN = 200
_RUN_COLS = "r.run_id, r.run_name, r.status, r.start_time, r.end_time, r.source, r.user, r.parent_run_id"
_TRACE_COLS = (
    "t.trace_id, t.experiment_id, t.run_id, t.name, t.status, t.start_ns, t.end_ns, "
    "t.input_tokens, t.output_tokens, t.total_tokens, t.span_count"
)
# SQLite messages that mean "this statement is too big or too deep", i.e. the filter's fault.
_TOO_COMPLEX = ("too large", "too many", "stack overflow", "too big", "too complex", "too deep")
_LONG_NUMBER = re.compile(r"\d{19,}")


def _marks(items: Sequence[Any]) -> str:
    return ",".join("?" * len(items))


def _experiment_key(experiment_id: str) -> int:
    try:
        return int(experiment_id)
    except (TypeError, ValueError):
        raise ExperimentNotFound(experiment_id) from None


@contextlib.contextmanager
def _filter_errors(filter_string: str | None, order_by: str | None) -> Iterator[None]:
    """Turns what a hostile filter or order clause can make Python or SQLite raise into
    ``InvalidFilter``, and any other database failure into ``StoreError``."""
    text = filter_string or order_by or ""
    try:
        yield
    except LogwrightError:
        raise
    except RecursionError:
        raise InvalidFilter("the filter is nested too deeply", text, 0) from None
    except (OverflowError, ValueError):  # a number SQLite (or int()) cannot hold
        long_number = _LONG_NUMBER.search(text)
        position = long_number.start() if long_number else 0
        raise InvalidFilter("the filter holds a number too large to search", text, position) from None
    except sqlite3.OperationalError as exc:
        if any(part in str(exc).lower() for part in _TOO_COMPLEX):
            raise InvalidFilter(f"the filter is too long or too complex ({exc})", text, 0) from None
        raise StoreError(f"cannot read the store: {exc}") from exc
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read the store: {exc}") from exc


@contextlib.contextmanager
def _store_errors() -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read the store: {exc}") from exc


class PagesMixin:
    """``runs_page``, ``column_keys``, ``run_rows``, ``traces_page``, ``trace_counts``,
    ``trace_ids_like`` and ``get_metric_blobs`` of the Store protocol."""

    if TYPE_CHECKING:

        def read_db(self) -> sqlite3.Connection:
            """This thread's read connection (provided by SqliteStore)."""

        def reap_dead_runs(self, force: bool = False) -> list[str]:
            """End runs whose process died as KILLED (provided by RunsMixin)."""

    # -- runs ------------------------------------------------------------------------

    def column_keys(self, experiment_id: str) -> tuple[list[str], list[str]]:
        """Metric and param keys seen in the experiment's most recent runs (the column picker).

        Args:
            experiment_id: the experiment.

        Returns:
            (metric keys, param keys), each sorted.
        """
        recent = (
            "SELECT run_id FROM runs WHERE experiment_id = ? AND lifecycle = 'active' "
            "ORDER BY start_time DESC LIMIT ?"
        )
        args = (_experiment_key(experiment_id), _RECENT_RUNS_FOR_COLUMNS)
        with _store_errors():
            db = self.read_db()
            out = [
                [r[0] for r in db.execute(f"SELECT DISTINCT key FROM {table} WHERE run_id IN ({recent}) "
                                          "ORDER BY key", args)]
                for table in ("latest_metrics", "params")
            ]
        return out[0], out[1]

    def _fill_values(self, rows: list[RunRow], metric_keys: Sequence[str], param_keys: Sequence[str]) -> None:
        by_id = {r.run_id: r for r in rows}
        ids = list(by_id)
        db = self.read_db()
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            for table, keys, attr in (("latest_metrics", metric_keys, "metrics"), ("params", param_keys, "params")):
                for kstart in range(0, len(keys), _CHUNK):
                    kchunk = list(keys[kstart : kstart + _CHUNK])
                    sql = (f"SELECT run_id, key, value FROM {table} "
                           f"WHERE run_id IN ({_marks(chunk)}) AND key IN ({_marks(kchunk)})")
                    for rid, key, value in db.execute(sql, [*chunk, *kchunk]):
                        nan = value is None and attr == "metrics"
                        getattr(by_id[rid], attr)[key] = float("nan") if nan else value

    def _attach_children(self, parents: list[RunRow]) -> list[RunRow]:
        if not parents:
            return []
        db = self.read_db()
        ids = [p.run_id for p in parents]
        by_id = {p.run_id: p for p in parents}
        counts = db.execute(
            f"SELECT parent_run_id, COUNT(*) FROM runs WHERE parent_run_id IN ({_marks(ids)}) "
            "AND lifecycle = 'active' GROUP BY parent_run_id",
            ids,
        )
        for pid, n in counts:
            by_id[pid].child_count = n
        sql = (
            f"SELECT {_RUN_COLS} FROM runs r WHERE r.parent_run_id IN ({_marks(ids)}) "
            "AND r.lifecycle = 'active' ORDER BY r.start_time LIMIT ?"
        )
        return attach_children(by_id, db.execute(sql, [*ids, _MAX_CHILDREN * len(ids)]), _MAX_CHILDREN)

    def runs_page(
        self,
        experiment_id: str,
        filter_string: str | None,
        order_by: str | None,
        metric_keys: Sequence[str],
        param_keys: Sequence[str],
        offset: int = 0,
        limit: int = 100,
    ) -> RunsPage:
        """One page of an experiment's runs, with the chosen metric and param columns.

        Without a filter, top-level runs are paged and their children are attached to
        them (nested runs grouped under parents); with a filter, matching runs are
        listed flat.

        Args:
            experiment_id: the experiment.
            filter_string: the filter language, or None/empty for every run.
            order_by: one clause such as ``metrics.acc DESC``, or None.
            metric_keys: the metric columns to fill.
            param_keys: the param columns to fill.
            offset: rows to skip.
            limit: rows to return at most.

        Returns:
            The page, with the total number of matching (top-level) runs.

        Raises:
            InvalidFilter: the filter or order clause is malformed or too big to run.
            StoreError: the store cannot be read.
        """
        exp_key = _experiment_key(experiment_id)
        grouped = not (filter_string or "").strip()
        with _store_errors():
            self.reap_dead_runs()  # a run whose process died shows KILLED, not RUNNING
        with _filter_errors(filter_string, order_by):
            cond, args, order, order_args = runs_page_query(filter_string, order_by, exp_key, grouped, "sqlite")
            db = self.read_db()
            total = db.execute(f"SELECT COUNT(*) FROM runs r WHERE {cond}", args).fetchone()[0]
            sql = f"SELECT {_RUN_COLS} FROM runs r WHERE {cond} ORDER BY {order} LIMIT ? OFFSET ?"
            rows = [RunRow(*row) for row in db.execute(sql, [*args, *order_args, int(limit), int(offset)])]
        with _store_errors():
            shown = list(rows)
            if grouped:
                shown += self._attach_children(rows)
            self._fill_values(shown, metric_keys, param_keys)
        return RunsPage(rows, total, offset, limit, grouped)

    def run_rows(self, run_ids: Sequence[str]) -> list[RunRow]:
        """Runs-table rows for the given runs, in the given order (unknown ids are skipped).

        Args:
            run_ids: the runs.

        Returns:
            One row per known run, without metric or param values.
        """
        found: dict[str, RunRow] = {}
        with _store_errors():
            self.reap_dead_runs()
            db = self.read_db()
            for start in range(0, len(run_ids), _CHUNK):
                chunk = list(run_ids[start : start + _CHUNK])
                sql = f"SELECT {_RUN_COLS} FROM runs r WHERE r.run_id IN ({_marks(chunk)})"
                for row in db.execute(sql, chunk):
                    found[row[0]] = RunRow(*row)
        return [found[r] for r in run_ids if r in found]

    def get_metric_blobs(self, run_id: str, key: str) -> list[tuple[bytes, bytes, bytes]]:
        """A metric's stored chunks as (steps, values, timestamps) little-endian blobs.

        Steps and timestamps are int64, values float64; chunks come in write order, so
        steps are ascending within a chunk but not always across chunks. For readers
        that decode straight into numpy arrays; others use ``get_metric_series``.

        Args:
            run_id: the run.
            key: the metric key.

        Returns:
            One (steps, values, timestamps) triple of ``bytes`` per chunk.
        """
        with _store_errors():
            rows = self.read_db().execute(
                "SELECT steps, vals, timestamps FROM metric_chunks WHERE run_id = ? AND key = ? ORDER BY seq",
                (run_id, key),
            ).fetchall()
        return [(bytes(s), bytes(v), bytes(t)) for s, v, t in rows]

    # -- traces ----------------------------------------------------------------------

    def traces_page(
        self,
        experiment_id: str | None,
        filter_string: str | None = None,
        order_by: str | None = None,
        run_id: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of trace summaries (newest first by default) and the total that match.

        Args:
            experiment_id: only this experiment's traces, or None for every experiment.
            filter_string: the trace filter language, or None.
            order_by: one clause such as ``latency_ms DESC``, or None.
            run_id: only this run's traces, or None.
            offset: rows to skip.
            limit: rows to return at most.

        Returns:
            (summaries, total); a summary holds trace_id, experiment_id, run_id, name,
            status, start_ns, end_ns, latency_ms, token counts, span_count and tags.

        Raises:
            InvalidFilter: the filter or order clause is malformed or too big to run.
            StoreError: the store cannot be read.
        """
        with _filter_errors(filter_string, order_by):
            cond, args, order, order_args = trace_page_query(filter_string, order_by, experiment_id, run_id,
                                                             _experiment_key, "sqlite")
            db = self.read_db()
            total = db.execute(f"SELECT COUNT(*) FROM traces t WHERE {cond}", args).fetchone()[0]
            rows = db.execute(
                f"SELECT {_TRACE_COLS} FROM traces t WHERE {cond} ORDER BY {order} LIMIT ? OFFSET ?",
                [*args, *order_args, int(limit), int(offset)],
            ).fetchall()
        return [trace_summary(r) for r in rows], total

    def trace_counts(self) -> dict[str, int]:
        """Per experiment id: how many traces it has (experiments without any are absent)."""
        with _store_errors():
            rows = self.read_db().execute("SELECT experiment_id, COUNT(*) FROM traces GROUP BY experiment_id")
            return {str(exp): n for exp, n in rows}

    def trace_ids_like(self, prefix: str, limit: int = 2) -> list[str]:
        """Ids of traces that start with ``prefix`` (the CLI's short ids), at most ``limit``.

        Args:
            prefix: the start of a trace id; ``%`` and ``_`` in it match only themselves.
            limit: how many ids to return at most (2 tells a unique prefix from an ambiguous one).

        Returns:
            Matching trace ids, sorted.
        """
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with _store_errors():
            rows = self.read_db().execute(
                "SELECT trace_id FROM traces WHERE trace_id LIKE ? ESCAPE '\\' ORDER BY trace_id LIMIT ?",
                (pattern, int(limit)),
            )
            return [r[0] for r in rows]
