"""The model registry in the PostgreSQL store: the registry's hooks over psycopg.

Mixed into :class:`~logwright.store.postgres.PostgresStore`; every registry call is
:class:`~logwright.store.sqlite_registry.RegistryMixin`'s, whose ``?`` placeholders
become ``%s`` here. A write runs in one transaction on a pooled connection; a new
version's upsert of its registered model's row locks that row until commit, so
concurrent registrations of one model, from any host, take distinct numbers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg

from logwright.exceptions import LogwrightError, StoreError
from logwright.store.sqlite_registry import RegistryMixin, Run


def _pg(sql: str) -> str:
    return sql.replace("?", "%s")


class PostgresRegistryMixin(RegistryMixin):
    """The registry hooks over the PostgreSQL store's connection pool."""

    _REG_POSTGRES = True
    location: str

    def _reg_rows(self, sql: str, args: Sequence[Any]) -> list[tuple]:
        try:
            with self._db() as conn:  # type: ignore[attr-defined]
                return conn.execute(_pg(sql), args).fetchall()
        except psycopg.Error as exc:
            raise StoreError(f"store {self.location}: {exc}") from exc

    @contextlib.contextmanager
    def _reg_tx(self) -> Iterator[Run]:
        try:
            with self._db() as conn, conn.transaction():  # type: ignore[attr-defined]

                def run(sql: str, args: Sequence[Any]) -> list[tuple]:
                    cur = conn.execute(_pg(sql), args)
                    return cur.fetchall() if cur.description else []

                yield run
        except LogwrightError:
            raise
        except psycopg.Error as exc:
            raise StoreError(f"cannot write the model registry in {self.location}: {exc}") from exc
