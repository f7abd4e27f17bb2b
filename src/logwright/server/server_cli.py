"""``logwright server``: the team's tracking server (UI, REST API, OTLP ingest) with uvicorn.

``logwright server --store URI --artifacts URI`` serves one store to every client
that sets ``LOGWRIGHT_TRACKING_URI=http://host:port``. Nothing here imports Starlette
or uvicorn until the command runs.
"""

from __future__ import annotations

import argparse
import os
import sys

from logwright.server import token_cli
from logwright.server.cli import DEFAULT_PORT, allowed_hosts, listen


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``server`` command (and its ``token`` subcommands) to the main CLI."""
    parser = subparsers.add_parser(
        "server", help="serve a store to your team: web UI, REST API for http:// clients, OTLP trace ingest",
    )
    parser.add_argument("--store", default=argparse.SUPPRESS,
                        help="the store to serve: folder, sqlite:///file.db or postgresql://...; "
                             "default: $LOGWRIGHT_TRACKING_URI or ./logwright-runs")
    parser.add_argument("--create", action="store_true", default=argparse.SUPPRESS,
                        help="make a new, empty store at --store if there is none (else that is an error)")
    parser.add_argument("--artifacts", default=None, metavar="URI",
                        help="where runs' artifacts go: a folder or s3://bucket/prefix "
                             "(default: $LOGWRIGHT_ARTIFACT_URI, else beside a SQLite store)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to bind (default 127.0.0.1; 0.0.0.0 for other machines: needs --auth)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: a free one)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    parser.add_argument("--auth", action="store_true",
                        help="require an API token on every request (create one with `logwright server token create`)")
    parser.add_argument("--insecure", action="store_true",
                        help="allow a non-loopback --host without --auth (anyone who can reach it can write)")
    parser.add_argument("--read-only", action="store_true", help="serve the store for reading only")
    parser.add_argument("--allowed-host", dest="allowed_hosts", action="append", default=[], metavar="NAME",
                        help="also answer requests for this Host name without --auth (repeatable)")
    parser.set_defaults(func=server_command)
    token_cli.register(parser.add_subparsers(dest="server_sub", metavar="SUB"))
    return parser


def server_command(args: argparse.Namespace) -> int:
    """Serve until interrupted; prints the URL clients should use first."""
    try:
        import uvicorn

        from logwright.server import team
    except ImportError as exc:
        print(f"logwright server needs the ui extra: pip install 'logwright[ui]' ({exc})", file=sys.stderr)
        return 1
    from logwright.server.auth import check_bind

    problem = check_bind(args.host, args.auth, args.insecure)
    if problem:
        print(f"logwright server: {problem}", file=sys.stderr)
        return 2
    store = getattr(args, "store", None) or os.environ.get("LOGWRIGHT_TRACKING_URI")
    if store and store.startswith(("http://", "https://")):
        print("logwright server: --store must be a folder, sqlite:///... or postgresql://..., not another server",
              file=sys.stderr)
        return 2
    env = {team.ENV_STORE: store or "", team.ENV_ARTIFACTS: args.artifacts or "",
           team.ENV_AUTH: "1" if args.auth else "", team.ENV_READ_ONLY: "1" if args.read_only else "",
           team.ENV_HOSTS: ",".join(allowed_hosts(args.host, args.allowed_hosts))}
    os.environ.update(env)
    try:
        app = team.app_from_env()  # opens (and migrates) the store once, before any worker starts
    except ValueError as exc:
        print(f"logwright server: {exc}", file=sys.stderr)
        return 2
    bound = listen("server", args.host, args.port)
    if bound is None:
        return 1
    sock, url = bound
    print(f"logwright server: serving {app.state.client.store.location} at {url}/ "
          f"(clients: LOGWRIGHT_TRACKING_URI={url})" + (" with token auth" if args.auth else ""), flush=True)
    if args.workers > 1:
        config = uvicorn.Config("logwright.server.team:app_from_env", factory=True, workers=args.workers,
                                log_level="warning", timeout_keep_alive=30)
        app.state.client.store.flush()
        sock.set_inheritable(True)
        from uvicorn.supervisors import Multiprocess

        Multiprocess(config, sockets=[sock]).run()
        return 0
    config = uvicorn.Config(app, log_level="warning", timeout_keep_alive=30)
    uvicorn.Server(config).run(sockets=[sock])
    return 0
