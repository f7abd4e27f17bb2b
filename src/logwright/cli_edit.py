"""``logwright`` commands that change the store: edit, delete and restore runs and experiments,
purge deleted runs (``gc``) and download artifacts.

Registered by :mod:`logwright.cli` like the other plugins. Every run argument takes a
full id or a unique prefix of one; every experiment argument a name or an id. Writes
go through :class:`~logwright.client.Client` and the Store protocol, and are flushed
before the command returns. ``runs export`` lives in :mod:`logwright.cli_export`.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from logwright.cli_options import UsageError, resolve_run_id

__all__ = ["register"]


def _client(args: argparse.Namespace) -> Any:
    from logwright.client import Client

    return Client(args.store)


def _subcommands(commands: argparse._SubParsersAction, name: str) -> argparse._SubParsersAction:
    """The sub-command action of an existing command (``runs``, ``experiments``)."""
    parser = commands.choices[name]
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def _runs(client: Any, refs: list[str]) -> list[str]:
    """Full run ids of ``refs`` (ids or unique prefixes); RunNotFound for one that matches nothing."""
    from logwright.exceptions import RunNotFound

    out = []
    for ref in refs:
        run_id = resolve_run_id(client.store, ref)
        if client.store.run_exists(run_id) is None:
            raise RunNotFound(ref)
        out.append(run_id)
    return out


def _tag_pairs(items: list[str]) -> dict[str, str]:
    tags = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"expected KEY=VALUE, got {item!r}")
        tags[key] = value
    return tags


# -- runs ------------------------------------------------------------------------------


def cmd_runs_lifecycle(args: argparse.Namespace) -> int:
    """Delete (hide) or restore runs."""
    client = _client(args)
    for run_id in _runs(client, args.run_ids):
        (client.delete_run if args.action == "delete" else client.restore_run)(run_id)
        print(f"{'deleted' if args.action == 'delete' else 'restored'} run {run_id}")
    if args.action == "delete":
        print("(`logwright runs restore ID` brings a run back; `logwright gc` purges deleted runs for good)")
    return 0


def cmd_runs_tag(args: argparse.Namespace) -> int:
    """Set and remove tags of one run."""
    client = _client(args)
    (run_id,) = _runs(client, [args.run_id])
    tags = _tag_pairs(args.tags)
    if not tags and not args.delete:
        raise UsageError("give KEY=VALUE tags to set, or --delete KEY")
    if tags:
        client.set_tags(run_id, tags)
    for key in args.delete:
        client.delete_tag(run_id, key)
    client.flush()
    shown = [f"{k}={v}" for k, v in tags.items()] + [f"-{k}" for k in args.delete]
    print(f"run {run_id}: {' '.join(shown)}")
    return 0


def cmd_runs_rename(args: argparse.Namespace) -> int:
    """Rename a run."""
    if not args.name.strip():
        raise UsageError("a run name must not be empty")
    client = _client(args)
    (run_id,) = _runs(client, [args.run_id])
    client.update_run(run_id, name=args.name.strip())
    client.flush()
    print(f"run {run_id} is now {args.name.strip()!r}")
    return 0


def cmd_runs_describe(args: argparse.Namespace) -> int:
    """Set a run's description (Markdown notes); ``-`` reads it from standard input."""
    client = _client(args)
    (run_id,) = _runs(client, [args.run_id])
    text = sys.stdin.read() if args.text == "-" else args.text
    client.update_run(run_id, description=text)
    client.flush()
    print(f"run {run_id}: description {'cleared' if not text else 'set'}")
    return 0


# -- experiments -----------------------------------------------------------------------


def _experiment(client: Any, ref: str) -> Any:
    """The experiment named or numbered ``ref`` (deleted ones too)."""
    return client.get_experiment(client._experiment_id(ref))


def cmd_experiments_create(args: argparse.Namespace) -> int:
    """Create an experiment (an existing name is an error)."""
    client = _client(args)
    found = client.get_experiment_by_name(args.name)
    if found is not None:
        raise UsageError(f"experiment {args.name!r} already exists (id {found.experiment_id}, "
                         f"{found.lifecycle_stage})")
    exp_id = client.create_experiment(args.name, description=args.description)
    print(f"created experiment {args.name!r} (id {exp_id})")
    return 0


def cmd_experiments_rename(args: argparse.Namespace) -> int:
    """Rename an experiment."""
    client = _client(args)
    exp = _experiment(client, args.experiment)
    try:
        client.update_experiment(exp.experiment_id, name=args.name)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(f"experiment {exp.experiment_id} renamed from {exp.name!r} to {args.name.strip()!r}")
    return 0


