"""API tokens of ``logwright server`` in the PostgreSQL store: the token hooks over psycopg.

Mixed into :class:`~logwright.store.postgres.PostgresStore`; every token call is
:class:`~logwright.store.sqlite_tokens.TokensMixin`'s, whose ``?`` placeholders
become ``%s`` here. Each write is one statement on a pooled autocommit connection.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
import psycopg.errors

from logwright.exceptions import StoreError
from logwright.store.sqlite_tokens import NameTaken, TokensMixin


def _pg(sql: str) -> str:
    return sql.replace("?", "%s")


class PostgresTokensMixin(TokensMixin):
    """The token hooks over the PostgreSQL store's connection pool."""

    location: str
    _db: Callable[[], contextlib.AbstractContextManager[psycopg.Connection]]

    def _tok_rows(self, sql: str, args: Sequence[Any]) -> list[tuple]:
        try:
            with self._db() as conn:
                return conn.execute(_pg(sql), args).fetchall()
        except psycopg.Error as exc:
            raise StoreError(f"store {self.location}: {exc}") from exc

    def _tok_write(self, sql: str, args: Sequence[Any]) -> int:
        try:
            with self._db() as conn:
                return conn.execute(_pg(sql), args).rowcount
        except psycopg.errors.UniqueViolation as exc:
            raise NameTaken(str(exc)) from exc
        except psycopg.Error as exc:
            raise StoreError(f"cannot write the tokens of {self.location}: {exc}") from exc
