"""``logwright store copy SRC DST`` and ``logwright sync SRC DST`` on the command line (:mod:`logwright.store.copy`)."""

from __future__ import annotations

import argparse
import sys

from logwright.store.copy import Counts, copy_store


def register_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``logwright store copy SRC DST`` and ``logwright sync SRC DST`` to the command line."""
    store = subparsers.add_parser("store", help="copy a store").add_subparsers(dest="sub", metavar="SUB")
    p = store.add_parser("copy", help="copy a whole store (runs, metrics, traces, artifacts) into another",
                         description="Copy every experiment, run, param, tag, dataset input, metric point, "
                         "trace and artifact of SRC into DST (created if missing). Ids are kept; what DST "
                         "already holds is skipped, so a second copy copies nothing and a copy stopped by "
                         "Ctrl-C finishes when run again.")
    p.add_argument("src", metavar="SRC", help="source tracking URI (folder, sqlite:///file.db, ...)")
    p.add_argument("dst", metavar="DST", help="destination tracking URI")
    p.add_argument("--artifact-uri", default=None,
                   help="artifact root of experiments created in DST, a folder or s3://bucket/prefix "
                   "(default: $LOGWRIGHT_ARTIFACT_URI, else DST's own artifacts folder)")
    p.set_defaults(func=cmd_store_copy)
    p = subparsers.add_parser("sync", help="bring what is new in one store into another (an HPC node's folder "
                              "into the team store)",
                              description="Bring every experiment, run, param, tag, dataset input, metric "
                              "point, trace and artifact of SRC that DST lacks into DST: runs keep their ids, "
                              "experiments are matched by name, a run that went on logging since the last sync "
                              "gets its new points, status and files. Nothing is ever written twice, so sync "
                              "as often as you like; a sync stopped by Ctrl-C finishes when run again. DST must "
                              "already be a store unless --create.")
    p.add_argument("src", metavar="SRC", help="source tracking URI (folder, sqlite:///file.db, ...)")
    p.add_argument("dst", metavar="DST", help="destination tracking URI (folder, postgresql://..., https://...)")
    p.add_argument("-e", "--experiment", action="append", default=None, metavar="NAME",
                   help="sync only this experiment (repeat for more; default: all)")
    p.add_argument("--artifact-uri", default=None,
                   help="artifact root of experiments created in DST (default: $LOGWRIGHT_ARTIFACT_URI, else "
                   "DST's own)")
    p.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                   help="no progress bar (default: a bar on stderr when it is a terminal)")
    p.add_argument("--create", dest="create_dst", action="store_true", help="make DST if there is no store there")
    p.set_defaults(func=cmd_sync)


def cmd_store_copy(args: argparse.Namespace) -> int:
    """Run the copy; 130 after Ctrl-C (what was copied is kept: run again to finish)."""
    from logwright.cli_options import check_store

    check_store(args.src)
    counts = Counts()
    try:
        copy_store(args.src, args.dst, artifact_root(args.artifact_uri), counts=counts)
    except KeyboardInterrupt:
        return interrupted(counts)
    print(counts.line() if counts.total() else "nothing to copy: the destination already holds everything")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    """Run ``logwright sync``; 130 after Ctrl-C (what was synced is kept: run again to finish)."""
    from logwright.cli_options import check_store

    check_store(args.src)
    check_store(args.dst, args.create or args.create_dst)
    counts = Counts()
    try:
        copy_store(args.src, args.dst, artifact_root(args.artifact_uri), args.progress, counts, args.experiment)
    except KeyboardInterrupt:
        return interrupted(counts, "synced")
    print(counts.line("synced") if counts.total() else "nothing to sync: the destination already holds everything")
    return 0


def artifact_root(option: str | None) -> str | None:
    """``--artifact-uri``, else ``$LOGWRIGHT_ARTIFACT_URI``, checked (None: the destination's default)."""
    from logwright import config
    from logwright.artifacts import check_root

    root = option or config.text(config.ARTIFACT_URI)
    return check_root(root) if root else None


def interrupted(counts: Counts, verb: str = "copied") -> int:
    """Say what an interrupted copy had written; returns 130."""
    print(f"logwright: interrupted; {counts.line(verb)} so far. Run the same command again to finish.",
          file=sys.stderr)
    return 130
