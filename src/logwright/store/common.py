"""What the SQLite and the PostgreSQL store share: no database driver is imported here.

The read-error decorator's skeleton (each backend says how its driver's errors map to
the protocol's), the page queries' filter-and-scope building (each backend gives its
SQL dialect), trace summaries, and the writer's backend-neutral steps (grouping a
batch by kind, the write-once param conflict, auto-step numbering).
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from logwright.entities import RunInfo
from logwright.exceptions import InvalidFilter, LogwrightError, ParamConflict
from logwright.search import (
    compile_run_filter,
    compile_run_order_by,
    compile_trace_filter,
    compile_trace_order_by,
)
from logwright.store.base import RunRow

_logger = logging.getLogger(__name__)

_F = TypeVar("_F", bound=Callable[..., Any])
_MARKS = {"sqlite": "?", "postgres": "%s"}


def read_errors(translate: Callable[[Any, Exception], Exception | None]) -> Callable[[_F], _F]:
    """A decorator for a store's read methods that turns failures into the protocol's errors.

    Protocol errors pass through; ``OverflowError`` and ``RecursionError`` (a filter too
    deep or holding a number out of range) become ``InvalidFilter``; any other exception
    goes to ``translate(store, exc)``, whose answer is raised from it (None: re-raised).

    Args:
        translate: the backend's mapping of its driver's errors.

    Returns:
        The decorator.
    """

    def decorate(fn: _F) -> _F:
        @functools.wraps(fn)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return fn(self, *args, **kwargs)
            except LogwrightError:
                raise
            except (OverflowError, RecursionError) as exc:
                raise InvalidFilter(f"the query is too large or holds a number out of range ({exc})",
                                    "", 0) from exc
            except Exception as exc:
                error = translate(self, exc)
                if error is None:
                    raise
                raise error from exc

        return wrapper  # type: ignore[return-value]

    return decorate


def trace_page_query(filter_string: str | None, order_by: str | None, experiment_id: str | None,
                     run_id: str | None, experiment_key: Callable[[str], int],
                     dialect: str) -> tuple[str, list, str, list]:
    """The WHERE condition and ORDER BY of a traces page, over ``traces`` aliased ``t``.

    Args:
        filter_string: the trace filter language, or None.
        order_by: one order clause, or None.
        experiment_id: only this experiment's traces, or None.
        run_id: only this run's traces, or None.
        experiment_key: the backend's experiment id check (raises ExperimentNotFound).
        dialect: ``sqlite`` or ``postgres``.

    Returns:
        (condition, its args, order, the order's args).
    """
    mark = _MARKS[dialect]
    where, args = compile_trace_filter(filter_string, dialect=dialect)
    order, order_args = compile_trace_order_by([order_by] if order_by else None, dialect=dialect)
    cond = f"({where})"
    if experiment_id is not None:
        cond += f" AND t.experiment_id = {mark}"
        args = [*args, experiment_key(experiment_id)]
    if run_id is not None:
        cond += f" AND t.run_id = {mark}"
        args = [*args, run_id]
    return cond, args, order, order_args


def runs_page_query(filter_string: str | None, order_by: str | None, exp_key: int, grouped: bool,
                    dialect: str) -> tuple[str, list, str, list]:
    """The WHERE condition and ORDER BY of a runs page, over ``runs`` aliased ``r``.

    Args:
        filter_string: the run filter language, or None.
        order_by: one order clause, or None.
        exp_key: the experiment's key.
        grouped: only top-level runs (their children are attached afterwards).
        dialect: ``sqlite`` or ``postgres``.

    Returns:
        (condition, its args, order, the order's args).
    """
    where, args = compile_run_filter(filter_string, dialect=dialect)
    order, order_args = compile_run_order_by([order_by] if order_by else None, dialect=dialect)
    cond = f"({where}) AND r.experiment_id = {_MARKS[dialect]} AND r.lifecycle = 'active'"
    args = [*args, exp_key]
    if grouped:
        cond += " AND r.parent_run_id IS NULL"
    return cond, args, order, order_args


def trace_summary(row: Sequence[Any]) -> dict[str, Any]:
    """A traces-page row (trace_id .. span_count) as the summary dict the UI shows."""
    start, end = row[5], row[6]
    return {
        "trace_id": row[0],
        "experiment_id": str(row[1]),
        "run_id": row[2],
        "name": row[3],
        "status": row[4],
        "start_ns": start,
        "end_ns": end,
        "latency_ms": None if end is None else (end - start) / 1e6,
        "input_tokens": row[7],
        "output_tokens": row[8],
        "total_tokens": row[9],
        "span_count": row[10],
        "tags": {},
    }


# -- the writer ------------------------------------------------------------------------


def group_ops(batch: Iterable[tuple]) -> dict[str, list[tuple]]:
    """A writer batch's operations by kind (``op[0]``), each kind's rows (``op[1:]``) in queue order."""
    groups: dict[str, list[tuple]] = {}
    for op in batch:
        groups.setdefault(op[0], []).append(op[1:])
    return groups


UPDATABLE_RUN_FIELDS = frozenset({"status", "end_time", "run_name", "description", "owner_host", "owner_pid",
                                  "owner_start", "heartbeat"})


def run_update_columns(fields: dict[str, Any]) -> list[str]:
    """The columns a queued run update sets; raises ValueError for one a run update may not touch.

    Column names go into the SQL text, so only these known names are ever accepted.
    """
    unknown = set(fields) - UPDATABLE_RUN_FIELDS
    if unknown:
        raise ValueError(f"cannot update run field(s) {sorted(unknown)}")
    return list(fields)


def param_conflict(conflicts: Sequence[tuple]) -> ParamConflict:
    """The error for the first (run_id, key, value, stored) write-once param conflict."""
    run_id, key, value, stored = conflicts[0]
    return ParamConflict(
        f"param {key!r} was already logged as {stored!r} in run {run_id} by another process; "
        f"{value!r} was not stored (params are write-once)"
    )


def number_steps(rows: Iterable[tuple], stored_next: Callable[[tuple[str, str]], int]) -> list[tuple]:
    """Give each ``(run_id, key, value, timestamp, step)`` row logged without a step its key's next step.

    The next step is one past the highest step stored or seen so far, in queue order.

    Args:
        rows: the metric rows, ``step`` None where it is to be numbered.
        stored_next: for a (run_id, key) first met, one past its highest stored step (0 if none).

    Returns:
        The rows, each with a step.
    """
    nxt: dict[tuple[str, str], int] = {}
    out = []
    for row in rows:
        slot = (row[0], row[1])
        n = nxt.get(slot)
        if n is None:
            n = stored_next(slot)
        step = row[4]
        if step is None:
            step = n
            row = (row[0], row[1], row[2], row[3], step)
        nxt[slot] = max(n, step + 1)
        out.append(row)
    return out


def jsonable(value: Any) -> Any:
    """``value`` with every container made a JSON list or object and anything else unknown its repr."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return repr(value)


def rejected_line(op: tuple, exc: BaseException) -> str:
    """The ``rejected.jsonl`` line (no newline) recording a set-aside writer operation."""
    record = {
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "pid": os.getpid(),
        "op": op[0],
        "args": jsonable(op[1:]),
        "error": f"{type(exc).__name__}: {exc}",
    }
    return json.dumps(record, ensure_ascii=True, default=repr)


def rejecter(path: str, describe: str) -> Callable[[tuple, BaseException], None]:
    """The writer's ``reject``: a set-aside operation goes to ``path`` (a local ``rejected.jsonl``),
    with one warning per kind of operation and failure."""
    warned: set[tuple[str, str]] = set()

    def reject(op: tuple, exc: BaseException) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(rejected_line(op, exc) + "\n")
        key = (op[0], type(exc).__name__)
        if key not in warned:
            warned.add(key)
            _logger.warning(
                "logwright could not store a %s operation in %s (%s: %s); it was set aside in %s "
                "and everything else was written", op[0], describe, type(exc).__name__, exc, path,
            )

    return reject


# -- rows ------------------------------------------------------------------------------


def run_info(row: Sequence[Any], artifact_uri: str) -> RunInfo:
    """A ``RunInfo`` from a runs row (run_id, experiment_id, run_name, status, start_time, end_time,
    parent_run_id, lifecycle, user, source, description, ...)."""
    return RunInfo(
        run_id=row[0], experiment_id=str(row[1]), run_name=row[2], status=row[3], start_time=row[4],
        end_time=row[5], parent_run_id=row[6], artifact_uri=artifact_uri,
        lifecycle_stage=row[7], user=row[8], source=row[9], description=row[10],
    )


def attach_children(by_id: dict[str, RunRow], rows: Iterable[Sequence[Any]], most: int) -> list[RunRow]:
    """Attach child rows (oldest first) to their parents in ``by_id``, at most ``most`` each.

    Returns:
        The children attached.
    """
    children = []
    for row in rows:
        child = RunRow(*row)
        parent = by_id[child.parent_run_id]
        if len(parent.children) < most:
            parent.children.append(child)
            children.append(child)
    return children
