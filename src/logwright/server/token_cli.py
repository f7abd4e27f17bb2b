"""``logwright server token create|list|revoke``: the API tokens of ``logwright server --auth``.

Tokens live in the store the server serves, so these commands open that store
directly (``--store``: the same SQLite path or ``postgresql://`` URI as the
server's), never through the server's HTTP API. A new token's secret is printed once;
the store keeps only its hash.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from logwright.cli_options import UsageError, check_store, print_json

_HTTP = ("http://", "https://")


def register(server_subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``token`` (with ``create``, ``list`` and ``revoke``) under ``logwright server``.

    Args:
        server_subparsers: what the ``server`` parser's ``add_subparsers()`` returned.

    Returns:
        The ``token`` parser.
    """
    parser = server_subparsers.add_parser("token", help="create, list and revoke the server's API tokens")
    commands = parser.add_subparsers(dest="token_command", metavar="SUB")
    create = commands.add_parser("create", help="make a token and print its secret (shown only this once)")
    create.add_argument("name", metavar="NAME", help="a unique name for who or what uses it: ci, ada-laptop, ...")
    create.add_argument("--read-only", action="store_true", help="the token may read but not write")
    create.add_argument("--json", action="store_true", help="print the token and its secret as JSON")
    create.set_defaults(func=cmd_create)
    listing = commands.add_parser("list", help="every token (never the secrets), revoked ones too")
    listing.add_argument("--json", action="store_true", help="print the tokens as a JSON array")
    listing.set_defaults(func=cmd_list)
    revoke = commands.add_parser("revoke", help="revoke a token: requests with it get 401 from then on")
    revoke.add_argument("name", metavar="NAME_OR_ID", help="the token's name or id")
    revoke.set_defaults(func=cmd_revoke)
    for sub in (parser, create, listing, revoke):
        # SUPPRESS: `logwright --store X server token list` must not be reset by these parsers' default.
        sub.add_argument("--store", default=argparse.SUPPRESS,
                         help="the server's store (SQLite path or postgresql://...); default: "
                              "$LOGWRIGHT_TRACKING_URI or ./logwright-runs")
    parser.set_defaults(func=_usage, token_parser=parser)
    return parser


def _usage(args: argparse.Namespace) -> int:
    args.token_parser.print_help()
    return 2


def _store(args: argparse.Namespace) -> Any:
    uri = getattr(args, "store", None) or os.environ.get("LOGWRIGHT_TRACKING_URI") or None
    if uri and uri.startswith(_HTTP):
        raise UsageError(f"--store {uri!r} is a server: tokens are managed in the server's own store; give the "
                         "same --store as `logwright server` (a SQLite path or postgresql://...)")
    from logwright.store import DEFAULT_FOLDER, get_store

    check_store(uri or DEFAULT_FOLDER)
    return get_store(uri)


def _time(ms: int | None) -> str:
    from logwright.cli import fmt_time

    return fmt_time(ms) if ms else ""


def _row(info: Any) -> dict[str, Any]:
    return {"name": info.name, "token_id": info.token_id, "read_only": info.read_only, "created": info.created,
            "last_used": info.last_used, "revoked": info.revoked}


def cmd_create(args: argparse.Namespace) -> int:
    """Create a token and print its secret with how to use it."""
    info, secret = _store(args).create_token(args.name, read_only=args.read_only)
    if args.json:
        print(json.dumps({**_row(info), "secret": secret}, indent=2, ensure_ascii=False))
        return 0
    access = "read-only" if info.read_only else "read-write"
    print(f"Token {info.name!r} created (id {info.token_id}, {access}). Copy it now: only its hash is stored, "
          "so it cannot be shown again.\n")
    print(f"  export LOGWRIGHT_TRACKING_TOKEN={secret}\n")
    print("Clients (training jobs, notebooks, CI) send it from that variable; in a browser, paste the part "
          "after '=' on the server's sign-in page.")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """Print every token: name, id, access, created, last used, revoked."""
    tokens = _store(args).list_tokens()
    if args.json:
        print_json([_row(t) for t in tokens])
        return 0
    if not tokens:
        print("No tokens yet: make one with `logwright server token create NAME`.")
        return 0
    from logwright.cli import table

    rows = [(t.name, t.token_id, "read-only" if t.read_only else "read-write", _time(t.created),
             _time(t.last_used) or "never", _time(t.revoked)) for t in tokens]
    print(table(["NAME", "ID", "ACCESS", "CREATED", "LAST USED", "REVOKED"], rows))
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    """Revoke a token by name or id."""
    store = _store(args)
    before = {t.token_id: t.revoked for t in store.list_tokens()}
    info = store.revoke_token(args.name)
    if before.get(info.token_id) is not None:
        print(f"Token {info.name!r} (id {info.token_id}) was already revoked, at {_time(info.revoked)}.")
    else:
        print(f"Token {info.name!r} (id {info.token_id}) revoked: requests with it are refused from now on.")
    return 0
