"""Reading traces back: by id, by search, and the last one this process finished.

Writing happens in the store: when a root span ends, the trace state goes to
``store.log_trace`` and the store's writer stores it as one row (see
:mod:`logwright.tracing.records`). Reads go through the store's
``get_trace``/``search_traces``; :func:`get_trace`, :func:`search_traces` and
:func:`get_last_trace` use the current tracking URI, :func:`read_trace` and
:func:`query_traces` any store (the UI and CLI use them).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from logwright import fluent
from logwright.entities import Trace
from logwright.exceptions import ExperimentNotFound, TraceNotFound

_logger = logging.getLogger(__name__)


def read_trace(store: Any, trace_id: str) -> Trace | None:
    """The trace with this id in ``store``, or None (``store.get_trace``)."""
    return store.get_trace(str(trace_id))


def query_traces(store: Any, experiment_ids: Sequence[str] | None = None, run_id: str | None = None,
                 filter_string: str | None = None, order_by: Sequence[str] | str | None = None,
                 max_results: int = 100, offset: int = 0) -> list[Trace]:
    """Traces of ``store`` matching the filter language, ordered and paged (``store.search_traces``).

    Raises:
        InvalidFilter: the filter or an order_by clause is malformed.
    """
    return store.search_traces(experiment_ids, run_id, filter_string, order_by, max_results, offset)


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
    found = store.get_trace(str(trace_id))
    if found is None:
        from logwright.tracing import destination

        destination.wait()
        store.flush()
        found = store.get_trace(str(trace_id))
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
    return client.store.search_traces(ids, run_id, filter, order_by, max_results, 0)


def get_last_trace() -> Trace | None:
    """The last trace whose root span ended in this process (written out first), or None."""
    from logwright.tracing import destination
    from logwright.tracing.spans import _last

    destination.wait()
    if not _last:
        return None
    trace = _last[0]
    trace.store.flush()
    return trace.store.get_trace(trace.trace_id)
