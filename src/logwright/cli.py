"""``logwright`` command line: experiments, runs, traces, integrations and the web UI."""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import sys
from collections.abc import Sequence
from typing import Any

from logwright.cli_options import UsageError, add_list_options, check_store, print_json, resolve_run_id

_PLUGINS = ("logwright.tracing.cli", "logwright.server.cli", "logwright.server.server_cli", "logwright.autolog.cli", "logwright.store.copy",
            "logwright.registry_cli", "logwright.cli_edit", "logwright.mlflow_io.cli")


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


_EXPERIMENT_ORDER = {"id": "experiment_id", "experiment_id": "experiment_id", "name": "name", "runs": "runs",
                     "traces": "traces", "last_activity": "last_activity"}


def cmd_experiments_list(args: argparse.Namespace) -> int:
    """Print the experiments with their run and trace counts and last activity.

    ``--filter`` takes the run filter language: only experiments with matching runs are
    listed, and RUNS counts those runs.
    """
    client = _client(args)
    view = "all" if args.all else "active"
    stats = _run_stats(client, args.filter) if args.filter else client.store.experiment_stats()
    traces = client.store.trace_counts()
    rows = []
    for exp in _experiments(client, args.experiment, view):
        count, last = stats.get(exp.experiment_id, (0, None))
        if args.filter and not count:
            continue
        rows.append({"experiment_id": exp.experiment_id, "name": exp.name, "runs": count,
                     "traces": traces.get(exp.experiment_id, 0), "last_activity": last,
                     "lifecycle_stage": exp.lifecycle_stage, "tags": exp.tags})
    rows = _order_rows(rows, args.order_by or ["id"], _EXPERIMENT_ORDER)[: args.max_results]
    if args.json:
        print_json(rows)
        return 0
    print(table(["ID", "NAME", "RUNS", "TRACES", "LAST ACTIVITY", "STATE"],
                [(r["experiment_id"], r["name"], r["runs"], r["traces"], fmt_time(r["last_activity"]),
                  r["lifecycle_stage"]) for r in rows]))
    return 0


def _experiments(client: Any, ref: str | None, view: str) -> list[Any]:
    """The experiments ``-e`` names: a name, an id or a name pattern with ``%``; None: all."""
    if ref is None or "%" in ref:
        return client.search_experiments(view=view, filter=ref)
    return [client.get_experiment(client._experiment_id(ref))]


def _run_stats(client: Any, filter_string: str) -> dict[str, tuple[int, int | None]]:
    """Per experiment id: (runs matching the filter, their last activity in epoch ms)."""
    stats: dict[str, tuple[int, int | None]] = {}
    for run in client.search_runs(None, filter_string, max_results=None):
        count, last = stats.get(run.info.experiment_id, (0, None))
        when = run.info.end_time or run.info.start_time
        stats[run.info.experiment_id] = (count + 1, max(last or 0, when or 0) or None)
    return stats


def _order_rows(rows: list[dict[str, Any]], clauses: Sequence[str], columns: dict[str, str]) -> list[dict[str, Any]]:
    """Sort table rows by ``NAME [ASC|DESC]`` clauses over ``columns`` (empty values last)."""
    keys = []
    for clause in clauses:
        words = clause.split()
        name = words[0].lower() if words else ""
        direction = words[1].upper() if len(words) == 2 else "ASC"
        if name not in columns or direction not in ("ASC", "DESC") or len(words) > 2:
            raise UsageError(f"cannot order by {clause!r}: use one of {', '.join(sorted(set(columns)))}, "
                             "then ASC or DESC")
        keys.append((columns[name], direction == "DESC"))
    for column, descending in reversed(keys):
        present = [r for r in rows if r[column] is not None]
        present.sort(key=lambda r, c=column: _sort_key(r[c]), reverse=descending)
        rows = present + [r for r in rows if r[column] is None]
    return rows


def _sort_key(value: Any) -> tuple[int, Any]:
    text = str(value)
    return (0, int(text)) if text.isdigit() else (1, text.lower()) if isinstance(value, str) else (0, value)


