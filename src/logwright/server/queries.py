"""What the web UI reads, on top of the Store protocol (no SQL here).

The page queries themselves (runs table, column picker, trace lists) are Store
methods (:mod:`logwright.store.base`); this module only combines them into what a
page shows. ``RunRow`` and ``RunsPage`` are re-exported for the views.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from logwright.entities import TraceInfo
from logwright.store.base import RunRow, RunsPage, Store

__all__ = ["RunRow", "RunsPage", "experiments", "get_trace", "last_trace_time"]


def last_trace_time(store: Store, experiment_id: str) -> int | None:
    """When the experiment's newest trace (by start) ended, or started if still open (epoch ms)."""
    rows, _ = store.traces_page(experiment_id, None, None, None, 0, 1)
    if not rows:
        return None
    return (rows[0]["end_ns"] or rows[0]["start_ns"]) // 1_000_000


def experiments(store: Store) -> list[dict[str, Any]]:
    """Active experiments with run count, trace count and last activity (epoch ms): the
    latest of its runs' activity and its newest trace."""
    stats = store.experiment_stats()
    traces = store.trace_counts()
    out = []
    for exp in store.search_experiments():
        count, last = stats.get(exp.experiment_id, (0, None))
        if traces.get(str(exp.experiment_id)):
            last = max(t for t in (last, last_trace_time(store, exp.experiment_id)) if t is not None)
        out.append(
            {
                "experiment_id": exp.experiment_id,
                "name": exp.name,
                "description": exp.description,
                "run_count": count,
                "trace_count": traces.get(str(exp.experiment_id), 0),
                "last_activity": last or exp.last_update_time,
            }
        )
    return out


def _summary(info: TraceInfo) -> dict[str, Any]:
    """The same summary a ``traces_page`` row holds, from a trace's info."""
    end = info.end_ns
    return {
        "trace_id": info.trace_id,
        "experiment_id": str(info.experiment_id),
        "run_id": info.run_id,
        "name": info.name,
        "status": info.status,
        "start_ns": info.start_ns,
        "end_ns": end,
        "latency_ms": None if end is None else (end - info.start_ns) / 1e6,
        "input_tokens": info.input_tokens,
        "output_tokens": info.output_tokens,
        "total_tokens": info.total_tokens,
        "span_count": info.span_count,
        "tags": dict(info.tags),
    }


def get_trace(store: Store, trace_id: str) -> dict[str, Any] | None:
    """A trace summary with its tags and ``spans`` (dicts, parents before children), or None."""
    from logwright.tracing.storage import read_trace

    trace = read_trace(store, trace_id)
    if trace is None:
        return None
    spans = [{f.name: getattr(s, f.name) for f in dataclasses.fields(s)} for s in trace.spans]
    return {**_summary(trace.info), "spans": spans}