def cmd_experiments_lifecycle(args: argparse.Namespace) -> int:
    """Delete (hide) or restore an experiment."""
    client = _client(args)
    exp = _experiment(client, args.experiment)
    if args.action == "delete":
        client.delete_experiment(exp.experiment_id)
    else:
        client.restore_experiment(exp.experiment_id)
    print(f"{args.action}d experiment {exp.name!r} (id {exp.experiment_id})")
    return 0


# -- gc ----------------------------------------------------------------------------------


def _deleted_runs(client: Any, args: argparse.Namespace) -> list[Any]:
    if args.run_ids:
        runs = [client.store.get_run(r) for r in _runs(client, args.run_ids)]
        alive = [r.info.run_id for r in runs if r.info.lifecycle_stage != "deleted"]
        if alive:
            raise UsageError(f"run {alive[0]} is not deleted: `logwright runs delete` it first")
        return runs
    experiments = [client._experiment_id(args.experiment)] if args.experiment else None
    return list(client.store.search_runs(experiments, max_results=1_000_000, view="deleted"))


def _registered(client: Any, run_id: str) -> list[str]:
    """``name vN`` of each registered model version logged by the run (gc keeps those runs)."""
    versions = client.store.search_model_versions(f"run_id = '{run_id}'")
    return [f"{v.name} v{v.version}" for v in versions]


def _confirm(question: str) -> bool:
    try:
        answer = input(question)
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def cmd_gc(args: argparse.Namespace) -> int:
    """Purge deleted runs and their artifacts for good, after a confirmation."""
    from logwright.artifacts.removal import remove_tree

    client = _client(args)
    runs = _deleted_runs(client, args)
    keep = {r.info.run_id: _registered(client, r.info.run_id) for r in runs}
    for run_id, versions in keep.items():
        if versions:
            print(f"keeping run {run_id}: registered as {', '.join(versions)} (delete those versions first)")
    runs = [r for r in runs if not keep[r.info.run_id]]
    if not runs:
        print("no deleted runs to purge")
        return 0
    print(f"{len(runs)} deleted run(s) will be purged for good, with their params, metrics, tags and artifacts:")
    for run in runs[:20]:
        print(f"  {run.info.run_id}  {run.info.run_name or ''}")
    if len(runs) > 20:
        print(f"  ... and {len(runs) - 20} more")
    if args.dry_run:
        print("(dry run: nothing purged)")
        return 0
    if not args.yes and not _confirm("Purge them? This cannot be undone [y/N] "):
        print("nothing purged")
        return 1
    locations = [client.store.artifact_dir(r.info.experiment_id, r.info.run_id) for r in runs]
    for run, location in zip(runs, locations, strict=True):
        if location.startswith(("http://", "https://")):
            raise UsageError("gc cannot purge through a tracking server: run it on the server's machine, "
                             "with --store naming the server's own store (database and artifacts)")
        if os.path.basename(location.rstrip("/")) != run.info.run_id:  # never remove anything but a run folder
            raise UsageError(f"run {run.info.run_id}'s artifact location {location!r} is not its own folder")
    files = sum(remove_tree(location) for location in locations)
    purged = client.store.purge_runs([r.info.run_id for r in runs])
    print(f"purged {len(purged)} run(s) and {files} artifact file(s)")
    return 0


# -- artifacts ---------------------------------------------------------------------------


def _artifacts(client: Any, ref: str) -> tuple[str, Any]:
    """(run id, artifact repository) of a run, deleted ones too (their files stay until gc)."""
    from logwright.artifacts import for_uri

    (run_id,) = _runs(client, [ref])
    experiment_id = client.store.run_exists(run_id)[0]
    return run_id, for_uri(client.store.artifact_dir(experiment_id, run_id))


def cmd_artifacts_download(args: argparse.Namespace) -> int:
    """Copy a run's artifact (a file or folder; the whole run by default) to a local folder."""
    run_id, repo = _artifacts(_client(args), args.run_id)
    dest = os.path.abspath(args.dest)
    if not args.path:  # the whole run: its contents go straight into DEST
        entries = repo.list("")
        if not entries:
            raise FileNotFoundError(f"run {run_id} has no artifacts")
        for entry in entries:
            repo.download(entry.path, dest)
        print(dest)
        return 0
    if repo.kind(args.path) is None:
        raise FileNotFoundError(f"run {run_id} has no artifact {args.path!r}")
    print(repo.download(args.path, dest))
    return 0


