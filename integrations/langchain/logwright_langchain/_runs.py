"""The LangChain runs being recorded, and which of their spans is current.

One process-wide map from LangChain's ``run_id`` to its span, shared by every handler
instance, thread and asyncio task (single dict operations are atomic). While a
chain, tool or retriever runs, its span is the current span of the context that
started it, so ``@logwright.trace`` code inside nests under it. LangChain's batch
paths start several runs in one context and end them in any order, so ending a run
restores the span that was current before it, skipping runs that have ended
meanwhile, and never leaves an ended span current.
"""

from __future__ import annotations

from typing import Any

from logwright.tracing import get_current_span, set_current_span

runs: dict[Any, Run] = {}  # LangChain run_id (its int for a UUID) -> run
current_runs: dict[str, Run] = {}  # span_id -> run, for spans made current here


class Run:
    """One LangChain run being recorded: its span and what was current before it."""

    __slots__ = ("span", "outer", "prev", "prev_run", "streamed")

    def __init__(self, span: Any, outer: Any) -> None:
        self.span = span
        self.outer = outer  # the span outside LangChain the trace hangs under (or None)
        self.prev: Any = None
        self.prev_run: Run | None = None
        self.streamed = False


def outer_span() -> Any:
    """The current span outside LangChain (a user's ``@trace`` span), skipping our own."""
    span = get_current_span()
    while span is not None:
        run = current_runs.get(span.span_id)
        if run is None:
            return None if span.end_ns is not None else span
        span = run.outer
    return None


def make_current(run: Run) -> None:
    """Make the run's span current in this context, remembering what was."""
    prev = get_current_span()
    run.prev = prev
    run.prev_run = current_runs.get(prev.span_id) if prev is not None else None
    current_runs[run.span.span_id] = run
    set_current_span(run.span)


def restore_current(run: Run) -> None:
    """Give the current span back, skipping runs that ended out of order (batches)."""
    span = run.span
    if current_runs.pop(span.span_id, None) is None or get_current_span() is not span:
        return
    target, back = run.prev, run.prev_run
    while target is not None and target.end_ns is not None:
        if back is None:
            target = None
            break
        target, back = back.prev, back.prev_run
    set_current_span(target)
