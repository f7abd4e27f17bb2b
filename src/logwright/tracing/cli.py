"""``logwright traces list`` and ``logwright traces show ID``.

The main CLI (``logwright.cli``) calls :func:`register` with its argparse
subparsers; each subcommand sets ``func(args) -> int`` as its default.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import sys

from logwright.exceptions import LogwrightError

_logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``traces`` command (``list`` and ``show``) to the main CLI's subparsers.

    Args:
        subparsers: what ``ArgumentParser.add_subparsers()`` returned.

    Returns:
        The ``traces`` parser.
    """
    parser = subparsers.add_parser("traces", help="list and show GenAI traces")
    sub = parser.add_subparsers(dest="traces_command", metavar="{list,show}")
    sub.required = True
    ls = sub.add_parser("list", help="traces, newest first")
    ls.add_argument("--experiment", help="experiment name or id (default: every experiment)")
    ls.add_argument("--run", help="only the traces of this run id")
    ls.add_argument("--filter", help="e.g. \"status = 'ERROR' and latency_ms > 500\"")
    ls.add_argument("--order-by", action="append", help="e.g. 'latency_ms DESC' (repeatable)")
    ls.add_argument("--max-results", type=int, default=50, help="at most this many (default 50)")
    ls.set_defaults(func=list_command)
    show = sub.add_parser("show", help="one trace as a tree")
    show.add_argument("trace_id", metavar="ID", help="a trace id (or a unique prefix of one)")
    show.set_defaults(func=show_command)
    return parser


add_parser = register


def _store(args: argparse.Namespace):  # noqa: ANN202 - SqliteStore, imported lazily
    from logwright import fluent

    uri = getattr(args, "tracking_uri", None)
    if uri:
        fluent.set_tracking_uri(uri)
    return fluent._client()


def _time(ns: int) -> str:
    return datetime.datetime.fromtimestamp(ns / 1e9).strftime("%Y-%m-%d %H:%M:%S")


def list_command(args: argparse.Namespace) -> int:
    """Print a table of traces; returns the exit status."""
    from logwright.tracing.storage import _experiment_ids, query_traces

    try:
        client = _store(args)
        ids = _experiment_ids(client, args.experiment) if args.experiment else None
        traces = query_traces(client.store, ids, args.run, args.filter, args.order_by, args.max_results)
    except LogwrightError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{'TRACE ID':32}  {'STARTED':19}  {'STATUS':6}  {'LATENCY':>10}  {'SPANS':>5}  {'TOKENS':>7}  NAME")
    for trace in traces:
        info = trace.info
        latency = "-" if info.latency_ms is None else f"{info.latency_ms:.1f} ms"
        tokens = "-" if info.total_tokens is None else str(info.total_tokens)
        print(f"{info.trace_id:32}  {_time(info.start_ns):19}  {info.status:6}  {latency:>10}  "
              f"{info.span_count:>5}  {tokens:>7}  {info.name or ''}")
    return 0


def show_command(args: argparse.Namespace) -> int:
    """Print one trace as a tree; returns the exit status (1 when not found)."""
    from logwright.tracing.storage import read_trace

    try:
        client = _store(args)
        trace_id = args.trace_id
        found = read_trace(client.store, trace_id)
        if found is None:
            ids = client.store.trace_ids_like(trace_id, limit=2)
            if len(ids) == 1:
                found = read_trace(client.store, ids[0])
    except LogwrightError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if found is None:
        print(f"error: trace {args.trace_id!r} not found", file=sys.stderr)
        return 1
    print(found)
    return 0
