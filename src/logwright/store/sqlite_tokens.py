"""API tokens of ``logwright server``, kept in the store's ``api_tokens`` table.

:class:`TokensMixin` holds the token calls of the Store protocol, written once over
two hooks a backend provides: ``_tok_rows(sql, args)`` (a read) and
``_tok_write(sql, args)`` (one statement in its own transaction, returning the
number of rows it changed, raising :class:`NameTaken` when a unique constraint
refuses it). SQL uses ``?`` placeholders; the PostgreSQL store
(:mod:`logwright.store.postgres_tokens`) turns them into ``%s``.
:class:`SqliteTokensMixin` is the SQLite backend.

A secret is ``lw_`` followed by 43 URL-safe characters (32 random bytes); the store
keeps only its SHA-256, so a leaked database reveals no usable secret. Secrets carry
256 bits of entropy, so an unsalted fast hash is enough (there is nothing to guess).
Revoked tokens stay listed; their names stay taken.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

from logwright.exceptions import StoreError
from logwright.store.base import TokenInfo

PREFIX = "lw_"
MAX_NAME = 100
MAX_SECRET = 256
LAST_USED_EVERY_MS = 60_000
_COLS = "token_id, name, read_only, created, last_used, revoked"


class NameTaken(Exception):
    """A unique constraint of ``api_tokens`` refused a row (the hooks raise it)."""


def hash_secret(secret: str) -> str:
    """The hex SHA-256 of a token secret, as stored."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def check_token_name(name: object) -> str:
    """Return ``name`` if it can name a token, else raise.

    Legal: a non-empty string of at most 100 characters without control characters
    or surrounding spaces.

    Raises:
        TypeError: not a string.
        ValueError: not a legal name; the message says why.
    """
    if not isinstance(name, str):
        raise TypeError(f"a token name must be a string, got {type(name).__name__}")
    if not name or name != name.strip():
        raise ValueError(f"token name {name!r:.120} is illegal: it must not be empty nor start or end with a space")
    if len(name) > MAX_NAME:
        raise ValueError(f"token name {name!r:.120} is illegal: it is {len(name)} characters; the limit is {MAX_NAME}")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ValueError(f"token name {name!r:.120} is illegal: it must not contain control characters")
    return name


def _info(row: tuple) -> TokenInfo:
    return TokenInfo(token_id=row[0], name=row[1], read_only=bool(row[2]), created=int(row[3]),
                     last_used=None if row[4] is None else int(row[4]),
                     revoked=None if row[5] is None else int(row[5]))


def _now_ms() -> int:
    return int(time.time() * 1000)


class TokensMixin:
    """Every token call of the Store protocol over ``_tok_rows`` and ``_tok_write``."""

    read_only: bool
    _tok_rows: Callable[[str, Sequence[Any]], list[tuple]]
    _tok_write: Callable[[str, Sequence[Any]], int]

    def create_token(self, name: str, read_only: bool = False) -> tuple[TokenInfo, str]:
        """Create a token; returns it and its secret, which is not stored and cannot be shown again.

        Args:
            name: a unique name (who or what uses it: ``ci``, ``ada-laptop``).
            read_only: True for a token that may only read.

        Raises:
            ValueError: the name is illegal or taken (revoked tokens keep theirs).
            StoreError: the store cannot be written.
        """
        check_token_name(name)
        secret = PREFIX + secrets.token_urlsafe(32)
        info = TokenInfo(token_id=secrets.token_hex(6), name=name, read_only=bool(read_only), created=_now_ms())
        try:
            self._tok_write(f"INSERT INTO api_tokens ({_COLS}, secret_hash) VALUES (?, ?, ?, ?, NULL, NULL, ?)",
                            (info.token_id, name, int(info.read_only), info.created, hash_secret(secret)))
        except NameTaken:
            taken = self._tok_rows(f"SELECT {_COLS} FROM api_tokens WHERE name = ?", (name,))
            if not taken:  # a clash of random ids or hashes: vanishingly rare, so just try again
                return self.create_token(name, read_only)
            state = "revoked, and revoked tokens keep their names" if taken[0][5] is not None else "in use"
            raise ValueError(f"a token named {name!r} already exists ({state}); pick another name") from None
        return info, secret

    def list_tokens(self) -> list[TokenInfo]:
        """Every token, revoked ones too, oldest first."""
        return [_info(r) for r in self._tok_rows(f"SELECT {_COLS} FROM api_tokens ORDER BY created, name", ())]

    def revoke_token(self, name_or_id: str) -> TokenInfo:
        """Revoke the token with this name (or id); revoking it again changes nothing.

        Returns:
            The token, with its ``revoked`` time.

        Raises:
            ValueError: no token has this name or id, or one has it as name and another as id.
            StoreError: the store cannot be written.
        """
        rows = self._tok_rows(f"SELECT {_COLS} FROM api_tokens WHERE name = ? OR token_id = ?",
                              (name_or_id, name_or_id))
        if not rows:
            raise ValueError(f"no token is named {name_or_id!r} or has that id (see `logwright server token list`)")
        if len(rows) > 1:
            raise ValueError(f"{name_or_id!r} is one token's name and another's id; revoke by the other id")
        token_id = rows[0][0]
        self._tok_write("UPDATE api_tokens SET revoked = ? WHERE token_id = ? AND revoked IS NULL",
                        (_now_ms(), token_id))
        return _info(self._tok_rows(f"SELECT {_COLS} FROM api_tokens WHERE token_id = ?", (token_id,))[0])

    def check_token(self, secret: str) -> TokenInfo | None:
        """The valid token whose secret this is, or None (unknown, revoked or malformed).

        Records the use in ``last_used`` when the stored time is a minute old or more
        (so a busy client costs one write a minute, not one a request); on a
        read-only store the time is not recorded.
        """
        if not isinstance(secret, str) or not secret.startswith(PREFIX) or len(secret) > MAX_SECRET:
            return None
        digest = hash_secret(secret)
        rows = self._tok_rows(f"SELECT {_COLS}, secret_hash FROM api_tokens WHERE secret_hash = ?", (digest,))
        if not rows or not hmac.compare_digest(rows[0][6], digest) or rows[0][5] is not None:
            return None
        info = _info(rows[0])
        now = _now_ms()
        if not self.read_only and (info.last_used is None or now - info.last_used >= LAST_USED_EVERY_MS):
            try:
                self._tok_write("UPDATE api_tokens SET last_used = ? WHERE token_id = ? AND "
                                "(last_used IS NULL OR last_used <= ?)",
                                (now, info.token_id, now - LAST_USED_EVERY_MS))
            except StoreError:
                pass  # the time of last use is a courtesy: never refuse a valid token for it
            info = TokenInfo(info.token_id, info.name, info.read_only, info.created, now, None)
        return info


class SqliteTokensMixin(TokensMixin):
    """The token hooks over the SQLite store's per-thread connection (autocommit)."""

    db_path: str
    read_db: Callable[[], sqlite3.Connection]
    _refuse_writes: Callable[[], None]

    def _tok_rows(self, sql: str, args: Sequence[Any]) -> list[tuple]:
        try:
            return self.read_db().execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.db_path!r}: {exc}") from exc

    def _tok_write(self, sql: str, args: Sequence[Any]) -> int:
        self._refuse_writes()
        try:
            return self.read_db().execute(sql, args).rowcount
        except sqlite3.IntegrityError as exc:
            raise NameTaken(str(exc)) from exc
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write the tokens of {self.db_path!r}: {exc}") from exc
