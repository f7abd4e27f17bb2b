"""``logwright traces list`` and ``logwright traces show ID``.

The main CLI (``logwright.cli``) calls :func:`register` with its argparse
subparsers; each subcommand sets ``func(args) -> int`` as its default.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import sys

from logwright.cli_options import UsageError, add_list_options, print_json, resolve_id, resolve_run_id
from logwright.exceptions import InvalidFilter, LogwrightError

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
    add_list_options(ls, "traces", "e.g. \"status = 'ERROR' and latency_ms > 500\"", "e.g. 'latency_ms DESC'")
    ls.add_argument("-r", "--run", metavar="RUN_ID", help="only the traces of this run (an id or a unique prefix)")
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
        run_id = resolve_run_id(client.store, args.run) if args.run else None
        traces = query_traces(client.store, ids, run_id, args.filter, args.order_by, args.max_results)
    except LogwrightError as exc:
        print(f"logwright: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, (UsageError, InvalidFilter)) else 1
    if getattr(args, "json", False):
        print_json([_trace_json(t.info) for t in traces])
        return 0
    print(f"{'TRACE ID':32}  {'STARTED':19}  {'STATUS':6}  {'LATENCY':>10}  {'SPANS':>5}  {'TOKENS':>7}  NAME")
    for trace in traces:
        info = trace.info
        latency = "-" if info.latency_ms is None else f"{info.latency_ms:.1f} ms"
        tokens = "-" if info.total_tokens is None else str(info.total_tokens)
        print(f"{info.trace_id:32}  {_time(info.start_ns):19}  {info.status:6}  {latency:>10}  "
              f"{info.span_count:>5}  {tokens:>7}  {info.name or ''}")
    return 0


def _trace_json(info: object) -> dict:
    names = ("trace_id", "experiment_id", "run_id", "name", "status", "start_ns", "end_ns", "latency_ms",
             "span_count", "input_tokens", "output_tokens", "total_tokens", "tags")
    return {name: getattr(info, name) for name in names}


def show_command(args: argparse.Namespace) -> int:
    """Print one trace as a tree; returns the exit status (1 when not found, 2 for an ambiguous prefix)."""
    from logwright.tracing.storage import read_trace

    try:
        client = _store(args)
        found = read_trace(client.store, resolve_id(args.trace_id, client.store.trace_ids_like, "trace"))
    except UsageError as exc:
        print(f"logwright: {exc}", file=sys.stderr)
        return 2
    except LogwrightError as exc:
        print(f"logwright: error: {exc}", file=sys.stderr)
        return 2
    if found is None:
        print(f"logwright: error: trace {args.trace_id!r} not found", file=sys.stderr)
        return 1
    print(found)
    return 0
