"""What every ``logwright`` command shares: list options, short ids, JSON output, the --store check.

Each list command (``runs list``, ``traces list``, ``experiments list``) takes the same
``-e/--experiment``, ``-f/--filter``, ``-o/--order-by``, ``-n/--max-results`` and
``--json``; each command that takes a run or trace id also takes a unique prefix of
one. A command line that cannot be answered as asked (an ambiguous prefix, a malformed
filter, a ``--store`` that is not a store) is a :class:`UsageError`: one line on
stderr and exit status 2, as argparse does for its own usage errors.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

from logwright.exceptions import LogwrightError

_SHOWN_CANDIDATES = 10
_SQLITE_MAGIC = b"SQLite format 3\x00"

__all__ = ["UsageError", "add_list_options", "check_store", "print_json", "resolve_id", "resolve_run_id"]


class UsageError(LogwrightError):
    """The command line asks for something that cannot be (exit status 2)."""


def add_list_options(parser: argparse.ArgumentParser, noun: str, filter_help: str, order_help: str,
                     experiment_help: str | None = None) -> None:
    """Add ``-e``, ``-f``, ``-o``, ``-n`` and ``--json`` to a list command.

    Args:
        parser: the list command's parser.
        noun: what it lists, plural ("runs"), for the help texts.
        filter_help: what ``--filter`` takes, with an example.
        order_help: what ``--order-by`` takes, with an example.
        experiment_help: the ``--experiment`` help, when it differs from the default.
    """
    parser.add_argument("-e", "--experiment", default=None, metavar="NAME_OR_ID",
                        help=experiment_help or f"only the {noun} of this experiment, by name or id (default: all)")
    parser.add_argument("-f", "--filter", default=None, help=filter_help)
    parser.add_argument("-o", "--order-by", action="append", default=None, metavar="CLAUSE",
                        help=f"{order_help} (repeatable)")
    parser.add_argument("-n", "--max-results", type=_positive, default=50, metavar="N",
                        help=f"at most this many {noun} (default 50)")
    parser.add_argument("--json", action="store_true", help=f"print the {noun} as a JSON array instead of a table")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {value}")
    return value


def print_json(items: Sequence[dict[str, Any]]) -> None:
    """Print ``items`` as an indented JSON array; NaN and infinities are spelled as strings."""
    print(json.dumps([_jsonable(item) for item in items], indent=2, ensure_ascii=False))


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def resolve_id(text: str, like: Callable[[str, int], list[str]], noun: str) -> str:
    """The one id starting with ``text``, or ``text`` itself when none does.

    Args:
        text: a full id or the start of one.
        like: ``store.run_ids_like`` or ``store.trace_ids_like``.
        noun: "run" or "trace", for the message.

    Returns:
        The full id, or ``text`` unchanged when nothing starts with it (the caller's
        lookup then says "not found").

    Raises:
        UsageError: several ids start with ``text``; the message lists them.
    """
    found = like(text, _SHOWN_CANDIDATES + 1)
    if text in found or not found:
        return text
    if len(found) == 1:
        return found[0]
    shown = ", ".join(found[:_SHOWN_CANDIDATES]) + (", ..." if len(found) > _SHOWN_CANDIDATES else "")
    raise UsageError(f"{noun} id prefix {text!r} is ambiguous: it starts {shown}; give more characters")


def resolve_run_id(store: Any, text: str) -> str:
    """:func:`resolve_id` for runs: a full run id is taken as it is."""
    if store.run_exists(text) is not None:
        return text
    return resolve_id(text, store.run_ids_like, "run")


def check_store(uri: str | None, create: bool = False) -> None:
    """Refuse a ``--store`` path where there is no store, unless ``create``.

    A folder must hold ``logwright.db``, and a file must be an SQLite file; URIs of
    other schemes (a server, a database) are left to the store to check.

    Raises:
        UsageError: nothing (or something else) is at ``uri``.
    """
    if uri is None or create:
        return
    if "://" in uri and not uri.startswith(("sqlite:", "file:")):
        return
    from logwright.store import resolve

    try:
        db, _ = resolve(uri)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not os.path.exists(db):
        where = "" if os.path.abspath(os.path.expanduser(uri)) == db else f" ({db} does not exist)"
        raise UsageError(f"no store at {uri!r}{where}; check the path, or add --create to make a new store there")
    try:
        with open(db, "rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise UsageError(f"cannot read the store at {uri!r}: {exc}") from None
    if head and head != _SQLITE_MAGIC:
        raise UsageError(f"{db!r} is not a logwright store (not an SQLite file)")