def cmd_artifacts_list(args: argparse.Namespace) -> int:
    """List a run's artifacts under a path."""
    _, repo = _artifacts(_client(args), args.run_id)
    for entry in repo.list(args.path or None):
        size = "" if entry.is_dir else f"  ({entry.file_size} bytes)"
        print(f"{entry.path}{'/' if entry.is_dir else ''}{size}")
    return 0


# -- registration --------------------------------------------------------------------------


def _register_runs(runs: argparse._SubParsersAction) -> None:
    for action, text in (("delete", "hide runs (kept until `logwright gc`)"), ("restore", "bring deleted runs back")):
        p = runs.add_parser(action, help=text)
        p.add_argument("run_ids", nargs="+", metavar="RUN", help="run ids or unique prefixes")
        p.set_defaults(func=cmd_runs_lifecycle, action=action)
    p = runs.add_parser("tag", help="set (KEY=VALUE) or remove (--delete KEY) tags of a run")
    p.add_argument("run_id", metavar="RUN", help="a run id or a unique prefix")
    p.add_argument("tags", nargs="*", metavar="KEY=VALUE")
    p.add_argument("--delete", action="append", default=[], metavar="KEY", help="remove this tag (repeatable)")
    p.set_defaults(func=cmd_runs_tag)
    p = runs.add_parser("rename", help="give a run a new name")
    p.add_argument("run_id", metavar="RUN", help="a run id or a unique prefix")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(func=cmd_runs_rename)
    p = runs.add_parser("describe", help="set a run's description (Markdown notes shown on its page)")
    p.add_argument("run_id", metavar="RUN", help="a run id or a unique prefix")
    p.add_argument("text", metavar="TEXT", help="the description; '' clears it, - reads standard input")
    p.set_defaults(func=cmd_runs_describe)


def _register_experiments(exps: argparse._SubParsersAction) -> None:
    p = exps.add_parser("create", help="create an empty experiment")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--description", default=None)
    p.set_defaults(func=cmd_experiments_create)
    p = exps.add_parser("rename", help="give an experiment a new name (its runs and artifacts stay)")
    p.add_argument("experiment", metavar="EXPERIMENT", help="its name or id")
    p.add_argument("name", metavar="NEW_NAME")
    p.set_defaults(func=cmd_experiments_rename)
    for action, text in (("delete", "hide an experiment and its runs"), ("restore", "bring a deleted experiment back")):
        p = exps.add_parser(action, help=text)
        p.add_argument("experiment", metavar="EXPERIMENT", help="its name or id")
        p.set_defaults(func=cmd_experiments_lifecycle, action=action)


def register(commands: argparse._SubParsersAction) -> None:
    """Add the edit commands to ``runs`` and ``experiments``, and the ``gc`` and ``artifacts`` commands."""
    from logwright import cli_export

    _register_runs(_subcommands(commands, "runs"))
    cli_export.register(_subcommands(commands, "runs"))
    _register_experiments(_subcommands(commands, "experiments"))
    p = commands.add_parser("gc", help="purge deleted runs and their artifacts for good (asks first)")
    p.add_argument("--run-ids", nargs="+", default=None, metavar="RUN",
                   help="only these deleted runs (ids or unique prefixes); default: every deleted run")
    p.add_argument("-e", "--experiment", default=None, metavar="NAME_OR_ID", help="only the deleted runs of this one")
    p.add_argument("--dry-run", action="store_true", help="list what would be purged, purge nothing")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_gc)
    arts = commands.add_parser("artifacts", help="list and download a run's artifacts").add_subparsers(
        dest="sub", metavar="SUB")
    p = arts.add_parser("download", help="copy a run's artifact file or folder (default: all of them) here")
    p.add_argument("run_id", metavar="RUN", help="a run id or a unique prefix")
    p.add_argument("path", metavar="PATH", nargs="?", default="", help="a file or folder in the run (default: all)")
    p.add_argument("-d", "--dest", default=".", metavar="DEST", help="the local folder to copy into (default: .)")
    p.set_defaults(func=cmd_artifacts_download)
    p = arts.add_parser("list", help="a run's artifacts under PATH")
    p.add_argument("run_id", metavar="RUN", help="a run id or a unique prefix")
    p.add_argument("path", metavar="PATH", nargs="?", default="")
    p.set_defaults(func=cmd_artifacts_list)
