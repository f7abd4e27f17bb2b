"""``logwright ui``: serve the web UI over a store with uvicorn.

The main CLI (``logwright.cli``) calls :func:`register` with its argparse
subparsers. Nothing here imports Starlette or uvicorn until the command runs, so
``logwright --help`` works without the ``ui`` extra.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys

_logger = logging.getLogger(__name__)

DEFAULT_PORT = 5151


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``ui`` command to the main CLI's subparsers.

    Args:
        subparsers: what ``ArgumentParser.add_subparsers()`` returned.

    Returns:
        The ``ui`` parser.
    """
    parser = subparsers.add_parser("ui", help="browse, chart and compare runs and traces in a browser")
    # SUPPRESS: `logwright --store X ui` must not be reset by this parser's default.
    parser.add_argument("--store", default=argparse.SUPPRESS,
                        help="tracking URI (folder or sqlite:///file.db); default: $LOGWRIGHT_TRACKING_URI "
                             "or ./logwright-runs")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--create", action="store_true", default=argparse.SUPPRESS,
                        help="make a new, empty store at --store if there is none (else that is an error)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port (default {DEFAULT_PORT}, not MLflow's 5000, which macOS AirPlay also takes; "
                             "0 picks a free one)")
    parser.add_argument("--allowed-host", dest="allowed_hosts", action="append", default=[], metavar="NAME",
                        help="also answer requests for this Host name (repeatable): a reverse proxy's or DNS "
                             "name, '*.example.com' for a domain, '*' to turn the Host check off. "
                             "Default: only localhost, 127.0.0.1, [::1] and the --host value")
    parser.add_argument("--read-only", action="store_true",
                        help="no edits from the browser: no rename, tag, notes, delete or restore (writes get 403)")
    parser.set_defaults(func=ui_command)
    return parser


def allowed_hosts(bind_host: str, extra: list[str]) -> list[str]:
    """The Host names the UI answers to when bound to ``bind_host``, besides the loopback names.

    Bound to a wildcard address (``0.0.0.0``, ``::``) it answers to any IP address of
    the machine and to its host name; other names (DNS names, a reverse proxy's) must
    be given with ``--allowed-host``.

    Args:
        bind_host: the ``--host`` value.
        extra: the ``--allowed-host`` values.

    Returns:
        Entries for :func:`logwright.server.app.create_app`'s ``allowed_hosts``.
    """
    import socket

    from logwright.server.guard import WILDCARD_BINDS, normalize_host

    hosts = [bind_host, *extra]
    if bind_host in WILDCARD_BINDS:
        name = socket.gethostname()
        if normalize_host(name) is not None:
            hosts.append(name)
    return hosts


def ui_command(args: argparse.Namespace) -> int:
    """Serve the UI until interrupted; prints the URL first."""
    try:
        import uvicorn

        from logwright.server.app import create_app
    except ImportError as exc:
        print(f"logwright ui needs the ui extra: pip install 'logwright[ui]' ({exc})", file=sys.stderr)
        return 1
    store = getattr(args, "store", None) or os.environ.get("LOGWRIGHT_TRACKING_URI")
    try:
        app = create_app(store, allowed_hosts=allowed_hosts(args.host, getattr(args, "allowed_hosts", None) or []),
                         read_only=getattr(args, "read_only", False))
    except ValueError as exc:
        print(f"logwright ui: {exc}", file=sys.stderr)
        return 2
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning")
    server = uvicorn.Server(config)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"logwright ui: listening on {args.host}, reachable from other machines; "
              "the UI has no authentication", file=sys.stderr)
    bound = listen("ui", args.host, args.port)
    if bound is None:
        return 1
    sock, url = bound
    print(f"logwright ui: serving {app.state.client.store.location} at {url}/", flush=True)
    server.run(sockets=[sock])
    return 0


def listen(command: str, host: str, port: int) -> tuple[socket.socket, str] | None:
    """A socket bound to ``host:port`` and its ``http://`` URL, or None after a one-line error.

    Args:
        command: the subcommand's name, for the message.
        host: the ``--host`` value.
        port: the ``--port`` value (0: a free port).
    """
    shown = f"[{host}]" if ":" in host else host
    try:
        sock = _bind(host, port)
    except OSError as exc:
        print(f"logwright {command}: cannot listen on {shown}:{port} ({exc.strerror or exc}); "
              "try another --port, or --port 0 for a free one", file=sys.stderr)
        return None
    return sock, f"http://{shown}:{sock.getsockname()[1]}"


def _bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (0: a free port), so a busy port is known before "serving"."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: a TIME_WAIT port is free
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock
