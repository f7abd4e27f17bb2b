"""``logwright import mlflow SRC`` and ``logwright export mlflow DST`` on the command line."""

from __future__ import annotations

import argparse

from logwright.store.copy import Counts
from logwright.store.copy_cli import interrupted


def _common(p: argparse.ArgumentParser, store_flag: str, store_help: str) -> None:
    p.add_argument(store_flag, dest="other", default=None, metavar="STORE", help=store_help)
    p.add_argument("-e", "--experiment", action="append", default=None, metavar="NAME",
                   help="only this experiment (repeat for more; default: all)")
    p.add_argument("--artifact-uri", default=None, help="artifact root of experiments created on the "
                   "destination (default: the destination's own)")
    p.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                   help="no progress bar (default: a bar on stderr when it is a terminal)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``logwright import mlflow`` and ``logwright export mlflow`` to the command line."""
    imp = subparsers.add_parser("import", help="import runs and traces from MLflow")
    p = imp.add_subparsers(dest="sub", metavar="SOURCE").add_parser(
        "mlflow", help="import an MLflow tracking store",
        description="Import every experiment, run, param, tag, metric history, dataset input, artifact and "
        "trace of an MLflow tracking store (read with MLflow's own client: pip install 'logwright[mlflow]'). "
        "MLflow run ids are kept; running it again imports only what is new, and finishes an import "
        "stopped by Ctrl-C.")
    p.add_argument("src", metavar="SRC", help="MLflow tracking URI: an mlruns folder, sqlite:///mlflow.db, "
                   "postgresql://..., http://mlflow-server:5000")
    _common(p, "--to", "logwright store to import into (default: --store, $LOGWRIGHT_TRACKING_URI or "
            "./logwright-runs)")
    p.set_defaults(func=cmd_import)
    exp = subparsers.add_parser("export", help="export runs and traces to MLflow")
    p = exp.add_subparsers(dest="sub", metavar="DESTINATION").add_parser(
        "mlflow", help="export into an MLflow tracking store",
        description="Write every experiment, run, param, tag, metric history, dataset input, artifact and "
        "trace of a logwright store into an MLflow tracking store (its experiments are matched by name; "
        "each run carries the logwright.run_id tag). Running it again exports only what is new.")
    p.add_argument("dst", metavar="DST", help="MLflow tracking URI: sqlite:///mlflow.db, postgresql://..., "
                   "http://mlflow-server:5000, a folder")
    _common(p, "--from", "logwright store to export (default: --store, $LOGWRIGHT_TRACKING_URI or "
            "./logwright-runs)")
    p.set_defaults(func=cmd_export)


def _store(args: argparse.Namespace, must_exist: bool) -> str | None:
    """The logwright side: ``--to``/``--from``, else ``--store``, else the default store."""
    from logwright import config
    from logwright.cli_options import check_store

    uri = args.other or args.store or config.text(config.TRACKING_URI)
    if must_exist:
        check_store(uri, args.create)
    return uri


def cmd_import(args: argparse.Namespace) -> int:
    """Run ``logwright import mlflow``; 130 after Ctrl-C (run again to finish)."""
    from logwright.mlflow_io import import_mlflow

    counts = Counts()
    try:
        import_mlflow(args.src, _store(args, False), args.artifact_uri, args.progress, counts, args.experiment)
    except KeyboardInterrupt:
        return interrupted(counts, "imported")
    print(counts.line("imported") if counts.total() else "nothing to import: the store already holds everything")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Run ``logwright export mlflow``; 130 after Ctrl-C (run again to finish)."""
    from logwright.mlflow_io import export_mlflow

    counts = Counts()
    try:
        export_mlflow(args.dst, _store(args, True), args.artifact_uri, args.progress, counts, args.experiment)
    except KeyboardInterrupt:
        return interrupted(counts, "exported")
    print(counts.line("exported") if counts.total() else "nothing to export: MLflow already holds everything")
    return 0
