"""``logwright`` command line: experiments, runs, traces, integrations and the web UI."""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import sys
from collections.abc import Sequence
from typing import Any

_PLUGINS = ("logwright.tracing.cli", "logwright.server.cli", "logwright.autolog.cli")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], max_width: int = 48) -> str:
    """Render rows as an aligned plain-text table (cells cut at ``max_width`` with '…')."""
    cells = [[_cell(v, max_width) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False))
    out = [line.rstrip(), "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip() for row in cells]
    return "\n".join(out)


def _cell(value: Any, max_width: int) -> str:
    if value is None:
        text = ""
    elif isinstance(value, float):
        text = f"{value:.6g}"
    else:
        text = str(value)
    text = text.replace("\n", " ")
    return text if len(text) <= max_width else text[: max_width - 1] + "…"


def fmt_time(ms: int | None) -> str:
    """Epoch milliseconds as local 'YYYY-MM-DD HH:MM:SS'."""
    if not ms:
        return ""
    return _dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def fmt_duration(start: int | None, end: int | None) -> str:
    """Human duration between two epoch-ms times."""
    if not start or not end:
        return ""
    seconds = (end - start) / 1000
    return f"{seconds:.1f}s" if seconds < 120 else f"{seconds / 60:.1f}min"


def _client(args: argparse.Namespace) -> Any:
    from logwright.client import Client

    return Client(args.store)


def cmd_experiments_list(args: argparse.Namespace) -> int:
    """Print every experiment with its run count and last activity."""
    client = _client(args)
    stats = client.store.experiment_stats()
    rows = []
    for exp in client.search_experiments(view="all" if args.all else "active"):
        count, last = stats.get(exp.experiment_id, (0, None))
        rows.append((exp.experiment_id, exp.name, count, fmt_time(last), exp.lifecycle_stage))
    print(table(["ID", "NAME", "RUNS", "LAST ACTIVITY", "STATE"], rows))
    return 0


def cmd_runs_list(args: argparse.Namespace) -> int:
    """Print the runs of an experiment (or all) matching a filter."""
    client = _client(args)
    runs = client.search_runs(
        args.experiment, args.filter, args.order_by or None, max_results=args.max_results
    )
    metric_keys = sorted({k for r in runs for k in r.data.metrics})[: args.metrics]
    headers = ["RUN ID", "NAME", "STATUS", "START", "DURATION", *metric_keys]
    rows = [
        (
            r.info.run_id, r.info.run_name, r.info.status, fmt_time(r.info.start_time),
            fmt_duration(r.info.start_time, r.info.end_time),
            *(r.data.metrics.get(k) for k in metric_keys),
        )
        for r in runs
    ]
    print(table(headers, rows, max_width=36))
    if runs.token:
        print(f"(more runs: --max-results {args.max_results * 2})")
    return 0


def cmd_runs_show(args: argparse.Namespace) -> int:
    """Print one run: info, params, latest metrics, tags, context, inputs and artifacts."""
    client = _client(args)
    run = client.get_run(args.run_id)
    info = run.info
    print(f"Run {info.run_id}  {info.run_name!r}  [{info.status}]")
    print(f"  experiment {info.experiment_id}   started {fmt_time(info.start_time)}   "
          f"duration {fmt_duration(info.start_time, info.end_time) or '-'}")
    if info.parent_run_id:
        print(f"  parent run {info.parent_run_id}")
    if info.description:
        print(f"  {info.description}")
    print(f"  artifacts {info.artifact_uri}")
    _section("Params", sorted(run.data.params.items()))
    _section("Metrics (latest)", sorted(run.data.metrics.items()))
    _section("Tags", sorted((k, v) for k, v in run.data.tags.items()))
    if run.context:
        print("\nContext")
        for line in _context_lines(run.context):
            print(f"  {line}")
    if run.inputs:
        print("\nInputs")
        for d in run.inputs:
            print(f"  {d.name}  digest={d.digest}  shape={d.shape or '-'}  context={d.context or '-'}")
    files = client.artifacts(info.run_id).walk()
    print("\nArtifacts" + ("" if files else "  (none)"))
    for f in files:
        print(f"  {f.path}  ({f.file_size} bytes)")
    return 0


def _context_lines(context: dict[str, Any]) -> list[str]:
    try:
        from logwright.context import format_context
    except ImportError:
        format_context = None
    if format_context is not None:
        return format_context(context)
    return [f"{k}: {v}" for k, v in sorted(context.items())]


def _section(title: str, items: list[tuple[str, Any]]) -> None:
    print(f"\n{title}" + ("" if items else "  (none)"))
    width = max((len(k) for k, _ in items), default=0)
    for key, value in items:
        shown = f"{value:.6g}" if isinstance(value, float) else " ".join(str(value).split())
        print(f"  {key.ljust(width)}  {shown}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with subcommands contributed by tracing, the UI and autolog."""
    parser = argparse.ArgumentParser(prog="logwright", description="Experiment tracking that writes itself.")
    parser.add_argument("--store", default=None, help="tracking URI (folder or sqlite:///file.db); "
                        "default: $LOGWRIGHT_TRACKING_URI or ./logwright-runs")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    exps = commands.add_parser("experiments", help="list experiments").add_subparsers(dest="sub", metavar="SUB")
    p = exps.add_parser("list", help="every experiment with run counts")
    p.add_argument("--all", action="store_true", help="include deleted experiments")
    p.set_defaults(func=cmd_experiments_list)
    runs = commands.add_parser("runs", help="list and show runs").add_subparsers(dest="sub", metavar="SUB")
    p = runs.add_parser("list", help="runs matching a filter")
    p.add_argument("--experiment", "-e", default=None, help="experiment name or id (default: all)")
    p.add_argument("--filter", "-f", default=None, help="e.g. \"metrics.acc > 0.9 and params.model = 'rf'\"")
    p.add_argument("--order-by", "-o", action="append", help="e.g. 'metrics.acc DESC' (repeatable)")
    p.add_argument("--max-results", "-n", type=int, default=50)
    p.add_argument("--metrics", type=int, default=4, help="how many metric columns to show")
    p.set_defaults(func=cmd_runs_list)
    p = runs.add_parser("show", help="one run in full")
    p.add_argument("run_id")
    p.set_defaults(func=cmd_runs_show)
    for name in _PLUGINS:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``logwright`` command."""
    import os

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.store:
        os.environ["LOGWRIGHT_TRACKING_URI"] = args.store
    os.environ.setdefault("LOGWRIGHT_QUIET", "1")
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    from logwright.exceptions import LogwrightError

    try:
        return int(func(args) or 0)
    except (LogwrightError, ValueError, FileNotFoundError) as exc:
        print(f"logwright: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `logwright runs list | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