def cmd_runs_list(args: argparse.Namespace) -> int:
    """Print the runs of an experiment (or all) matching a filter, children under their parents."""
    client = _client(args)
    runs = client.search_runs(
        args.experiment, args.filter, order_by=args.order_by or None, max_results=args.max_results
    )
    names = {e.experiment_id: e.name for e in client.search_experiments(view="all")}
    if args.json:
        print_json([_run_json(r, names) for r in runs])
        return 0
    metric_keys = _metric_columns(runs, args.metrics)
    show_experiment = args.experiment is None
    headers = ["RUN ID", *(["EXPERIMENT"] if show_experiment else []), "NAME", "STATUS", "START", "DURATION",
               *metric_keys]
    rows = [
        (
            r.info.run_id, *([names.get(r.info.experiment_id, r.info.experiment_id)] if show_experiment else []),
            ("  " * depth + "└ " if depth else "") + (r.info.run_name or ""), r.info.status,
            fmt_time(r.info.start_time), fmt_duration(r.info.start_time, r.info.end_time),
            *(r.data.metrics.get(k) for k in metric_keys),
        )
        for depth, r in nest_runs(runs)
    ]
    print(table(headers, rows, max_width=36))
    if runs.token:
        print(f"(more runs: -n {args.max_results * 2})")
    return 0


def _metric_columns(runs: Sequence[Any], count: int) -> list[str]:
    """The ``count`` metric keys most of the runs have (ties alphabetical), shown alphabetically."""
    seen: dict[str, int] = {}
    for run in runs:
        for key in run.data.metrics:
            seen[key] = seen.get(key, 0) + 1
    return sorted(sorted(seen, key=lambda k: (-seen[k], k))[:count])


def nest_runs(runs: Sequence[Any]) -> list[tuple[int, Any]]:
    """Runs in display order with their depth: each child right under its parent when both are listed.

    Runs whose parent is not among ``runs`` stay where the search put them, at depth 0.
    """
    by_id = {r.info.run_id: r for r in runs}
    children: dict[str, list[Any]] = {}
    roots = []
    for run in runs:
        parent = run.info.parent_run_id
        if parent in by_id and parent != run.info.run_id:
            children.setdefault(parent, []).append(run)
        else:
            roots.append(run)
    out: list[tuple[int, Any]] = []
    seen: set[str] = set()
    stack = [(0, r) for r in reversed(roots)]
    while stack:
        depth, run = stack.pop()
        if run.info.run_id in seen:
            continue
        seen.add(run.info.run_id)
        out.append((depth, run))
        stack.extend((depth + 1, c) for c in reversed(children.get(run.info.run_id, [])))
    out += [(0, r) for r in runs if r.info.run_id not in seen]  # parent cycles: shown flat
    return out


def _run_json(run: Any, names: dict[str, str]) -> dict[str, Any]:
    info = run.info
    return {"run_id": info.run_id, "run_name": info.run_name, "experiment_id": info.experiment_id,
            "experiment": names.get(info.experiment_id), "status": info.status, "start_time": info.start_time,
            "end_time": info.end_time, "parent_run_id": info.parent_run_id, "params": run.data.params,
            "metrics": run.data.metrics, "tags": run.data.tags}


def cmd_runs_show(args: argparse.Namespace) -> int:
    """Print one run: info, params, latest metrics, tags, context, inputs and artifacts."""
    client = _client(args)
    run = client.get_run(resolve_run_id(client.store, args.run_id))
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
                        "default: $LOGWRIGHT_TRACKING_URI or ./logwright-runs. A --store where there is no "
                        "store is an error unless --create")
    parser.add_argument("--create", action="store_true", help="make a new, empty store at --store if there is none")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    exps = commands.add_parser("experiments", help="list experiments").add_subparsers(dest="sub", metavar="SUB")
    p = exps.add_parser("list", help="every experiment with run counts")
    add_list_options(p, "experiments", "only experiments with runs matching this run filter (RUNS counts them), "
                     "e.g. \"metrics.acc > 0.9\"", "name, id, runs, traces or last_activity, then ASC or DESC",
                     "an experiment name or id, or a name pattern with %% (default: all)")
    p.add_argument("--all", action="store_true", help="include deleted experiments")
    p.set_defaults(func=cmd_experiments_list)
    runs = commands.add_parser("runs", help="list and show runs").add_subparsers(dest="sub", metavar="SUB")
    p = runs.add_parser("list", help="runs matching a filter")
    add_list_options(p, "runs", "e.g. \"metrics.acc > 0.9 and params.model = 'rf'\"", "e.g. 'metrics.acc DESC'")
    p.add_argument("--metrics", type=int, default=4, help="how many metric columns to show")
    p.set_defaults(func=cmd_runs_list)
    p = runs.add_parser("show", help="one run in full")
    p.add_argument("run_id", metavar="RUN_ID", help="a run id or a unique prefix of one")
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
    from logwright.exceptions import InvalidFilter, LogwrightError

    try:
        check_store(args.store, args.create)
        return int(func(args) or 0)
    except (UsageError, InvalidFilter) as exc:
        print(f"logwright: {exc}", file=sys.stderr)
        return 2
    except (LogwrightError, ValueError, FileNotFoundError) as exc:
        print(f"logwright: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `logwright runs list | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
